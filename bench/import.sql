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
CREATE TEMP TABLE bench_result (workload text, seconds numeric, rows_per_second numeric, ord serial);

\timing on
-- Baseline: one INSERT ... ON CONFLICT DO NOTHING into a plain table with the same unique keys.
SELECT clock_timestamp() AS t0 \gset
INSERT INTO bench_raw (external_id, email, phone, first_name, attributes)
SELECT external_id, email, phone, first_name, jsonb_build_object('city', city, 'score', score) FROM bench_source
ON CONFLICT DO NOTHING;
INSERT INTO bench_result SELECT 'raw INSERT ... ON CONFLICT DO NOTHING',
    round(extract(epoch FROM clock_timestamp() - :'t0')::numeric, 1),
    round(:rows / extract(epoch FROM clock_timestamp() - :'t0')::numeric);

-- import_contacts into an empty account, then the same rows again (all
-- updates that change nothing), then with every first name changed (below).
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

-- Every row changes its first name: the import that writes. Its floor is
-- the UPDATE ... FROM a DBA would run on the raw table. The source is
-- vacuumed and the dirty pages written out first, so that neither timed
-- step pays for the other's leftovers.
UPDATE bench_source SET first_name = first_name || ' Jr';
VACUUM ANALYZE bench_source;
CHECKPOINT;
\timing on
SELECT clock_timestamp() AS t0 \gset
UPDATE bench_raw r SET first_name = s.first_name FROM bench_source s WHERE r.external_id = s.external_id;
INSERT INTO bench_result SELECT 'raw UPDATE ... FROM, every first_name changed',
    round(extract(epoch FROM clock_timestamp() - :'t0')::numeric, 1),
    round(:rows / extract(epoch FROM clock_timestamp() - :'t0')::numeric);
\timing off
CHECKPOINT;
\timing on
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FILTER (WHERE action <> 'updated' OR action IS NULL) AS not_updated
FROM contact_identity.import_contacts('bench_source');
INSERT INTO bench_result SELECT 'import_contacts, every first_name changed',
    round(extract(epoch FROM clock_timestamp() - :'t0')::numeric, 1),
    round(:rows / extract(epoch FROM clock_timestamp() - :'t0')::numeric);
\timing off
-- An 'updated' that did not write the name would be a fast wrong answer:
-- both sides must now hold the new names (0 and 0).
SELECT (SELECT count(*) FROM contact_identity.contacts WHERE first_name NOT LIKE '% Jr') AS ours_old_names,
       (SELECT count(*) FROM bench_raw WHERE first_name NOT LIKE '% Jr') AS raw_old_names;

-- Each workload against the raw INSERT; the first-name pass also against
-- the raw UPDATE ... FROM, the same work on a plain table.
SELECT r.workload, r.seconds, r.rows_per_second,
       round(r.rows_per_second / i.rows_per_second, 3) AS ratio_to_raw,
       round(r.rows_per_second / u.rows_per_second, 3) AS ratio_to_raw_update
FROM bench_result r
JOIN bench_result i ON i.workload = 'raw INSERT ... ON CONFLICT DO NOTHING'
LEFT JOIN bench_result u ON u.workload = 'raw UPDATE ... FROM, every first_name changed'
                        AND r.workload LIKE '%every first_name changed'
ORDER BY r.ord;
-- The backend's peak memory over the whole run (VmHWM).
SELECT line AS backend_peak_memory FROM regexp_split_to_table(pg_read_file('/proc/' || pg_backend_pid() || '/status'), E'\n') AS line
WHERE line LIKE 'VmHWM%';
SELECT count(*) AS contacts FROM contact_identity.contacts;
SELECT :rows AS rows, version();
DROP TABLE bench_source, bench_raw;
DROP EXTENSION contact_identity;
