// batch_plan_test.cpp: which rows of a batch are written set-based, one
// table row per reason a row must go row by row.
#include <gtest/gtest.h>

#include "core/batch_plan.h"

namespace identity {
namespace {

Key ext(const std::string &v) { return {kExternalIdType, v, KeyClass::kExternalId, 0, true}; }
Key email(const std::string &v) { return {"email", v, KeyClass::kPermanent, 10, true}; }
Key push(const std::string &v) { return {"mobile_push", v, KeyClass::kChangeable, 10, true}; }
Key cookie(const std::string &v) { return {"cookie", v, KeyClass::kChangeable, 40, false}; }

struct Row {
  std::vector<Key> keys;  // in priority order
  std::optional<int64_t> contact_id = std::nullopt;  // a contact_id target
};

struct Case {
  const char *name;  // the test's name: the rule the row checks
  const char *why;
  std::vector<Row> rows;
  std::vector<RowPlan> expect;
  std::optional<std::vector<std::string>> dedupe_on = std::nullopt;
  bool restore_deleted = false;
};

// The database every case starts from: contact 1 (u-1, a@x, push p1),
// contact 2 (no external ID, b@x), contact 3 deleted (u-3), contact 4
// merged into 1, contact 5 holding only push p5, a remembered cookie c0
// without a holder.
BatchSnapshot database() {
  BatchSnapshot s;
  auto hold = [&](const Key &k, std::optional<int64_t> holder) { s.keys[{k.type, k.value}] = holder; };
  hold(ext("u-1"), 1);
  hold(email("a@x"), 1);
  hold(push("p1"), 1);
  hold(email("b@x"), 2);
  hold(ext("u-3"), 3);
  hold(push("p5"), 5);
  hold(cookie("c0"), std::nullopt);
  s.contacts[1] = {1, "u-1", false, {{"email", {"a@x"}}}};
  s.contacts[2] = {2, std::nullopt, false, {{"email", {"b@x"}}}};
  s.contacts[3] = {3, "u-3", true, {}};
  s.contacts[5] = {5, std::nullopt, false, {}};
  s.merged_into[4] = 1;
  return s;
}

const Case kCases[] = {
    {"new_keys_create",
     "new keys create", {{{ext("u-9"), email("z@x")}}}, {RowPlan::kCreate}},
    {"matched_contact_with_new_keys_is_updated",
     "a matched contact with new keys is updated", {{{ext("u-1"), push("p9")}}}, {RowPlan::kUpdate}},
    {"two_new_people_in_one_batch_are_both_set_based",
     "two new people in one batch are both set-based",
     {{{ext("u-8")}}, {{ext("u-9")}}},
     {RowPlan::kCreate, RowPlan::kCreate}},
    {"key_an_earlier_row_created_goes_row_by_row",
     "a key an earlier row created goes row by row",
     {{{ext("u-9")}}, {{ext("u-9"), email("z@x")}}},
     {RowPlan::kCreate, RowPlan::kRowByRow}},
    {"contact_an_earlier_row_updated_goes_row_by_row",
     "a contact an earlier row updated goes row by row",
     {{{ext("u-1")}}, {{email("a@x")}}},
     {RowPlan::kUpdate, RowPlan::kRowByRow}},
    {"two_contacts_updated_in_one_batch",
     "two contacts updated in one batch", {{{email("a@x"), push("p9")}}, {{email("b@x")}}},
     {RowPlan::kUpdate, RowPlan::kUpdate}},
    {"keys_of_two_contacts_merge_row_by_row",
     "keys of two contacts merge, row by row", {{{ext("u-1"), push("p5")}}}, {RowPlan::kRowByRow}},
    {"contact_a_merge_involved_is_touched_for_later_rows",
     "a contact a merge involved is touched for later rows",
     {{{ext("u-1"), push("p5")}}, {{push("p5"), email("e@x")}}},
     {RowPlan::kRowByRow, RowPlan::kRowByRow}},
    {"two_holders_of_one_persons_keys_conflict_row_fails",
     "two contacts holding one person's keys conflict: the row fails", {{{ext("u-1"), email("b@x")}}},
     {RowPlan::kFailed}},
    {"replaced_email_is_a_detach_row_by_row",
     "a replaced email is a detach, row by row", {{{ext("u-1"), email("new@x")}}}, {RowPlan::kRowByRow}},
    {"moved_token_goes_row_by_row",
     "a moved token goes row by row", {{{ext("u-9"), push("p1")}}}, {RowPlan::kRowByRow},
     std::vector<std::string>{"external_id"}},
    {"deleted_match_is_skipped_without_touching",
     "a deleted match is skipped without touching anything",
     {{{ext("u-3")}}, {{ext("u-3"), email("d@x")}}},
     {RowPlan::kSkipped, RowPlan::kSkipped}},
    {"deleted_match_restored_goes_row_by_row",
     "a deleted match restored goes row by row", {{{ext("u-3")}}}, {RowPlan::kRowByRow}, std::nullopt, true},
    {"key_without_holder_updated_in_place_row_by_row",
     "a key without a holder is updated in place, row by row", {{{ext("u-9"), cookie("c0")}}}, {RowPlan::kRowByRow}},
    {"cookies_alone_are_remembered_row_by_row",
     "cookies alone are remembered, row by row", {{{cookie("c9")}}}, {RowPlan::kRowByRow}},
    {"refused_row_fails_without_touching",
     "a refused row fails without touching", {{{ext("u-9"), email("a@x")}}, {{ext("u-1"), email("a@x")}}},
     {RowPlan::kFailed, RowPlan::kUpdate}, std::vector<std::string>{"external_id"}},
    {"contact_id_target_is_updated",
     "a contact_id target is updated", {{{}, 2}}, {RowPlan::kUpdate}, std::vector<std::string>{}},
    {"merged_contact_id_target_row_by_row_touches_winner",
     "a merged contact_id target goes row by row and touches the winner",
     {{{}, 4}, {{ext("u-1")}}},
     {RowPlan::kRowByRow, RowPlan::kRowByRow},
     std::vector<std::string>{}},
    {"unknown_contact_id_goes_row_by_row",
     "an unknown contact_id goes row by row", {{{}, 99}}, {RowPlan::kRowByRow}, std::vector<std::string>{}},
};

class PlanBatch : public ::testing::TestWithParam<Case> {};

TEST_P(PlanBatch, Plans) {
  const Case &c = GetParam();
  std::vector<Request> requests;
  for (const Row &row : c.rows) {
    Request r;
    r.keys = row.keys;
    r.contact_id = row.contact_id;
    r.dedupe_on = c.dedupe_on;
    r.restore_deleted = c.restore_deleted;
    requests.push_back(r);
  }
  std::vector<const Request *> pointers;
  for (const Request &r : requests) pointers.push_back(&r);
  std::vector<PlannedRow> plans = plan_batch(pointers, database());
  ASSERT_EQ(plans.size(), c.expect.size());
  for (size_t i = 0; i < plans.size(); i++) EXPECT_EQ(plans[i].plan, c.expect[i]) << c.why << ", row " << i;
}

// A failing row prints its rule instead of the row's bytes.
void PrintTo(const Case &c, std::ostream *os) { *os << c.why; }

INSTANTIATE_TEST_SUITE_P(Rules, PlanBatch, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case> &info) { return std::string(info.param.name); });

TEST(PlanBatch, RowsWithoutRequestAreLeftAlone) {
  Request r;
  r.keys = {ext("u-1")};
  std::vector<PlannedRow> plans = plan_batch({nullptr, &r}, database());
  EXPECT_EQ(plans[0].plan, RowPlan::kNone);
  EXPECT_EQ(plans[1].plan, RowPlan::kUpdate);
}

TEST(PlanBatch, FailedRowKeepsItsError) {
  Request r;
  r.keys = {ext("u-9"), email("a@x")};
  r.dedupe_on = std::vector<std::string>{"external_id"};
  std::vector<PlannedRow> plans = plan_batch({&r}, database());
  ASSERT_EQ(plans[0].plan, RowPlan::kFailed);
  ASSERT_TRUE(plans[0].error.has_value());
  EXPECT_EQ(plans[0].error->sqlstate(), "23505");
}

TEST(PlanBatch, CreateAttachesEveryKey) {
  Request r;
  r.keys = {ext("u-9"), email("z@x"), push("p9")};
  std::vector<PlannedRow> plans = plan_batch({&r}, database());
  ASSERT_EQ(plans[0].plan, RowPlan::kCreate);
  EXPECT_EQ(plans[0].decision.attached.size(), 3u);
  EXPECT_EQ(plans[0].decision.assign_external_id, std::optional<std::string>("u-9"));
}

}  // namespace
}  // namespace identity
