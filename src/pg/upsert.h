// upsert.h: the write path shared by upsert_contact, assign_external_id and
// the imports: one person's request, decided and applied under SPI.
#pragma once

#include "pg/writer.h"
#include "pg/request.h"

namespace pgshell {

// Normalizes, claims and locks the keys, decides and applies. Throws
// IdentityError for a request the rules refuse; after such an error the
// request has left nothing behind, so an import can go on with the next row.
Outcome upsert(const CallKeys &keys, const ProfileFields &fields, const char *function);

// The same for a request already built (an import batch builds all of its
// rows' requests at once), with fields check_profile_fields() accepted.
Outcome upsert_request(int64_t account_id, identity::Request request, const ProfileFields &fields,
                       const char *function);

// Throws IdentityError 22023 when the attributes are not a JSON object.
void check_profile_fields(const ProfileFields &fields);

}  // namespace pgshell
