// decision_test.cpp: one table row per identity rule (docs/identity-rules.md).
#include <gtest/gtest.h>

#include "core/decision.h"
#include "core/identity_error.h"

namespace identity {
namespace {

Key ext(const std::string &v) { return {kExternalIdType, v, KeyClass::kExternalId, 0, true}; }
Key email(const std::string &v) { return {"email", v, KeyClass::kPermanent, 10, true}; }
Key phone(const std::string &v) { return {"phone", v, KeyClass::kPermanent, 20, true}; }
Key push(const std::string &v) { return {"mobile_push", v, KeyClass::kChangeable, 10, true}; }
Key cookie(const std::string &v) { return {"cookie", v, KeyClass::kChangeable, 40, false}; }

struct Held {
  int64_t id;
  std::optional<std::string> external_id;
  bool deleted;
  std::vector<Key> permanent;  // email()/phone() keys it holds
};

struct Expect {
  std::string action;            // or an SQLSTATE when error is set
  std::optional<int64_t> winner;
  std::string matched_by;
  std::vector<int64_t> merged;
  std::vector<size_t> moved;
  std::vector<size_t> attached;
  std::optional<std::string> assign;
  std::vector<std::pair<std::string, std::string>> detached;
};

struct Case {
  const char *name;  // the test's name: the rule the row checks
  const char *rule;
  std::vector<Key> keys;                       // already in priority order
  std::vector<std::optional<int64_t>> holder;  // per key
  std::vector<Held> contacts;
  std::optional<int64_t> contact_id;
  std::string error;  // expected SQLSTATE, empty when it must succeed
  Expect expect;
  std::optional<std::vector<std::string>> dedupe_on = std::nullopt;  // an import's search restriction
  bool restore_deleted = true;
};

using Types = std::vector<std::string>;

// The request a table row sends.
Request request_of(const Case &c) {
  Request r;
  r.keys = c.keys;
  r.contact_id = c.contact_id;
  r.dedupe_on = c.dedupe_on;
  r.restore_deleted = c.restore_deleted;
  return r;
}

// A request of these keys alone: no target, no import options.
Request keys_only(std::vector<Key> keys) {
  Request r;
  r.keys = std::move(keys);
  return r;
}

Matches matches_of(const Case &c) {
  Matches m;
  m.holder = c.holder;
  for (const Held &h : c.contacts) {
    ContactState s;
    s.id = h.id;
    s.external_id = h.external_id;
    s.deleted = h.deleted;
    for (const Key &k : h.permanent) s.permanent[k.type].insert(k.value);
    m.contacts[h.id] = s;
  }
  return m;
}

const std::optional<int64_t> none;

const Case kCases[] = {
    {"rule3_unknown_external_id_alone_creates",
     "3: unknown external ID, nothing else: create", {ext("u1")}, {none}, {}, {}, "",
     {"created", none, "", {}, {}, {0}, "u1", {}}},
    {"rule3_known_external_id_updates",
     "3: external ID found: update", {ext("u1"), email("a@x.io")}, {1, none},
     {{1, "u1", false, {}}}, {}, "", {"updated", 1, "external_id", {}, {}, {1}, {}, {}}},
    {"rule3_deleted_external_id_match_is_restored",
     "3: external ID found but deleted: restore", {ext("u1")}, {1}, {{1, "u1", true, {}}}, {}, "",
     {"restored", 1, "external_id", {}, {}, {}, {}, {}}},
    {"rule3_email_match_without_external_id_gets_it",
     "3: unknown external ID, email match without one: it gets the ID", {ext("u2"), email("a@x.io")},
     {none, 1}, {{1, {}, false, {email("a@x.io")}}}, {}, "",
     {"updated", 1, "email", {}, {}, {0}, "u2", {}}},
    {"rule3_email_match_with_other_external_id_fails",
     "3: unknown external ID, email match with another ID: error", {ext("u2"), email("a@x.io")},
     {none, 1}, {{1, "u1", false, {email("a@x.io")}}}, {}, "23505", {}},
    {"rule3_phone_match_with_other_external_id_fails",
     "3: unknown external ID, phone match with another ID: error", {ext("u2"), phone("+380501234567")},
     {none, 1}, {{1, "u1", false, {phone("+380501234567")}}}, {}, "23505", {}},
    {"rule3_token_only_profile_gets_external_id_email_phone",
     "3: mobile case: token-only profile gets external ID, email, phone",
     {ext("u1"), email("a@x.io"), phone("+380501234567"), push("t1")}, {none, none, none, 7},
     {{7, {}, false, {}}}, {}, "", {"updated", 7, "mobile_push", {}, {}, {0, 1, 2}, "u1", {}}},
    {"rule4_token_of_holder_with_other_email_moves_to_new_contact",
     "4: token held by someone with another email: token moves to a new contact",
     {email("b@x.io"), push("t1")}, {none, 7}, {{7, {}, false, {email("a@x.io")}}}, {}, "",
     {"created", none, "", {}, {1}, {0}, {}, {}}},
    {"rule4_token_of_holder_with_other_external_id_moves",
     "4: token held by someone with another external ID: token moves", {ext("u2"), push("t1")},
     {none, 7}, {{7, "u1", false, {}}}, {}, "", {"created", none, "", {}, {1}, {0}, "u2", {}}},
    {"rule4_token_holder_with_email_request_without_is_same_person",
     "4: token holder with an email, request without one: same person", {push("t1"), cookie("c1")},
     {7, none}, {{7, "u1", false, {email("a@x.io")}}}, {}, "",
     {"updated", 7, "mobile_push", {}, {}, {1}, {}, {}}},
    {"rule4_email_match_without_external_id_updates",
     "4: email match without external ID: update", {email("a@x.io")}, {3},
     {{3, {}, false, {email("a@x.io")}}}, {}, "", {"updated", 3, "email", {}, {}, {}, {}, {}}},
    {"rule4_deleted_email_match_is_restored",
     "4: deleted email match: restore", {email("a@x.io")}, {3}, {{3, {}, true, {email("a@x.io")}}}, {},
     "", {"restored", 3, "email", {}, {}, {}, {}, {}}},
    {"rule4_unknown_phone_alone_creates",
     "4: phone only, no match: create", {phone("+380501234567")}, {none}, {}, {}, "",
     {"created", none, "", {}, {}, {0}, {}, {}}},
    {"rule4_unknown_cookie_alone_is_remembered_no_profile",
     "4: cookie alone, unknown: remembered, no profile", {cookie("c1")}, {none}, {}, {}, "",
     {"remembered", none, "", {}, {}, {0}, {}, {}}},
    {"rule4_two_unknown_cookies_alone_are_remembered",
     "4: two cookies alone, unknown: remembered", {cookie("c1"), cookie("c2")}, {none, none}, {}, {}, "",
     {"remembered", none, "", {}, {}, {0, 1}, {}, {}}},
    {"rule4_known_cookie_alone_updates_its_contact",
     "4: cookie alone, known: update its contact", {cookie("c1")}, {5}, {{5, {}, false, {}}}, {}, "",
     {"updated", 5, "cookie", {}, {}, {}, {}, {}}},
    {"rule4_registration_with_remembered_cookie_creates_and_attaches",
     "4: website case: registration with a remembered cookie creates and attaches",
     {ext("u9"), email("a@x.io"), cookie("c1")}, {none, none, none}, {}, {}, "",
     {"created", none, "", {}, {}, {0, 1, 2}, "u9", {}}},
    {"rule2_email_wins_over_phone_phone_only_profile_merged",
     "2: priority: email wins over phone, phone-only profile merged", {email("a@x.io"), phone("+1")},
     {1, 2}, {{1, {}, false, {email("a@x.io")}}, {2, {}, false, {phone("+1")}}}, {}, "",
     {"merged", 1, "email", {2}, {}, {}, {}, {}}},
    {"rule6_loser_external_id_kept_when_winner_has_none",
     "6: loser with an external ID, nobody else has one: merged, ID kept", {email("a@x.io"), phone("+1")},
     {1, 2}, {{1, {}, false, {email("a@x.io")}}, {2, "u5", false, {phone("+1")}}}, {}, "",
     {"merged", 1, "email", {2}, {}, {}, "u5", {}}},
    {"rule6_both_with_external_ids_permanent_key_fails",
     "6: both have external IDs: permanent key is an error", {email("a@x.io"), phone("+1")}, {1, 2},
     {{1, "u1", false, {email("a@x.io")}}, {2, "u2", false, {phone("+1")}}}, {}, "23505", {}},
    {"rule6_winner_with_other_phone_phone_holder_not_merged_fails",
     "6: winner already has another phone: phone holder not merged, error",
     {email("a@x.io"), phone("+1")}, {1, 2},
     {{1, {}, false, {email("a@x.io"), phone("+2")}}, {2, {}, false, {phone("+1")}}}, {}, "23505", {}},
    {"rule6_loser_with_other_email_than_request_fails",
     "6: loser holds another email than the request: error", {email("a@x.io"), phone("+1")}, {1, 2},
     {{1, {}, false, {email("a@x.io")}}, {2, {}, false, {phone("+1"), email("b@x.io")}}}, {}, "23505", {}},
    {"rule6_token_only_profile_merged_into_external_id_contact",
     "6: token-only profile merged into the external ID's contact", {ext("u1"), push("t1")}, {1, 7},
     {{1, "u1", false, {}}, {7, {}, false, {}}}, {}, "",
     {"merged", 1, "external_id", {7}, {}, {}, {}, {}}},
    {"rule6_token_of_someone_else_moves_to_winner",
     "6: token of someone else moves to the winner", {ext("u1"), push("t1")}, {1, 7},
     {{1, "u1", false, {}}, {7, "u7", false, {}}}, {}, "",
     {"updated", 1, "external_id", {}, {1}, {}, {}, {}}},
    {"rule6_push_wins_over_cookie_cookie_holder_merged",
     "6: changeable priority: push wins, cookie holder merged", {push("t1"), cookie("c1")}, {1, 2},
     {{1, {}, false, {}}, {2, {}, false, {}}}, {}, "", {"merged", 1, "mobile_push", {2}, {}, {}, {}, {}}},
    {"rule6_second_loser_checked_against_merged_whole",
     "6: second loser checked against the merged whole", {email("a@x.io"), phone("+1"), push("t1")},
     {1, 2, 3},
     {{1, {}, false, {email("a@x.io")}}, {2, {}, false, {phone("+1")}}, {3, {}, false, {phone("+3")}}},
     {}, "", {"merged", 1, "email", {2}, {2}, {}, {}, {}}},
    {"rule6_replaced_permanent_value_old_one_detached",
     "update replaces a permanent value: old one detached", {ext("u1"), email("new@x.io")}, {1, none},
     {{1, "u1", false, {email("old@x.io")}}}, {}, "",
     {"updated", 1, "external_id", {}, {}, {1}, {}, {{"email", "old@x.io"}}}},
    {"rule6_value_winner_holds_among_several_detaches_none",
     "a value the winner already holds among several (after a merge) detaches none",
     {ext("u1"), email("old@x.io")}, {1, 1},
     {{1, "u1", false, {email("own@x.io"), email("old@x.io")}}}, {}, "",
     {"updated", 1, "external_id", {}, {}, {}, {}, {}}},
    {"rule5_contact_id_updated_and_given_external_id",
     "5: contact ID: update it and give it the external ID", {ext("u1"), email("a@x.io")}, {none, none},
     {{4, {}, false, {}}}, 4, "", {"updated", 4, "contact_id", {}, {}, {0, 1}, "u1", {}}},
    {"rule5_contact_id_external_id_of_other_contact_fails",
     "5: contact ID: external ID belongs to another contact", {ext("u1")}, {9},
     {{4, {}, false, {}}, {9, "u1", false, {}}}, 4, "23505", {}},
    {"rule5_contact_id_contact_has_other_external_id_fails",
     "5: contact ID: contact has another external ID", {ext("u2")}, {none}, {{4, "u1", false, {}}}, 4,
     "55000", {}},
    {"rule5_contact_id_same_external_id_again_updates",
     "5: contact ID: same external ID again is fine", {ext("u1")}, {4}, {{4, "u1", false, {}}}, 4, "",
     {"updated", 4, "contact_id", {}, {}, {}, {}, {}}},
    {"rule5_contact_id_deleted_contact_restored",
     "5: contact ID: deleted contact restored", {email("a@x.io")}, {none}, {{4, {}, true, {}}}, 4, "",
     {"restored", 4, "contact_id", {}, {}, {0}, {}, {}}},
    {"rule5_contact_id_email_of_other_person_fails",
     "5: contact ID: email of another person is an error", {email("a@x.io")}, {9},
     {{4, {}, false, {email("b@x.io")}}, {9, {}, false, {email("a@x.io")}}}, 4, "23505", {}},
    {"rule5_contact_id_merges_email_only_profile_of_same_person",
     "5: contact ID: email-only profile of the same person merged", {email("a@x.io")}, {9},
     {{4, {}, false, {phone("+1")}}, {9, {}, false, {email("a@x.io")}}}, 4, "",
     {"merged", 4, "contact_id", {9}, {}, {}, {}, {}}},
    // Imports: dedupe_on searches its keys only and never merges.
    {"dedupe_external_id_other_contacts_email_fails_not_merged",
     "dedupe external_id: another contact's email is an error, not a merge", {ext("u1"), email("a@x.io")},
     {none, 1}, {{1, {}, false, {email("a@x.io")}}}, {}, "23505", {}, Types{"external_id"}},
    {"dedupe_external_id_found_by_it",
     "dedupe external_id: found by it", {ext("u1"), email("a@x.io")}, {1, none}, {{1, "u1", false, {}}}, {},
     "", {"updated", 1, "external_id", {}, {}, {1}, {}, {}}, Types{"external_id"}},
    {"dedupe_external_id_row_without_one_fails",
     "dedupe external_id: a row without one fails", {email("a@x.io")}, {none}, {}, {}, "22023", {},
     Types{"external_id"}},
    {"dedupe_email_match_without_external_id_gets_the_rows",
     "dedupe email: match without external ID gets the row's", {ext("u1"), email("a@x.io")}, {none, 1},
     {{1, {}, false, {email("a@x.io")}}}, {}, "", {"updated", 1, "email", {}, {}, {0}, "u1", {}}, Types{"email"}},
    {"dedupe_email_match_with_other_external_id_fails",
     "dedupe email: match with another external ID fails", {ext("u1"), email("a@x.io")}, {none, 1},
     {{1, "u0", false, {email("a@x.io")}}}, {}, "23505", {}, Types{"email"}},
    {"dedupe_email_external_id_of_other_contact_fails",
     "dedupe email: external ID of another contact fails", {ext("u1"), email("a@x.io")}, {9, none},
     {{9, "u1", false, {}}}, {}, "23505", {}, Types{"email"}},
    {"dedupe_email_or_phone_phone_first_email_holder_not_merged",
     "dedupe email_or_phone: phone first, the email's holder is not merged", {email("a@x.io"), phone("+1")},
     {1, 2}, {{1, {}, false, {email("a@x.io")}}, {2, {}, false, {phone("+1")}}}, {}, "23505", {},
     Types{"phone", "email"}},
    {"dedupe_email_or_phone_without_phone_match_email_decides",
     "dedupe email_or_phone: no phone match, the email decides", {email("a@x.io"), phone("+1")}, {1, none},
     {{1, {}, false, {email("a@x.io")}}}, {}, "", {"updated", 1, "email", {}, {}, {1}, {}, {}},
     Types{"phone", "email"}},
    {"dedupe_mobile_push_token_holder_is_row_email_replaced",
     "dedupe mobile_push: the token's holder is the row, its email replaced", {email("b@x.io"), push("t1")},
     {none, 7}, {{7, {}, false, {email("a@x.io")}}}, {}, "",
     {"updated", 7, "mobile_push", {}, {}, {0}, {}, {{"email", "a@x.io"}}}, Types{"mobile_push"}},
    {"dedupe_email_cookie_of_other_contact_moves",
     "dedupe email: a cookie held by someone else moves", {email("a@x.io"), cookie("c1")}, {1, 5},
     {{1, {}, false, {email("a@x.io")}}, {5, {}, false, {}}}, {}, "", {"updated", 1, "email", {}, {1}, {}, {}, {}},
     Types{"email"}},
    {"restore_deleted_off_deleted_match_skipped",
     "restore_deleted off: a deleted match is skipped", {ext("u1"), email("a@x.io")}, {1, none},
     {{1, "u1", true, {}}}, {}, "", {"skipped_deleted", 1, "external_id", {}, {}, {}, {}, {}}, Types{"external_id"},
     false},
    {"dedupe_contact_id_other_contacts_email_fails_not_merged",
     "dedupe contact_id: another contact's email is an error, not a merge", {email("a@x.io")}, {9},
     {{4, {}, false, {phone("+1")}}, {9, {}, false, {email("a@x.io")}}}, 4, "23505", {}, Types{}},
};

// A failing row prints its rule instead of the row's bytes.
void PrintTo(const Case &c, std::ostream *os) { *os << c.rule; }

class DecisionTest : public ::testing::TestWithParam<Case> {};

TEST_P(DecisionTest, FollowsRule) {
  const Case &c = GetParam();
  Request request = request_of(c);
  Matches matches = matches_of(c);
  if (!c.error.empty()) {
    try {
      decide(request, matches);
      FAIL() << "expected SQLSTATE " << c.error;
    } catch (const IdentityError &e) {
      EXPECT_EQ(e.sqlstate(), c.error) << e.what();
      EXPECT_FALSE(e.detail().empty());
      EXPECT_FALSE(e.hint().empty());
    }
    return;
  }
  Decision d = decide(request, matches);
  const Expect &x = c.expect;
  EXPECT_EQ(d.action(), x.action);
  EXPECT_EQ(d.winner, x.winner);
  EXPECT_EQ(d.matched_by, x.matched_by);
  EXPECT_EQ(d.merged, x.merged);
  EXPECT_EQ(d.moved, x.moved);
  EXPECT_EQ(d.attached, x.attached);
  EXPECT_EQ(d.assign_external_id, x.assign);
  EXPECT_EQ(d.detached, x.detached);
}

INSTANTIATE_TEST_SUITE_P(Rules, DecisionTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case> &info) { return std::string(info.param.name); });

// What reads_permanent() allows the shell to leave out: for every rule of
// the table, the decision and the search are the same without the
// contacts' permanent identifiers whenever it says they are not read.
std::string outcome_of(const Request &request, const Matches &matches, bool deciding) {
  try {
    if (!deciding) {
      SearchResult r = search(request, matches);
      return std::to_string(r.contact.value_or(-1)) + " by " + r.matched_by;
    }
    Decision d = decide(request, matches);
    std::string out = d.action() + " " + std::to_string(d.winner.value_or(-1)) + " by " + d.matched_by;
    for (int64_t id : d.merged) out += " merged " + std::to_string(id);
    for (size_t i : d.moved) out += " moved " + std::to_string(i);
    for (size_t i : d.attached) out += " attached " + std::to_string(i);
    for (const auto &[type, value] : d.detached) out += " detached " + type + ":" + value;
    return out + " assign " + d.assign_external_id.value_or("-");
  } catch (const IdentityError &e) {
    return "error " + e.sqlstate() + " " + e.what();
  }
}

TEST_P(DecisionTest, PermanentIdentifiersReadOnlyWhenTheyMatter) {
  const Case &c = GetParam();
  Request request = request_of(c);
  Matches full = matches_of(c);
  Matches bare = full;
  for (auto &[id, state] : bare.contacts) state.permanent.clear();
  for (bool deciding : {false, true}) {
    if (!deciding && c.contact_id) continue;  // a search has no target
    if (reads_permanent(request, full.contacts.size(), deciding)) continue;
    EXPECT_EQ(outcome_of(request, bare, deciding), outcome_of(request, full, deciding))
        << c.rule << (deciding ? " (decide)" : " (search)");
  }
}

TEST(DecisionPermanent, ReadWhenTheyMatter) {
  Request login = keys_only({ext("u1")});
  EXPECT_FALSE(reads_permanent(login, 1, true));
  EXPECT_TRUE(reads_permanent(login, 2, true));  // contacts compared before a merge
  Request by_email = keys_only({email("a@x.io")});
  EXPECT_TRUE(reads_permanent(by_email, 1, true));
  EXPECT_FALSE(reads_permanent(by_email, 1, false));
  Request device = keys_only({email("a@x.io"), push("t1")});
  EXPECT_TRUE(reads_permanent(device, 1, false));  // a shared device's holder is checked
  Request cleared = keys_only({ext("u1")});
  cleared.clear_types = {"phone"};
  EXPECT_TRUE(reads_permanent(cleared, 1, true));
}

TEST(DecisionClear, ClearedTypesAreDetached) {
  Request request = keys_only({ext("u1")});
  request.clear_types = {"phone"};
  Matches m;
  m.holder = {1};
  m.contacts[1] = ContactState{1, "u1", false, {{"email", {"a@x.io"}}, {"phone", {"+1"}}}};
  Decision d = decide(request, m);
  EXPECT_EQ(d.detached, (std::vector<std::pair<std::string, std::string>>{{"phone", "+1"}}));
}

TEST(DecisionSearch, ReadOnlySearchStopsAtForeignExternalId) {
  Request request = keys_only({ext("u2"), email("a@x.io"), push("t1")});
  Matches m;
  m.holder = {none, 1, 2};
  m.contacts[1] = ContactState{1, "u1", false, {{"email", {"a@x.io"}}}};
  m.contacts[2] = ContactState{2, {}, false, {}};
  SearchResult r = search(request, m);
  EXPECT_FALSE(r.contact.has_value());
  EXPECT_EQ(r.matched_by, "");
}

TEST(DecisionSearch, SkipsContradictingDeviceHolder) {
  Request request = keys_only({email("b@x.io"), push("t1"), cookie("c1")});
  Matches m;
  m.holder = {none, 7, 8};
  m.contacts[7] = ContactState{7, {}, false, {{"email", {"a@x.io"}}}};
  m.contacts[8] = ContactState{8, {}, false, {}};
  SearchResult r = search(request, m);
  EXPECT_EQ(r.contact, std::optional<int64_t>(8));
  EXPECT_EQ(r.matched_by, "cookie");
}

TEST(DecisionSortKeys, ExternalIdThenPermanentThenChangeableByPriority) {
  std::vector<Key> keys = {cookie("c1"), push("t1"), phone("+1"), ext("u1"), email("a@x.io"), cookie("c0")};
  sort_keys(keys);
  std::vector<std::string> order;
  for (const Key &k : keys) order.push_back(k.type + ":" + k.value);
  EXPECT_EQ(order, (std::vector<std::string>{"external_id:u1", "email:a@x.io", "phone:+1", "mobile_push:t1",
                                             "cookie:c1", "cookie:c0"}));
}

TEST(DecisionErrors, ConflictNamesBothContacts) {
  Request request = keys_only({email("a@x.io"), phone("+1")});
  Matches m;
  m.holder = {1, 2};
  m.contacts[1] = ContactState{1, "u1", false, {{"email", {"a@x.io"}}}};
  m.contacts[2] = ContactState{2, "u2", false, {{"phone", {"+1"}}}};
  try {
    decide(request, m);
    FAIL() << "expected a conflict";
  } catch (const IdentityError &e) {
    EXPECT_STREQ(e.what(), "phone \"+1\" belongs to another contact");
    EXPECT_EQ(e.detail(), "Contact 2 holds phone \"+1\" and cannot be merged into contact 1: it has external ID \"u2\" and "
              "contact 1 has \"u1\".");
  }
}

}  // namespace
}  // namespace identity
