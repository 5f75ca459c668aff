#!/usr/bin/env bash
# test/scripts/publication.sh: create_export_publication streams contacts and
# identifiers to a second PostgreSQL server. Two throwaway servers on this
# machine: the publisher (wal_level = logical) and a subscriber with the
# extension installed. Contacts written before and after the subscription,
# an update, a merge and a delete all arrive; the external IDs are shown.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/cluster.sh"  # for _free_port and lib.sh
PG_BINDIR=${PG_BINDIR:-$(pg_config --bindir)}

fail() { echo "publication: FAIL: $*" >&2; exit 1; }

# server NAME WAL_LEVEL: initdb and start a server; sets NAME_dir and NAME_port.
server() {
  local dir port
  make_tmpdir dir
  port=$(_free_port)
  as_pg_user "$PG_BINDIR/initdb" -A trust -E UTF8 --no-locale -N -D "$dir/data" >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; fail "initdb failed"; }
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
fsync = off
wal_level = $2
CONF
  as_pg_user "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null ||
    { cat "$dir/server.log" >&2; fail "server $1 did not start"; }
  on_exit "as_pg_user '$PG_BINDIR/pg_ctl' -D '$dir/data' -m immediate -w stop >/dev/null 2>&1"
  printf -v "${1}_dir" %s "$dir"
  printf -v "${1}_port" %s "$port"
}

server pub logical
server sub replica
user=$(pg_os_user)
on_pub() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$pub_dir" -p "$pub_port" -U "$user" -d postgres "$@"; }
on_sub() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$sub_dir" -p "$sub_port" -U "$user" -d postgres "$@"; }

on_pub >/dev/null <<'SQL' || fail "setting up the publisher failed"
SET client_min_messages = warning;
CREATE EXTENSION contact_identity;
SELECT contact_identity.upsert_contact(external_id => 'before-1', email => 'before@example.com');
SELECT contact_identity.upsert_contact(email => 'loser@example.com', identifiers => '{"cookie": "ck-1"}');
SELECT contact_identity.create_export_publication('warehouse');
SQL
on_sub >/dev/null <<SQL || fail "setting up the subscriber failed"
SET client_min_messages = warning;
CREATE EXTENSION contact_identity;
CREATE SUBSCRIPTION warehouse CONNECTION 'host=$pub_dir port=$pub_port user=$user dbname=postgres'
  PUBLICATION warehouse;
SQL
on_exit "psql -X -q -h '$sub_dir' -p '$sub_port' -U '$user' -d postgres -c 'DROP SUBSCRIPTION IF EXISTS warehouse' >/dev/null 2>&1"

on_pub >/dev/null <<'SQL' || fail "writing on the publisher failed"
SET client_min_messages = warning;
SELECT contact_identity.upsert_contact(external_id => 'after-2', email => 'after@example.com',
  identifiers => '{"mobile_push": "tok-2"}');
SELECT contact_identity.upsert_contact(external_id => 'before-1', first_name => 'Updated');
SELECT contact_identity.merge_contacts(1, 2);
SELECT contact_identity.delete_contact((contact_identity.upsert_contact(external_id => 'gone-3')).contact_id);
SQL

state="SELECT c.contact_id, c.external_id, c.email, c.first_name, c.deleted_at IS NOT NULL, c.merged_into,
         (SELECT string_agg(i.type || ':' || i.value, ',' ORDER BY i.type, i.value) FROM contact_identity.identifiers i
          WHERE i.account_id = c.account_id AND i.contact_id = c.contact_id)
       FROM contact_identity.contacts c ORDER BY c.contact_id"
want=$(on_pub -c "$state")
for _ in $(seq 120); do
  [[ "$(on_sub -c "$state")" == "$want" ]] && break
  sleep 0.5
done
got=$(on_sub -c "$state")
[[ "$got" == "$want" ]] || { diff <(echo "$want") <(echo "$got") || true; fail "the subscriber did not catch up"; }
echo "ok: the subscriber has every contact and identifier of the publisher ($(wc -l <<<"$got") contacts)"
echo "external IDs on the subscriber:"
on_sub -c "SELECT '  ' || contact_id || ' ' || coalesce(external_id, '(none)') || coalesce(' merged into ' || merged_into, '')
             || CASE WHEN deleted_at IS NOT NULL THEN ' deleted' ELSE '' END
           FROM contact_identity.contacts ORDER BY contact_id"
echo "publication: PASS"
