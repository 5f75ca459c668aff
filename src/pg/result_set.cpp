// result_set.cpp: materialize-mode results.
#include "pg/result_set.h"

#include "pg/pg_boundary.h"

namespace pgshell {

ResultSet open_result_set(FunctionCallInfo fcinfo, const char *function) {
  ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
  return pg_call([&]() noexcept {
    if (rsinfo == nullptr || !IsA(rsinfo, ReturnSetInfo) || !(rsinfo->allowedModes & SFRM_Materialize))
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("%s must be called in a context that accepts a set", function)));
    MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
      elog(ERROR, "contact_identity: %s must return a row type", function);
    Tuplestorestate *store = tuplestore_begin_heap(true, false, work_mem);
    rsinfo->returnMode = SFRM_Materialize;
    rsinfo->setResult = store;
    rsinfo->setDesc = desc;
    MemoryContextSwitchTo(old);
    return ResultSet{store, desc};
  });
}

void put_row(const ResultSet &set, Datum *values, bool *nulls) {
  pg_call([&]() noexcept { tuplestore_putvalues(set.store, set.desc, values, nulls); });
}

}  // namespace pgshell
