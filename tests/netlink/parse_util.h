// Test helpers: split a netlink buffer into messages and parse nf_tables
// objects back with libnftnl (the same library nft(8) uses to read them).
#pragma once

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <arpa/inet.h>
#include <endian.h>

#include <cstring>
#include <optional>
#include <memory>
#include <string>
#include <vector>

namespace fg::nl::test {

inline std::vector<const nlmsghdr*> splitMessages(const std::vector<uint8_t>& buf) {
  std::vector<const nlmsghdr*> out;
  int len = static_cast<int>(buf.size());
  for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
       nlh = mnl_nlmsg_next(nlh, &len))
    out.push_back(nlh);
  EXPECT_EQ(len, 0) << "trailing bytes after the last message";
  return out;
}

inline uint16_t nftType(const nlmsghdr* nlh) { return nlh->nlmsg_type & 0xff; }
inline bool isNft(const nlmsghdr* nlh, uint16_t msg) {
  return (nlh->nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES && nftType(nlh) == msg;
}

struct TableFree { void operator()(nftnl_table* t) const { nftnl_table_free(t); } };
struct ChainFree { void operator()(nftnl_chain* c) const { nftnl_chain_free(c); } };
struct RuleFree { void operator()(nftnl_rule* r) const { nftnl_rule_free(r); } };
struct SetFree { void operator()(nftnl_set* s) const { nftnl_set_free(s); } };
using Table = std::unique_ptr<nftnl_table, TableFree>;
using Chain = std::unique_ptr<nftnl_chain, ChainFree>;
using Rule = std::unique_ptr<nftnl_rule, RuleFree>;
using Set = std::unique_ptr<nftnl_set, SetFree>;

inline Table parseTable(const nlmsghdr* nlh) {
  Table t(nftnl_table_alloc());
  EXPECT_EQ(nftnl_table_nlmsg_parse(nlh, t.get()), 0);
  return t;
}
inline Chain parseChain(const nlmsghdr* nlh) {
  Chain c(nftnl_chain_alloc());
  EXPECT_EQ(nftnl_chain_nlmsg_parse(nlh, c.get()), 0);
  return c;
}
inline Rule parseRule(const nlmsghdr* nlh) {
  Rule r(nftnl_rule_alloc());
  EXPECT_EQ(nftnl_rule_nlmsg_parse(nlh, r.get()), 0);
  return r;
}
inline Set parseSet(const nlmsghdr* nlh) {
  Set s(nftnl_set_alloc());
  EXPECT_EQ(nftnl_set_nlmsg_parse(nlh, s.get()), 0);
  return s;
}
// Expressions of a rule (pointers valid while the rule lives).
inline std::vector<nftnl_expr*> exprs(nftnl_rule* r) {
  std::vector<nftnl_expr*> out;
  nftnl_expr_foreach(
      r,
      [](nftnl_expr* e, void* data) {
        static_cast<std::vector<nftnl_expr*>*>(data)->push_back(e);
        return 0;
      },
      &out);
  return out;
}
inline std::string exprNames(nftnl_rule* r) {
  std::string s;
  for (auto* e : exprs(r)) s += std::string(s.empty() ? "" : " ") + nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
  return s;
}
inline std::vector<uint8_t> exprData(const nftnl_expr* e, uint16_t attr) {
  uint32_t len = 0;
  const auto* p = static_cast<const uint8_t*>(nftnl_expr_get(e, attr, &len));
  return p ? std::vector<uint8_t>(p, p + len) : std::vector<uint8_t>{};
}
inline uint32_t dataU32(const std::vector<uint8_t>& d) {
  uint32_t v = 0;
  std::memcpy(&v, d.data(), std::min<std::size_t>(d.size(), 4));
  return v;
}

// NEWSETELEM/DELSETELEM parsed with libmnl. (libnftnl 1.2.4 cannot parse
// its own multi-element messages: it numbers the element nests 1..n while
// its parser insists on NFTA_LIST_ELEM; the kernel ignores the nest type.)
struct SetElem {
  std::vector<uint8_t> key;
  uint64_t timeout = 0;
  uint64_t expiration = 0;
  bool has_timeout = false;
  bool has_expiration = false;
};
struct SetElemMsg {
  std::string table;
  std::string set;
  std::optional<uint32_t> set_id;
  std::vector<SetElem> elems;
};

// mnl_attr_for_each_nested() does not compile as C++ (void* arithmetic).
template <typename F>
void forEachNested(const nlattr* nest, F&& f) {
  const auto* base = static_cast<const char*>(mnl_attr_get_payload(nest));
  const int total = static_cast<int>(mnl_attr_get_payload_len(nest));
  for (const auto* a = reinterpret_cast<const nlattr*>(base);
       mnl_attr_ok(a, static_cast<int>(total - (reinterpret_cast<const char*>(a) - base))); a = mnl_attr_next(a))
    f(a);
}

inline SetElemMsg parseSetElems(const nlmsghdr* nlh) {
  SetElemMsg out;
  auto top = [](const nlattr* a, void* data) -> int {
    auto* o = static_cast<SetElemMsg*>(data);
    switch (mnl_attr_get_type(a)) {
      case NFTA_SET_ELEM_LIST_TABLE: o->table = mnl_attr_get_str(a); break;
      case NFTA_SET_ELEM_LIST_SET: o->set = mnl_attr_get_str(a); break;
      case NFTA_SET_ELEM_LIST_SET_ID: o->set_id = ntohl(mnl_attr_get_u32(a)); break;
      case NFTA_SET_ELEM_LIST_ELEMENTS: {
        forEachNested(a, [&](const nlattr* elem) {
          SetElem e;
          mnl_attr_parse_nested(
              elem,
              [](const nlattr* f, void* d) -> int {
                auto* x = static_cast<SetElem*>(d);
                switch (mnl_attr_get_type(f)) {
                  case NFTA_SET_ELEM_KEY: {
                    forEachNested(f, [&](const nlattr* v) {
                      if (mnl_attr_get_type(v) == NFTA_DATA_VALUE) {
                        const auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(v));
                        x->key.assign(p, p + mnl_attr_get_payload_len(v));
                      }
                    });
                    break;
                  }
                  case NFTA_SET_ELEM_TIMEOUT:
                    x->has_timeout = true;
                    x->timeout = be64toh(mnl_attr_get_u64(f));
                    break;
                  case NFTA_SET_ELEM_EXPIRATION:
                    x->has_expiration = true;
                    x->expiration = be64toh(mnl_attr_get_u64(f));
                    break;
                  default: break;
                }
                return MNL_CB_OK;
              },
              &e);
          o->elems.push_back(std::move(e));
        });
        break;
      }
      default: break;
    }
    return MNL_CB_OK;
  };
  EXPECT_GE(mnl_attr_parse(nlh, sizeof(nfgenmsg), top, &out), 0);
  return out;
}

}  // namespace fg::nl::test
