#!/usr/bin/env bash
# test/scripts/pooler.sh: behind PgBouncer in transaction mode (two server
# connections, four clients), every call reads national phone numbers in
# its own account's region. Four accounts get four regions with
# set_account_region; four clients sign people up in parallel, each in its
# account, each statement its own transaction on whichever server session
# is free, one of them with a session SET of another region as the old
# README advised; every stored phone must carry its account's country code.
# For comparison it also runs the 0.5.1 way (each client SETs its region
# in its session, accounts without one) and prints how many calls that got
# wrong (a figure, not a check: it depends on the pooler's timing).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/cluster.sh"

command -v pgbouncer >/dev/null || { echo "pooler: FAIL: pgbouncer is not installed (scripts/ensure-deps installs it)" >&2; exit 1; }
cluster_start
db=ci_pooler_$$
cluster_databases "$db"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
fail() { echo "pooler: FAIL: $*" >&2; exit 1; }
calls=25

# PgBouncer in transaction mode, as the postgres OS user, on its own socket.
make_tmpdir bouncer
bport=$(_free_port)
cat >"$bouncer/pgbouncer.ini" <<INI
[databases]
ci = host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER
[pgbouncer]
listen_addr =
listen_port = $bport
unix_socket_dir = $bouncer
auth_type = any
pool_mode = transaction
default_pool_size = 2
max_client_conn = 20
logfile = $bouncer/pgbouncer.log
pidfile = $bouncer/pgbouncer.pid
INI
as_pg_user pgbouncer -d "$bouncer/pgbouncer.ini" || fail "pgbouncer did not start"
on_exit "kill \$(cat '$bouncer/pgbouncer.pid' 2>/dev/null) 2>/dev/null || true"
for _ in $(seq 50); do psql -X -q -h "$bouncer" -p "$bport" -d ci -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done
via_bouncer() { psql -X -q -At -h "$bouncer" -p "$bport" -d ci "$@"; }

regions=(UA GB US DE) codes=(+380 +44 +1 +49)
# national N I: client N's I-th national number in its region's format.
national() {
  case $1 in
    0) printf '050 123 %02d %02d' "$2" 1 ;;
    1) printf '020 7946 0%03d' "$2" ;;
    2) printf '(509) 463-%04d' $((5500 + $2)) ;;
    3) printf '030 1234 5%03d' "$2" ;;
  esac
}
q >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION contact_identity;
SELECT contact_identity.set_account_region(1, 'UA'), contact_identity.set_account_region(2, 'GB'),
       contact_identity.set_account_region(3, 'US'), contact_identity.set_account_region(4, 'DE');
SQL

# run_clients FIRST_ACCOUNT SET_REGIONS: four clients in parallel, client n
# in account FIRST_ACCOUNT+n; with SET_REGIONS each SETs its region first
# (client 0 SETs 'US' in the first run, the README's old advice gone wrong).
run_clients() {
  local first=$1 set_regions=$2 n i pids=()
  for n in 0 1 2 3; do
    {
      if [[ $set_regions == yes ]]; then echo "SET contact_identity.default_region = '${regions[n]}';"
      elif [[ $n -eq 0 ]]; then echo "SET contact_identity.default_region = 'US';"; fi
      for ((i = 1; i <= calls; i++)); do
        echo "SELECT contact_identity.upsert_contact(external_id => 'c$n-$i', phone => '$(national "$n" "$i")', account_id => $((first + n)));"
        echo "SELECT pg_sleep(0.01);"
      done
    } | via_bouncer >/dev/null 2>"$bouncer/client$first-$n.err" &
    pids+=($!)
  done
  for n in "${pids[@]}"; do wait "$n" || true; done
}

# wrong FIRST_ACCOUNT: calls that failed or stored a phone of another country.
wrong() {
  local first=$1 n bad=0 stored
  for n in 0 1 2 3; do
    stored=$(q -c "SELECT count(*) FROM contact_identity.contacts WHERE account_id = $((first + n))
                   AND phone LIKE '${codes[n]}%'")
    bad=$((bad + calls - stored))
  done
  echo "$bad"
}

run_clients 1 no
servers=$(grep -c 'new connection to server' "$bouncer/pgbouncer.log" || true)
bad=$(wrong 1)
if [[ $bad -ne 0 ]]; then
  cat "$bouncer"/client1-*.err >&2
  fail "$bad of $((4 * calls)) calls with the account's region failed or stored another country's phone"
fi
echo "ok: $((4 * calls)) signups from 4 clients through PgBouncer (transaction mode, $servers server connections): every phone in its account's region"

run_clients 11 yes
echo "figure: the 0.5.1 way (a session SET per client, accounts without a region): $(wrong 11) of $((4 * calls)) calls failed or stored another country's phone"
echo "pooler: PASS"
