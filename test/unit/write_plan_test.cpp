// write_plan_test.cpp: a decision becomes a write plan (the contact's
// columns after it, the keys it moves, detaches and attaches, whether it
// checks limits) and a written plan becomes its log steps in one order;
// merge_contacts' plan and preconditions (core/write_plan.h), one table row
// per rule.
#include <gtest/gtest.h>

#include <functional>

#include "core/identity_error.h"
#include "core/write_plan.h"

namespace identity {
namespace {

using Id = std::optional<int64_t>;
using Text = std::optional<std::string>;

Key ext(const std::string &v) { return {kExternalIdType, v, KeyClass::kExternalId, 0, true}; }
Key email(const std::string &v) { return {"email", v, KeyClass::kPermanent, 10, true}; }
Key push(const std::string &v) { return {"mobile_push", v, KeyClass::kChangeable, 10, true}; }
Key cookie(const std::string &v) { return {"cookie", v, KeyClass::kChangeable, 40, false}; }

// Steps as short lines: "action contact [type value] [other]".
std::vector<std::string> lines(const std::vector<LogStep> &steps) {
  std::vector<std::string> out;
  for (const LogStep &s : steps) {
    std::string line = s.action + " " + (s.contact_id ? std::to_string(*s.contact_id) : "-");
    if (s.type) line += " " + *s.type + " " + s.value.value_or("");
    if (s.other_contact_id) line += " other " + std::to_string(*s.other_contact_id);
    if (s.matched_by) line += " by " + *s.matched_by;
    out.push_back(line);
  }
  return out;
}

struct PlanCase {
  const char *rule;
  std::vector<Key> keys;
  Decision decision;
  bool has_winner;
  Primaries winner;                      // its columns as read
  std::set<std::string> winner_emails;   // its permanent emails
  std::vector<Primaries> merged;         // per Decision::merged
  std::vector<Id> holder;                // per key
  std::vector<bool> fresh;               // per key
  bool profile_changed;                  // what the write found
  Primaries after;                       // expected
  bool columns_change, check_limits;     // expected
  std::vector<std::string> log;          // expected, for contact 9 when new
};

Decision decision(std::function<void(Decision &)> fill) {
  Decision d;
  fill(d);
  return d;
}

TEST(PlanWrite, EveryWriterPlansAndLogsTheSameWay) {
  const PlanCase cases[] = {
      {"a signup creates the contact with every key, the external ID logged as assigned",
       {ext("u-1"), email("a@x.io"), push("t1")},
       decision([](Decision &d) {
         d.create = true;
         d.attached = {0, 1, 2};
         d.assign_external_id = "u-1";
       }),
       false, {}, {}, {}, {}, {true, true, true}, false,
       {"u-1", "a@x.io", std::nullopt}, true, false,
       {"created 9", "identifier_attached 9 email a@x.io", "identifier_attached 9 mobile_push t1",
        "external_id_assigned 9 external_id u-1"}},
      {"a login that changes nothing plans no column change and logs nothing",
       {ext("u-1"), email("a@x.io")},
       decision([](Decision &d) {
         d.winner = 5;
         d.matched_by = kExternalIdType;
       }),
       true, {"u-1", "a@x.io", std::nullopt}, {"a@x.io"}, {}, {5, 5}, {false, false}, false,
       {"u-1", "a@x.io", std::nullopt}, false, false, {}},
      {"an update whose fields changed logs updated, by the key that matched",
       {ext("u-1")},
       decision([](Decision &d) {
         d.winner = 5;
         d.matched_by = kExternalIdType;
       }),
       true, {"u-1", "a@x.io", std::nullopt}, {"a@x.io"}, {}, {5}, {false}, true,
       {"u-1", "a@x.io", std::nullopt}, false, false, {"updated 5 by external_id"}},
      {"a new email replaces the primary and the old one is detached",
       {ext("u-1"), email("n@x.io")},
       decision([](Decision &d) {
         d.winner = 5;
         d.matched_by = kExternalIdType;
         d.attached = {1};
         d.detached = {{"email", "a@x.io"}};
       }),
       true, {"u-1", "a@x.io", std::nullopt}, {"a@x.io"}, {}, {5, std::nullopt}, {false, true}, true,
       {"u-1", "n@x.io", std::nullopt}, true, false,
       {"identifier_detached 5 email a@x.io by external_id", "identifier_attached 5 email n@x.io by external_id",
        "updated 5 by external_id"}},
      {"a second email the winner holds leaves its primary",
       {email("s@x.io")},
       decision([](Decision &d) {
         d.winner = 5;
         d.matched_by = "email";
       }),
       true, {std::nullopt, "a@x.io", std::nullopt}, {"a@x.io", "s@x.io"}, {}, {5}, {false}, false,
       {std::nullopt, "a@x.io", std::nullopt}, false, false, {}},
      {"a moved token names its previous holder and may pass the limit",
       {ext("u-1"), push("t1")},
       decision([](Decision &d) {
         d.winner = 5;
         d.matched_by = kExternalIdType;
         d.moved = {1};
       }),
       true, {"u-1", std::nullopt, std::nullopt}, {}, {}, {5, 4}, {false, false}, false,
       {"u-1", std::nullopt, std::nullopt}, false, true,
       {"identifier_moved 5 mobile_push t1 other 4 by external_id"}},
      {"a merge fills the winner's missing email from the loser and logs the merge first",
       {ext("u-1"), email("b@x.io")},
       decision([](Decision &d) {
         d.winner = 5;
         d.matched_by = kExternalIdType;
         d.merged = {6};
       }),
       true, {"u-1", std::nullopt, std::nullopt}, {}, {{std::nullopt, "b@x.io", "+100"}}, {5, 6}, {false, false},
       true, {"u-1", "b@x.io", "+100"}, true, true,
       {"merged 5 other 6 by external_id", "updated 5 by external_id"}},
      {"a deleted winner is restored, logged even when no field changed",
       {ext("u-1")},
       decision([](Decision &d) {
         d.winner = 5;
         d.matched_by = kExternalIdType;
         d.restore = true;
       }),
       true, {"u-1", std::nullopt, std::nullopt}, {}, {}, {5}, {false}, false,
       {"u-1", std::nullopt, std::nullopt}, true, false, {"restored 5 by external_id"}},
      {"cookies nobody holds are remembered, those known before are not logged again",
       {cookie("c1"), cookie("c2")},
       decision([](Decision &d) {
         d.remember_only = true;
         d.attached = {0, 1};
       }),
       false, {}, {}, {}, {std::nullopt, std::nullopt}, {true, false}, false,
       {}, true, false, {"identifier_remembered - cookie c1"}},
      {"a deleted match left alone writes and logs nothing",
       {ext("u-1")},
       decision([](Decision &d) {
         d.winner = 5;
         d.skipped_deleted = true;
         d.matched_by = kExternalIdType;
       }),
       true, {"u-1", std::nullopt, std::nullopt}, {}, {}, {5}, {false}, false,
       {"u-1", std::nullopt, std::nullopt}, false, false, {}},
  };
  for (const PlanCase &c : cases) {
    Request request;
    request.keys = c.keys;
    ContactState winner;
    winner.id = c.decision.winner.value_or(0);
    winner.external_id = c.winner.external_id;
    if (!c.winner_emails.empty()) winner.permanent["email"] = c.winner_emails;
    WriteContext context;
    if (c.has_winner) {
      context.winner = &winner;
      context.winner_primaries = c.winner;
    }
    context.merged_primaries = c.merged;
    context.holder = &c.holder;
    context.fresh = &c.fresh;
    WritePlan plan = plan_write(request, c.decision, context);
    EXPECT_EQ(plan.action, c.decision.action()) << c.rule;
    EXPECT_TRUE(plan.after == c.after) << c.rule << ": email " << plan.after.email.value_or("-") << ", phone "
                                       << plan.after.phone.value_or("-");
    if (!plan.remember_only) {
      EXPECT_EQ(plan.columns_change(), c.columns_change) << c.rule;
    }
    EXPECT_EQ(plan.check_limits, c.check_limits) << c.rule;
    WriteResult result;
    result.contact = plan.contact.value_or(9);
    result.profile_changed = c.profile_changed;
    result.merge_details.assign(plan.merged.size(), "{}");
    EXPECT_EQ(lines(plan_log(plan, result)), c.log) << c.rule;
  }
}

TEST(PlanWrite, ValuesFoundInTheTablesAreLoggedInTheirPlace) {
  Request request;
  request.keys = {ext("u-1"), push("t2"), cookie("c1")};
  Decision d;
  d.winner = 5;
  d.matched_by = kExternalIdType;
  d.attached = {1, 2};
  ContactState winner;
  winner.id = 5;
  WriteContext context;
  context.winner = &winner;
  context.winner_primaries.external_id = "u-1";
  std::vector<bool> fresh{false, true, false};
  context.fresh = &fresh;
  WritePlan plan = plan_write(request, d, context);
  ASSERT_EQ(plan.attached.size(), 2u);
  EXPECT_FALSE(plan.attached[0].known_before);  // first seen now: no anonymous history
  EXPECT_TRUE(plan.attached[1].known_before);
  EXPECT_TRUE(plan.identifiers_change());
  WriteResult result;
  result.contact = 5;
  result.events = {{5, "events_attached", std::nullopt, std::nullopt, std::nullopt, std::nullopt, "{}"}};
  result.limits = {limit_detach_step(5, "mobile_push", "t0", 1, "null", "null", plan.matched_by, {})};
  EXPECT_EQ(lines(plan_log(plan, result)),
            (std::vector<std::string>{"identifier_attached 5 mobile_push t2 by external_id",
                                      "identifier_attached 5 cookie c1 by external_id", "events_attached 5",
                                      "identifier_detached 5 mobile_push t0 by external_id"}));
}

struct MergeCase {
  const char *rule;
  Primaries winner, loser;
  Primaries after;
  Text assigned;
  Id assigned_from;
};

TEST(PlanMerge, TheWinnerKeepsItsValuesAndTakesTheLosersWhereItHasNone) {
  const MergeCase cases[] = {
      {"the winner's values stay", {"w", "w@x.io", "+1"}, {"l", "l@x.io", "+2"}, {"w", "w@x.io", "+1"},
       std::nullopt, std::nullopt},
      {"a winner without an external ID takes the loser's, logged as from the loser",
       {std::nullopt, "w@x.io", std::nullopt}, {"l", "l@x.io", "+2"}, {"l", "w@x.io", "+2"}, "l", 6},
      {"a loser without values gives none", {std::nullopt, std::nullopt, "+1"}, {}, {std::nullopt, std::nullopt, "+1"},
       std::nullopt, std::nullopt},
  };
  for (const MergeCase &c : cases) {
    ContactState winner, loser;
    winner.id = 5;
    winner.external_id = c.winner.external_id;
    loser.id = 6;
    loser.external_id = c.loser.external_id;
    WritePlan plan = plan_merge(winner, c.winner, loser, c.loser, true);
    EXPECT_EQ(plan.contact, Id(5)) << c.rule;
    EXPECT_EQ(plan.merged, std::vector<int64_t>{6}) << c.rule;
    EXPECT_TRUE(plan.after == c.after) << c.rule;
    EXPECT_EQ(plan.assign_external_id, c.assigned) << c.rule;
    EXPECT_EQ(plan.external_id_from, c.assigned_from) << c.rule;
    EXPECT_TRUE(plan.check_limits) << c.rule;
    EXPECT_EQ(plan.merge_extra, "{\"explicit\": true, \"forced\": true}") << c.rule;
    EXPECT_FALSE(plan.matched_by) << c.rule;
  }
}

struct CheckCase {
  const char *rule;
  MergeParty winner, loser;
  bool force;
  const char *sqlstate;  // null: allowed
  const char *message;
};

TEST(CheckMerge, RefusesWhatTheRulesDoNotAllow) {
  const CheckCase cases[] = {
      {"two live contacts merge", {5, std::nullopt, false, std::nullopt}, {6, "l", false, std::nullopt}, false,
       nullptr, ""},
      {"a merged winner is a tombstone", {5, std::nullopt, false, 7}, {6, std::nullopt, false, std::nullopt}, false,
       "55000", "contact 5 was already merged into contact 7"},
      {"a merged loser is a tombstone", {5, std::nullopt, false, std::nullopt}, {6, std::nullopt, false, 7}, false,
       "55000", "contact 6 was already merged into contact 7"},
      {"a deleted loser must be restored first", {5, std::nullopt, false, std::nullopt},
       {6, std::nullopt, true, std::nullopt}, false, "55000", "contact 6 is deleted"},
      {"two external IDs need force", {5, "w", false, std::nullopt}, {6, "l", false, std::nullopt}, false, "55000",
       "contact 5 and contact 6 both have an external ID"},
      {"two external IDs with force merge", {5, "w", false, std::nullopt}, {6, "l", false, std::nullopt}, true,
       nullptr, ""},
  };
  for (const CheckCase &c : cases) {
    if (!c.sqlstate) {
      EXPECT_NO_THROW(check_merge(c.winner, c.loser, c.force)) << c.rule;
      continue;
    }
    try {
      check_merge(c.winner, c.loser, c.force);
      ADD_FAILURE() << c.rule << ": no error";
    } catch (const IdentityError &e) {
      EXPECT_EQ(e.sqlstate(), c.sqlstate) << c.rule;
      EXPECT_EQ(std::string(e.what()), c.message) << c.rule;
    }
  }
  EXPECT_NO_THROW(check_not_self(5, 5, 6));
  try {
    check_not_self(4, 6, 6);
    ADD_FAILURE() << "a winner merged into the loser: no error";
  } catch (const IdentityError &e) {
    EXPECT_EQ(e.sqlstate(), "22023");
    EXPECT_EQ(std::string(e.what()), "cannot merge contact 6 into itself");
    EXPECT_EQ(e.detail(), "Contact 4 was merged into contact 6.");
  }
}

TEST(MergeDetail, RecordsWhatUnmergeNeedsInOneOrder) {
  std::string detail = merge_detail({{"mobile_push", "t2", "\"2026-01-02\"", "\"2026-01-03\""},
                                     {"email", "l@x.io", "\"2026-01-01\"", "null"}},
                                    {12, 10}, "{\"first_name\": \"Ann\"}", "{\"email\": \"l@x.io\"}",
                                    "{\"explicit\": true, \"forced\": false}");
  EXPECT_EQ(detail,
            "{\"identifiers\": [{\"type\": \"email\", \"value\": \"l@x.io\", \"first_seen_at\": \"2026-01-01\", "
            "\"attached_at\": null}, {\"type\": \"mobile_push\", \"value\": \"t2\", \"first_seen_at\": "
            "\"2026-01-02\", \"attached_at\": \"2026-01-03\"}], \"events\": 2, \"event_ids\": [10, 12], "
            "\"filled\": {\"first_name\": \"Ann\"}, \"email\": \"l@x.io\", \"explicit\": true, \"forced\": false}");
  EXPECT_EQ(merge_detail({}, {}, "{}", "{}", "{}"),
            "{\"identifiers\": [], \"events\": 0, \"event_ids\": [], \"filled\": {}}");
}

TEST(LimitDetachStep, NamesTheCapAndTheMergesThatPushedItOut) {
  LogStep s = limit_detach_step(5, "mobile_push", "t0", 2, "\"2026-01-01\"", "null", std::string("email"), {6, 7});
  EXPECT_EQ(s.action, "identifier_detached");
  EXPECT_EQ(s.contact_id, Id(5));
  EXPECT_EQ(s.matched_by, Text("email"));
  EXPECT_EQ(s.detail, Text("{\"reason\": \"over max_per_contact (2)\", \"first_seen_at\": \"2026-01-01\", "
                           "\"attached_at\": null, \"after_merge_of\": [6, 7]}"));
  EXPECT_EQ(limit_detach_step(5, "t", "v", 1, "null", "null", std::nullopt, {}).detail,
            Text("{\"reason\": \"over max_per_contact (1)\", \"first_seen_at\": null, \"attached_at\": null}"));
}

}  // namespace
}  // namespace identity
