// normal_form.cpp: identifier_normal_form(type, normalizer, value), what
// this library's normalizer makes of a stored value, or why it refuses it.
// unnormalized_identifiers() runs it over rows stored by 0.5.1, whose
// normalizers did not yet put emails in NFC and lower case or refuse
// format characters.
#include <optional>
#include <string>

#include "core/identity_error.h"
#include "core/normalize.h"
#include "core/row_error.h"
#include "pg/pg_boundary.h"
#include "pg/arguments.h"
#include "pg/sql_entry.h"

extern "C" {
PG_FUNCTION_INFO_V1(ci_identifier_normal_form);
}

using namespace pgshell;

// (normalized, refused): one of them NULL. STRICT; never raises for a bad
// value, so that one query can look at every row.
extern "C" Datum ci_identifier_normal_form(PG_FUNCTION_ARGS) {
  return sql_entry(fcinfo, EntryPoint::plain("identifier_normal_form"), [&](EntryCall &) {
    const std::string type = *text_arg(fcinfo, 0), normalizer = *text_arg(fcinfo, 1), value = *text_arg(fcinfo, 2);
    std::optional<std::string> normalized, refused;
    try {
      // Stored phones are E.164: no default region is needed to read them.
      normalized = identity::normalize_identifier(normalizer, value, type, "");
    } catch (const identity::IdentityError &e) {
      refused = identity::row_error_text(e.what(), e.detail());
    }
    return pg_call([&]() noexcept {
      TupleDesc desc;
      if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "contact_identity: identifier_normal_form must return a record");
      desc = BlessTupleDesc(desc);
      Datum values[2] = {(Datum)0, (Datum)0};
      bool nulls[2] = {!normalized, !refused};
      if (normalized) values[0] = PointerGetDatum(cstring_to_text_with_len(normalized->data(), (int)normalized->size()));
      if (refused) values[1] = PointerGetDatum(cstring_to_text_with_len(refused->data(), (int)refused->size()));
      return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
    });
  });
}
