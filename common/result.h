// fg::Result<T>: the error convention for syscalls, adapters and loaders.
//
// Shaped like std::expected (C++23; Debian 12 has no tl-expected): either a
// value or an Error {std::error_code, context}. Functions returning it are
// [[nodiscard]] by virtue of the class attribute. No exceptions on the hot path.
#pragma once

#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace fg {

struct Error {
  std::error_code code;
  std::string context;

  std::string message() const {
    if (!code) return context;
    return context.empty() ? code.message() : context + ": " + code.message();
  }
};

inline Error makeError(std::string context, std::errc e = std::errc::invalid_argument) {
  return Error{std::make_error_code(e), std::move(context)};
}
inline Error errnoError(std::string context, int err) {
  return Error{std::error_code(err, std::system_category()), std::move(context)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}        // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

}  // namespace fg
