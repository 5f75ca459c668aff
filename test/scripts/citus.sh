#!/usr/bin/env bash
# test/scripts/citus.sh: contact_identity distributed with Citus 13.2.2
# (issue 15). Builds and installs Citus first when it is missing
# (scripts/ensure-citus), starts a coordinator and two workers on 127.0.0.1
# (scripts/citus-cluster.sh), and checks on the coordinator, printing what
# it saw:
#   1. distribute(): the tables, reference tables, delegated functions and
#      each node's ID range; is_distributed(); a second call changes nothing;
#   2. the seed's two use cases, a mobile app and a website
#      (test/citus/use_cases.sql), in four accounts, two on each worker,
#      every call one statement that Citus delegates;
#   3. per call of each delegated function, the Citus tasks and two-phase
#      commits of every node (test/citus/per_call.sql): the delegation
#      itself and nothing more;
#   4. 4 clients for 20 s (pgbench) upserting emails of one shared pool in
#      four accounts on both workers: no duplicate, verify() finds nothing,
#      and its invariants checked again account by account with queries of
#      their own (test/citus/invariants.sql);
#   5. placement: each account's rows of the seven per-account tables are in
#      its shard group on its worker and nowhere else, and the tables
#      themselves (the shells) are empty on every node;
#   6. the functions that run on the coordinator (reads, views, segments,
#      grants, configuration), each once;
#   7. the regression files and isolation specs that can run distributed,
#      each compared with its single-node expected output
#      (test/citus/not_distributed.txt lists the others, and why).
# Ends with a summary; exits 1 when a check failed. Without Citus's source
# it prints "citus: SKIPPED" and exits 77, which test/run lists as skipped
# (neither passed nor failed).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/citus-cluster.sh"
started=$SECONDS

set +e
bash "$root/scripts/ensure-citus"
rc=$?
set -e
if [[ $rc -eq 3 ]]; then
  echo "citus: SKIPPED: no Citus source (see scripts/ensure-citus); nothing was checked, exit 77"
  exit 77
elif [[ $rc -ne 0 ]]; then
  echo "citus: FAIL: scripts/ensure-citus could not install Citus (exit $rc)" >&2
  exit 1
fi

