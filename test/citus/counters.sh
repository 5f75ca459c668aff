#!/usr/bin/env bash
# test/citus/counters.sh LABEL PHASE: appends to the file $CITUS_COUNTERS one
# line per node of the cluster ($CITUS_PORT_LIST, database $PGDATABASE):
# PHASE|LABEL|port|Citus query executions it started, single-shard and
# multi-shard (citus.enable_stat_counters)|connections it used to other
# nodes, established or reused|two-phase commits it coordinated
# (pg_dist_transaction rows, kept while citus.recover_2pc_interval = -1).
# test/scripts/citus.sh runs it before and after each call it counts, from
# psql (\!) or itself. Reading these is no Citus query: it counts nothing.
set -euo pipefail
for port in $CITUS_PORT_LIST; do
  psql -X -q -At -F '|' -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -c "
    SELECT '$2', '$1', $port, s.query_execution_single_shard, s.query_execution_multi_shard,
           s.connection_establishment_succeeded + s.connection_reused,
           (SELECT count(*) FROM pg_catalog.pg_dist_transaction)
      FROM pg_catalog.citus_stat_counters s WHERE s.name = pg_catalog.current_database()"
done >>"$CITUS_COUNTERS"
