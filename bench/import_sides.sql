-- bench/import_sides.sql: W4, a bulk load of new contacts on each side, run
-- by bench/run after bench/setup.sql: import_contacts into an empty account,
-- the PL/pgSQL baseline row by row (committing every 1,000 rows), and one
-- INSERT ... SELECT ... ON CONFLICT DO NOTHING into a raw table.
--   psql -X -v rows=100000 -d DB -f bench/import_sides.sql
-- Results go to bench_results (unit rows/s).
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

CREATE FUNCTION pg_temp.record(side text, rows bigint, t0 timestamptz) RETURNS void LANGUAGE sql AS $$
  INSERT INTO bench_results (workload, side, value, unit)
  VALUES ('W4 import of new contacts', side, round(rows / extract(epoch FROM clock_timestamp() - t0)::numeric), 'rows/s')
$$;

SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FILTER (WHERE error_code IS NOT NULL) AS failed
FROM contact_identity.import_contacts('bench_import', account_id => 1);
SELECT pg_temp.record('ours', :rows, :'t0');

SELECT clock_timestamp() AS t0 \gset
DO $$
BEGIN
  FOR b IN 0..(SELECT max(row_number) / 1000 FROM bench_import) LOOP
    PERFORM bench_plpgsql.upsert_contact(s.external_id, s.email, s.phone, NULL, s.first_name, NULL,
                                         jsonb_build_object('city', s.city))
    FROM bench_import s WHERE s.row_number / 1000 = b;
    COMMIT;
  END LOOP;
END $$;
SELECT pg_temp.record('plpgsql', :rows, :'t0');

SELECT clock_timestamp() AS t0 \gset
INSERT INTO bench_raw_import (external_id, email, phone, first_name, attributes)
SELECT external_id, email, phone, first_name, jsonb_build_object('city', city) FROM bench_import
ON CONFLICT DO NOTHING;
SELECT pg_temp.record('raw', :rows, :'t0');
