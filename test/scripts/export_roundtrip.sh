#!/usr/bin/env bash
# test/scripts/export_roundtrip.sh: the documented export recipes load into an
# empty database and give the same profiles. A source database with every
# kind of profile (external ID, email only, phone only, token only, a merged
# profile holding two emails, names, nested attributes, several tokens) is
# exported to CSV with \copy from contacts_export and loaded with run_import,
# and exported to JSON in the get_contact shape and loaded with
# import_contacts_json. Each target is compared with the source, profile by
# profile.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/cluster.sh"

cluster_start
src=ci_export_src_$$ csv=ci_export_csv_$$ json=ci_export_json_$$
make_tmpdir work
cluster_databases "$src" "$csv" "$json"
for db in "$src" "$csv" "$json"; do
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION contact_identity'
done
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$@"; }
fail() { echo "export_roundtrip: FAIL: $*" >&2; exit 1; }

q "$src" >/dev/null <<'SQL' || fail "filling the source failed"
SET client_min_messages = warning;
SELECT contact_identity.upsert_contact(external_id => 'u-1', email => 'ann@example.com', phone => '+380501234567',
  first_name => 'Ann', last_name => 'Lee', attributes => '{"city": "Kyiv", "address": {"zip": "01001"}, "vip": true}',
  identifiers => '{"mobile_push": ["tok-1", "tok-2"], "cookie": "ck-1"}');
SELECT contact_identity.upsert_contact(external_id => 'u-2', email => 'bob@example.com', first_name => 'Bob');
SELECT contact_identity.upsert_contact(email => 'carl@example.com', attributes => '{"score": 7.5}');
SELECT contact_identity.upsert_contact(phone => '+380671112233', last_name => 'Phone');
SELECT contact_identity.upsert_contact(identifiers => '{"mobile_push": "tok-anon"}');
-- A merged profile: the winner holds both emails.
SELECT contact_identity.upsert_contact(external_id => 'u-3', email => 'dora@example.com');
SELECT contact_identity.upsert_contact(email => 'dora.work@example.com', first_name => 'Dora');
SELECT contact_identity.merge_contacts(
  (SELECT contact_id FROM contact_identity.contacts WHERE external_id = 'u-3'),
  (SELECT contact_id FROM contact_identity.contacts WHERE email = 'dora.work@example.com'));
-- Deleted and merged rows are not exported as live profiles.
SELECT contact_identity.delete_contact((contact_identity.upsert_contact(external_id => 'u-gone')).contact_id);
SQL

# Every live profile, without IDs and times, one JSON line each; each type's
# identifiers sorted (the export lists them in the order they were attached).
profiles="SELECT jsonb_build_object('external_id', external_id, 'email', email, 'phone', phone,
            'first_name', first_name, 'last_name', last_name, 'attributes', attributes, 'identifiers',
            (SELECT jsonb_object_agg(t, (SELECT jsonb_agg(v ORDER BY v) FROM jsonb_array_elements_text(vs) AS v))
             FROM jsonb_each(identifiers) AS e(t, vs)))::text
          FROM contact_identity.contacts_export
          WHERE account_id = 0 AND deleted_at IS NULL AND merged_into IS NULL ORDER BY 1"
q "$src" -c "$profiles" >"$work/source"
[[ $(wc -l <"$work/source") -eq 6 ]] || fail "expected 6 live profiles in the source, got $(wc -l <"$work/source")"

# CSV: the recipe of docs/exports.md, split by what identifies the rows.
columns="external_id, email, phone, first_name, last_name, attributes, identifiers"
live="account_id = 0 AND deleted_at IS NULL AND merged_into IS NULL"
parts=(
  "external_id IS NOT NULL|external_id"
  "external_id IS NULL AND (email IS NOT NULL OR phone IS NOT NULL)|email_or_phone"
  "external_id IS NULL AND email IS NULL AND phone IS NULL|mobile_push"
)
for part in "${parts[@]}"; do
  where=${part%%|*} dedupe=${part##*|}
  q "$src" -c "\\copy (SELECT $columns FROM contact_identity.contacts_export WHERE $live AND $where
                       ORDER BY contact_id) TO '$work/$dedupe.csv' WITH (FORMAT csv, HEADER)"
  q "$csv" >/dev/null <<SQL || fail "loading $dedupe.csv failed"
SET client_min_messages = warning;
CREATE TABLE staging (external_id text, email text, phone text, first_name text, last_name text,
                      attributes jsonb, identifiers jsonb);
\\copy staging FROM '$work/$dedupe.csv' WITH (FORMAT csv, HEADER)
CALL contact_identity.run_import('staging', dedupe_on => '$dedupe');
DROP TABLE staging;
SQL
done
[[ "$(q "$csv" -c 'SELECT count(*) FROM contact_identity.import_errors')" == 0 ]] ||
  fail "rows failed: $(q "$csv" -c 'SELECT message FROM contact_identity.import_errors')"
q "$csv" -c "$profiles" >"$work/csv"
diff -u "$work/source" "$work/csv" || fail "the CSV round trip changed profiles"
echo "ok: CSV export -> run_import gives the same $(wc -l <"$work/csv") profiles"

# JSON: get_contact's shape -> import_contacts_json, by the same split.
for part in "${parts[@]}"; do
  where=${part%%|*} dedupe=${part##*|}
  q "$src" -c "SELECT jsonb_agg(contact_identity.get_contact(contact_id, account_id) ORDER BY contact_id)
               FROM contact_identity.contacts_export WHERE $live AND $where" >"$work/$dedupe.json"
  failed=$(q "$json" -v doc="$(cat "$work/$dedupe.json")" <<SQL
SET client_min_messages = warning;
SELECT count(*) FILTER (WHERE error_code IS NOT NULL)
FROM contact_identity.import_contacts_json(:'doc'::jsonb, dedupe_on => '$dedupe');
SQL
) || fail "import_contacts_json of $dedupe failed"
  [[ "$failed" == 0 ]] || fail "$failed JSON rows failed ($dedupe)"
done
q "$json" -c "$profiles" >"$work/json"
diff -u "$work/source" "$work/json" || fail "the JSON round trip changed profiles"
echo "ok: JSON export -> import_contacts_json gives the same $(wc -l <"$work/json") profiles"
echo "export_roundtrip: PASS"
