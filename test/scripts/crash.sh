#!/usr/bin/env bash
# test/scripts/crash.sh: every call the server acknowledged survives a crash.
# A server of its own (fsync and synchronous_commit on) runs 4 clients, each
# a psql fed call by call: signups, logins that move push tokens between
# users, events, merges, unmerges and purges, plus a run_import in another
# account. Each client writes a call to its log before sending it, and what
# the call returned only once the server acknowledged the commit. The
# server is then killed in the middle: `pg_ctl -m immediate stop`, or
# `kill -9` of one backend (the postmaster then resets every backend and
# recovers), at a random moment, in each of several rounds. After the
# restart, test/scripts/crash_model.sql replays the acknowledged calls and
# every key's holder, every contact and every event must be as they say
# (what the calls in flight touched may be either way); verify() finds
# nothing, no key has two holders, amcheck finds the B-trees sound, the
# import kept at least the progress last seen, and finally resumes to
# exactly what one uninterrupted import_contacts of the source gives.
# CRASH_SEED=N replays a run's choices; CRASH_ASYNC_COMMIT=1 turns
# synchronous_commit off, where the check should catch lost calls.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/cluster.sh"

started=$SECONDS
seed=${CRASH_SEED:-$RANDOM}
RANDOM=$seed
rounds=4 clients=4 rows=40000 batch=200
methods=(immediate kill9 immediate kill9)
fail() { echo "crash: FAIL: $*" >&2; exit 1; }
echo "seed $seed (CRASH_SEED=$seed replays these choices)"

# Always a server of our own: this one gets killed.
unset PGHOST PGPORT PGUSER PGDATABASE
CLUSTER_DURABLE=1 cluster_start
db=crash
make_tmpdir work
# Crash recovery first fsyncs the data directory file by file, seconds
# here; one syncfs() is quicker.
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" \
  -c "ALTER SYSTEM SET recovery_init_sync_method = syncfs" -c "SELECT pg_reload_conf()" >/dev/null
export PGDATABASE=$db
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
server_log=$PGHOST/server.log

