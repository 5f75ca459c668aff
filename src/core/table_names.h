// table_names.h: a statement's tables named otherwise (on a Citus worker,
// an account's shards: contact_identity.contacts becomes
// contact_identity.contacts_102008), without a parser.
#pragma once

#include <map>
#include <string>

namespace identity {

// `sql` with each `<schema>.<name>` whose name is a key of `renames`
// written `<schema>.<renames[name]>`. A name only matches whole (contacts,
// not contacts_export); string literals ('...', with '' inside), comments
// (-- to the end of the line) and quoted identifiers ("contacts") are
// left as they are.
std::string rename_tables(const std::string &sql, const std::string &schema,
                          const std::map<std::string, std::string> &renames);

}  // namespace identity
