// write_rules_test.cpp: a write's primary email and phone, and when it may
// pass a type's limit (core/write_rules.h), one table row per case.
#include <gtest/gtest.h>

#include "core/write_rules.h"

namespace identity {
namespace {

Key email(const std::string &v) { return {"email", v, KeyClass::kPermanent, 10, true}; }
Key push(const std::string &v) { return {"mobile_push", v, KeyClass::kChangeable, 10, true}; }
Key cookie(const std::string &v) { return {"cookie", v, KeyClass::kChangeable, 40, false}; }

struct PrimaryCase {
  const char *name;
  std::vector<Key> keys;
  std::set<std::string> clear_types;
  bool has_winner;
  std::optional<std::string> winner_primary;
  std::set<std::string> winner_emails;  // its permanent identifiers of type email
  std::optional<std::string> expected;
};

TEST(PrimaryAfter, KeepsOrReplacesThePrimary) {
  const PrimaryCase cases[] = {
      {"a new contact takes what is sent", {email("a@x.io")}, {}, false, std::nullopt, {}, "a@x.io"},
      {"a new contact without one has none", {push("t")}, {}, false, std::nullopt, {}, std::nullopt},
      {"nothing sent keeps the winner's", {push("t")}, {}, true, "p@x.io", {"p@x.io"}, "p@x.io"},
      {"nothing sent, cleared: none", {}, {"email"}, true, "p@x.io", {"p@x.io"}, std::nullopt},
      {"the primary sent again stays", {email("p@x.io")}, {}, true, "p@x.io", {}, "p@x.io"},
      {"a second email it holds leaves the primary", {email("s@x.io")}, {}, true, "p@x.io", {"p@x.io", "s@x.io"},
       "p@x.io"},
      {"an email it does not hold replaces the primary", {email("n@x.io")}, {}, true, "p@x.io", {"p@x.io"},
       "n@x.io"},
      {"a winner without a primary takes what is sent", {email("n@x.io")}, {}, true, std::nullopt, {}, "n@x.io"},
  };
  for (const PrimaryCase &c : cases) {
    Request request;
    request.keys = c.keys;
    request.clear_types = c.clear_types;
    ContactState winner;
    winner.id = 1;
    if (!c.winner_emails.empty()) winner.permanent["email"] = c.winner_emails;
    EXPECT_EQ(primary_after("email", request, c.has_winner ? &winner : nullptr, c.winner_primary), c.expected)
        << c.name;
  }
}

struct LimitCase {
  const char *name;
  std::vector<Key> keys;
  bool create;
  std::vector<size_t> attached, moved;
  std::vector<int64_t> merged;
  bool expected;
};

TEST(MayPassLimits, OnlyWhenChangeableIdentifiersAreGained) {
  const LimitCase cases[] = {
      {"a merge", {email("a@x.io")}, false, {}, {}, {7}, true},
      {"a moved token", {push("t")}, false, {}, {0}, {}, true},
      {"only permanent keys attached", {email("a@x.io")}, false, {0}, {}, {}, false},
      {"an update gaining a token", {push("t")}, false, {0}, {}, {}, true},
      {"a new contact with one token and one cookie", {push("t"), cookie("c")}, true, {0, 1}, {}, {}, false},
      {"a new contact with two tokens", {push("t1"), push("t2")}, true, {0, 1}, {}, {}, true},
      {"nothing attached", {push("t")}, false, {}, {}, {}, false},
  };
  for (const LimitCase &c : cases) {
    Request request;
    request.keys = c.keys;
    Decision d;
    d.create = c.create;
    d.attached = c.attached;
    d.moved = c.moved;
    d.merged = c.merged;
    EXPECT_EQ(may_pass_limits(request, d), c.expected) << c.name;
  }
}

}  // namespace
}  // namespace identity