bg_pids=()
stop_bg() { local p; for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
on_exit stop_bg

q >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION contact_identity;
CREATE EXTENSION amcheck;
-- Account 1's import: later rows update earlier contacts; every 500th row
-- has an invalid phone.
CREATE TABLE import_source AS
SELECT g AS row_number, 'u-' || (g % 30000) AS external_id, 'e' || g || '@x.io' AS email,
       CASE WHEN g % 500 = 0 THEN 'bad-phone' END AS phone, 'name-' || g AS first_name, g % 5 AS tier
FROM generate_series(1, $rows) AS g;
SQL
q -f "$root/test/scripts/crash_model.sql" >/dev/null
if [[ -n "${CRASH_ASYNC_COMMIT:-}" ]]; then
  echo "CRASH_ASYNC_COMMIT: synchronous_commit off, WAL written every 10 s: this run should FAIL"
  q -c "ALTER SYSTEM SET synchronous_commit = off" -c "ALTER SYSTEM SET wal_writer_delay = '10s'" \
    -c "SELECT pg_reload_conf()" >/dev/null
fi
echo "server: fsync $(q -c 'SHOW fsync'), synchronous_commit $(q -c 'SHOW synchronous_commit');" \
  "setup $((SECONDS - started)) s"

# client ROUND CLIENT: calls until the server goes away, logging each call
# (round, client, seq, sent|ack|err, op, args, result) to $work/rRcC.log.
client() {
  set +e
  trap '' PIPE
  local r=$1 c=$2 p="r$1c$2" log="$work/r$1c$2.log"
  local users=() losers=() seq=0 until=$((SECONDS + 60))
  local op args sql x x1 x2 t b i line res kind answered
  RANDOM=$((seed * 100 + r * 10 + c))
  coproc PSQL { PGAPPNAME="crash_$p" exec psql -X -q -At -F $'\t' 2>"$work/$p.err"; }
  local to=${PSQL[1]} from=${PSQL[0]} psql_pid=$PSQL_PID
  while ((SECONDS < until)); do
    seq=$((seq + 1))
    local roll=$((RANDOM % 100)) n=${#users[@]}
    ((n >= 2)) || roll=0
    ((roll < 88 || roll >= 96 || ${#losers[@]} > 0)) || roll=20  # nothing to unmerge: a login
    x=${users[RANDOM % (n > 0 ? n : 1)]:-} t="$p-t$((RANDOM % 8))"
    if ((roll < 14)); then
      op=signup x="$p-u$seq"
      args="{\"x\": \"$x\", \"e\": \"$x@x.io\", \"t\": \"$t\", \"name\": \"$p-s$seq\"}"
      sql="SELECT 'ok', jsonb_build_object('contact_id', contact_id, 'action', action)
           FROM contact_identity.upsert_contact(external_id => '$x', email => '$x@x.io',
             identifiers => '{\"mobile_push\": \"$t\"}', first_name => '$p-s$seq')"
    elif ((roll < 50)); then
      op=login args="{\"x\": \"$x\", \"t\": \"$t\", \"name\": \"$p-s$seq\"}"
      sql="SELECT 'ok', jsonb_build_object('contact_id', contact_id, 'action', action)
           FROM contact_identity.upsert_contact(external_id => '$x',
             identifiers => '{\"mobile_push\": \"$t\"}', first_name => '$p-s$seq')"
    elif ((roll < 76)); then
      op=event args="{\"x\": \"$x\"}"
      sql="SELECT 'ok', jsonb_build_object('contact_id', r.contact_id, 'event_id',
             contact_identity.track_event('visit', '{\"seq\": $seq}', external_id => '$x'))
           FROM contact_identity.resolve_contact(external_id => '$x') r"
    elif ((roll < 88)); then
      i=$((RANDOM % n)) x1=${users[i]} x2=${users[(i + 1 + RANDOM % (n - 1)) % n]}
      op=merge args="{\"x1\": \"$x1\", \"x2\": \"$x2\"}"
      sql="SELECT 'ok', jsonb_build_object('winner', w.contact_id, 'loser', l.contact_id, 'merged',
             contact_identity.merge_contacts(winner => w.contact_id, loser => l.contact_id, force => true))
           FROM contact_identity.resolve_contact(external_id => '$x1') w,
                contact_identity.resolve_contact(external_id => '$x2') l"
    elif ((roll < 96)); then
      i=$((RANDOM % ${#losers[@]})) b=${losers[i]}
      op=unmerge args="{\"b\": $b}"
      sql="SELECT 'ok', contact_identity.unmerge_contact(loser => $b)"
    else
      op=purge args="{\"x\": \"$x\"}"
      sql="SELECT 'ok', jsonb_build_object('contact_id', r.contact_id, 'purged',
             contact_identity.purge_contact(r.contact_id))
           FROM contact_identity.resolve_contact(external_id => '$x') r"
    fi
    printf '%s\t%s\t%s\tsent\t%s\t%s\t\\N\n' "$r" "$c" "$seq" "$op" "$args" >>"$log"
    printf '%s;\n\\echo END %s\n' "${sql//$'\n'/ }" "$seq" >&"$to" || break
    # psql prints a result once the server said ReadyForQuery, after the
    # commit; \echo runs after that. No END: the server went away.
    res='' answered=0
    while IFS= read -r -u "$from" line; do
      if [[ $line == "END $seq" ]]; then answered=1; break; fi
      res=$line
    done
    ((answered)) || break
    if [[ $res == ok$'\t'* ]]; then
      kind=ack res=${res#ok$'\t'}
      case $op in
        signup) users+=("$x") ;;
        merge) [[ $res =~ \"loser\":\ ([0-9]+) ]] && losers+=("${BASH_REMATCH[1]}") ;;
        unmerge) losers=("${losers[@]:0:i}" "${losers[@]:i+1}") ;;
      esac
    else
      kind=err res='\N'  # an error or nothing found: rolled back, no effect
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$c" "$seq" "$kind" "$op" "$args" "$res" >>"$log"
  done
  exec {to}>&-
  wait "$psql_pid" 2>/dev/null
  return 0
}

# Starts account 1's import, or resumes it, in the background (import_pid).
import_pid=
start_import() {
  local id status
  read -r id status < <(q -F ' ' -c "SELECT import_id, status FROM contact_identity.imports WHERE account_id = 1") || true
  import_pid=
  [[ ${status:-} != 'done' ]] || return 0
  PGAPPNAME=crash_import psql -X -q -c "CALL contact_identity.run_import('import_source', batch_size => $batch,
    account_id => 1${id:+, import_id => $id})" >/dev/null 2>>"$work/import.err" &
  import_pid=$!
  bg_pids+=("$import_pid")
}
import_progress() { q -c "SELECT coalesce(max(rows_done), 0) FROM contact_identity.imports WHERE account_id = 1"; }

# Waits for our background processes of this round; they end when the server does.
wait_bg() {
  local p deadline=$((SECONDS + 30))
  for p in "$@"; do
    while kill -0 "$p" 2>/dev/null; do
      ((SECONDS < deadline)) || fail "process $p still running 30 s after the crash"
      sleep 0.1
    done
    wait "$p" 2>/dev/null || true
  done
}

ready_count() { grep -c 'database system is ready to accept connections' "$server_log" || true; }

# check ROUND: what the acknowledged calls did is there, and the database is sound.
check() {
  local r=$1 c problems
  for ((c = 1; c <= clients; c++)); do
    [[ ! -e "$work/r${r}c$c.log" ]] || q -c "\\copy crash_model.calls FROM '$work/r${r}c$c.log'"
  done
  q -c "SELECT crash_model.replay($r)" >/dev/null
  problems=$(q -c "SELECT format('r%sc%s call %s: %s', round, client, seq, what) FROM crash_model.divergences LIMIT 20")
  [[ -z "$problems" ]] || fail "acknowledged answers the model cannot explain (a bug of the test or the extension):
$problems"
  in_flight=$(q -c "SELECT crash_model.in_doubt($r)")
  idle=$(q -c "SELECT string_agg(DISTINCT format('r%sc%s', round, client), ' ') FROM crash_model.calls s
               WHERE round = $r AND NOT EXISTS (SELECT FROM crash_model.calls a
                                                WHERE (a.round, a.client, a.kind) = (s.round, s.client, 'ack'))")
  [[ -z "$idle" ]] || fail "clients $idle had no call acknowledged in round $r: nothing to check"
  problems=$(q -c "SELECT * FROM crash_model.differences() LIMIT 20")
  [[ -z "$problems" ]] || fail "after the crash of round $r, the database differs from the acknowledged calls:
$problems"
  problems=$(q -c "SELECT * FROM contact_identity.verify() LIMIT 20")
  [[ -z "$problems" ]] || fail "verify() after the crash of round $r: $problems"
  problems=$(q -c "SELECT * FROM crash_model.two_holders() LIMIT 20")
  [[ -z "$problems" ]] || fail "a key with two holders after the crash of round $r: $problems"
  q -c "SELECT count(bt_index_check(i.indexrelid, true)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relnamespace = 'contact_identity'::regnamespace AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')" >/dev/null ||
    fail "amcheck found a damaged index after the crash of round $r"
}

interrupted=0
for ((r = 1; r <= rounds; r++)); do
  round_started=$SECONDS
  method=${methods[r - 1]}
  delay_ms=$((1000 + RANDOM % 3000))
  start_import
  pids=()
  for ((c = 1; c <= clients; c++)); do
    client "$r" "$c" &
    pids+=("$!")
    bg_pids+=("$!")
  done
  sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
  seen=$(import_progress)
  ready=$(ready_count)
  if [[ $method == immediate ]]; then
    what="pg_ctl -m immediate stop"
    cluster_pg_ctl -m immediate -w stop >/dev/null
  else
    # A client's backend; in the last round the import's if it still runs
    # ('crash_import' sorts first).
    victims="'crash_r${r}c$((1 + RANDOM % clients))'"
    ((r < rounds)) || victims+=", 'crash_import'"
    pid='' victim=''
    read -r pid victim < <(q -F ' ' -c "SELECT pid, application_name FROM pg_stat_activity
                                        WHERE application_name IN ($victims) ORDER BY application_name LIMIT 1") || true
    [[ -n "$pid" ]] || fail "no backend named $victims to kill"
    what="kill -9 of backend $pid ($victim)"
    kill -9 "$pid"
  fi
  killed_at=$SECONDS
  wait_bg "${pids[@]}" ${import_pid:+"$import_pid"}
  if [[ $method == immediate ]]; then
    cluster_pg_ctl -w start >/dev/null || fail "the server did not restart"
  else
    for _ in $(seq 300); do [[ $(ready_count) -gt $ready ]] && break; sleep 0.1; done
    [[ $(ready_count) -gt $ready ]] || fail "the server did not recover from the kill -9"
    grep -q 'terminating any other active server processes' "$server_log" ||
      fail "the kill -9 did not make the postmaster reset the other backends"
  fi
  recovered=$((SECONDS - killed_at))
  check "$r"
  status='' done_rows=0
  read -r status done_rows < <(q -F ' ' -c "SELECT status, rows_done FROM contact_identity.imports WHERE account_id = 1") || true
  [[ $status != running ]] || interrupted=$((interrupted + 1))
  ((done_rows >= seen)) || fail "the import had committed $seen rows before the crash, $done_rows after"
  [[ $status == 'done' ]] || ((done_rows % batch == 0)) ||
    fail "the import's rows_done $done_rows is not a whole number of batches"
  echo "round $r: $what after $delay_ms ms; recovered in $recovered s; checked; round $((SECONDS - round_started)) s"
  q -c "SELECT format('  %s calls acknowledged (%s), %s refused, $in_flight in flight', sum(acks),
                      string_agg(op || ' ' || acks, ', ' ORDER BY op), sum(errs))
        FROM (SELECT op, count(*) FILTER (WHERE kind = 'ack') AS acks, count(*) FILTER (WHERE kind = 'err') AS errs
              FROM crash_model.calls WHERE round = $r GROUP BY op) s"
  q -c "SELECT format('  checked so far: %s keys, %s contacts, %s events (in doubt: %s, %s, %s)',
                      (SELECT count(*) FROM crash_model.keys), (SELECT count(*) FROM crash_model.contacts),
                      (SELECT count(*) FROM crash_model.events), (SELECT count(*) FILTER (WHERE unsure) FROM crash_model.keys),
                      (SELECT count(*) FILTER (WHERE unsure) FROM crash_model.contacts),
                      (SELECT count(*) FILTER (WHERE unsure) FROM crash_model.events))"
  echo "  import: $done_rows of $rows rows committed (${status:-not started}), $seen seen before the crash"
done

# The interrupted import resumes and ends as one uninterrupted import_contacts.
((interrupted > 0)) || fail "the import was never interrupted: it finished before the first crash"
import_id=
read -r import_id status < <(q -F ' ' -c "SELECT import_id, status FROM contact_identity.imports WHERE account_id = 1") ||
  true
[[ -n "${import_id:-}" ]] || fail "the import never committed a batch"
[[ $status == 'done' ]] ||
  q -c "CALL contact_identity.run_import('import_source', account_id => 1, import_id => $import_id)" >/dev/null ||
  fail "resuming import $import_id failed"
read -r status done_rows applied failed < <(q -F ' ' -c \
  "SELECT status, rows_done, created + updated + restored + merged + skipped, failed
   FROM contact_identity.imports WHERE account_id = 1")
[[ $status == 'done' && $done_rows -eq $rows ]] || fail "after resuming: status $status, rows_done $done_rows"
((applied + failed == rows)) || fail "rows counted $((applied + failed)) times, not $rows: a row applied twice or lost"
q -c "SELECT count(*) FROM contact_identity.import_contacts('import_source', account_id => 2)" >/dev/null
problems=$(q -c "SELECT * FROM crash_model.import_differences(1, 2) LIMIT 20")
[[ -z "$problems" ]] || fail "the resumed import differs from an uninterrupted one:
$problems"
errors=$(q -c "SELECT count(*) FROM contact_identity.import_errors WHERE import_id = $import_id")
[[ $errors -eq $failed && $errors -eq $((rows / 500)) ]] || fail "import_errors has $errors rows, failed says $failed"
problems=$(q -c "SELECT * FROM contact_identity.verify() LIMIT 20")
[[ -z "$problems" ]] || fail "verify() after the import: $problems"
echo "import $import_id resumed: $applied applied + $failed failed = $rows rows, identical to an uninterrupted import_contacts"
echo "total $((SECONDS - started)) s (meant to stay under 120 s)"
echo "crash: PASS"
