#!/usr/bin/env bash
# test/scripts/import_resume.sh: run_import survives losing its backend in the
# middle of a batch. The backend running CALL run_import is killed with
# pg_terminate_backend; the import stays 'running' with only whole batches
# committed (import_progress shows it running in that backend, then
# interrupted); CALL run_import(..., import_id => N) resumes after the last
# committed batch and ends in exactly the state one uninterrupted
# import_contacts of the same source reaches, with every row applied once.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/cluster.sh"

cluster_start
db=ci_resume_$$
cluster_databases "$db"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
fail() { echo "import_resume: FAIL: $*" >&2; exit 1; }
rows=20000 batch=200

q >/dev/null <<SQL
CREATE EXTENSION contact_identity;
-- Later rows update earlier contacts (the same external ID, a new email);
-- every 500th row has an invalid phone.
CREATE TABLE src AS
SELECT g AS row_number, 'u-' || (g % 15000) AS external_id, 'e' || g || '@x.io' AS email,
       CASE WHEN g % 500 = 0 THEN 'bad-phone' END AS phone, 'name-' || g AS first_name, g % 5 AS tier
FROM generate_series(1, $rows) AS g;
CREATE FUNCTION final_state(account bigint) RETURNS TABLE (profile jsonb) LANGUAGE sql AS \$\$
  SELECT jsonb_build_object('external_id', c.external_id, 'email', c.email, 'phone', c.phone,
                            'first_name', c.first_name, 'attributes', c.attributes,
                            'identifiers', (SELECT jsonb_agg(i.type || ':' || i.value ORDER BY i.type, i.value)
                                            FROM contact_identity.identifiers i
                                            WHERE i.account_id = c.account_id AND i.contact_id = c.contact_id))
  FROM contact_identity.contacts c WHERE c.account_id = account
\$\$;
SQL

# The import to interrupt, in account 1.
PGAPPNAME=ci_resume_victim psql -X -q -d "$db" -c \
  "CALL contact_identity.run_import('src', batch_size => $batch, account_id => 1)" >/dev/null 2>&1 &
victim=$!
for _ in $(seq 600); do
  done_rows=$(q -c "SELECT coalesce(max(rows_done), 0) FROM contact_identity.imports WHERE account_id = 1")
  [[ $done_rows -ge 2000 ]] && break
  sleep 0.05
done
[[ $done_rows -lt $rows ]] || fail "the import finished before it could be interrupted"
# While it runs, import_progress names its session.
victim_pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'ci_resume_victim'")
progress=$(q -F ' ' -c "SELECT status, session_pid FROM contact_identity.import_progress WHERE account_id = 1")
[[ $progress == "running $victim_pid" ]] || fail "import_progress says '$progress' while backend $victim_pid runs it"
killed=$(q -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'ci_resume_victim'")
wait "$victim" && fail "the killed CALL reported success"
[[ $killed -eq 1 ]] || fail "expected to kill one backend, killed $killed"
# Once the backend is gone (it releases its locks as it exits), no session
# runs the import: interrupted.
for _ in $(seq 100); do
  progress=$(q -F ' ' -c "SELECT status, coalesce(session_pid, 0) FROM contact_identity.import_progress
                          WHERE account_id = 1")
  [[ $progress == "interrupted 0" ]] && break
  sleep 0.05
done
[[ $progress == "interrupted 0" ]] || fail "import_progress says '$progress' after the kill, not interrupted"

read -r import_id status done_rows < <(q -F ' ' -c \
  "SELECT import_id, status, rows_done FROM contact_identity.imports WHERE account_id = 1")
[[ $status == running ]] || fail "status after the kill is $status, not running"
(( done_rows % batch == 0 && done_rows < rows )) || fail "rows_done $done_rows is not a whole number of batches"
echo "ok: killed import $import_id at $done_rows of $rows rows (whole batches only), status running, shown interrupted"

q -c "CALL contact_identity.run_import('src', account_id => 1, import_id => $import_id)" >/dev/null \
  || fail "resuming failed"
read -r status done_rows applied failed < <(q -F ' ' -c \
  "SELECT status, rows_done, created + updated + restored + merged + skipped, failed
   FROM contact_identity.imports WHERE account_id = 1")
[[ $status == done && $done_rows -eq $rows ]] || fail "after resuming: status $status, rows_done $done_rows"
(( applied + failed == rows )) || fail "rows counted $((applied + failed)) times, not $rows: a row applied twice or lost"
echo "ok: resumed to done, $applied applied + $failed failed = $rows rows"

# The same source in one uninterrupted transaction, in account 2.
q -c "SELECT count(*) FROM contact_identity.import_contacts('src', account_id => 2)" >/dev/null
differences=$(q -c "SELECT count(*) FROM ((SELECT * FROM final_state(1) EXCEPT ALL SELECT * FROM final_state(2))
                                        UNION ALL (SELECT * FROM final_state(2) EXCEPT ALL SELECT * FROM final_state(1))) d")
[[ $differences -eq 0 ]] || fail "$differences profiles differ from an uninterrupted import"
errors=$(q -c "SELECT count(*) FROM contact_identity.import_errors WHERE import_id = $import_id")
[[ $errors -eq $failed && $errors -eq $((rows / 500)) ]] || fail "import_errors has $errors rows, failed says $failed"
contacts=$(q -c "SELECT count(*) FROM contact_identity.contacts WHERE account_id = 1")
echo "ok: $contacts contacts identical to an uninterrupted import_contacts; $errors failed rows kept"
echo "import_resume: PASS"
