-- bench/import.sql: the bulk import against what a DBA would write instead.
-- A figure, never a pass/fail. Run on a scratch database as a superuser
-- (it reads the backend's peak memory from /proc):
--   psql -X -v rows=1000000 -d DB -f bench/import.sql
-- Source: external ID, email, phone, first name and two attributes per row.
\set ON_ERROR_STOP 1
\if :{?rows}
\else
\set rows 1000000
\endif
SET client_min_messages = warning;
SET contact_identity.import_progress_rows = 0;
DROP EXTENSION IF EXISTS contact_identity CASCADE;
CREATE EXTENSION contact_identity;
DROP TABLE IF EXISTS bench_source, bench_raw;
CREATE TABLE bench_source AS
SELECT 'u-' || g AS external_id, 'user' || g || '@example.com' AS email,
       '+38050' || lpad(g::text, 7, '0') AS phone, 'name-' || g AS first_name,
       (ARRAY['Kyiv', 'Lviv', 'Odesa'])[1 + g % 3] AS city, g % 100 AS score
FROM generate_series(1, :rows) AS g;
CREATE TABLE bench_raw (id bigserial PRIMARY KEY, external_id text UNIQUE, email text UNIQUE, phone text UNIQUE,
                        first_name text, attributes jsonb);
CHECKPOINT;
CREATE TEMP TABLE bench_result (workload text, seconds numeric, rows_per_second numeric);

\timing on
-- Baseline: one INSERT ... ON CONFLICT DO NOTHING into a plain table with the same unique keys.
SELECT clock_timestamp() AS t0 \gset
INSERT INTO bench_raw (external_id, email, phone, first_name, attributes)
SELECT external_id, email, phone, first_name, jsonb_build_object('city', city, 'score', score) FROM bench_source
ON CONFLICT DO NOTHING;
INSERT INTO bench_result SELECT 'raw INSERT ... ON CONFLICT DO NOTHING',
    round(extract(epoch FROM clock_timestamp() - :'t0')::numeric, 1),
    round(:rows / extract(epoch FROM clock_timestamp() - :'t0')::numeric);

-- import_contacts into an empty account, then the same rows again (all updates).
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FILTER (WHERE error_code IS NOT NULL) AS failed FROM contact_identity.import_contacts('bench_source');
INSERT INTO bench_result SELECT 'import_contacts, empty account (all created)',
    round(extract(epoch FROM clock_timestamp() - :'t0')::numeric, 1),
    round(:rows / extract(epoch FROM clock_timestamp() - :'t0')::numeric);
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FILTER (WHERE action <> 'updated' OR action IS NULL) AS not_updated
FROM contact_identity.import_contacts('bench_source');
INSERT INTO bench_result SELECT 'import_contacts, same rows again (all updated)',
    round(extract(epoch FROM clock_timestamp() - :'t0')::numeric, 1),
    round(:rows / extract(epoch FROM clock_timestamp() - :'t0')::numeric);
\timing off

SELECT r.workload, r.seconds, r.rows_per_second,
       round(r.rows_per_second / b.rows_per_second, 3) AS ratio_to_raw
FROM bench_result r, bench_result b WHERE b.workload LIKE 'raw%' ORDER BY r.workload;
-- The backend's peak memory over the whole run (VmHWM).
SELECT line AS backend_peak_memory FROM regexp_split_to_table(pg_read_file('/proc/' || pg_backend_pid() || '/status'), E'\n') AS line
WHERE line LIKE 'VmHWM%';
SELECT count(*) AS contacts FROM contact_identity.contacts;
SELECT :rows AS rows, version();
DROP TABLE bench_source, bench_raw;
DROP EXTENSION contact_identity;
