#!/usr/bin/env bash
# bench/import_ab.sh: two builds of the library, A and B, taking turns on the
# same import: the seconds of import_contacts into an empty account, of
# the same rows again, and of the rows with every first name changed,
# ROUNDS times each. For a change's before/after on a
# noisy machine. A figure, never a pass/fail. Installs each library in turn
# over the installed one (copy, then rename: a running backend keeps the
# file it mapped), so it needs write access to pg_config --pkglibdir, a
# server on this machine (PGHOST etc.) and a scratch database:
#   cp contact_identity.so /tmp/before.so   # built before the change
#   make && cp contact_identity.so /tmp/after.so
#   bash bench/import_ab.sh DB 3 200000 /tmp/before.so /tmp/after.so
# A side given as version=X keeps the installed library and creates the
# extension at that version instead (a change of the SQL scripts only):
#   bash bench/import_ab.sh DB 3 200000 version=0.5.0 version=0.5.1
set -euo pipefail
[[ $# -eq 5 ]] || { echo "usage: $0 DB ROUNDS ROWS A.so|version=X B.so|version=X" >&2; exit 2; }
db=$1 rounds=$2 rows=$3
declare -A side_of=([A]=$4 [B]=$5)
installed=$(pg_config --pkglibdir)/contact_identity.so
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }

# Wall-clock seconds of one statement, on a connection of its own.
seconds() {
  q <<SQL | tail -n 1
SET client_min_messages = warning;
SET contact_identity.import_progress_rows = 0;
SELECT clock_timestamp() AS t0 \gset
$1;
SELECT round(extract(epoch FROM clock_timestamp() - :'t0')::numeric, 2);
SQL
}

echo "round side created_s unchanged_s first_names_s"
for round in $(seq "$rounds"); do
  for side in A B; do
    version=
    case ${side_of[$side]} in
      version=*) version=" VERSION '${side_of[$side]#version=}'" ;;
      *) cp "${side_of[$side]}" "$installed.ab" && mv "$installed.ab" "$installed" ;;
    esac
    q -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS contact_identity CASCADE" \
      -c "CREATE EXTENSION contact_identity$version" -c "DROP TABLE IF EXISTS bench_ab_source" \
      -c "CREATE TABLE bench_ab_source AS
            SELECT 'u-' || g AS external_id, 'user' || g || '@example.com' AS email,
                   '+38050' || lpad(g::text, 7, '0') AS phone, 'name-' || g AS first_name,
                   (ARRAY['Kyiv', 'Lviv', 'Odesa'])[1 + g % 3] AS city, g % 100 AS score
            FROM generate_series(1, $rows) AS g" -c "CHECKPOINT"
    import="SELECT count(*) FROM contact_identity.import_contacts('bench_ab_source')"
    created=$(seconds "$import")
    unchanged=$(seconds "$import")
    # Every first name changed: the pass that locks and updates.
    q -c "UPDATE bench_ab_source SET first_name = first_name || ' Jr'" -c "VACUUM ANALYZE bench_ab_source" \
      -c "CHECKPOINT"
    first_names=$(seconds "$import")
    echo "$round $side $created $unchanged $first_names"
  done
done
