// table_names_test.cpp: rename_tables, the shard names of a worker's statements.
#include "core/table_names.h"

#include <gtest/gtest.h>

namespace {

using identity::rename_tables;

const std::map<std::string, std::string> kShards = {{"contacts", "contacts_102008"},
                                                    {"identifiers", "identifiers_102040"}};

struct Case {
  const char *rule;
  const char *sql;
  const char *expected;
};

const Case kCases[] = {
    {"a table is renamed", "SELECT 1 FROM contact_identity.contacts c",
     "SELECT 1 FROM contact_identity.contacts_102008 c"},
    {"every table, every time",
     "SELECT * FROM contact_identity.contacts c JOIN contact_identity.identifiers i USING (account_id)"
     " WHERE EXISTS (SELECT FROM contact_identity.contacts w)",
     "SELECT * FROM contact_identity.contacts_102008 c JOIN contact_identity.identifiers_102040 i USING (account_id)"
     " WHERE EXISTS (SELECT FROM contact_identity.contacts_102008 w)"},
    {"only whole names: a longer name is another object",
     "SELECT * FROM contact_identity.contacts_export, contact_identity.contacts_contact_id_seq",
     "SELECT * FROM contact_identity.contacts_export, contact_identity.contacts_contact_id_seq"},
    {"names not in the map stay", "SELECT contact_identity.merge_attributes(a, b) FROM contact_identity.events e",
     "SELECT contact_identity.merge_attributes(a, b) FROM contact_identity.events e"},
    {"the name at the end of the text", "TABLE contact_identity.contacts", "TABLE contact_identity.contacts_102008"},
    {"another schema with the same ending is not ours", "SELECT 1 FROM my_contact_identity.contacts",
     "SELECT 1 FROM my_contact_identity.contacts"},
    {"a string literal is a message, not a table",
     "SELECT format('%s has a type contact_identity.identifiers does not have', x) FROM contact_identity.identifiers i",
     "SELECT format('%s has a type contact_identity.identifiers does not have', x) FROM contact_identity.identifiers_102040 i"},
    {"a quote doubled inside a literal does not end it",
     "SELECT 'it''s contact_identity.contacts' FROM contact_identity.contacts",
     "SELECT 'it''s contact_identity.contacts' FROM contact_identity.contacts_102008"},
    {"a comment with a quote does not start a literal",
     "-- A contact's keys\nSELECT 1 FROM contact_identity.contacts",
     "-- A contact's keys\nSELECT 1 FROM contact_identity.contacts_102008"},
    {"a quoted identifier is left as it is: the table's row type, not the shard's",
     "SELECT log_steps(ROW(l.*)::contact_identity.\"contacts\") FROM contact_identity.contacts l",
     "SELECT log_steps(ROW(l.*)::contact_identity.\"contacts\") FROM contact_identity.contacts_102008 l"},
    {"an unterminated literal is copied to the end", "SELECT 'contact_identity.contacts",
     "SELECT 'contact_identity.contacts"},
};

TEST(RenameTables, EachRuleOnItsCase) {
  for (const Case &c : kCases) EXPECT_EQ(rename_tables(c.sql, "contact_identity", kShards), c.expected) << c.rule;
}

TEST(RenameTables, NothingToRenameGivesTheTextBack) {
  const std::string sql = "SELECT 1 FROM contact_identity.contacts -- 'x\n";
  EXPECT_EQ(rename_tables(sql, "contact_identity", {}), sql);
}

}  // namespace
