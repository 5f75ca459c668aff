#!/usr/bin/env bash
# test/scripts/update_populated.sh: ALTER EXTENSION contact_identity UPDATE
# on a database that release 0.4.0 populated (test/fixtures/populated-0.4.0.sql,
# made by test/fixtures/make-populated.sh with the 0.4.0 library) keeps
# every profile, explanation, event list, export and duplicate pair exactly
# as 0.4.0 showed them; verify() finds nothing wrong; a merge 0.4.0 logged
# can be undone; new writes log in the new shape next to the old rows; a
# person with old rows can be purged without a trace.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/cluster.sh"

cluster_start
db=ci_update_$$
make_tmpdir work
cluster_databases "$db"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
fail() { echo "update_populated: FAIL: $*" >&2; exit 1; }

q -c "SET client_min_messages = warning" -f "$root/test/fixtures/populated-0.4.0.sql" >/dev/null 2>"$work/load.log" ||
  { cat "$work/load.log"; fail "loading the 0.4.0 fixture failed"; }

# What a user sees of every contact, in every account.
snapshot() {
  q <<'SQL'
SELECT 'contact', c.account_id, c.contact_id, contact_identity.get_contact(c.contact_id, c.account_id)::text
FROM contact_identity.contacts c ORDER BY 2, 3;
SELECT 'explain', c.account_id, c.contact_id, e.what, (e.detail - 'attached_at' - 'first_seen_at')::text
FROM contact_identity.contacts c, contact_identity.explain_contact(c.contact_id, c.account_id) e ORDER BY 2, 3;
SELECT 'events', c.account_id, c.contact_id, e.event_id, e.event_type
FROM contact_identity.contacts c, contact_identity.contact_events(c.contact_id, account_id => c.account_id) e
ORDER BY 2, 3, 4;
SELECT 'changes', a.account_id, x.change, x.contact_id, x.external_id, x.identifiers::text
FROM (SELECT DISTINCT account_id FROM contact_identity.contacts) a,
     contact_identity.export_changes('-infinity', a.account_id) x ORDER BY 2, 4, 3;
SELECT 'duplicates', * FROM contact_identity.possible_duplicates ORDER BY 2, 3, 4;
SELECT 'segment', contact_identity.segment_count(s.name) FROM contact_identity.segments s;
SQL
}
snapshot >"$work/before"
[[ $(grep -c '^explain|' "$work/before") -gt 50 ]] || fail "the fixture explains too little: $(grep -c '^explain|' "$work/before") lines"

q -c "ALTER EXTENSION contact_identity UPDATE" || fail "ALTER EXTENSION UPDATE failed"
latest=$(sed -n "s/^default_version = '\(.*\)'$/\1/p" "$root/contact_identity.control")
[[ "$(q -c "SELECT extversion FROM pg_extension WHERE extname = 'contact_identity'")" == "$latest" ]] ||
  fail "not at $latest after the update"
echo "ok: updated from 0.4.0 to $latest"
snapshot >"$work/after"
diff -u "$work/before" "$work/after" || fail "profiles, explanations, events, exports or duplicate pairs changed"
echo "ok: $(wc -l <"$work/after") lines of profiles, explanations, events, exports and pairs identical"

problems=$(q -c 'SELECT * FROM contact_identity.verify()')
[[ -z "$problems" ]] || fail "verify() after the update: $problems"
echo "ok: verify() finds nothing wrong"

# The forced merge of dee-2 into dee-1, logged by 0.4.0, is undone.
dee2=$(q -c "SELECT l.other_contact_id FROM contact_identity.identity_log l
             WHERE l.action = 'merged' AND l.detail->>'external_id' = 'dee-2'")
[[ -n "$dee2" ]] || fail "the fixture has no merge of dee-2"
q -c "SELECT contact_identity.unmerge_contact($dee2)" >/dev/null || fail "unmerge_contact($dee2) failed"
[[ "$(q -c "SELECT external_id FROM contact_identity.contacts WHERE contact_id = $dee2 AND merged_into IS NULL")" == dee-2 ]] ||
  fail "dee-2 did not get its profile back"
[[ "$(q -c "SELECT count(*) FROM contact_identity.explain_contact($dee2) WHERE what LIKE 'unmerged from contact %'")" == 1 ]] ||
  fail "explain_contact does not tell the unmerge"
echo "ok: a merge logged by 0.4.0 is undone, and explained"

# New writes log one row per decision, next to the old rows.
ann=$(q -c "SELECT contact_id FROM contact_identity.contacts WHERE external_id = 'ann-1'")
rows=$(q -c 'SELECT count(*) FROM contact_identity.identity_log')
q -c "SELECT contact_identity.upsert_contact(external_id => 'ann-1')" >/dev/null
[[ "$(q -c 'SELECT count(*) FROM contact_identity.identity_log')" == "$rows" ]] || fail "an unchanged login wrote a log row"
q -c "SELECT contact_identity.upsert_contact(external_id => 'ann-1', email => 'ann@newer.io',
        identifiers => '{\"cookie\": \"ck-ann\"}')" >/dev/null
[[ "$(q -c 'SELECT count(*) FROM contact_identity.identity_log')" == "$((rows + 1))" ]] ||
  fail "a change wrote other than one log row"
q -c "SELECT what FROM contact_identity.explain_contact($ann)" >"$work/ann"
grep -q '^email ann@new.io detached, matched by external_id$' "$work/ann" || fail "old rows no longer explained: $(cat "$work/ann")"
grep -q '^email ann@newer.io attached, matched by external_id$' "$work/ann" || fail "new row not explained: $(cat "$work/ann")"
echo "ok: old and new rows explain one history ($(wc -l <"$work/ann") lines for ann-1)"

# Purging a person with rows of both shapes leaves none of their values.
q -c "SELECT contact_identity.purge_contact($ann)" >/dev/null || fail "purge_contact($ann) failed"
for v in ann-1 ann@x.io ann@new.io ann@newer.io +380501112233 tok-ann ck-ann; do
  n=$(q -c "SELECT (SELECT count(*) FROM contact_identity.identity_log x WHERE x::text LIKE '%' || '$v' || '%')
             + (SELECT count(*) FROM contact_identity.identifiers x WHERE x.value = '$v' AND x.contact_id = $ann)
             + (SELECT count(*) FROM contact_identity.contacts x WHERE x::text LIKE '%' || '$v' || '%')")
  [[ "$n" == 0 ]] || fail "$v is still in a table after the purge ($n rows)"
done
problems=$(q -c 'SELECT * FROM contact_identity.verify()')
[[ -z "$problems" ]] || fail "verify() at the end: $problems"
echo "ok: a purge over old and new rows leaves no value of the person; verify() finds nothing wrong"
echo "update_populated: PASS"
