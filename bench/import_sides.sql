-- bench/import_sides.sql: W4, a bulk load on each side, run by bench/run
-- after bench/setup.sql: import_contacts into an empty account, the
-- PL/pgSQL baseline row by row (committing every 1,000 rows), and one
-- INSERT ... SELECT ... ON CONFLICT DO NOTHING into a raw table. Then the
-- same rows again (nothing changes; raw: the ON CONFLICT DO UPDATE that
-- writes nothing) and with every first name changed (raw: UPDATE ... FROM).
--   psql -X -v rows=100000 -d DB -f bench/import_sides.sql
-- Results go to bench_results (unit rows/s; a count row for rows that did
-- not do what the pass expects, only when there are any).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET contact_identity.import_progress_rows = 0;
DROP TABLE IF EXISTS bench_import, bench_raw_import;
CREATE TABLE bench_import AS
SELECT g AS row_number, 'imp-' || g AS external_id, 'imp-' || g || '@example.com' AS email,
       '+380' || (670000000 + g) AS phone, 'name-' || g AS first_name, (ARRAY['Kyiv', 'Lviv'])[1 + g % 2] AS city
FROM generate_series(1, :rows) AS g;
CREATE TABLE bench_raw_import (LIKE bench_raw INCLUDING ALL);
ALTER TABLE bench_raw_import ADD COLUMN attributes jsonb;
VACUUM ANALYZE bench_import;
CHECKPOINT;

CREATE FUNCTION pg_temp.record(workload text, side text, rows bigint, t0 timestamptz) RETURNS void LANGUAGE sql AS $$
  INSERT INTO bench_results (workload, side, value, unit)
  VALUES (workload, side, round(rows / extract(epoch FROM clock_timestamp() - t0)::numeric), 'rows/s')
$$;
-- Rows of ours that did not do what the pass expects: a row of their own
-- in the results, so that a fast wrong answer shows.
CREATE FUNCTION pg_temp.record_wrong(workload text, what text, n bigint) RETURNS void LANGUAGE sql AS $$
  INSERT INTO bench_results (workload, side, value, unit)
  SELECT workload || ': ' || what, 'ours', n, 'count' WHERE n > 0
$$;
-- The baseline row by row: a thousand rows per transaction keep its
-- advisory locks few.
CREATE PROCEDURE pg_temp.plpgsql_import() LANGUAGE plpgsql AS $$
BEGIN
  FOR b IN 0..(SELECT max(row_number) / 1000 FROM bench_import) LOOP
    PERFORM bench_plpgsql.upsert_contact(s.external_id, s.email, s.phone, NULL, s.first_name, NULL,
                                         jsonb_build_object('city', s.city))
    FROM bench_import s WHERE s.row_number / 1000 = b;
    COMMIT;
  END LOOP;
END $$;

-- 1. New contacts.
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FILTER (WHERE error_code IS NOT NULL) AS wrong
FROM contact_identity.import_contacts('bench_import', account_id => 1) \gset
SELECT pg_temp.record('W4 import of new contacts', 'ours', :rows, :'t0');
SELECT pg_temp.record_wrong('W4 import of new contacts', 'failed rows', :wrong);

SELECT clock_timestamp() AS t0 \gset
CALL pg_temp.plpgsql_import();
SELECT pg_temp.record('W4 import of new contacts', 'plpgsql', :rows, :'t0');

SELECT clock_timestamp() AS t0 \gset
INSERT INTO bench_raw_import (external_id, email, phone, first_name, attributes)
SELECT external_id, email, phone, first_name, jsonb_build_object('city', city) FROM bench_import
ON CONFLICT DO NOTHING;
SELECT pg_temp.record('W4 import of new contacts', 'raw', :rows, :'t0');

-- 2. The same rows again: every row finds its contact and changes nothing.
-- The new contacts are shown to the planner first, as autoanalyze would
-- after a while. Without it, import_contacts' lock statement is planned as
-- for an empty account 1 and scans the whole account once per row
-- (quadratic: 20,000 rows took 44 s instead of 0.7 s). That is a bug of its
-- own, not what W4 measures; every side gets the same ANALYZE.
ANALYZE;
CHECKPOINT;
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FILTER (WHERE action <> 'updated' OR action IS NULL) AS wrong
FROM contact_identity.import_contacts('bench_import', account_id => 1) \gset
SELECT pg_temp.record('W4 import, same rows again', 'ours', :rows, :'t0');
SELECT pg_temp.record_wrong('W4 import, same rows again', 'rows not updated', :wrong);

SELECT clock_timestamp() AS t0 \gset
CALL pg_temp.plpgsql_import();
SELECT pg_temp.record('W4 import, same rows again', 'plpgsql', :rows, :'t0');

-- Raw: what a re-import is on a plain table, an upsert that writes only a
-- row that differs (here none).
SELECT clock_timestamp() AS t0 \gset
INSERT INTO bench_raw_import AS r (external_id, email, phone, first_name, attributes)
SELECT external_id, email, phone, first_name, jsonb_build_object('city', city) FROM bench_import
ON CONFLICT (external_id) DO UPDATE
  SET email = EXCLUDED.email, phone = EXCLUDED.phone, first_name = EXCLUDED.first_name, attributes = EXCLUDED.attributes
  WHERE (r.email, r.phone, r.first_name, r.attributes)
        IS DISTINCT FROM (EXCLUDED.email, EXCLUDED.phone, EXCLUDED.first_name, EXCLUDED.attributes);
SELECT pg_temp.record('W4 import, same rows again', 'raw', :rows, :'t0');

-- 3. Every first name changed: the import that writes. Raw: the UPDATE ...
-- FROM a DBA would run. The source is changed and vacuumed outside the
-- timing.
UPDATE bench_import SET first_name = first_name || ' Jr';
VACUUM ANALYZE bench_import;
CHECKPOINT;
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FILTER (WHERE action <> 'updated' OR action IS NULL) AS wrong
FROM contact_identity.import_contacts('bench_import', account_id => 1) \gset
SELECT pg_temp.record('W4 import, every first_name changed', 'ours', :rows, :'t0');
SELECT pg_temp.record_wrong('W4 import, every first_name changed', 'rows not updated', :wrong);

SELECT clock_timestamp() AS t0 \gset
CALL pg_temp.plpgsql_import();
SELECT pg_temp.record('W4 import, every first_name changed', 'plpgsql', :rows, :'t0');

SELECT clock_timestamp() AS t0 \gset
UPDATE bench_raw_import r SET first_name = s.first_name FROM bench_import s WHERE r.external_id = s.external_id;
SELECT pg_temp.record('W4 import, every first_name changed', 'raw', :rows, :'t0');

-- An 'updated' that did not write the name would be a fast wrong answer.
SELECT pg_temp.record_wrong('W4 import, every first_name changed', 'old first names left',
                            count(*) FILTER (WHERE first_name NOT LIKE '% Jr'))
FROM contact_identity.contacts WHERE account_id = 1;
