-- bench/per_call.sql: server-side cost of one call, without client round
-- trips: a loop in one DO block per workload, timed with clock_timestamp().
-- A figure, never a pass/fail. Run on a throwaway database:
--   psql -X -v n=20000 -d DB -f bench/per_call.sql
-- The full side-by-side benchmark against baselines is bench/'s job (see
-- docs/performance.md).
\set ON_ERROR_STOP 1
\if :{?n}
\else
\set n 20000
\endif
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS contact_identity CASCADE;
CREATE EXTENSION contact_identity;
DROP TABLE IF EXISTS bench_raw;
CREATE TABLE bench_raw (id bigserial PRIMARY KEY, external_id text UNIQUE, email text UNIQUE,
                        phone text UNIQUE, token text UNIQUE);
CREATE TEMP TABLE bench_result (workload text, calls int, us_per_call numeric);

CREATE FUNCTION pg_temp.timed(workload text, calls int, body text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
  EXECUTE format('DO %L', body);
  INSERT INTO bench_result VALUES (workload, calls,
      round(extract(epoch FROM clock_timestamp() - t0) * 1e6 / calls, 1));
END $$;

SELECT pg_temp.timed('signup: upsert_contact (new: external ID, email, phone, token)', :n, format($b$
  BEGIN FOR i IN 1..%s LOOP
    PERFORM contact_identity.upsert_contact(external_id => 'u-' || i, email => 'user' || i || '@example.com',
        phone => '+38050' || lpad(i::text, 7, '0'), identifiers => jsonb_build_object('mobile_push', 'tok-' || i));
  END LOOP; END $b$, :n));
ANALYZE contact_identity.contacts;
ANALYZE contact_identity.identifiers;
SELECT pg_temp.timed('login: upsert_contact (external ID, nothing changed)', :n, format($b$
  BEGIN FOR i IN 1..%s LOOP PERFORM contact_identity.upsert_contact(external_id => 'u-' || i); END LOOP; END $b$, :n));
SELECT pg_temp.timed('resolve_contact by email', :n, format($b$
  BEGIN FOR i IN 1..%s LOOP PERFORM * FROM contact_identity.resolve_contact(email => 'user' || i || '@example.com');
  END LOOP; END $b$, :n));
SELECT pg_temp.timed('raw: INSERT ... ON CONFLICT DO NOTHING, 4 unique keys', :n, format($b$
  BEGIN FOR i IN 1..%s LOOP
    INSERT INTO bench_raw (external_id, email, phone, token)
    VALUES ('u-' || i, 'user' || i || '@example.com', '+38050' || lpad(i::text, 7, '0'), 'tok-' || i)
    ON CONFLICT DO NOTHING;
  END LOOP; END $b$, :n));
SELECT pg_temp.timed('raw: SELECT by email', :n, format($b$
  DECLARE r bigint; BEGIN FOR i IN 1..%s LOOP
    SELECT id INTO r FROM bench_raw WHERE email = 'user' || i || '@example.com';
  END LOOP; END $b$, :n));

SELECT workload, calls, us_per_call AS "µs per call" FROM bench_result;
SELECT version();
DROP TABLE bench_raw;
DROP EXTENSION contact_identity;
