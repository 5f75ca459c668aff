#!/usr/bin/env bash
# test/scripts/restore_duplicates.sh: possible_duplicates answers within
# seconds on a freshly restored database before ANALYZE. 100,000 contacts
# (every 50th sharing a mailbox with another, every 40th a name and birth
# date, 500 phones given up and taken by another contact) are dumped and
# restored with autovacuum off on the restored tables, so the planner has no
# statistics; count(*) of the view must finish under a statement_timeout
# (15 s; it took 2 s here, the 0.5.1 view over 60 s) and give the same
# pairs as after ANALYZE. RESTORE_DUPLICATES_VERSION=0.5.1 runs it against
# that version, to see it fail.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/cluster.sh"

version=${RESTORE_DUPLICATES_VERSION:-}
rows=100000 limit_s=15
cluster_start
src=ci_dups_src_$$ dst=ci_dups_dst_$$
make_tmpdir work
cluster_databases "$src" "$dst"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$@"; }
fail() { echo "restore_duplicates: FAIL: $*" >&2; exit 1; }

started=$SECONDS
q "$src" >/dev/null <<SQL || fail "populating the source database failed"
SET client_min_messages = warning;
CREATE EXTENSION contact_identity ${version:+VERSION '$version'};
CREATE TABLE people AS
SELECT g AS row_number, 'u-' || g AS external_id,
       CASE WHEN g % 50 = 0 THEN 'person.' || (g - 1) || '+promo@gmail.com' ELSE 'person' || g || '@gmail.com' END AS email,
       'First' || CASE WHEN g % 40 = 0 THEN g - 1 ELSE g END AS first_name,
       'Last' || CASE WHEN g % 40 = 0 THEN g - 1 ELSE g END AS last_name,
       jsonb_build_object('birth_date', '1980-01-' || lpad((1 + (CASE WHEN g % 40 = 0 THEN g - 1 ELSE g END) % 28)::text, 2, '0')) AS attributes
FROM generate_series(1, $rows) AS g;
SELECT count(*) FROM contact_identity.import_contacts('people');
-- 500 contacts get a phone, replace it, and another contact takes the first one.
SELECT count(*) FROM (SELECT contact_identity.upsert_contact(external_id => 'u-' || g, phone => '+38050' || lpad(g::text, 7, '0'))
                      FROM generate_series(1, 500) AS g) s;
SELECT count(*) FROM (SELECT contact_identity.upsert_contact(external_id => 'u-' || g, phone => '+38067' || lpad(g::text, 7, '0'))
                      FROM generate_series(1, 500) AS g) s;
SELECT count(*) FROM (SELECT contact_identity.upsert_contact(external_id => 'u-' || (g + 1000), phone => '+38050' || lpad(g::text, 7, '0'))
                      FROM generate_series(1, 500) AS g) s;
SQL
pg_dump -Fc -d "$src" -f "$work/dump" || fail "pg_dump failed"
echo "ok: $rows contacts made and dumped in $((SECONDS - started)) s"

# The version under test first (pg_dump writes CREATE EXTENSION IF NOT
# EXISTS without one; the dump's list then skips the schema it made), then
# the rest of the schema, then autovacuum off on every table before the
# data arrives: no ANALYZE can run behind the test's back.
q "$dst" -c "SET client_min_messages = warning" -c "CREATE EXTENSION contact_identity ${version:+VERSION '$version'}" \
  >/dev/null || fail "CREATE EXTENSION failed"
pg_restore -l "$work/dump" | grep -v ' SCHEMA - contact_identity ' >"$work/list"
pg_restore -L "$work/list" --section=pre-data -d "$dst" "$work/dump" || fail "pg_restore (pre-data) failed"
q "$dst" -c "SELECT format('ALTER TABLE %s SET (autovacuum_enabled = false);', c.oid::regclass)
             FROM pg_class c WHERE c.relnamespace = 'contact_identity'::regnamespace AND c.relkind = 'r'" \
  | q "$dst" >/dev/null || fail "turning autovacuum off failed"
pg_restore -L "$work/list" --section=data --section=post-data -d "$dst" "$work/dump" || fail "pg_restore (data) failed"
[[ $(q "$dst" -c "SELECT extversion FROM pg_extension WHERE extname = 'contact_identity'") == "${version:-$(
  sed -n "s/^default_version = '\(.*\)'$/\1/p" "$root/contact_identity.control")}" ]] || fail "the restored database has another version"
stats=$(q "$dst" -c "SELECT count(*) FROM pg_stats WHERE schemaname = 'contact_identity'")
[[ $stats -eq 0 ]] || fail "the restored tables have statistics ($stats columns): the test would prove nothing"

before=$(date +%s%N)
pairs=$(q "$dst" -c "SET statement_timeout = '${limit_s}s'" -c "SELECT count(*) FROM contact_identity.possible_duplicates") \
  || fail "count(*) of possible_duplicates without statistics did not finish within $limit_s s"
ms=$((($(date +%s%N) - before) / 1000000))
stats=$(q "$dst" -c "SELECT count(*) FROM pg_stats WHERE schemaname = 'contact_identity'")
[[ $stats -eq 0 ]] || fail "statistics appeared during the test"
echo "ok: without statistics, count(*) of possible_duplicates = $pairs in $ms ms (limit $limit_s s)"

q "$dst" -c "ANALYZE" >/dev/null
before=$(date +%s%N)
analyzed=$(q "$dst" -c "SELECT count(*) FROM contact_identity.possible_duplicates")
ms=$((($(date +%s%N) - before) / 1000000))
[[ $pairs -eq $analyzed ]] || fail "$pairs pairs without statistics, $analyzed after ANALYZE"
expected=$((rows / 50 + rows / 40 + 500))
[[ $pairs -eq $expected ]] || fail "$pairs pairs, expected $expected (mailboxes, names, phones)"
echo "ok: after ANALYZE the same $analyzed pairs in $ms ms"
echo "restore_duplicates: PASS"
