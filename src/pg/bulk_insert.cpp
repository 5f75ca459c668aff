// bulk_insert.cpp: multi-row inserts through the table access method.
#include "pg/bulk_insert.h"

#include <cstring>
#include <vector>

#include "pg/account_shards.h"
#include "pg/pg_boundary.h"

extern "C" {
#include "access/heapam.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/inval.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/executor.h"
#include "storage/lmgr.h"
#include "utils/rel.h"
}

namespace pgshell {
namespace {

// Rows per multi-insert, as copyfrom.c buffers them.
constexpr int kBufferedRows = 1000;

// The CHECK constraints of the tables written here, parsed and planned
// once per backend: the executor does it for every statement (for a
// signup, a tenth of its time). Dropped when the table's relcache entry is
// invalidated (ALTER TABLE, or a cache reset). One entry per table, or on
// a Citus worker per shard written; an entry dropped is reused, its
// memory freed then.
struct Checks {
  Oid relid = InvalidOid;
  MemoryContext context = nullptr;  // under CacheMemoryContext, holds exprs
  List *exprs = NIL;  // planned Expr per check constraint; NULL for one not valid
};
std::vector<Checks> cached_checks;

void checks_invalidated(Datum, Oid relid) {
  for (Checks &c : cached_checks)
    if (relid == InvalidOid || relid == c.relid) c.relid = InvalidOid;
}

// Sets result_rel's check constraint states from the cache, filling it
// first; the executor then does not parse them again. Called in pg_call:
// the vector's growth is a reserve() made by the caller.
void prepare_checks(Relation rel, ResultRelInfo *result_rel, EState *estate) {
  TupleConstr *constr = RelationGetDescr(rel)->constr;
  if (constr == nullptr || constr->num_check == 0) return;
  Checks *checks = nullptr;
  for (Checks &c : cached_checks)
    if (c.relid == RelationGetRelid(rel)) checks = &c;
  if (checks == nullptr) {
    Checks *slot = nullptr;
    for (Checks &c : cached_checks)
      if (c.relid == InvalidOid) slot = &c;
    if (slot == nullptr) {
      cached_checks.emplace_back();  // capacity reserved: cannot throw
      slot = &cached_checks.back();
    }
    if (slot->context) MemoryContextDelete(slot->context);
    slot->context = nullptr;
    slot->exprs = NIL;
    slot->context = AllocSetContextCreate(CacheMemoryContext, "contact_identity checks", ALLOCSET_SMALL_SIZES);
    MemoryContext old = MemoryContextSwitchTo(slot->context);
    for (int i = 0; i < constr->num_check; i++)
      slot->exprs = lappend(slot->exprs, constr->check[i].ccvalid
                                             ? expression_planner((Expr *)stringToNode(constr->check[i].ccbin))
                                             : nullptr);
    MemoryContextSwitchTo(old);
    slot->relid = RelationGetRelid(rel);
    checks = slot;
  }
  MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
  result_rel->ri_ConstraintExprs = (ExprState **)palloc0(sizeof(ExprState *) * constr->num_check);
  for (int i = 0; i < constr->num_check; i++)
    if (Expr *expr = (Expr *)list_nth(checks->exprs, i)) result_rel->ri_ConstraintExprs[i] = ExecInitExpr(expr, nullptr);
  MemoryContextSwitchTo(old);
}

}  // namespace

MemoryContext ScratchContext::get(int uses) {
  if (context_ == nullptr)
    context_ = pg_call([&]() noexcept {
      return AllocSetContextCreate(parent_ ? parent_ : CurrentMemoryContext, "contact_identity scratch",
                                   ALLOCSET_SMALL_SIZES);
    });
  if (++used_ >= uses) {
    used_ = 0;
    pg_call([&]() noexcept { MemoryContextReset(context_); });
  }
  return context_;
}

void register_bulk_insert() { CacheRegisterRelcacheCallback(checks_invalidated, (Datum)0); }

BulkInsert::BulkInsert(const char *table, const std::vector<const char *> &columns) {
  const int ncolumns = static_cast<int>(columns.size());
  attribute_of_.assign(columns.size(), -1);
  int *attribute_of = attribute_of_.data();
  const char *const *names = columns.data();
  // The table's rows of the call's account: the table, or its shard.
  const std::string relation = relation_for(table);
  table = relation.c_str();
  int natts = pg_call([&]() noexcept {
    Oid relid = get_relname_relid(table, get_namespace_oid("contact_identity", false));
    if (!OidIsValid(relid)) elog(ERROR, "contact_identity: table %s is missing", table);
    rel_ = table_open(relid, RowExclusiveLock);
    return RelationGetDescr(rel_)->natts;
  });
  // Every column of the table must be one we fill: a default we do not
  // know could not be computed here.
  bool covered = pg_call([&]() noexcept {
    TupleDesc desc = RelationGetDescr(rel_);
    int found = 0, live = 0;
    for (int a = 0; a < desc->natts; a++) {
      Form_pg_attribute att = TupleDescAttr(desc, a);
      if (att->attisdropped) continue;
      live++;
      for (int c = 0; c < ncolumns; c++)
        if (strcmp(NameStr(att->attname), names[c]) == 0) {
          attribute_of[c] = a;
          found++;
        }
    }
    return found == ncolumns && live == ncolumns;
  });
  (void)natts;
  usable_ = covered && pg_call([&]() noexcept {
              return rel_->trigdesc == nullptr && rel_->rd_rules == nullptr &&
                     rel_->rd_rel->relkind == RELKIND_RELATION;
            });
  if (!usable_) return;
  slots_.reserve(kBufferedRows);
  cached_checks.reserve(cached_checks.size() + 1);  // prepare_checks may add one
  pg_call([&]() noexcept {
    estate_ = CreateExecutorState();
    estate_->es_output_cid = GetCurrentCommandId(true);
    result_rel_ = makeNode(ResultRelInfo);
    // No range table entry: an error message then shows the row's values
    // as any owner may see them.
    InitResultRelInfo(result_rel_, rel_, 0, nullptr, 0);
    ExecOpenIndices(result_rel_, false);
    bistate_ = GetBulkInsertState();
    checks_ = RelationGetDescr(rel_)->constr != nullptr;
    prepare_checks(rel_, result_rel_, estate_);
    rows_context_ = AllocSetContextCreate(CurrentMemoryContext, "contact_identity bulk insert rows",
                                          ALLOCSET_DEFAULT_SIZES);
  });
}

Datum BulkInsert::now() { return TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()); }

