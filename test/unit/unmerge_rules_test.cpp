// unmerge_rules_test.cpp: what unmerge_contact gives back, from what the
// merge recorded and what the contacts hold now (core/unmerge_rules.h),
// one table row per rule.
#include <gtest/gtest.h>

#include "core/identity_error.h"
#include "core/unmerge_rules.h"

namespace identity {
namespace {

using Text = std::optional<std::string>;

TEST(SplitBrought, BackFreeOrStayingWithItsHolder) {
  std::vector<BroughtKeyNow> brought = {
      {"email", "a@x.io", "2026-01-01", "2026-01-02", 5},
      {"mobile_push", "t1", "2026-01-01", std::nullopt, std::nullopt},
      {"mobile_push", "t2", std::nullopt, std::nullopt, 9},
  };
  BroughtSplit split = split_brought(brought, 5);
  EXPECT_EQ(split.returned, (std::vector<std::pair<std::string, std::string>>{{"email", "a@x.io"}}));
  ASSERT_EQ(split.free.size(), 1u);
  EXPECT_EQ(split.free[0].value, "t1");
  EXPECT_EQ(split.free[0].first_seen_at, Text("2026-01-01"));
  ASSERT_EQ(split.held.size(), 1u);
  EXPECT_EQ(split.held[0].value, "t2");
  EXPECT_EQ(split.held[0].holder, std::optional<int64_t>(9));
}

TEST(PlanUnmerge, TheLoserGetsBackWhatIsStillFreeAndTheWinnerItsOwnTokens) {
  std::vector<BroughtKeyNow> brought = {
      {"email", "l@x.io", std::nullopt, std::nullopt, 5},          // the winner still holds it
      {"mobile_push", "lt", "2026-01-01", std::nullopt, std::nullopt},  // pushed out since, free
      {"mobile_push", "gone", std::nullopt, std::nullopt, 8},      // moved on to contact 8
  };
  std::vector<PushedOut> pushed_out = {
      {"mobile_push", "wt", "2025-12-01", "2025-12-02", true},   // the winner's own, pushed out by this merge
      {"mobile_push", "lt", "2026-01-01", std::nullopt, true},   // the loser's own: among what it brought
      {"mobile_push", "xt", std::nullopt, std::nullopt, false},  // pushed out by several merges
  };
  UnmergePlan plan = plan_unmerge(6, 5, 42, "{\"email\": \"l@x.io\", \"identifiers\": []}", brought, pushed_out,
                                  {"w", "w@x.io", std::nullopt});
  EXPECT_EQ(plan.loser, 6);
  EXPECT_EQ(plan.winner, 5);
  EXPECT_EQ(plan.merge_log_id, 42);
  EXPECT_EQ(plan.returned, (std::vector<std::pair<std::string, std::string>>{{"email", "l@x.io"}}));
  ASSERT_EQ(plan.to_loser.size(), 1u);
  EXPECT_EQ(plan.to_loser[0].value, "lt");
  ASSERT_EQ(plan.to_winner.size(), 1u);
  EXPECT_EQ(plan.to_winner[0].value, "wt");
  EXPECT_EQ(plan.to_winner[0].attached_at, Text("2025-12-02"));
  ASSERT_EQ(plan.stayed.size(), 1u);
  EXPECT_EQ(plan.stayed[0].value, "gone");
  EXPECT_EQ(plan.stayed[0].contact, std::optional<int64_t>(8));
  EXPECT_EQ(plan.recorded.email, Text("l@x.io"));
  EXPECT_EQ(plan.winner_own.external_id, Text("w"));
  LogStep given = given_back_step(6, "mobile_push", "lt");
  EXPECT_EQ(given.action, "identifier_attached");
  EXPECT_EQ(given.detail, Text("{\"reason\": \"given back by unmerge_contact\"}"));
}

struct PrimariesCase {
  const char *rule;
  Primaries own, recorded;
  HeldValues winner_holds, loser_holds;
  Primaries winner, loser;  // expected
};

TEST(UnmergePrimaries, EachContactGetsWhatItHoldsAgain) {
  const PrimariesCase cases[] = {
      {"each gets its own back",
       {"w", "w@x.io", "+1"}, {"l", "l@x.io", "+2"},
       {{"external_id", {"w"}}, {"email", {"w@x.io"}}, {"phone", {"+1"}}},
       {{"external_id", {"l"}}, {"email", {"l@x.io"}}, {"phone", {"+2"}}},
       {"w", "w@x.io", "+1"}, {"l", "l@x.io", "+2"}},
      {"an external ID the winner took from the loser goes",
       {"l", "w@x.io", std::nullopt}, {"l", std::nullopt, std::nullopt},
       {{"email", {"w@x.io"}}}, {{"external_id", {"l"}}},
       {std::nullopt, "w@x.io", std::nullopt}, {"l", std::nullopt, std::nullopt}},
      {"a primary email that went back is replaced by the winner's longest held",
       {std::nullopt, "l@x.io", std::nullopt}, {std::nullopt, "l@x.io", std::nullopt},
       {{"email", {"old@x.io", "new@x.io"}}}, {{"email", {"l@x.io"}}},
       {std::nullopt, "old@x.io", std::nullopt}, {std::nullopt, "l@x.io", std::nullopt}},
      {"a recorded email the loser does not hold again: its longest held, or none",
       {std::nullopt, "w@x.io", std::nullopt}, {std::nullopt, "gone@x.io", "+2"},
       {{"email", {"w@x.io"}}}, {{"email", {"b@x.io", "c@x.io"}}},
       {std::nullopt, "w@x.io", std::nullopt}, {std::nullopt, "b@x.io", std::nullopt}},
      {"a winner without an email keeps none",
       {std::nullopt, std::nullopt, std::nullopt}, {},
       {{"email", {"x@x.io"}}}, {},
       {std::nullopt, std::nullopt, std::nullopt}, {std::nullopt, std::nullopt, std::nullopt}},
  };
  for (const PrimariesCase &c : cases) {
    UnmergePrimaries p = unmerge_primaries(c.own, c.recorded, c.winner_holds, c.loser_holds);
    EXPECT_TRUE(p.winner == c.winner) << c.rule << ": winner email " << p.winner.email.value_or("-");
    EXPECT_TRUE(p.loser == c.loser) << c.rule << ": loser email " << p.loser.email.value_or("-") << ", phone "
                                    << p.loser.phone.value_or("-");
  }
}

TEST(RecordedPrimaries, ReadsTheStringMembersOfTheMergeDetail) {
  Primaries p = recorded_primaries("{\"identifiers\": [], \"email\": \"l@x.io\", \"phone\": 5, \"external_id\": \"l\"}");
  EXPECT_EQ(p.external_id, Text("l"));
  EXPECT_EQ(p.email, Text("l@x.io"));
  EXPECT_EQ(p.phone, std::nullopt);  // not a string: not a recorded value
  EXPECT_THROW(recorded_primaries("{\"email\": "), IdentityError);
}

TEST(UnmergeDetail, ListsWhatWentBackAndWhatStayed) {
  EXPECT_EQ(unmerge_detail(42, {{"email", "l@x.io"}}, {{"mobile_push", "t1", 6}}, {{"mobile_push", "t2", std::nullopt}},
                           3),
            "{\"merge_log_id\": 42, \"identifiers\": [{\"type\": \"email\", \"value\": \"l@x.io\"}], \"given_back\": "
            "[{\"type\": \"mobile_push\", \"value\": \"t1\", \"contact_id\": 6}], \"stayed\": [{\"type\": "
            "\"mobile_push\", \"value\": \"t2\", \"contact_id\": null}], \"events\": 3}");
  EXPECT_EQ(unmerge_detail(1, {}, {}, {}, 0),
            "{\"merge_log_id\": 1, \"identifiers\": [], \"given_back\": [], \"stayed\": [], \"events\": 0}");
}

}  // namespace
}  // namespace identity
