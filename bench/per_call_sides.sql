-- bench/per_call_sides.sql: the server-side cost of one call, ours against
-- the PL/pgSQL baseline and the raw table, without client round trips: each
-- workload is a loop in one DO block that commits every 1,000 calls (the
-- baseline holds an advisory lock per key until commit). Run by bench/run
-- after bench/setup.sql:
--   psql -X -v n=20000 -d DB -f bench/per_call_sides.sql
-- Results go to bench_results (unit us: microseconds per call).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

-- The DO block that runs stmt n times (i is the call number).
CREATE FUNCTION pg_temp.loop_sql(n int, decl text, stmt text) RETURNS text LANGUAGE sql AS $$
  SELECT format('DO $d$ DECLARE %s; BEGIN FOR i IN 1..%s LOOP %s; IF i %% 1000 = 0 THEN COMMIT; END IF; END LOOP; END $d$',
                decl, n, stmt)
$$;
CREATE FUNCTION pg_temp.record(workload text, side text, calls int, t0 timestamptz) RETURNS void LANGUAGE sql AS $$
  INSERT INTO bench_results (workload, side, value, unit)
  VALUES (workload, side, round(extract(epoch FROM clock_timestamp() - t0)::numeric * 1e6 / calls, 1), 'us')
$$;

-- login
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.loop_sql(:n, $s$r bigint$s$, $s$PERFORM contact_identity.upsert_contact(external_id => 'u-' || i)$s$) \gexec
SELECT pg_temp.record('per call: login', 'ours', :n, :'t0');
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.loop_sql(:n, $s$r bigint$s$, $s$PERFORM bench_plpgsql.upsert_contact('u-' || i, NULL, NULL, NULL, NULL, NULL, NULL)$s$) \gexec
SELECT pg_temp.record('per call: login', 'plpgsql', :n, :'t0');
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.loop_sql(:n, $s$r bigint$s$, $s$INSERT INTO bench_raw (external_id) VALUES ('u-' || i) ON CONFLICT (external_id) DO UPDATE SET first_name = COALESCE(EXCLUDED.first_name, bench_raw.first_name) WHERE EXCLUDED.first_name IS NOT NULL AND bench_raw.first_name IS DISTINCT FROM EXCLUDED.first_name$s$) \gexec
SELECT pg_temp.record('per call: login', 'raw', :n, :'t0');

-- login, external ID + email: what apps send at login, both keys already
-- on contact i. Raw: the ON CONFLICT DO UPDATE that changes nothing.
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.loop_sql(:n, $s$r bigint$s$, $s$PERFORM contact_identity.upsert_contact(external_id => 'u-' || i, email => 'user-' || i || '@example.com')$s$) \gexec
SELECT pg_temp.record('per call: login, external ID + email', 'ours', :n, :'t0');
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.loop_sql(:n, $s$r bigint$s$, $s$PERFORM bench_plpgsql.upsert_contact('u-' || i, 'user-' || i || '@example.com', NULL, NULL, NULL, NULL, NULL)$s$) \gexec
SELECT pg_temp.record('per call: login, external ID + email', 'plpgsql', :n, :'t0');
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.loop_sql(:n, $s$r bigint$s$, $s$INSERT INTO bench_raw (external_id, email) VALUES ('u-' || i, 'user-' || i || '@example.com') ON CONFLICT (external_id) DO UPDATE SET email = EXCLUDED.email WHERE bench_raw.email IS DISTINCT FROM EXCLUDED.email$s$) \gexec
SELECT pg_temp.record('per call: login, external ID + email', 'raw', :n, :'t0');

-- signup
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.loop_sql(:n, $s$r bigint$s$, $s$PERFORM contact_identity.upsert_contact(external_id => 's-' || i, email => 'signup-' || i || '@example.com', phone => '+380' || (630000000 + i), identifiers => jsonb_build_object('mobile_push', 'stok-' || i))$s$) \gexec
SELECT pg_temp.record('per call: signup', 'ours', :n, :'t0');
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.loop_sql(:n, $s$r bigint$s$, $s$PERFORM bench_plpgsql.upsert_contact('s-' || i, 'signup-' || i || '@example.com', '+380' || (630000000 + i), jsonb_build_object('mobile_push', 'stok-' || i), NULL, NULL, NULL)$s$) \gexec
SELECT pg_temp.record('per call: signup', 'plpgsql', :n, :'t0');
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.loop_sql(:n, $s$r bigint$s$, $s$INSERT INTO bench_raw (external_id, email, phone, token) VALUES ('s-' || i, 'signup-' || i || '@example.com', '+380' || (630000000 + i), 'stok-' || i) ON CONFLICT (external_id) DO UPDATE SET email = EXCLUDED.email, phone = EXCLUDED.phone, token = EXCLUDED.token$s$) \gexec
SELECT pg_temp.record('per call: signup', 'raw', :n, :'t0');
ANALYZE;

-- resolve by email
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.loop_sql(:n, $s$r bigint$s$, $s$PERFORM * FROM contact_identity.resolve_contact(email => 'user-' || i || '@example.com')$s$) \gexec
SELECT pg_temp.record('per call: resolve by email', 'ours', :n, :'t0');
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.loop_sql(:n, $s$r bigint$s$, $s$PERFORM * FROM bench_plpgsql.resolve_contact(NULL, 'user-' || i || '@example.com', NULL)$s$) \gexec
SELECT pg_temp.record('per call: resolve by email', 'plpgsql', :n, :'t0');
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.loop_sql(:n, $s$r bigint$s$, $s$SELECT id INTO r FROM bench_raw WHERE email = 'user-' || i || '@example.com'$s$) \gexec
SELECT pg_temp.record('per call: resolve by email', 'raw', :n, :'t0');

-- resolve by external ID
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.loop_sql(:n, $s$r bigint$s$, $s$PERFORM * FROM contact_identity.resolve_contact(external_id => 'u-' || i)$s$) \gexec
SELECT pg_temp.record('per call: resolve by external ID', 'ours', :n, :'t0');
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.loop_sql(:n, $s$r bigint$s$, $s$PERFORM * FROM bench_plpgsql.resolve_contact('u-' || i, NULL, NULL)$s$) \gexec
SELECT pg_temp.record('per call: resolve by external ID', 'plpgsql', :n, :'t0');
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.loop_sql(:n, $s$r bigint$s$, $s$SELECT id INTO r FROM bench_raw WHERE external_id = 'u-' || i$s$) \gexec
SELECT pg_temp.record('per call: resolve by external ID', 'raw', :n, :'t0');
