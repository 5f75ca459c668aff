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

struct OverLimitCase {
  const char *rule;
  std::vector<HeldIdentifier> held;
  std::map<std::string, int32_t> caps;
  std::vector<std::string> gone;  // "contact type value", in the order returned
};

TEST(OverLimit, TheIdentifiersFirstSeenLongestAgoGo) {
  const OverLimitCase cases[] = {
      {"within the cap nothing goes", {{1, "mobile_push", "a", 10}, {1, "mobile_push", "b", 20}},
       {{"mobile_push", 2}}, {}},
      {"past the cap the oldest goes", {{1, "mobile_push", "new", 30}, {1, "mobile_push", "old", 10},
                                        {1, "mobile_push", "mid", 20}},
       {{"mobile_push", 2}}, {"1 mobile_push old"}},
      {"of two seen at once the smaller value goes", {{1, "mobile_push", "b", 10}, {1, "mobile_push", "a", 10}},
       {{"mobile_push", 1}}, {"1 mobile_push a"}},
      {"each contact and type on its own, in contact, type and value order",
       {{2, "mobile_push", "x", 1}, {2, "mobile_push", "y", 2}, {1, "web_push", "w1", 5}, {1, "web_push", "w2", 6},
        {1, "mobile_push", "m", 1}},
       {{"mobile_push", 1}, {"web_push", 1}}, {"1 web_push w1", "2 mobile_push x"}},
      {"a type without a cap keeps everything", {{1, "cookie", "c1", 1}, {1, "cookie", "c2", 2}},
       {{"mobile_push", 1}}, {}},
  };
  for (const OverLimitCase &c : cases) {
    std::vector<std::string> gone;
    for (size_t i : over_limit(c.held, c.caps))
      gone.push_back(std::to_string(c.held[i].contact) + " " + c.held[i].type + " " + c.held[i].value);
    EXPECT_EQ(gone, c.gone) << c.rule;
  }
}

}  // namespace
}  // namespace identity
