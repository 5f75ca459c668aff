-- bench/import_floor.sql: the least an import of new contacts can cost with
-- contact_identity's tables. The rows import_contacts writes for each new
-- contact of bench/import.sql (0.5.0 on: one contacts row, three identifiers
-- rows, one identity_log row) written by plain INSERT ... SELECT statements,
-- with no identity logic at all, next to the raw baseline of
-- bench/import.sql.
-- A figure, never a pass/fail. Run on a scratch database:
--   psql -X -v rows=1000000 -d DB -f bench/import_floor.sql
\set ON_ERROR_STOP 1
\if :{?rows}
\else
\set rows 1000000
\endif
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS contact_identity CASCADE;
CREATE EXTENSION contact_identity;
DROP TABLE IF EXISTS floor_source, floor_raw;
CREATE TABLE floor_source AS
SELECT g, 'u-' || g AS external_id, 'user' || g || '@example.com' AS email,
       '+38050' || lpad(g::text, 7, '0') AS phone, 'name-' || g AS first_name,
       jsonb_build_object('city', (ARRAY['Kyiv', 'Lviv', 'Odesa'])[1 + g % 3], 'score', g % 100) AS attributes
FROM generate_series(1, :rows) AS g;
CREATE TABLE floor_raw (id bigserial PRIMARY KEY, external_id text UNIQUE, email text UNIQUE, phone text UNIQUE,
                        first_name text, attributes jsonb);
CHECKPOINT;
CREATE TEMP TABLE floor_result (step text, seconds numeric);

SELECT clock_timestamp() AS t0 \gset
INSERT INTO floor_raw (external_id, email, phone, first_name, attributes)
SELECT external_id, email, phone, first_name, attributes FROM floor_source ON CONFLICT DO NOTHING;
INSERT INTO floor_result SELECT 'raw INSERT ... ON CONFLICT DO NOTHING', extract(epoch FROM clock_timestamp() - :'t0');

SELECT clock_timestamp() AS t0 \gset
INSERT INTO contact_identity.contacts (account_id, contact_id, external_id, email, phone, first_name, attributes)
SELECT 0, g, external_id, email, phone, first_name, attributes FROM floor_source;
INSERT INTO floor_result SELECT 'contacts: 1 row per contact', extract(epoch FROM clock_timestamp() - :'t0');

SELECT clock_timestamp() AS t0 \gset
INSERT INTO contact_identity.identifiers (account_id, type, value, contact_id, attached_at)
SELECT 0, k.type, k.value, g, now()
FROM floor_source, LATERAL (VALUES ('external_id', external_id), ('email', email), ('phone', phone)) AS k(type, value);
INSERT INTO floor_result SELECT 'identifiers: 3 rows per contact', extract(epoch FROM clock_timestamp() - :'t0');

SELECT clock_timestamp() AS t0 \gset
INSERT INTO contact_identity.identity_log (account_id, contact_id, action, detail)
SELECT 0, g, 'created',
       jsonb_build_object('attached', jsonb_build_array(jsonb_build_object('type', 'email', 'value', email),
                                                        jsonb_build_object('type', 'phone', 'value', phone)),
                          'external_id', external_id)
FROM floor_source;
INSERT INTO floor_result SELECT 'identity_log: 1 row per contact', extract(epoch FROM clock_timestamp() - :'t0');

SELECT step, round(seconds, 1) AS seconds FROM floor_result
UNION ALL
SELECT 'all of contact_identity''s writes', round(sum(seconds), 1) FROM floor_result WHERE step NOT LIKE 'raw%'
UNION ALL
SELECT 'ratio of raw to all writes', round(min(seconds) FILTER (WHERE step LIKE 'raw%')
                                           / sum(seconds) FILTER (WHERE step NOT LIKE 'raw%'), 3)
FROM floor_result;
SELECT :rows AS rows, version();
DROP TABLE floor_source, floor_raw;
DROP EXTENSION contact_identity;
