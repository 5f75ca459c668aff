-- bench/setup.sql: the data every workload of bench/run starts from, on the
-- three sides: contact_identity, the PL/pgSQL baseline (bench_plpgsql, from
-- bench/baseline_plpgsql.sql, loaded before this file) and the raw table.
--   psql -X -v rows=100000 -d DB -f bench/setup.sql
-- Contact i has external ID u-i, email user-i@example.com, phone
-- +38050<i, 7 digits> and push token tok-i.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET contact_identity.import_progress_rows = 0;

-- The raw floor: one table with the same unique keys, no rules.
DROP TABLE IF EXISTS bench_raw, bench_source, bench_results;
CREATE TABLE bench_raw (
    id          bigserial PRIMARY KEY,
    external_id text UNIQUE,
    email       text UNIQUE,
    phone       text UNIQUE,
    token       text UNIQUE,
    first_name  text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bench_source AS
SELECT g AS row_number, 'u-' || g AS external_id, 'user-' || g || '@example.com' AS email,
       '+38050' || lpad(g::text, 7, '0') AS phone, 'tok-' || g AS mobile_push
FROM generate_series(1, :rows) AS g;

INSERT INTO bench_raw (external_id, email, phone, token)
SELECT external_id, email, phone, mobile_push FROM bench_source;
SELECT count(*) FILTER (WHERE error_code IS NOT NULL) AS failed
FROM contact_identity.import_contacts('bench_source');
-- The baseline takes an advisory lock per key until commit: a thousand rows
-- per transaction keep the lock table small.
DO $$
BEGIN
  FOR b IN 0..(SELECT max(row_number) / 1000 FROM bench_source) LOOP
    PERFORM bench_plpgsql.upsert_contact(s.external_id, s.email, s.phone,
                                         jsonb_build_object('mobile_push', s.mobile_push), NULL, NULL, NULL)
    FROM bench_source s WHERE s.row_number / 1000 = b;
    COMMIT;
  END LOOP;
END $$;
SELECT (SELECT count(*) FROM bench_raw) AS raw, (SELECT count(*) FROM contact_identity.contacts) AS ours,
       (SELECT count(*) FROM bench_plpgsql.contacts) AS plpgsql;

VACUUM ANALYZE;

-- What bench/run measures: one row per workload and side.
CREATE TABLE bench_results (
    workload text NOT NULL,
    side     text NOT NULL CHECK (side IN ('ours', 'raw', 'plpgsql')),
    value    numeric NOT NULL,
    unit     text NOT NULL,  -- 'tps' (more is better) or 'us' (less is better)
    ord      serial
);
