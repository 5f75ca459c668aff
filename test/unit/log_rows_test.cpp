// log_rows_test.cpp: a decision's steps become one identity_log row per
// contact changed, and purge_detail hashes a person's values in a row.
#include <gtest/gtest.h>

#include "core/identity_error.h"
#include "core/log_rows.h"

namespace identity {
namespace {

using Id = std::optional<int64_t>;
using Text = std::optional<std::string>;

LogStep step(Id contact, const std::string &action, Text by = std::nullopt, Text type = std::nullopt,
             Text value = std::nullopt, Id other = std::nullopt, Text detail = std::nullopt) {
  return {contact, action, by, type, value, other, detail};
}

// A row as compared: contact, action, matched_by, other, detail.
struct Expected {
  Id contact;
  std::string action;
  Text matched_by;
  Id other;
  Text detail;
};

struct FoldCase {
  const char *rule;
  std::vector<LogStep> steps;
  std::vector<Expected> rows;
};

const FoldCase kFoldCases[] = {
    {"a signup is one created row listing its identifiers and external ID",
     {step(1, "created"), step(1, "identifier_attached", std::nullopt, "email", "a@x.io"),
      step(1, "identifier_attached", std::nullopt, "mobile_push", "t1"),
      step(1, "external_id_assigned", std::nullopt, "external_id", "u-1")},
     {{1, "created", std::nullopt, std::nullopt,
       "{\"attached\": [{\"type\": \"email\", \"value\": \"a@x.io\"}, {\"type\": \"mobile_push\", \"value\": \"t1\"}], "
       "\"external_id\": \"u-1\"}"}}},
    {"a profile change is an updated row with the key that matched",
     {step(1, "updated", "email")},
     {{1, "updated", "email", std::nullopt, "{}"}}},
    {"identifiers without a profile change are identifiers_changed",
     {step(1, "identifier_attached", "external_id", "cookie", "c1")},
     {{1, "identifiers_changed", "external_id", std::nullopt,
       "{\"attached\": [{\"type\": \"cookie\", \"value\": \"c1\"}]}"}}},
    {"a detach keeps its reason and times",
     {step(1, "identifier_detached", "external_id", "email", "old@x.io", std::nullopt,
           "{\"reason\": \"replaced by the request's email\"}"),
      step(1, "identifier_attached", "external_id", "email", "new@x.io"), step(1, "updated", "external_id")},
     {{1, "updated", "external_id", std::nullopt,
       "{\"detached\": [{\"type\": \"email\", \"value\": \"old@x.io\", \"reason\": \"replaced by the request's email\"}], "
       "\"attached\": [{\"type\": \"email\", \"value\": \"new@x.io\"}]}"}}},
    {"a moved token is a row of the receiver and one of the contact that gave it up, first",
     {step(2, "created"), step(2, "identifier_moved", std::nullopt, "mobile_push", "t1", 1)},
     {{1, "identifiers_changed", std::nullopt, 2, "{\"moved_to\": [{\"type\": \"mobile_push\", \"value\": \"t1\", \"to\": 2}]}"},
      {2, "created", std::nullopt, std::nullopt,
       "{\"moved\": [{\"type\": \"mobile_push\", \"value\": \"t1\", \"from\": 1}]}"}}},
    {"a merge is a merged_into row of the loser, with what it brought, before the winner's",
     {step(1, "merged", "email", std::nullopt, std::nullopt, 2, "{\"identifiers\": [], \"events\": 0}"),
      step(1, "updated", "email")},
     {{2, "merged_into", "email", 1, "{\"identifiers\": [], \"events\": 0}"},
      {1, "merged", "email", std::nullopt, "{\"merged\": [2], \"updated\": true}"}}},
    {"a restore with a merge says both",
     {step(1, "merged", "email", std::nullopt, std::nullopt, 2, "{}"), step(1, "restored", "email")},
     {{2, "merged_into", "email", 1, "{}"}, {1, "merged", "email", std::nullopt, "{\"merged\": [2], \"restored\": true}"}}},
    {"an explicit merge taking the loser's external ID names the loser",
     {step(1, "merged", std::nullopt, std::nullopt, std::nullopt, 2, "{\"explicit\": true}"),
      step(1, "external_id_assigned", std::nullopt, "external_id", "u-2", 2)},
     {{2, "merged_into", std::nullopt, 1, "{\"explicit\": true}"},
      {1, "merged", std::nullopt, std::nullopt, "{\"merged\": [2], \"external_id\": \"u-2\", \"external_id_from\": 2}"}}},
    {"cookies remembered without a contact are one remembered row",
     {step(std::nullopt, "identifier_remembered", std::nullopt, "cookie", "c1"),
      step(std::nullopt, "identifier_remembered", std::nullopt, "cookie", "c2")},
     {{std::nullopt, "remembered", std::nullopt, std::nullopt,
       "{\"remembered\": [{\"type\": \"cookie\", \"value\": \"c1\"}, {\"type\": \"cookie\", \"value\": \"c2\"}]}"}}},
    {"anonymous history attached is listed as it was logged",
     {step(1, "identifier_attached", "email", "cookie", "c1"),
      step(1, "events_attached", std::nullopt, std::nullopt, std::nullopt, std::nullopt, "{\"events\": 2}")},
     {{1, "identifiers_changed", "email", std::nullopt,
       "{\"attached\": [{\"type\": \"cookie\", \"value\": \"c1\"}], \"events_attached\": [{\"events\": 2}]}"}}},
    {"an unmerge keeps its own detail and adds what was given back",
     {step(2, "unmerged", std::nullopt, std::nullopt, std::nullopt, 1, "{\"merge_log_id\": 7, \"events\": 1}"),
      step(2, "identifier_attached", std::nullopt, "cookie", "c1", std::nullopt, "{\"reason\": \"given back\"}")},
     {{2, "unmerged", std::nullopt, 1,
       "{\"merge_log_id\": 7, \"events\": 1, \"attached\": [{\"type\": \"cookie\", \"value\": \"c1\", \"reason\": \"given back\"}]}"}}},
    {"a batch gives each contact its row, in the order first named",
     {step(5, "created"), step(3, "updated", "external_id"), step(5, "external_id_assigned", std::nullopt, "external_id", "u-5")},
     {{5, "created", std::nullopt, std::nullopt, "{\"external_id\": \"u-5\"}"},
      {3, "updated", "external_id", std::nullopt, "{}"}}},
    {"a step the fold does not know is a row of its own, as it is",
     {step(1, "deleted")},
     {{1, "deleted", std::nullopt, std::nullopt, std::nullopt}}},
};

TEST(LogRows, OneRowPerContactOfADecision) {
  for (const FoldCase &c : kFoldCases) {
    SCOPED_TRACE(c.rule);
    std::vector<LogRow> rows = fold_steps(c.steps);
    ASSERT_EQ(rows.size(), c.rows.size());
    for (size_t i = 0; i < rows.size(); i++) {
      SCOPED_TRACE(i);
      EXPECT_EQ(rows[i].contact_id, c.rows[i].contact);
      EXPECT_EQ(rows[i].action, c.rows[i].action);
      EXPECT_EQ(rows[i].matched_by, c.rows[i].matched_by);
      EXPECT_EQ(rows[i].other_contact_id, c.rows[i].other);
      EXPECT_EQ(rows[i].detail, c.rows[i].detail);
    }
  }
}

TEST(LogRows, ValuesAreQuotedAsJson) {
  std::vector<LogRow> rows =
      fold_steps({step(1, "identifier_attached", std::nullopt, "cookie", "a\"b\\c\n")});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(*rows[0].detail, "{\"attached\": [{\"type\": \"cookie\", \"value\": \"a\\\"b\\\\c\\n\"}]}");
}

struct PurgeCase {
  const char *rule;
  std::string detail;
  bool person_row;
  std::string expect;
};

const PurgeCase kPurgeCases[] = {
    {"values of the person become their hashes wherever they are",
     "{\"attached\": [{\"type\": \"email\", \"value\": \"a@x.io\"}, {\"type\": \"cookie\", \"value\": \"c9\"}], "
     "\"external_id\": \"u-1\"}",
     true,
     "{\"attached\": [{\"type\": \"email\", \"value\": \"hmac:a\"}, {\"type\": \"cookie\", \"value\": \"c9\"}], "
     "\"external_id\": \"hmac:u\", \"purged\": true}"},
    {"a row of someone else keeps all but the person's values, and is not marked",
     "{\"moved\": [{\"type\": \"cookie\", \"value\": \"a@x.io\", \"from\": 3}]}", false,
     "{\"moved\": [{\"type\": \"cookie\", \"value\": \"hmac:a\", \"from\": 3}]}"},
    {"the gaps a merge filled (names, attributes) go",
     "{\"identifiers\": [], \"filled\": {\"first_name\": \"Ann\", \"attributes\": {\"city\": \"Kyiv\"}}, \"email\": \"a@x.io\"}",
     true, "{\"identifiers\": [], \"filled\": {\"purged\": true}, \"email\": \"hmac:a\", \"purged\": true}"},
    {"numbers, booleans and nulls stay", "{\"events\": 2, \"explicit\": true, \"x\": null}", true,
     "{\"events\": 2, \"explicit\": true, \"x\": null, \"purged\": true}"},
};

TEST(LogRows, PurgeHashesThePersonsValues) {
  const std::map<std::string, std::string> hashes{{"a@x.io", "hmac:a"}, {"u-1", "hmac:u"}};
  for (const PurgeCase &c : kPurgeCases) {
    SCOPED_TRACE(c.rule);
    EXPECT_EQ(purge_detail(c.detail, hashes, c.person_row), c.expect);
  }
}

TEST(LogRows, PurgeRefusesADetailThatIsNotJson) {
  EXPECT_THROW(purge_detail("{\"a\": ", {}, true), IdentityError);
}

}  // namespace
}  // namespace identity
