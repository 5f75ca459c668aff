// index_probe.cpp: index scans by equality, through the index access method.
#include "pg/index_probe.h"

#include "pg/account_shards.h"
#include "pg/pg_boundary.h"

extern "C" {
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/executor.h"
#include "utils/rel.h"
}

namespace pgshell {

ReadSnapshot::ReadSnapshot(bool latest) {
  snapshot_ = pg_call([&]() noexcept {
    if (!latest) return RegisterSnapshot(GetActiveSnapshot());
    CommandCounterIncrement();  // our own writes so far, as a new statement sees them
    return RegisterSnapshot(GetTransactionSnapshot());
  });
}

void ReadSnapshot::release() {
  if (snapshot_ == nullptr) return;
  Snapshot s = snapshot_;
  snapshot_ = nullptr;
  pg_call([&]() noexcept { UnregisterSnapshot(s); });
}

IndexProbe::IndexProbe(const char *table, const char *index, int keys, const ReadSnapshot &snapshot) {
  keys_.resize(static_cast<size_t>(keys));
  equals_.resize(static_cast<size_t>(keys));
  RegProcedure *equals = equals_.data();
  // The table's rows of the call's account: the table, or its shard.
  const std::string relation = relation_for(table), index_name = index_for(table, index);
  table = relation.c_str();
  index = index_name.c_str();
  pg_call([&]() noexcept {
    Oid nsp = get_namespace_oid("contact_identity", false);
    Oid relid = get_relname_relid(table, nsp), indexid = get_relname_relid(index, nsp);
    if (!OidIsValid(relid) || !OidIsValid(indexid))
      elog(ERROR, "contact_identity: table %s or its index %s is missing", table, index);
    rel_ = table_open(relid, AccessShareLock);
    index_ = index_open(indexid, AccessShareLock);
    if (index_->rd_index->indrelid != relid || index_->rd_index->indnkeyatts < keys)
      elog(ERROR, "contact_identity: index %s does not serve table %s", index, table);
    for (int i = 0; i < keys; i++) {
      Oid op = get_opfamily_member(index_->rd_opfamily[i], index_->rd_opcintype[i], index_->rd_opcintype[i],
                                   BTEqualStrategyNumber);
      if (!OidIsValid(op)) elog(ERROR, "contact_identity: no equality operator for index %s", index);
      equals[i] = get_opcode(op);
    }
    scan_ = index_beginscan(rel_, index_, snapshot.get(), keys, 0);
    slot_ = table_slot_create(rel_, nullptr);
  });
  context_ = CurrentMemoryContext;
}

void IndexProbe::probe(const Datum *values) {
  const int nkeys = static_cast<int>(keys_.size());
  ScanKeyData *keys = keys_.data();
  const RegProcedure *equals = equals_.data();
  pg_call([&]() noexcept {
    for (int i = 0; i < nkeys; i++)
      ScanKeyEntryInitialize(&keys[i], 0, (AttrNumber)(i + 1), BTEqualStrategyNumber, InvalidOid,
                             index_->rd_indcollation[i], equals[i], values[i]);
    // What the scan allocates lives as long as it does, not in the caller's
    // scratch context.
    MemoryContext old = MemoryContextSwitchTo(context_);
    index_rescan(scan_, keys, nkeys, nullptr, 0);
    MemoryContextSwitchTo(old);
  });
}

bool IndexProbe::next() {
  return pg_call([&]() noexcept {
    MemoryContext old = MemoryContextSwitchTo(context_);
    bool found = index_getnext_slot(scan_, ForwardScanDirection, slot_);
    MemoryContextSwitchTo(old);
    return found;
  });
}

Datum IndexProbe::column(int attnum, bool *is_null) {
  return pg_call([&]() noexcept { return slot_getattr(slot_, attnum, is_null); });
}

int IndexProbe::attnum(const char *column) const {
  return pg_call([&]() noexcept {
    TupleDesc desc = RelationGetDescr(rel_);
    for (int a = 0; a < desc->natts; a++) {
      Form_pg_attribute att = TupleDescAttr(desc, a);
      if (!att->attisdropped && strcmp(NameStr(att->attname), column) == 0) return a + 1;
    }
    return 0;
  });
}

void IndexProbe::finish() {
  pg_call([&]() noexcept {
    index_endscan(scan_);
    ExecDropSingleTupleTableSlot(slot_);
    index_close(index_, NoLock);
    table_close(rel_, NoLock);
  });
}

}  // namespace pgshell