TupleTableSlot *BulkInsert::fill_slot(size_t idx, const Datum *values, const bool *nulls) {
  if (idx == slots_.size())  // slots are made as the buffer first fills
    slots_.push_back(pg_call([&]() noexcept {
      MemoryContext old = MemoryContextSwitchTo(estate_->es_query_cxt);  // not in the caller's rows context
      TupleTableSlot *slot = table_slot_create(rel_, nullptr);
      MemoryContextSwitchTo(old);
      return slot;
    }));
  TupleTableSlot *slot = slots_[idx];
  const int *attribute_of = attribute_of_.data();
  const int ncolumns = static_cast<int>(attribute_of_.size());
  pg_call([&]() noexcept {
    ExecClearTuple(slot);
    for (int a = 0; a < slot->tts_tupleDescriptor->natts; a++) {
      slot->tts_values[a] = (Datum)0;
      slot->tts_isnull[a] = true;
    }
    for (int c = 0; c < ncolumns; c++) {
      slot->tts_values[attribute_of[c]] = values[c];
      slot->tts_isnull[attribute_of[c]] = nulls[c];
    }
    ExecStoreVirtualTuple(slot);
    if (checks_) ExecConstraints(result_rel_, slot, estate_);
  });
  return slot;
}

void BulkInsert::add(const Datum *values, const bool *nulls) {
  fill_slot(static_cast<size_t>(buffered_), values, nulls);
  if (++buffered_ == kBufferedRows) flush();
}

bool BulkInsert::insert_unless_conflict(const Datum *values, const bool *nulls) {
  flush();
  TupleTableSlot *slot = fill_slot(0, values, nulls);
  return pg_call([&]() noexcept {
    // As ExecInsert's speculative insertion: whoever finds our row while
    // it is not confirmed waits on the token, not on the transaction.
    TransactionId xid = GetCurrentTransactionId();
    uint32 token = SpeculativeInsertionLockAcquire(xid);
    table_tuple_insert_speculative(rel_, slot, estate_->es_output_cid, 0, bistate_, token);
    bool conflict = false;
#if PG_VERSION_NUM >= 160000
    List *recheck = ExecInsertIndexTuples(result_rel_, slot, estate_, false, true, &conflict, NIL, false);
#else
    List *recheck = ExecInsertIndexTuples(result_rel_, slot, estate_, false, true, &conflict, NIL);
#endif
    table_tuple_complete_speculative(rel_, slot, token, !conflict);
    SpeculativeInsertionLockRelease(xid);
    list_free(recheck);
    ExecClearTuple(slot);
    ResetPerTupleExprContext(estate_);
    MemoryContextReset(rows_context_);
    return !conflict;
  });
}

void BulkInsert::flush() {
  if (buffered_ == 0) return;
  TupleTableSlot **slots = slots_.data();
  const int n = buffered_;
  pg_call([&]() noexcept {
    MemoryContext old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate_));
    table_multi_insert(rel_, slots, n, estate_->es_output_cid, 0, bistate_);
    MemoryContextSwitchTo(old);
    for (int i = 0; i < n; i++) {
#if PG_VERSION_NUM >= 160000
      List *recheck = ExecInsertIndexTuples(result_rel_, slots[i], estate_, false, false, nullptr, NIL, false);
#else
      List *recheck = ExecInsertIndexTuples(result_rel_, slots[i], estate_, false, false, nullptr, NIL);
#endif
      list_free(recheck);
      ExecClearTuple(slots[i]);
    }
    ResetPerTupleExprContext(estate_);
    MemoryContextReset(rows_context_);
  });
  buffered_ = 0;
}

void BulkInsert::finish() {
  if (usable_) flush();
  TupleTableSlot **slots = slots_.data();
  const int nslots = static_cast<int>(slots_.size());
  pg_call([&]() noexcept {
    if (usable_) {
      ExecCloseIndices(result_rel_);
      FreeBulkInsertState(bistate_);
      table_finish_bulk_insert(rel_, 0);
      for (int i = 0; i < nslots; i++) ExecDropSingleTupleTableSlot(slots[i]);
      FreeExecutorState(estate_);
      MemoryContextDelete(rows_context_);
    }
    table_close(rel_, NoLock);
    if (usable_) CommandCounterIncrement();
  });
  rel_ = nullptr;
  usable_ = false;
}

}  // namespace pgshell
