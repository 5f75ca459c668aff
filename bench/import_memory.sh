#!/usr/bin/env bash
# bench/import_memory.sh: the backend's peak private memory (RssAnon, sampled
# every 0.2 s from /proc) while one import runs, to compare source sizes.
# A figure, never a pass/fail. Needs a server on this machine (PGHOST etc.)
# and a scratch database:
#   bash bench/import_memory.sh DB import_contacts 50000
#   bash bench/import_memory.sh DB run_import 200000
set -euo pipefail
db=$1 how=$2 rows=$3
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
q -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS contact_identity CASCADE" \
  -c "CREATE EXTENSION contact_identity" -c "DROP TABLE IF EXISTS bench_memory_source" \
  -c "CREATE TABLE bench_memory_source AS SELECT 'u-' || g AS external_id, 'user' || g || '@example.com' AS email,
        '+38050' || lpad(g::text, 7, '0') AS phone, 'name-' || g AS first_name, g % 100 AS score
      FROM generate_series(1, $rows) AS g"
case $how in
  import_contacts) call="SELECT count(*) FROM contact_identity.import_contacts('bench_memory_source')" ;;
  run_import) call="CALL contact_identity.run_import('bench_memory_source')" ;;
  *) echo "usage: $0 DB import_contacts|run_import ROWS" >&2; exit 2 ;;
esac
PGAPPNAME=bench_import_memory q -c "SET contact_identity.import_progress_rows = 0" -c "$call" >/dev/null &
importer=$!
pid=
for _ in $(seq 100); do
  pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench_import_memory'")
  [[ -n $pid ]] && break
  sleep 0.05
done
peak=0
while kill -0 "$importer" 2>/dev/null; do
  kb=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  [[ -n $kb && $kb -gt $peak ]] && peak=$kb
  sleep 0.2
done
wait "$importer"
echo "$how rows=$rows peak_RssAnon=$((peak / 1024)) MB"
q -c "DROP TABLE bench_memory_source" -c "DROP EXTENSION contact_identity"
