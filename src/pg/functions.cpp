// functions.cpp: the SQL-callable functions of one contact (resolve, upsert,
// assign, delete) and the normalizers. Each reads its arguments, runs the
// core inside sql_entry(), and builds its result.
#include "core/decision.h"
#include "core/identity_error.h"
#include "core/normalize.h"
#include "pg/writer.h"
#include "pg/log_batch.h"
#include "pg/lookup.h"
#include "pg/arguments.h"
#include "pg/module.h"
#include "pg/pg_boundary.h"
#include "pg/request.h"
#include "pg/result_set.h"
#include "pg/spi.h"
#include "pg/sql_entry.h"
#include "pg/upsert.h"

extern "C" {
PG_FUNCTION_INFO_V1(ci_normalize_email);
PG_FUNCTION_INFO_V1(ci_normalize_phone);
PG_FUNCTION_INFO_V1(ci_is_region);
PG_FUNCTION_INFO_V1(ci_email_mailbox);
PG_FUNCTION_INFO_V1(ci_resolve_contact);
PG_FUNCTION_INFO_V1(ci_upsert_contact);
PG_FUNCTION_INFO_V1(ci_assign_external_id);
PG_FUNCTION_INFO_V1(ci_delete_contact);
}

namespace pgshell {
namespace {

using identity::IdentityError;
namespace sqlstate = identity::sqlstate;

// The contact to delete, locked: is it deleted already, or merged?
Statement lock_for_delete_statement{
    "SELECT c.deleted_at IS NOT NULL, c.merged_into FROM contact_identity.contacts c"
    " WHERE c.account_id OPERATOR(pg_catalog.=) $1 AND c.contact_id OPERATOR(pg_catalog.=) $2 FOR UPDATE",
    {INT8OID, INT8OID}};

Statement delete_statement{
    "UPDATE contact_identity.contacts c SET deleted_at = pg_catalog.now(), updated_at = pg_catalog.now()"
    " WHERE c.account_id OPERATOR(pg_catalog.=) $1 AND c.contact_id OPERATOR(pg_catalog.=) $2",
    {INT8OID, INT8OID}};

text *text_of(const std::optional<std::string> &s) {
  return s ? cstring_to_text_with_len(s->data(), (int)s->size()) : nullptr;
}

// Builds an upsert_result datum; call after spi_finish() so it lives in the
// caller's memory context.
Datum upsert_result_datum(FunctionCallInfo fcinfo, const Outcome &out) {
  return pg_call([&]() noexcept {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
      elog(ERROR, "contact_identity: upsert_result is not a composite type");
    desc = BlessTupleDesc(desc);
    Datum values[4];
    bool nulls[4] = {!out.contact_id, !out.external_id, false, !out.matched_by};
    values[0] = out.contact_id ? Int64GetDatum(*out.contact_id) : (Datum)0;
    values[1] = PointerGetDatum(text_of(out.external_id));
    values[2] = PointerGetDatum(text_of(out.action));
    values[3] = PointerGetDatum(text_of(out.matched_by));
    return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
  });
}

}  // namespace
}  // namespace pgshell

using namespace pgshell;

// normalize_email(email text): the stored form of an email.
extern "C" Datum ci_normalize_email(PG_FUNCTION_ARGS) {
  return sql_entry(fcinfo, EntryPoint::plain("normalize_email"), [&](EntryCall &) {
    std::string email = identity::normalize_email(*text_arg(fcinfo, 0));
    return PointerGetDatum(pg_call([&]() noexcept { return text_of(email); }));
  });
}

// email_mailbox(email text): the mailbox a stored email delivers to (STRICT).
extern "C" Datum ci_email_mailbox(PG_FUNCTION_ARGS) {
  return sql_entry(fcinfo, EntryPoint::plain("email_mailbox"), [&](EntryCall &) {
    std::string mailbox = identity::email_mailbox(*text_arg(fcinfo, 0));
    return PointerGetDatum(pg_call([&]() noexcept { return text_of(mailbox); }));
  });
}

// normalize_phone(phone text, region text): the stored form of a phone (E.164, and
// ";ext=" with its extension when it has one).
extern "C" Datum ci_normalize_phone(PG_FUNCTION_ARGS) {
  return sql_entry(fcinfo, EntryPoint::plain("normalize_phone"), [&](EntryCall &) -> Datum {
    std::optional<std::string> phone = text_arg(fcinfo, 0);
    if (!phone) {
      fcinfo->isnull = true;
      return (Datum)0;
    }
    std::string region = text_arg(fcinfo, 1).value_or(default_region());
    std::string e164 = identity::normalize_phone(*phone, region);
    return PointerGetDatum(pg_call([&]() noexcept { return text_of(e164); }));
  });
}

// is_region(region text): whether libphonenumber knows the region code.
extern "C" Datum ci_is_region(PG_FUNCTION_ARGS) {
  return sql_entry(fcinfo, EntryPoint::plain("is_region"), [&](EntryCall &) -> Datum {
    return BoolGetDatum(identity::is_supported_region(*text_arg(fcinfo, 0)));
  });
}

