#!/usr/bin/env bash
# test/scripts/standby.sh: on a hot standby, the functions that write refuse
# at once with one clear error (25006 naming the function, a DETAIL saying
# the server is a standby, a HINT to run it on the primary, no internal SQL
# as CONTEXT), and the reads work. A primary and a standby made from it with
# pg_basebackup -R, both throwaway servers on this machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/cluster.sh"
fail() { echo "standby: FAIL: $*" >&2; exit 1; }

cluster_start  # the primary
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION contact_identity" \
  -c "SELECT contact_identity.upsert_contact(external_id => 'u-1', email => 'ann@x.io')" >/dev/null

make_tmpdir standby
as_pg_user "$PG_BINDIR/pg_basebackup" -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -D "$standby/data" -R -X stream \
  >"$standby/basebackup.log" 2>&1 || { cat "$standby/basebackup.log" >&2; fail "pg_basebackup failed"; }
standby_port=$(_free_port)
cat >>"$standby/data/postgresql.conf" <<CONF
unix_socket_directories = '$standby'
port = $standby_port
CONF
as_pg_user "$PG_BINDIR/pg_ctl" -D "$standby/data" -l "$standby/server.log" -w start >/dev/null ||
  { cat "$standby/server.log" >&2; fail "the standby did not start"; }
on_exit "as_pg_user '$PG_BINDIR/pg_ctl' -D '$standby/data' -m immediate -w stop >/dev/null 2>&1"
on_standby() { psql -X -q -At -h "$standby" -p "$standby_port" "$@"; }
[[ $(on_standby -c "SELECT pg_is_in_recovery()") == t ]] || fail "the standby is not in recovery"

# expect_refused FUNCTION SQL: the call fails with the standby's refusal.
expect_refused() {
  local out
  out=$(on_standby -v VERBOSITY=verbose -c "$2" 2>&1) && fail "$1 on the standby succeeded: $out"
  grep -q "^ERROR:  25006: cannot run contact_identity.$1 in a read-only transaction$" <<<"$out" ||
    fail "$1: not the refusal: $out"
  grep -q "^DETAIL:  The server is a standby" <<<"$out" || fail "$1: no DETAIL naming the standby: $out"
  grep -q "^HINT:  Run contact_identity.$1 on the primary." <<<"$out" || fail "$1: no HINT: $out"
  ! grep -q "^CONTEXT:" <<<"$out" || fail "$1: internal SQL as CONTEXT: $out"
  echo "ok: $1 refused on the standby"
}
expect_refused import_contacts_json \
  "SELECT * FROM contact_identity.import_contacts_json('[{\"externalCustomerId\": \"u-2\"}]')"
expect_refused upsert_contact "SELECT contact_identity.upsert_contact(external_id => 'u-2')"
expect_refused run_import "CALL contact_identity.run_import('pg_catalog.pg_class')"

# Reads work on the standby.
[[ $(on_standby -c "SELECT matched_by FROM contact_identity.resolve_contact(email => 'ann@x.io')") == email ]] ||
  fail "resolve_contact does not find u-1 on the standby"
echo "ok: resolve_contact reads on the standby"
echo "standby: PASS"
