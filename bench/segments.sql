-- bench/segments.sql: the segment and export reads on a million contacts.
-- A figure, never a pass/fail. Run on a scratch database as a superuser:
--   psql -X -v rows=1000000 -d DB -f bench/segments.sql
-- The contacts are loaded with import_contacts (so each has its identifiers
-- rows); one in ten has no external ID. Then 1% of them change (a new
-- cookie each: an identifier-only change) and the reads are timed: the
-- count of contacts_without_external_id, a custom segment's count, and
-- export_changes for that last 1%, each with its plan.
\set ON_ERROR_STOP 1
\if :{?rows}
\else
\set rows 1000000
\endif
SET client_min_messages = warning;
SET contact_identity.import_progress_rows = 0;
DROP EXTENSION IF EXISTS contact_identity CASCADE;
CREATE EXTENSION contact_identity;
DROP TABLE IF EXISTS bench_source, bench_changes;
CREATE TABLE bench_source AS
SELECT 'user' || g || '@example.com' AS email, CASE WHEN g % 10 <> 0 THEN 'u-' || g END AS external_id,
       (ARRAY['Kyiv', 'Lviv', 'Odesa'])[1 + g % 3] AS city, g % 100 AS score
FROM generate_series(1, :rows) AS g;
SELECT count(*) FILTER (WHERE error_code IS NOT NULL) AS failed
FROM contact_identity.import_contacts('bench_source', dedupe_on => 'email');
VACUUM ANALYZE contact_identity.contacts;
VACUUM ANALYZE contact_identity.identifiers;

-- 1% of the contacts change after the mark.
SELECT clock_timestamp() AS mark \gset
CREATE TABLE bench_changes AS
SELECT email, 'ck-' || row_number() OVER () AS cookie FROM bench_source TABLESAMPLE SYSTEM (1) LIMIT :rows / 100;
SELECT count(*) AS changed FROM contact_identity.import_contacts('bench_changes', dedupe_on => 'email');
VACUUM ANALYZE contact_identity.contacts;

SELECT contact_identity.create_segment('bench kyiv', '{"field": "attributes.city", "op": "eq", "value": "Kyiv"}');

\timing on
-- contacts_without_external_id: an index-only scan of its partial index.
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM contact_identity.contacts_without_external_id;
SELECT count(*) FROM contact_identity.contacts_without_external_id;
SELECT count(*) FROM contact_identity.contacts_without_external_id;
SELECT count(*) FROM contact_identity.contacts_without_external_id WHERE account_id = 0;
-- A custom segment on an attribute has no index of its own: a scan.
SELECT contact_identity.segment_count('bench kyiv');
-- export_changes for the last 1%: the plan of its query, then the call.
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM contact_identity.contacts_export
WHERE account_id = 0 AND updated_at > :'mark';
SELECT count(*) AS exported FROM contact_identity.export_changes(:'mark');
SELECT count(*) AS exported FROM contact_identity.export_changes(:'mark');
\timing off
SELECT pg_size_pretty(pg_relation_size('contact_identity.contacts_without_external_id_idx')) AS partial_index,
       pg_size_pretty(pg_relation_size('contact_identity.contacts_updated_idx')) AS updated_index;