# A command that fails outside a check is a failure too (exit 1).
trap 'echo "citus: FAIL: line $LINENO: a command failed" >&2; exit 1' ERR
failures=()
fail() { echo "citus: FAIL: $*" >&2; failures+=("$*"); }
die() { echo "citus: FAIL: $*" >&2; exit 1; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
on_port() { local port=$1; shift; q -h 127.0.0.1 -p "$port" "$@"; }

citus_cluster_start ci_citus
make_tmpdir work
coordinator=${CITUS_PORTS[0]} workers=("${CITUS_PORTS[1]}" "${CITUS_PORTS[2]}")
# Counters: Citus's per-node statistics, and every two-phase commit kept in
# pg_dist_transaction (2PC recovery, which deletes the records, is off).
# The distributed deadlock detector connects to the other nodes every 2 s:
# off while calls are counted, on again for the clients.
for port in "${CITUS_PORTS[@]}"; do
  on_port "$port" -d postgres -c "ALTER SYSTEM SET citus.enable_stat_counters = on" \
    -c "ALTER SYSTEM SET citus.recover_2pc_interval = -1" \
    -c "ALTER SYSTEM SET citus.distributed_deadlock_detection_factor = -1" -c "SELECT pg_reload_conf()" >/dev/null
done

# ---- 1. distribute() ----
q -c "SET client_min_messages = warning" -c "CREATE EXTENSION contact_identity" || die "CREATE EXTENSION failed"
first=$(q -c "SELECT contact_identity.distribute()") || die "distribute() failed"
second=$(q -c "SELECT contact_identity.distribute()") || die "a second distribute() failed"
echo "distribute(): $first; again: $second"
[[ $first == "13 tables distributed, 14 functions delegated, on 2 workers" ]] || fail "distribute() said: $first"
[[ $second == "0 tables distributed, 14 functions delegated, on 2 workers" ]] || fail "a second distribute() said: $second"
layout=$(q -F ' ' -c "
  SELECT count(*) FILTER (WHERE p.partmethod = 'h'), count(DISTINCT p.colocationid) FILTER (WHERE p.partmethod = 'h'),
         count(*) FILTER (WHERE p.partmethod = 'n' AND p.repmodel = 't'),
         (SELECT count(*) FROM pg_dist_object o
           WHERE o.classid = 'pg_proc'::regclass AND o.force_delegation AND o.distribution_argument_index IS NOT NULL
             AND o.objid::regprocedure = ANY (contact_identity.delegated_functions()))
    FROM pg_dist_partition p WHERE p.logicalrelid::text LIKE 'contact_identity.%'")
read -r hashed groups reference delegated <<<"$layout"
echo "tables: $hashed distributed by account_id in $groups co-location group, $reference reference tables; $delegated functions delegated with force_delegation"
[[ "$hashed $groups $reference $delegated" == "7 1 6 14" ]] || fail "Citus's metadata after distribute(): $layout"
# Each node's ID range: the worker in node group g from (g-1)*2^40+1, the
# coordinator the last range under 2^53; is_distributed() everywhere.
declare -A group_of
for port in "${CITUS_PORTS[@]}"; do
  read -r g lo hi dist < <(on_port "$port" -F ' ' -c "
    SELECT (SELECT groupid FROM pg_dist_local_group), s.seqmin, s.seqmax, contact_identity.is_distributed()
      FROM pg_sequence s WHERE s.seqrelid = 'contact_identity.contacts_contact_id_seq'::regclass")
  group_of[$port]=$g
  want=$(( g == 0 ? 8191 : g - 1 ))
  echo "node $port, group $g: contact IDs [$lo, $hi], is_distributed() $dist"
  [[ $lo -eq $((want * 2 ** 40 + 1)) && $hi -eq $(((want + 1) * 2 ** 40)) && $dist == t ]] ||
    fail "node $port (group $g): range [$lo, $hi], is_distributed() $dist"
done

# accounts_on PORT N FROM: the first N account IDs from FROM whose shard group is on the worker at PORT.
accounts_on() {
  q -c "SELECT a FROM generate_series($3, $3 + 999) a
         WHERE (SELECT p.nodeport FROM pg_dist_shard_placement p
                 WHERE p.shardid = get_shard_id_for_distribution_column('contact_identity.contacts', a)) = $1
         ORDER BY a LIMIT $2"
}
# dist_2pc: two-phase commits recorded so far on each node, e.g. "45 0 0".
dist_2pc() { local p; for p in "${CITUS_PORTS[@]}"; do on_port "$p" -c "SELECT count(*) FROM pg_dist_transaction"; done | xargs; }
worker_of() { q -c "SELECT p.nodeport FROM pg_dist_shard_placement p
                     WHERE p.shardid = get_shard_id_for_distribution_column('contact_identity.contacts', $1)"; }

# ---- 2. the seed's use cases ----
mapfile -t use_accounts < <(accounts_on "${workers[0]}" 2 100; accounts_on "${workers[1]}" 2 100)
q >/dev/null <<'SQL'
-- expect(ok, what): 'ok: what', or an error that stops the script.
CREATE FUNCTION public.expect(ok boolean, what text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  IF ok IS NOT TRUE THEN RAISE EXCEPTION 'FAIL: %', what; END IF;
  RETURN 'ok: ' || what;
END $$;
SQL
before_2pc=$(dist_2pc)
for a in "${use_accounts[@]}"; do
  port=$(worker_of "$a") g=${group_of[$port]}
  echo "-- use cases in account $a (worker $port, node group $g)"
  if q -v acct="$a" -v lo=$(((g - 1) * 2 ** 40 + 1)) -v hi=$((g * 2 ** 40)) -f "$root/test/citus/use_cases.sql" \
    >"$work/use_$a.out" 2>"$work/use_$a.err"; then
    cat "$work/use_$a.out"
  else
    cat "$work/use_$a.out"
    { grep -A2 ERROR "$work/use_$a.err" || true; } | tail -n 3 >&2
    fail "use cases in account $a stopped after $(grep -c '^ok:' "$work/use_$a.out") checks"
  fi
done
after_2pc=$(dist_2pc)
echo "two-phase commits during the use cases, per node: before $before_2pc, after $after_2pc"
[[ $before_2pc == "$after_2pc" ]] || fail "the use cases caused two-phase commits: $before_2pc -> $after_2pc"
# distribute() once more, now that the accounts have data: no row moves or
# goes, and no worker's sequence starts again.
held() {
  q -c "SELECT count(*) FROM contact_identity.contacts"
  for port in "${workers[@]}"; do on_port "$port" -c "SELECT last_value FROM contact_identity.contacts_contact_id_seq"; done
}
before=$(held | xargs)
third=$(q -c "SELECT contact_identity.distribute()")
after=$(held | xargs)
echo "distribute() with data: $third; contacts and each worker's last contact ID: $before, then $after"
[[ $before == "$after" ]] || fail "distribute() with data changed the contacts or the sequences: $before -> $after"

# ---- 3. tasks and two-phase commits per call ----
# per_call.sql reads every node's counters before and after each call
# (test/citus/counters.sh, through psql's \!). Per call: the coordinator
# starts 1 single-shard task (the delegation) and nothing else; no node
# records a two-phase commit; the workers open no connection (no remote
# task) and start no multi-shard query; their local Citus executions are
# shown (a worker's cache reads its reference-table shards through Citus).
export CITUS_PORT_LIST="${CITUS_PORTS[*]}" CITUS_COUNTERS_SH=$root/test/citus/counters.sh
# deltas FILE WHERE: a line per call counted in FILE (counters.sh readings):
# "ok" or "BAD", the call, then the differences: the coordinator's tasks,
# multi-shard tasks and 2PC, and for each worker its local Citus
# executions, connections, multi-shard tasks and 2PC.
deltas() {
  awk -F'|' -v coord="$coordinator" -v w1="${workers[0]}" -v w2="${workers[1]}" -v where="$2" '
    { key = $2 SUBSEP $3
      if ($1 == "before") { for (i = 4; i <= 7; i++) b[key, i] = $i; next }
      if (!(($2) in seen)) { seen[$2] = 1; order[++n] = $2 }
      for (i = 4; i <= 7; i++) d[key, i] = $i - b[key, i] }
    function delta(label, port, i) { return d[label, port, i] }
    END {
      for (k = 1; k <= n; k++) {
        l = order[k]; control = l ~ /^control/
        bad = control ? delta(l, coord, 7) == 0 \
                      : delta(l, coord, 4) != 1 || delta(l, coord, 5) != 0 || delta(l, coord, 7) != 0
        w = ""
        split(w1 " " w2, ports, " ")
        for (p = 1; p <= 2; p++) {
          port = ports[p]
          w = w sprintf("  worker %s %d/%d/%d/%d", port, delta(l, port, 4), delta(l, port, 6), delta(l, port, 5), delta(l, port, 7))
          if (!control && (delta(l, port, 6) != 0 || delta(l, port, 5) != 0 || delta(l, port, 7) != 0)) bad = 1
        }
        printf "%s %-60s coordinator %d/%d/%d%s\n", (bad ? "BAD" : "ok "), l where, delta(l, coord, 4), delta(l, coord, 5),
               delta(l, coord, 7), w
      } }' "$1"
}
echo "-- per call: coordinator tasks/multi-shard/2PC; worker local Citus executions/connections/multi-shard/2PC"
measured=("${use_accounts[0]}" "${use_accounts[2]}")
for a in "${measured[@]}"; do
  CITUS_COUNTERS=$work/counters_$a q -v acct="$a" -f "$root/test/citus/per_call.sql" >"$work/per_call_$a.out" 2>&1 ||
    { cat "$work/per_call_$a.out" >&2; fail "per_call.sql stopped in account $a"; }
  deltas "$work/counters_$a" " (account $a)" >>"$work/report"
done
# The control: one transaction writing to two accounts on the two workers
# must show a two-phase commit, else the counting sees nothing.
export CITUS_COUNTERS=$work/counters_control
"$CITUS_COUNTERS_SH" 'control: one transaction, two workers' before
q -c "BEGIN" -c "SELECT * FROM contact_identity.upsert_contact(email => 'control@x.example', account_id => ${measured[0]})" \
  -c "SELECT * FROM contact_identity.upsert_contact(email => 'control@x.example', account_id => ${measured[1]})" \
  -c "COMMIT" >/dev/null
"$CITUS_COUNTERS_SH" 'control: one transaction, two workers' after
deltas "$CITUS_COUNTERS" "" >>"$work/report"
cat "$work/report"
while IFS= read -r line; do fail "per call: ${line#BAD }"; done < <(grep '^BAD' "$work/report" || true)
for port in "${CITUS_PORTS[@]}"; do
  on_port "$port" -d postgres -c "ALTER SYSTEM RESET citus.distributed_deadlock_detection_factor" -c "SELECT pg_reload_conf()" >/dev/null
done

# ---- 4. 4 clients for 20 s on shared emails ----
mapfile -t bench_accounts < <(accounts_on "${workers[0]}" 2 200; accounts_on "${workers[1]}" 2 200)
bench=()
for a in "${bench_accounts[@]}"; do
  # One pool of 40 emails and 20 push tokens in every account: the same
  # person signs up and logs in from several clients at once, and tokens
  # move between people. Each call alone in its statement, delegated.
  cat >"$work/bench_$a.sql" <<SQL
\set e random(1, 40)
\set t random(1, 20)
SELECT * FROM contact_identity.upsert_contact(email => 'person:e@shared.example', identifiers => '{"mobile_push": "tok-:t"}', account_id => $a);
SQL
  bench+=(-f "$work/bench_$a.sql")
done
echo "-- 4 clients for 20 s, accounts ${bench_accounts[*]} (two on each worker)"
set +e
pgbench -n -M simple -c 4 -j 2 -T 20 --max-tries=10 "${bench[@]}" >"$work/pgbench.out" 2>&1
rc=$?
set -e
grep -E '^(number of (transactions actually processed|failed transactions|transactions retried)|tps)' "$work/pgbench.out" || true
[[ $rc -eq 0 ]] || { tail -n 20 "$work/pgbench.out" >&2; fail "pgbench exited $rc"; }
accounts_csv=$(IFS=,; echo "${bench_accounts[*]}")
dups=$(q -c "SELECT count(*) FROM (SELECT account_id, email FROM contact_identity.contacts
                WHERE account_id IN ($accounts_csv) AND merged_into IS NULL AND deleted_at IS NULL AND email IS NOT NULL
                GROUP BY 1, 2 HAVING count(*) > 1) d")
people=$(q -c "SELECT string_agg(n::text, ' ' ORDER BY account_id) FROM (
                 SELECT account_id, count(*) AS n FROM contact_identity.contacts
                  WHERE account_id IN ($accounts_csv) AND merged_into IS NULL GROUP BY 1) x")
echo "duplicates (an email held by two live contacts of one account): $dups; live contacts per account: $people"
[[ $dups -eq 0 ]] || fail "$dups emails are held by two live contacts of one account"
[[ $people == "40 40 40 40" ]] || fail "live contacts per account: $people, not one per email of the pool of 40"
# verify() must find nothing, and the same invariants, checked account by
# account with queries of their own, hold.
if verify=$(q -c "SELECT * FROM contact_identity.verify()" 2>&1); then
  echo "verify(): ${verify:-no row}"
  [[ -z $verify ]] || fail "verify() found problems"
else
  fail "verify() does not run distributed: $(head -n 1 <<<"$verify")"
fi
for a in "${use_accounts[@]}" "${bench_accounts[@]}"; do
  problems=$(q -v acct="$a" -f "$root/test/citus/invariants.sql")
  echo "invariants of verify() in account $a: ${problems:-none broken}"
  [[ -z $problems ]] || fail "account $a: $(head -n 5 <<<"$problems")"
done

# ---- 5. placement ----
# Where the rows are, read on each node from the shards themselves
# (citus.override_table_visibility = off shows them), against where Citus
# says each account's shard of each table is.
all_accounts="{$(IFS=,; echo "${use_accounts[*]},${bench_accounts[*]}")}"
tables="contacts identifiers events event_keys identity_log imports import_errors"
for port in "${CITUS_PORTS[@]}"; do
  on_port "$port" -F ' ' -v accounts="$all_accounts" >>"$work/placed" <<'SQL'
SET citus.override_table_visibility = off;
SELECT format('SELECT %s, %L, %s, account_id, count(*) FROM contact_identity.%I WHERE account_id = ANY (%L) GROUP BY account_id',
              inet_server_port(), m[1], m[2], c.relname, :'accounts')
  FROM pg_class c, regexp_match(c.relname, '^(contacts|identifiers|events|event_keys|identity_log|imports|import_errors)_(\d+)$') m
 WHERE c.relnamespace = 'contact_identity'::regnamespace AND c.relkind = 'r' AND m IS NOT NULL
\gexec
SQL
  shells=$(on_port "$port" -c "SELECT string_agg(t, ' ') FROM unnest(string_to_array('$tables', ' ')) t
                                 WHERE pg_relation_size(format('contact_identity.%I', t)) > 0")
  [[ -z $shells ]] || fail "node $port: the shell tables $shells hold data"
done
for a in "${use_accounts[@]}" "${bench_accounts[@]}"; do
  port=$(worker_of "$a") line="" bad=""
  for t in $tables; do
    read -r shard home total < <(q -F ' ' -c "
      SELECT s, (SELECT p.nodeport FROM pg_dist_shard_placement p WHERE p.shardid = s),
             (SELECT count(*) FROM contact_identity.$t WHERE account_id = $a)
        FROM get_shard_id_for_distribution_column('contact_identity.$t', $a) s")
    # Rows of the account seen anywhere else than its shard on its worker.
    read -r here elsewhere < <(awk -v t="$t" -v a="$a" -v s="$shard" -v p="$port" '
      $2 == t && $4 == a { if ($1 == p && $3 == s) here += $5; else elsewhere += $5 }
      END { print here + 0, elsewhere + 0 }' "$work/placed")
    line+=" $t $here,"
    [[ $home == "$port" && $elsewhere -eq 0 && $here -eq $total ]] ||
      bad+=" $t: its shard $shard is on $home and holds $here rows, $elsewhere rows elsewhere, $total through the coordinator;"
  done
  echo "account $a: rows in its shard group on worker $port:${line%,}; elsewhere: ${bad:-none}"
  [[ -z $bad ]] || fail "placement of account $a:$bad"
done
echo "shell tables of the per-account tables: empty on every node"

# ---- 6. the coordinator's other functions ----
# The reads, views and administration that are not delegated run on the
# coordinator against the distributed tables: each once, in the first
# use-case account (its contact with the lowest ID), must work.
a=${use_accounts[0]}
c=$(q -c "SELECT min(contact_id) FROM contact_identity.contacts WHERE account_id = $a AND merged_into IS NULL")
q -c "CREATE ROLE citus_test_writer"
while IFS= read -r stmt; do
  if out=$(q -c "$stmt" 2>&1); then
    echo "ok    $stmt -> $(head -n 1 <<<"$out")"
  else
    fail "on the coordinator: $stmt: $(head -n 1 <<<"$out")"
  fi
done <<SQL
SELECT contact_identity.get_contact($c, $a) ->> 'contactId'
SELECT count(*) FROM contact_identity.explain_contact($c, $a)
SELECT count(*) FROM contact_identity.contact_events($c, account_id => $a)
SELECT count(*) FROM contact_identity.export_changes('-infinity', $a)
SELECT count(*) FROM contact_identity.identity_log_steps WHERE account_id = $a
SELECT count(*) FROM contact_identity.possible_duplicates WHERE account_id = $a
SELECT count(*) FROM contact_identity.possible_duplicates_of($a)
SELECT count(*) FROM contact_identity.unnormalized_identifiers($a)
SELECT count(*) FROM contact_identity.import_progress WHERE account_id = $a
SELECT count(*) FROM contact_identity.import_progress
SELECT count(*) FROM contact_identity.contacts_export WHERE account_id = $a
SELECT count(*) FROM contact_identity.contacts_deleted WHERE account_id = $a
SELECT contact_identity.create_segment('citus test', '{"field": "email", "op": "is_not_empty"}', $a)
SELECT contact_identity.segment_count('citus test')
SELECT count(*) FROM contact_identity.segment_members('citus test')
SELECT contact_identity.drop_segment('citus test')
SELECT contact_identity.set_account_region($a, 'UA')
SELECT contact_identity.grant_account('citus_test_writer', $a, 'writer')
SELECT contact_identity.revoke_account('citus_test_writer', $a)
INSERT INTO contact_identity.identifier_types (name, class, priority, normalizer) VALUES ('citus_test', 'changeable', 90, 'text')
DELETE FROM contact_identity.identifier_types WHERE name = 'citus_test'
INSERT INTO contact_identity.blocked_values (identifier_type, value, reason) VALUES ('email', 'citus@blocked.example', 'test')
DELETE FROM contact_identity.blocked_values WHERE value = 'citus@blocked.example'
SQL

# A national number is read in the region set for the database (ALTER
# DATABASE, which Citus runs on every node, as docs/operations.md advises
# behind a pooler). A session's SET stays on the coordinator, so the call
# on the worker does not see it: a figure, not a check. (In an account
# without a region of its own.)
b=${use_accounts[1]}
q -c "ALTER DATABASE ci_citus SET contact_identity.default_region = 'UA'"
phone=$(q -c "SELECT * FROM contact_identity.upsert_contact(phone => '050 777 1122', account_id => $b)" >/dev/null 2>&1 &&
  q -c "SELECT phone FROM contact_identity.contacts WHERE account_id = $b AND phone LIKE '+38050777%'" 2>&1) || true
echo "default_region set for the database: '050 777 1122' stored as ${phone:-nothing}"
[[ $phone == "+380507771122" ]] || fail "the database's default_region did not reach the worker: ${phone:-nothing stored}"
q -c "ALTER DATABASE ci_citus RESET contact_identity.default_region"
session=$(q -c "SET contact_identity.default_region = 'UA'" \
  -c "SELECT action FROM contact_identity.upsert_contact(phone => '050 777 3344', account_id => $b)" 2>&1 | head -n 1) || true
echo "figure: with a session's SET of default_region instead, the same call gives: $session"

# Imports from a table on the coordinator, for an account on a worker: the
# rows go to the worker a batch at a time (docs/scale-out.md). import_contacts
# in one transaction, run_import committing after each batch of 2 rows; the
# same results as on one server: the bad row fails alone with its row
# number, the others are applied, and run_import's progress is kept.
q >/dev/null <<'SQL'
CREATE TABLE public.citus_import_src (row_number int, external_id text, email text, first_name text, city text);
INSERT INTO public.citus_import_src VALUES
  (1, 'imp-1', 'imp1@x.example', 'One', 'Kyiv'), (2, 'imp-2', 'not-an-email', 'Two', NULL),
  (3, 'imp-3', 'imp3@x.example', 'Three', 'Lviv'), (4, 'imp-1', 'imp1@x.example', 'One again', NULL),
  (5, 'imp-5', 'imp5@x.example', 'Five', NULL);
SQL
for a in "${use_accounts[1]}" "${use_accounts[3]}"; do
  got=$(q -c "SELECT string_agg(row_number || ':' || COALESCE(action, error_code), ' ' ORDER BY row_number)
                FROM contact_identity.import_contacts('public.citus_import_src', account_id => $a)")
  want="1:created 2:22023 3:created 4:updated 5:created"
  echo "import_contacts from the coordinator into account $a (worker $(worker_of "$a")): $got"
  [[ $got == "$want" ]] || fail "import_contacts into account $a: $got, not $want"
  q -c "CALL contact_identity.run_import('public.citus_import_src', dedupe_on => 'email', batch_size => 2, account_id => $a)" >/dev/null ||
    fail "run_import into account $a failed"
  got=$(q -F ' ' -c "SELECT p.status, p.rows_done, p.created, p.updated, p.failed,
                            (SELECT string_agg(e.row_number || ':' || e.sqlstate, ' ') FROM contact_identity.import_errors e
                              WHERE e.account_id = $a AND e.import_id = p.import_id),
                            (SELECT c.first_name || ' ' || (c.attributes ->> 'city') FROM contact_identity.contacts c
                              WHERE c.account_id = $a AND c.external_id = 'imp-3')
                       FROM contact_identity.import_progress p WHERE p.account_id = $a")
  want="done 5 0 4 1 2:22023 Three Lviv"
  echo "run_import from the coordinator into account $a, batches of 2: $got"
  [[ $got == "$want" ]] || fail "run_import into account $a: $got, not $want"
done
q -c "DROP TABLE public.citus_import_src" >/dev/null

# Row-level security for a role with a grant (a LOGIN role: Citus connects
# to the workers as it): it reads its account's rows and no other, through
# the tables, the views and possible_duplicates, on both workers; a grant
# made later counts from the next statement on.
a=${use_accounts[0]} b=${use_accounts[2]}
q -c "CREATE ROLE citus_test_reader LOGIN" -c "GRANT contact_identity_reader TO citus_test_reader" \
  -c "SELECT contact_identity.grant_account('citus_test_reader', $a, 'reader')" >/dev/null
as_reader() { q -U citus_test_reader -c "$1" 2>&1; }
seen=$(as_reader "SELECT string_agg(DISTINCT account_id::text, ' ') FROM contact_identity.contacts")
dups=$(as_reader "SELECT count(*) FILTER (WHERE account_id <> $a) FROM contact_identity.possible_duplicates")
export_rows=$(as_reader "SELECT count(*) FROM contact_identity.contacts_export")
[[ $export_rows == "$(as_reader "SELECT count(*) FROM contact_identity.contacts")" ]] && export_rows=t
q -c "SELECT contact_identity.grant_account('citus_test_reader', $b, 'reader')" >/dev/null
later=$(as_reader "SELECT string_agg(DISTINCT account_id::text, ' ' ORDER BY account_id::text) FROM contact_identity.contacts")
want_later=$(printf '%s\n' "$a" "$b" | sort | xargs)
echo "a reader of account $a sees accounts: $seen; pairs of other accounts: $dups; the export has its rows: $export_rows; granted $b too: $later"
[[ $seen == "$a" && $dups == 0 && $export_rows == t && $later == "$want_later" ]] ||
  fail "row-level security on the cluster: saw '$seen', $dups pairs of other accounts, export $export_rows, then '$later'"

# ---- 7. regression files and isolation specs ----
# Each runs in a database of its own, created on the three nodes, where only
# worker 1 (node group 1, whose IDs start at 1 as on one server) takes
# shards: worker 2 has the extension, the reference tables and an ID range
# but no account, so the IDs in the expected output hold. A regression file
# runs with one line added after each CREATE EXTENSION contact_identity, the
# distribute() call (\g /dev/null: no output), and without its last DROP
# EXTENSION (its database is dropped instead); its expected output gets the
# same two changes. An isolation spec runs one permutation per database,
# whose extension is created and distributed before the spec's setup (which
# is one transaction, where distribute() cannot reach the other nodes), and
# without the DROP EXTENSION of its teardown; the outputs, less the
# "unused step name" notes this split causes, are compared permutation by
# permutation with the expected output. Before comparing, what Citus adds
# to a message is removed from the output: the lines "while executing
# command on <node>" and "DETAIL:  from <node>", and the shard ID in a
# name ("contacts_102015" is "contacts").
regress_bin=$(pg_config --pkglibdir)/pgxs/src/test/regress/pg_regress
isolation_bin=$(pg_config --pkglibdir)/pgxs/src/test/isolation/isolationtester
declare -A skip
while IFS= read -r line; do
  [[ $line =~ ^([a-z0-9_.]+):\ (.*)$ ]] && skip[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
done <"$root/test/citus/not_distributed.txt"

all_ports() { local p; for p in "${CITUS_PORTS[@]}"; do on_port "$p" "$@" || return 1; done; }
fresh_db() {
  all_ports -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS ci_regress WITH (FORCE)" \
    -c "CREATE DATABASE ci_regress" >/dev/null
  all_ports -d ci_regress -c "SET client_min_messages = warning" -c "CREATE EXTENSION citus" >/dev/null
  on_port "$coordinator" -d ci_regress >/dev/null <<SQL
SELECT citus_set_coordinator_host('127.0.0.1', $coordinator);
SELECT citus_add_node('127.0.0.1', ${workers[0]});
SELECT citus_add_node('127.0.0.1', ${workers[1]});
SELECT citus_set_node_property('127.0.0.1', ${workers[1]}, 'shouldhaveshards', false);
-- Fewer shards than the 32 of the default: distribute() in a second.
ALTER DATABASE ci_regress SET citus.shard_count = 4;
-- What pg_regress sets when it creates its database itself.
ALTER DATABASE ci_regress SET lc_messages = 'C';
ALTER DATABASE ci_regress SET lc_monetary = 'C';
ALTER DATABASE ci_regress SET lc_numeric = 'C';
ALTER DATABASE ci_regress SET lc_time = 'C';
ALTER DATABASE ci_regress SET bytea_output = 'hex';
ALTER DATABASE ci_regress SET timezone_abbreviations = 'Default';
-- isolationtester's test for a waiting step, made to see waits on the workers.
SELECT citus_internal.replace_isolation_tester_func();
SQL
}
on_exit "for p in ${CITUS_PORTS[*]}; do psql -X -q -h 127.0.0.1 -p \$p -d postgres -c 'DROP DATABASE IF EXISTS ci_regress WITH (FORCE)' >/dev/null 2>&1; done"
citus_noise() {
  sed -E -e '/^(CONTEXT:  )?while executing command on 127\.0\.0\.1:[0-9]+$/d' -e '/^DETAIL:  from 127\.0\.0\.1:[0-9]+$/d' \
    -e 's/"([a-z_]+)_1[0-9]{5,}"/"\1"/g'
}
# distributed_copy SRC DST: a regression file or its expected output, with
# the distribute() line after CREATE EXTENSION and without the last DROP EXTENSION.
distributed_copy() {
  awk -v last="$(grep -nE '^DROP EXTENSION contact_identity( CASCADE)?;$' "$1" | tail -n 1 | cut -d: -f1)" '
    NR == last { next }
    { print }
    $0 == "CREATE EXTENSION contact_identity;" { print "SELECT contact_identity.distribute() \\g /dev/null" }' "$1" >"$2"
}
# verdict NAME DIFF: prints the result of one file or permutation.
passed=() failed=()
verdict() {
  if [[ ! -s $2 ]]; then
    echo "ok      $1"
    passed+=("$1")
  else
    echo "FAILED  $1: $(grep -E '^\+(ERROR|[a-z]+ failed)' "$2" | sort | uniq -c | sort -rn | head -n 3 |
      sed -E 's/^ *([0-9]+) \+/\1x /' | paste -sd ';' -)"
    grep -qE '^\+(ERROR|[a-z]+ failed)' "$2" || head -n 20 "$2"
    failed+=("$1")
  fi
}

echo "-- regression files on the coordinator"
mkdir -p "$work/tree/sql" "$work/tree/expected" "$work/regress"
for f in "$root"/sql/*.sql; do
  name=$(basename "$f" .sql)
  [[ -z ${skip[$name]:-} ]] || continue
  distributed_copy "$f" "$work/tree/sql/$name.sql"
  distributed_copy "$root/expected/$name.out" "$work/tree/expected/$name.out"
  fresh_db
  "$regress_bin" --inputdir="$work/tree" --outputdir="$work/regress" --use-existing --dbname=ci_regress \
    --host=127.0.0.1 --port="$coordinator" --user="$PGUSER" "$name" >/dev/null 2>&1 || true
  citus_noise <"$work/regress/results/$name.out" >"$work/regress/$name.normalized"
  diff -u "$work/tree/expected/$name.out" "$work/regress/$name.normalized" >"$work/regress/$name.diff" || true
  verdict "$name" "$work/regress/$name.diff"
done

echo "-- isolation specs on the coordinator, one permutation per database"
mkdir -p "$work/iso"
for spec in "$root"/test/specs/*.spec; do
  name=$(basename "$spec" .spec)
  [[ -z ${skip[$name]:-} ]] || continue
  # The expected output, cut at each "starting permutation:" line.
  awk -v out="$work/iso/$name.expected" '/^starting permutation: /{ n++ } { print > (out "." n) }' "$root/test/expected/$name.out"
  n=0
  while IFS= read -r permutation; do
    n=$((n + 1))
    [[ -z ${skip[$name.$n]:-} ]] || continue
    awk -v keep="$permutation" '/^permutation /{ if ($0 == keep) print; next }
      /^ *DROP EXTENSION contact_identity CASCADE; *$/ { next } { print }' "$spec" |
      perl -0pe 's/^teardown\s*\{\s*\}\n//mg' >"$work/iso/$name.$n.spec"
    fresh_db
    q -d ci_regress -c "SET client_min_messages = warning" -c "CREATE EXTENSION contact_identity" \
      -c "SELECT contact_identity.distribute()" >/dev/null
    timeout 300 "$isolation_bin" "host=127.0.0.1 port=$coordinator dbname=ci_regress user=$PGUSER" \
      <"$work/iso/$name.$n.spec" 2>&1 | grep -v '^unused step name: ' | citus_noise |
      awk '/^starting permutation: /{ p = 1 } p' >"$work/iso/$name.$n.out" || true
    # Blank lines at the end of a permutation's part belong to the next one.
    diff -u <(sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$work/iso/$name.expected.$n") \
      <(sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$work/iso/$name.$n.out") >"$work/iso/$name.$n.diff" || true
    verdict "$name.$n" "$work/iso/$name.$n.diff"
  done < <(grep -E '^permutation ' "$spec")
done

echo "-- not run distributed (test/citus/not_distributed.txt)"
for name in $(printf '%s\n' "${!skip[@]}" | sort); do echo "  $name: ${skip[$name]}"; done
[[ ${#failed[@]} -eq 0 ]] || fail "regression files and permutations that differ: ${failed[*]}"

echo
echo "citus: ${#passed[@]} regression files/permutations passed, ${#failed[@]} failed, ${#skip[@]} not run distributed; $((SECONDS - started)) s"
if [[ ${#failures[@]} -gt 0 ]]; then
  echo "citus: FAILED (${#failures[@]}):"
  printf '  - %s\n' "${failures[@]}"
  exit 1
fi
echo "citus: PASS"
