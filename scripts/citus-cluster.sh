# scripts/citus-cluster.sh: a throwaway Citus cluster for tests (source it):
# a coordinator and two workers on 127.0.0.1, each its own PostgreSQL with
# shared_preload_libraries = citus, trust authentication on loopback.
#   citus_cluster_start DB  initdb + start the three nodes, create DB on each
#                           with the citus extension, register the workers;
#                           exports PGHOST=127.0.0.1 PGPORT=<coordinator>
#                           PGDATABASE=DB PGUSER, and CITUS_PORTS (all three)
#   citus_cluster_stop      stop the nodes and delete their dirs (on exit too)
# shellcheck shell=bash source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"  # _free_port, _init_node

_citus_dir=
CITUS_PORTS=()

citus_cluster_start() {
  local db=$1 node port
  PG_BINDIR=${PG_BINDIR:-$(pg_config --bindir)}
  make_tmpdir _citus_dir
  on_exit citus_cluster_stop
  for node in coordinator worker1 worker2; do
    port=$(_free_port)
    CITUS_PORTS+=("$port")
    _init_node "$_citus_dir/$node" "$_citus_dir" "$port" 127.0.0.1 || return 1
    cat >>"$_citus_dir/$node/postgresql.conf" <<CONF
fsync = off
shared_preload_libraries = 'citus'
max_prepared_transactions = 100
citus.enable_statistics_collection = off
CONF
    as_pg_user "$PG_BINDIR/pg_ctl" -D "$_citus_dir/$node" -l "$_citus_dir/$node.log" -w start >/dev/null ||
      { cat "$_citus_dir/$node.log" >&2; return 1; }
    psql -X -q -h 127.0.0.1 -p "$port" -U "$(pg_os_user)" -d postgres -v ON_ERROR_STOP=1 \
      -c "CREATE DATABASE $db" >/dev/null
    psql -X -q -h 127.0.0.1 -p "$port" -U "$(pg_os_user)" -d "$db" -v ON_ERROR_STOP=1 \
      -c "SET client_min_messages = warning" -c "CREATE EXTENSION citus" >/dev/null
  done
  psql -X -q -h 127.0.0.1 -p "${CITUS_PORTS[0]}" -U "$(pg_os_user)" -d "$db" -v ON_ERROR_STOP=1 \
    -c "SELECT citus_set_coordinator_host('127.0.0.1', ${CITUS_PORTS[0]})" \
    -c "SELECT citus_add_node('127.0.0.1', ${CITUS_PORTS[1]})" \
    -c "SELECT citus_add_node('127.0.0.1', ${CITUS_PORTS[2]})" >/dev/null
  PGUSER=$(pg_os_user)
  export PGHOST=127.0.0.1 PGPORT=${CITUS_PORTS[0]} PGDATABASE=$db PGUSER
}

citus_cluster_stop() {
  [[ -n "$_citus_dir" ]] || return 0
  local node
  for node in coordinator worker1 worker2; do
    as_pg_user "$PG_BINDIR/pg_ctl" -D "$_citus_dir/$node" -m fast -w stop >/dev/null 2>&1 || true
  done
  rm -rf "$_citus_dir"
  _citus_dir=
  CITUS_PORTS=()
}
