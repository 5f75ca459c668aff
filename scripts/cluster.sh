# scripts/cluster.sh: a throwaway PostgreSQL 15 server for scripts (source it).
#   cluster_start  initdb + start a server in a temp dir (unix socket only, trust
#                  auth, fsync off) and export PGHOST PGPORT PGUSER PGDATABASE.
#                  Does nothing when PGHOST or PGDATABASE is already set: that
#                  server is used instead. The server is stopped on exit.
#   cluster_stop   stop the server and delete its dir (safe to call twice).
#   cluster_databases DB...  create each database, dropped again on exit.
#   cluster_pg_ctl ARGS  run pg_ctl ARGS on the server cluster_start started
#                  (as its owner, logging to its server.log): for tests that
#                  stop and start it.
#   CLUSTER_DURABLE=1  before cluster_start: keep fsync on and set
#                  synchronous_commit = on, for a crash test; the server is
#                  always started, whatever PGHOST or PGDATABASE say.
# shellcheck shell=bash source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

_cluster_dir=

_free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
  echo "cluster.sh: no free port found" >&2
  return 1
}

# _init_node DIR SOCKET_DIR PORT LISTEN: initdb of a node in DIR (trust,
# UTF8, no locale), listening on LISTEN ('' for the socket only) and PORT.
_init_node() {
  as_pg_user "$PG_BINDIR/initdb" -A trust -E UTF8 --no-locale -N -D "$1" >"$1.initdb.log" 2>&1 ||
    { cat "$1.initdb.log" >&2; return 1; }
  cat >>"$1/postgresql.conf" <<CONF
listen_addresses = '$4'
unix_socket_directories = '$2'
port = $3
CONF
}

cluster_start() {
  if [[ -n "${PGHOST:-}${PGDATABASE:-}" && -z "${CLUSTER_DURABLE:-}" ]]; then
    echo "cluster.sh: using the given server (PGHOST=${PGHOST:-} PGDATABASE=${PGDATABASE:-})"
    return 0
  fi
  local port
  PG_BINDIR=${PG_BINDIR:-$(pg_config --bindir)} # here: demo/run sources us before ensure-deps
  port=$(_free_port)
  make_tmpdir _cluster_dir
  on_exit cluster_stop
  _init_node "$_cluster_dir/data" "$_cluster_dir" "$port" '' || return 1
  if [[ -n "${CLUSTER_DURABLE:-}" ]]; then
    printf 'fsync = on\nsynchronous_commit = on\n' >>"$_cluster_dir/data/postgresql.conf"
  else
    printf 'fsync = off\n' >>"$_cluster_dir/data/postgresql.conf"
  fi
  cluster_pg_ctl -w start >/dev/null || { cat "$_cluster_dir/server.log" >&2; return 1; }
  PGUSER=$(pg_os_user)
  export PGHOST=$_cluster_dir PGPORT=$port PGUSER PGDATABASE=postgres
}

cluster_databases() {
  local db
  for db in "$@"; do
    on_exit "psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS $db' >/dev/null 2>&1"
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db"
  done
}

cluster_pg_ctl() {
  as_pg_user "$PG_BINDIR/pg_ctl" -D "$_cluster_dir/data" -l "$_cluster_dir/server.log" "$@"
}

cluster_stop() {
  [[ -n "$_cluster_dir" ]] || return 0
  as_pg_user "$PG_BINDIR/pg_ctl" -D "$_cluster_dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$_cluster_dir"
  unset PGHOST PGPORT PGUSER PGDATABASE
  _cluster_dir=
}
