// attributes.cpp: merge_attributes(current, changes), the attribute update
// rule, in C so that the statements calling it twice per row stay cheap (a
// SQL function with a sub-select is planned again on every statement).
//
// Only PostgreSQL calls and plain data here: nothing to unwind, so errors
// may be raised directly.
#include "pg/postgres_headers.h"

extern "C" {
PG_FUNCTION_INFO_V1(ci_merge_attributes);
}

// Keys of a JSON object whose value is JSON null, as a text[] datum.
static Datum null_keys(Jsonb *changes) {
  JsonbIterator *it = JsonbIteratorInit(&changes->root);
  JsonbValue value;
  JsonbIteratorToken token;
  Datum *keys = (Datum *)palloc(sizeof(Datum) * (JB_ROOT_COUNT(changes) + 1));
  int nkeys = 0;
  Datum key = (Datum)0;
  while ((token = JsonbIteratorNext(&it, &value, true)) != WJB_DONE) {
    if (token == WJB_KEY)
      key = PointerGetDatum(cstring_to_text_with_len(value.val.string.val, value.val.string.len));
    else if (token == WJB_VALUE && value.type == jbvNull)
      keys[nkeys++] = key;
  }
  return PointerGetDatum(construct_array(keys, nkeys, TEXTOID, -1, false, TYPALIGN_INT));
}

// merge_attributes(current jsonb, changes jsonb): changes overwrite, a JSON
// null removes the key, NULL changes nothing.
extern "C" Datum ci_merge_attributes(PG_FUNCTION_ARGS) {
  if (PG_ARGISNULL(1)) {
    if (PG_ARGISNULL(0)) PG_RETURN_NULL();
    PG_RETURN_DATUM(PG_GETARG_DATUM(0));
  }
  Jsonb *changes = PG_GETARG_JSONB_P(1);
  Datum current = PG_ARGISNULL(0) ? DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")) : PG_GETARG_DATUM(0);
  if (!JB_ROOT_IS_OBJECT(changes) || JB_ROOT_IS_SCALAR(changes) || !JB_ROOT_IS_OBJECT(DatumGetJsonbP(current)))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("attributes must be JSON objects"),
                    errhint("Pass attributes such as '{\"city\": \"Kyiv\"}'.")));
  Datum merged = DirectFunctionCall2(jsonb_concat, current, JsonbPGetDatum(changes));
  PG_RETURN_DATUM(DirectFunctionCall2(jsonb_delete_array, merged, null_keys(changes)));
}