// resolve_contact(...): the read-only priority search; zero or one row.
extern "C" Datum ci_resolve_contact(PG_FUNCTION_ARGS) {
  return sql_entry(fcinfo, EntryPoint::on_account("resolve_contact", Level::kReader, Writes::kNo),
                   [&](EntryCall &call) -> Datum {
    CallKeys keys = key_args(fcinfo, 0);
    keys.account_id = account_arg(fcinfo, 4);
    bool include_deleted = required_bool_arg(fcinfo, 5, "include_deleted");
    if (!keys.external_id && !keys.email && !keys.phone && !keys.identifiers_json)
      throw IdentityError(sqlstate::kInvalidParameterValue, "resolve_contact needs an identifier",
                          "The call carries no external ID, email, phone or identifier.",
                          "Pass at least one of external_id, email, phone or identifiers.");

    call.open(keys.account_id);
    identity::Request request = build_request(keys);
    identity::SearchResult found;
    if (!request.keys.empty()) {
      StateRead read = read_state(keys.account_id, request, false);
      found = identity::search(request, read.result.matches);
      if (found.contact && read.result.rows.at(*found.contact).state.deleted && !include_deleted) found = {};
    }
    call.close();

    ResultSet results = open_result_set(fcinfo, "resolve_contact");
    if (found.contact) {
      const std::string &matched_by = found.matched_by;
      Datum values[2] = {Int64GetDatum(*found.contact),
                         PointerGetDatum(pg_call([&]() noexcept { return cstring_to_text(matched_by.c_str()); }))};
      bool nulls[2] = {false, false};
      put_row(results, values, nulls);
    }
    return (Datum)0;
  });
}

// upsert_contact(...): find the person by the rules, then create, update,
// restore or merge.
extern "C" Datum ci_upsert_contact(PG_FUNCTION_ARGS) {
  return sql_entry(fcinfo, EntryPoint::on_account("upsert_contact", Level::kWriter, Writes::kYes),
                   [&](EntryCall &call) {
    CallKeys keys = key_args(fcinfo, 0);
    ProfileFields fields;
    fields.first_name = text_arg(fcinfo, 4);
    fields.last_name = text_arg(fcinfo, 5);
    fields.attributes_json = jsonb_arg(fcinfo, 6);
    keys.contact_id = int8_arg(fcinfo, 7);
    keys.account_id = account_arg(fcinfo, 8);
    keys.dedupe_on = text_arg(fcinfo, 9);
    keys.restore_deleted = required_bool_arg(fcinfo, 10, "restore_deleted");
    call.open(keys.account_id);
    Outcome out = upsert(keys, fields, "upsert_contact");
    call.close();
    return upsert_result_datum(fcinfo, out);
  });
}

// assign_external_id(contact_id, external_id): give a contact its ID.
extern "C" Datum ci_assign_external_id(PG_FUNCTION_ARGS) {
  return sql_entry(fcinfo, EntryPoint::on_account("assign_external_id", Level::kWriter, Writes::kYes),
                   [&](EntryCall &call) {
    CallKeys keys;
    keys.contact_id = int8_arg(fcinfo, 0);
    keys.external_id = text_arg(fcinfo, 1);
    keys.account_id = account_arg(fcinfo, 2);
    if (!keys.contact_id) throw null_argument("contact_id");
    if (!keys.external_id) throw null_argument("external_id");
    call.open(keys.account_id);
    Outcome out = upsert(keys, ProfileFields{}, "assign_external_id");
    call.close();
    return upsert_result_datum(fcinfo, out);
  });
}

// delete_contact(contact_id): soft delete; false when already deleted.
extern "C" Datum ci_delete_contact(PG_FUNCTION_ARGS) {
  return sql_entry(fcinfo, EntryPoint::on_account("delete_contact", Level::kWriter, Writes::kYes),
                   [&](EntryCall &call) {
    std::optional<int64_t> contact_id = int8_arg(fcinfo, 0);
    int64_t account_id = account_arg(fcinfo, 1);
    if (!contact_id) throw null_argument("contact_id");
    call.open(account_id);
    if (execute(lock_for_delete_statement, {int8_param(account_id), int8_param(*contact_id)}, false) == 0)
      throw IdentityError(sqlstate::kNoDataFound, "contact " + std::to_string(*contact_id) + " does not exist",
                          "Account " + std::to_string(account_id) + " has no contact " + std::to_string(*contact_id) + ".",
                          "Check contact_id and account_id.");
    bool deleted_before = result_bool(0, 1);
    std::optional<int64_t> merged_into = result_int8(0, 2);
    bool deleted_now = !deleted_before && !merged_into;
    if (deleted_now) {
      execute(delete_statement, {int8_param(account_id), int8_param(*contact_id)}, false);
      LogBatch log;
      log.add(identity::contact_step(*contact_id, "deleted"));
      log.flush(account_id);
    }
    call.close();
    if (merged_into)
      throw IdentityError(sqlstate::kObjectNotInPrerequisiteState,
                          "contact " + std::to_string(*contact_id) + " was merged into contact " +
                              std::to_string(*merged_into),
                          "A merged contact is a tombstone; the person's profile is contact " +
                              std::to_string(*merged_into) + ".",
                          "Delete contact " + std::to_string(*merged_into) + " instead.");
    return BoolGetDatum(deleted_now);
  });
}
