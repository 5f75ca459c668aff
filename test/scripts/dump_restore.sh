#!/usr/bin/env bash
# test/scripts/dump_restore.sh: pg_dump -Fc / pg_restore -j 4 keep
# contact_identity's data: contacts, identifiers, identity_log, user-added
# identifier types and blocked values, imports and their failed rows, events
# and anonymous event keys, segments come back identical, built-in rows are
# not doubled, verify() finds nothing wrong, the segment views work after
# the restore, and the contact_id sequence continues after the restored
# contacts. A parallel restore loads the tables in any order (0.4.0, with
# foreign keys between them, lost every event); pg_dump warns of nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/cluster.sh"

cluster_start
src=ci_dump_src_$$ dst=ci_dump_dst_$$ fresh=ci_dump_fresh_$$
make_tmpdir work
cluster_databases "$src" "$dst" "$fresh"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$@"; }
fail() { echo "dump_restore: FAIL: $*" >&2; exit 1; }

q "$src" >/dev/null <<'SQL' || fail "creating the extension and contacts failed"
SET client_min_messages = warning;
CREATE EXTENSION contact_identity;
INSERT INTO contact_identity.identifier_types(name, class, priority, normalizer)
  VALUES ('loyalty_card', 'permanent', 30, 'text');
INSERT INTO contact_identity.blocked_values(identifier_type, value) VALUES ('email', 'junk@example.com');
SELECT contact_identity.upsert_contact(identifiers => '{"mobile_push": "tok-1"}');
SELECT contact_identity.upsert_contact(external_id => 'u-1', email => 'Anna@Example.com',
  phone => '+380501234567', identifiers => '{"mobile_push": "tok-1"}', first_name => 'Anna',
  attributes => '{"plan": "gold"}');
SELECT contact_identity.upsert_contact(identifiers => '{"cookie": "ck-1"}');
SELECT contact_identity.upsert_contact(external_id => 'u-2', email => 'bob@example.org',
  identifiers => '{"cookie": "ck-1", "loyalty_card": "LC-42"}');
SELECT contact_identity.upsert_contact(external_id => 'u-3', email => 'junk@example.com',
  phone => '+380671112233');
SELECT contact_identity.delete_contact(contact_id => (contact_identity.upsert_contact(
  external_id => 'u-4', email => 'gone@example.org')).contact_id);
SELECT contact_identity.upsert_contact(email => 'half@example.org');
SELECT contact_identity.upsert_contact(phone => '+380931234567');
SELECT contact_identity.upsert_contact(external_id => 'u-5', email => 'half@example.org',
  phone => '+380931234567');
SELECT contact_identity.upsert_contact(external_id => 'u-1', account_id => 7, last_name => 'Other');
CREATE TABLE load AS SELECT 'load-' || g AS external_id, CASE WHEN g = 3 THEN 'not-an-email' END AS email
  FROM generate_series(1, 5) AS g;
CALL contact_identity.run_import('load', batch_size => 2, account_id => 7);
SELECT contact_identity.track_event('order', '{"total": 42}', external_id => 'u-1');
SELECT contact_identity.track_event('page_view', identifiers => '{"cookie": "ck-anon"}');
SELECT contact_identity.merge_contacts(2, 3, force => true);
SELECT contact_identity.purge_contact((contact_identity.upsert_contact(external_id => 'u-forget',
  email => 'forget@example.org')).contact_id);
SELECT contact_identity.create_segment('gold "plan"', '{"all": [{"field": "attributes.plan", "op": "eq",
  "value": "gold"}, {"has_identifier": "mobile_push"}]}');
SELECT contact_identity.create_segment('no external id, account 7', '{"field": "external_id", "op": "is_empty"}', 7);
SQL

pg_dump -Fc -f "$work/dump" "$src" 2>"$work/dump.log" || { cat "$work/dump.log"; fail "pg_dump failed"; }
if [[ -s "$work/dump.log" ]]; then
  cat "$work/dump.log"
  fail "pg_dump printed warnings (circular foreign keys?)"
fi
echo "ok: pg_dump printed no warning"
pg_restore -j 4 --exit-on-error -d "$dst" "$work/dump" || fail "pg_restore -j 4 failed"
echo "ok: pg_restore -j 4"
q "$fresh" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION contact_identity' ||
  fail "CREATE EXTENSION failed"

tables=(
  "contacts ORDER BY account_id, contact_id"
  "identifiers ORDER BY account_id, type, value"
  "identity_log ORDER BY account_id, log_id"
  "identifier_types ORDER BY name"
  "blocked_values ORDER BY blocked_id"
  "imports ORDER BY account_id, import_id"
  "import_errors ORDER BY account_id, import_id, row_number"
  "events ORDER BY account_id, event_id"
  "event_keys ORDER BY account_id, type, value, event_id"
  "secrets ORDER BY singleton"
  "segments ORDER BY name"
)
for t in "${tables[@]}"; do
  sql="SELECT * FROM contact_identity.$t"
  q "$src" -c "$sql" >"$work/a"
  q "$dst" -c "$sql" >"$work/b"
  [[ -s "$work/a" ]] || fail "no rows in the source: $sql"
  diff -u "$work/a" "$work/b" || fail "restored rows differ: $sql"
  echo "ok: ${t%% *} identical ($(wc -l <"$work/a") rows)"
done

problems=$(q "$dst" -c 'SELECT * FROM contact_identity.verify()')
[[ -z "$problems" ]] || fail "verify() after the restore: $problems"
echo "ok: verify() finds nothing wrong after the restore"
[[ "$(q "$dst" -c 'SELECT count(*) FROM contact_identity.event_keys')" -gt 0 ]] || fail "no anonymous event key restored"

grep -q '^loyalty_card|' <(q "$dst" -c 'SELECT * FROM contact_identity.identifier_types') ||
  fail "custom identifier type missing"
grep -q '|junk@example.com|' <(q "$dst" -c 'SELECT * FROM contact_identity.blocked_values') ||
  fail "custom blocked value missing"
[[ "$(q "$dst" -c 'SELECT count(*) FROM contact_identity.contacts WHERE merged_into IS NOT NULL')" -gt 0 ]] ||
  fail "no merged contact restored"
builtins="SELECT (SELECT count(*) FROM contact_identity.identifier_types WHERE builtin),
                 (SELECT count(*) FROM contact_identity.blocked_values WHERE builtin)"
[[ "$(q "$dst" -c "$builtins")" == "$(q "$fresh" -c "$builtins")" ]] ||
  fail "built-in rows duplicated: $(q "$dst" -c "$builtins") vs fresh $(q "$fresh" -c "$builtins")"
echo "ok: built-in rows not duplicated ($(q "$dst" -c "$builtins"))"

segments="SELECT s.name, contact_identity.segment_count(s.name) FROM contact_identity.segments s ORDER BY 1"
[[ "$(q "$dst" -c "$segments")" == "$(q "$src" -c "$segments")" ]] ||
  fail "segment views differ after restore: $(q "$dst" -c "$segments")"
echo "ok: segment views answer after restore ($(q "$dst" -c "$segments" | tr '\n' ' '))"

max=$(q "$dst" -c 'SELECT max(contact_id) FROM contact_identity.contacts')
new=$(q "$dst" -c "SET client_min_messages = warning" \
  -c "SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'after-restore')") ||
  fail "upsert_contact in the restored database failed (contact_id sequence not restored?)"
[[ -n "$new" && "$new" -gt "$max" ]] || fail "new contact_id $new is not above the restored max $max"
echo "ok: new contact_id $new > restored max $max"
echo "dump_restore: PASS"
