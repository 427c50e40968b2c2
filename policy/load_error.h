// LoadError / LoadResult: how every loader of operator files (policies, the
// application catalog) reports errors: all of them, each with file, line,
// column and key, never only the first. Pure; no TOML or JSON headers.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace fg::policy {

// ---- Errors ---------------------------------------------------------------

struct LoadError {
  std::string file;
  int line = 0;    // 1-based; 0 when the error concerns the whole file
  int column = 0;  // 1-based; 0 when unknown
  std::string key;
  std::string message;
};
using LoadErrors = std::vector<LoadError>;

// "file:line:col: key: message" (line/column and key omitted when unknown).
std::string formatError(const LoadError& e);

// Either a value or the complete list of load errors (never empty).
template <typename T>
class [[nodiscard]] LoadResult {
 public:
  LoadResult(T value) : v_(std::move(value)) {}           // NOLINT(google-explicit-constructor)
  LoadResult(LoadErrors errors) : v_(std::move(errors)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const LoadErrors& errors() const { return std::get<1>(v_); }

 private:
  std::variant<T, LoadErrors> v_;
};

}  // namespace fg::policy
