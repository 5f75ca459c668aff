-- Importing a source ends exactly where calling upsert_contact once per row,
-- in source order, with the same dedupe_on would: checked on a randomized
-- fixture with overlapping, missing, invalid and junk keys, for every
-- dedupe_on that can start from an empty account; then on larger sources
-- that the set-based path writes, and for dedupe_on contact_id.
CREATE EXTENSION contact_identity;
SET contact_identity.default_region = 'UA';
SET client_min_messages = warning;   -- blocked values say so in NOTICEs

SELECT setseed(0.42);
-- 400 rows about 60 people: mostly consistent keys per person, with noise
-- (a shared email, a neighbour's phone, a device passed on, junk, invalid).
CREATE TABLE fixture AS
SELECT g AS row_number,
       CASE WHEN r[1] < 0.85 THEN 'u-' || p END AS external_id,
       CASE WHEN r[2] < 0.75 THEN
            CASE WHEN r[3] < 0.03 THEN 'not-an-email'
                 WHEN r[3] < 0.06 THEN 'test@test.com'
                 WHEN r[3] < 0.12 THEN 'e' || (p % 50 + 1) || '@x.io'
                 ELSE 'e' || p || '@x.io' END END AS email,
       CASE WHEN r[4] < 0.6 THEN '050 000 ' || lpad((CASE WHEN r[5] < 0.1 THEN p + 1 ELSE p END)::text, 4, '0')
            END AS phone,
       CASE WHEN r[6] < 0.5 THEN 'tok-' || (CASE WHEN r[7] < 0.15 THEN p % 30 + 1 ELSE p END) END AS mobile_push,
       CASE WHEN r[8] < 0.3 THEN 'ck-' || p END AS cookie,
       'name-' || g AS first_name,
       CASE WHEN r[9] < 0.5 THEN (ARRAY['Kyiv', 'Lviv', 'Odesa'])[1 + floor(r[10] * 3)::int] END AS city
FROM (SELECT g, (1 + floor(random() * 60))::int AS p,
             ARRAY(SELECT random() FROM generate_series(1, 10) WHERE g > 0) AS r
      FROM generate_series(1, 400) AS g) AS people;

-- Row by row, as an application would call it.
CREATE FUNCTION row_by_row(dedupe text, account bigint, source regclass DEFAULT 'fixture')
RETURNS TABLE (row_number int, action text, matched_by text, error_code text)
LANGUAGE plpgsql AS $$
DECLARE f record; r contact_identity.upsert_result;
BEGIN
  FOR f IN EXECUTE format('SELECT * FROM %s ORDER BY row_number', source) LOOP
    BEGIN
      r := contact_identity.upsert_contact(
          external_id => f.external_id, email => f.email, phone => f.phone,
          identifiers => jsonb_strip_nulls(jsonb_build_object('mobile_push', f.mobile_push, 'cookie', f.cookie)),
          first_name => f.first_name, attributes => jsonb_strip_nulls(jsonb_build_object('city', f.city)),
          account_id => account, dedupe_on => dedupe, restore_deleted => false);
      row_number := f.row_number; action := r.action; matched_by := r.matched_by; error_code := NULL;
    EXCEPTION WHEN OTHERS THEN
      row_number := f.row_number; action := NULL; matched_by := NULL; error_code := SQLSTATE;
    END;
    RETURN NEXT;
  END LOOP;
END $$;

-- A contact as the other account must have it too: everything but IDs and times.
CREATE FUNCTION final_state(account bigint) RETURNS TABLE (profile jsonb)
LANGUAGE sql AS $$
  SELECT jsonb_build_object('external_id', c.external_id, 'email', c.email, 'phone', c.phone,
                            'first_name', c.first_name, 'attributes', c.attributes,
                            'deleted', c.deleted_at IS NOT NULL, 'merged', c.merged_into IS NOT NULL,
                            'identifiers', (SELECT jsonb_agg(i.type || ':' || i.value ORDER BY i.type, i.value)
                                            FROM contact_identity.identifiers i
                                            WHERE i.account_id = c.account_id AND i.contact_id = c.contact_id))
  FROM contact_identity.contacts c WHERE c.account_id = account
  UNION ALL
  SELECT jsonb_build_object('remembered', i.type || ':' || i.value)
  FROM contact_identity.identifiers i WHERE i.account_id = account AND i.contact_id IS NULL
$$;

CREATE TABLE comparison (dedupe text, rows_compared int, result_differences int, state_differences int,
                         contacts int, errors int);
DO $$
DECLARE d text; a bigint := 0;
BEGIN
  FOREACH d IN ARRAY ARRAY['external_id', 'email', 'phone', 'email_or_phone', 'mobile_push'] LOOP
    a := a + 2;   -- import into account a, row by row into a + 1
    CREATE TEMP TABLE imported AS
      SELECT i.row_number::int, i.action, i.matched_by, i.error_code
      FROM contact_identity.import_contacts('fixture', dedupe_on => d, account_id => a) AS i;
    CREATE TEMP TABLE called AS SELECT * FROM row_by_row(d, a + 1);
    INSERT INTO comparison SELECT d,
      (SELECT count(*) FROM imported),
      (SELECT count(*) FROM ((SELECT * FROM imported EXCEPT ALL SELECT * FROM called)
                             UNION ALL (SELECT * FROM called EXCEPT ALL SELECT * FROM imported)) x),
      (SELECT count(*) FROM ((SELECT * FROM final_state(a) EXCEPT ALL SELECT * FROM final_state(a + 1))
                             UNION ALL (SELECT * FROM final_state(a + 1) EXCEPT ALL SELECT * FROM final_state(a))) y),
      (SELECT count(*) FROM contact_identity.contacts c WHERE c.account_id = a),
      (SELECT count(*) FROM imported WHERE error_code IS NOT NULL);
    DROP TABLE imported, called;
  END LOOP;
END $$;
RESET client_min_messages;

-- Zero differences for every dedupe_on; the fixture exercises creates,
-- updates, conflicts and invalid rows in each.
SELECT dedupe, rows_compared, result_differences, state_differences,
       contacts > 20 AS many_contacts, errors > 0 AS some_rows_failed
FROM comparison ORDER BY dedupe;
-- And the comparison can tell: import with one dedupe_on, call with another.
SET client_min_messages = warning;
SELECT count(*) > 0 AS differs FROM (
  (SELECT i.row_number::int, i.action, i.matched_by, i.error_code
   FROM contact_identity.import_contacts('fixture', dedupe_on => 'email', account_id => 50) AS i)
  EXCEPT ALL SELECT * FROM row_by_row('external_id', 51)) AS x;
RESET client_min_messages;

-- The set-based path. Two sources about 2,400 people, 3,000 rows each:
-- most rows are a new person or an existing one with new values, so the
-- batch's multi-row statements write them; people repeated within a source,
-- keys shared between neighbours and a deleted contact send the others row
-- by row. The second source changes names, moves some people to a new
-- phone and repeats others unchanged. Imported into one account and called
-- row by row into another, the results, the final state and the log agree.
CREATE FUNCTION bulk_source(seed float8, pass int) RETURNS SETOF fixture
LANGUAGE sql AS $$
  SELECT g, CASE WHEN r[1] < 0.9 THEN 'b-' || p END,
         CASE WHEN r[2] < 0.9 THEN 'b' || (CASE WHEN r[3] < 0.05 * pass THEN p + 1 ELSE p END) || '@x.io' END,
         CASE WHEN r[4] < 0.7 THEN '050 ' || (CASE WHEN pass = 2 AND r[5] < 0.2 THEN 2 ELSE 1 END)
                                   || lpad(p::text, 6, '0') END,
         CASE WHEN r[6] < 0.3 THEN 'bt-' || p END, NULL,
         CASE WHEN pass = 1 OR r[7] < 0.5 THEN 'n-' || p ELSE 'renamed-' || p END,
         CASE WHEN r[8] < 0.5 THEN (ARRAY['Kyiv', 'Lviv', 'Odesa'])[1 + floor(r[9] * 3)::int] END
  FROM (SELECT setseed(seed)) s,
       LATERAL (SELECT g, (1 + floor(random() * 2400))::int AS p,
                       ARRAY(SELECT random() FROM generate_series(1, 9) WHERE g > 0) AS r
                FROM generate_series(1, 3000) AS g) AS people
$$;
CREATE TABLE bulk1 AS SELECT * FROM bulk_source(0.1, 1);
CREATE TABLE bulk2 AS SELECT * FROM bulk_source(0.2, 2);
CREATE FUNCTION log_counts(account bigint) RETURNS TABLE (action text, n bigint)
LANGUAGE sql AS $$
  SELECT l.action, count(*) FROM contact_identity.identity_log l WHERE l.account_id = account GROUP BY 1
$$;
CREATE TABLE bulk_comparison (dedupe text, pass int, rows_compared int, result_differences int,
                              state_differences int, log_differences int);
SET contact_identity.import_progress_rows = 3000;
DO $$
DECLARE d text; a bigint := 100; pass int;
BEGIN
  FOREACH d IN ARRAY ARRAY['external_id', 'email', 'email_or_phone'] LOOP
    a := a + 2;
    FOR pass IN 1..2 LOOP
      IF pass = 2 THEN  -- a deleted contact: its row is skipped, both ways
        PERFORM contact_identity.delete_contact(c.contact_id, account_id => c.account_id)
        FROM contact_identity.contacts c
        WHERE c.account_id IN (a, a + 1) AND c.external_id = 'b-7' AND c.deleted_at IS NULL;
      END IF;
      RAISE NOTICE 'dedupe_on %, source %:', d, pass;
      CREATE TEMP TABLE imported AS
        SELECT i.row_number::int, i.action, i.matched_by, i.error_code
        FROM contact_identity.import_contacts('bulk' || pass, dedupe_on => d, account_id => a) AS i;
      SET LOCAL client_min_messages = warning;
      CREATE TEMP TABLE called AS SELECT * FROM row_by_row(d, a + 1, ('bulk' || pass)::regclass);
      RESET client_min_messages;
      INSERT INTO bulk_comparison SELECT d, pass,
        (SELECT count(*) FROM imported),
        (SELECT count(*) FROM ((SELECT * FROM imported EXCEPT ALL SELECT * FROM called)
                               UNION ALL (SELECT * FROM called EXCEPT ALL SELECT * FROM imported)) x),
        (SELECT count(*) FROM ((SELECT * FROM final_state(a) EXCEPT ALL SELECT * FROM final_state(a + 1))
                               UNION ALL (SELECT * FROM final_state(a + 1) EXCEPT ALL SELECT * FROM final_state(a))) y),
        (SELECT count(*) FROM ((SELECT * FROM log_counts(a) EXCEPT ALL SELECT * FROM log_counts(a + 1))
                               UNION ALL (SELECT * FROM log_counts(a + 1) EXCEPT ALL SELECT * FROM log_counts(a))) z);
      DROP TABLE imported, called;
    END LOOP;
  END LOOP;
END $$;
RESET contact_identity.import_progress_rows;
SELECT * FROM bulk_comparison ORDER BY dedupe, pass;

-- dedupe_on contact_id, on the two accounts the email passes left equal:
-- the same people by their contact IDs in each account, with new names,
-- new phones, a neighbour's email now and then (a conflict), people named
-- twice in the batch (rows 401 to 600) and one unknown contact ID.
CREATE TABLE by_id_people AS
SELECT a.external_id, a.contact_id AS id_a, b.contact_id AS id_b,
       row_number() OVER (ORDER BY a.external_id) AS n
FROM contact_identity.contacts a
JOIN contact_identity.contacts b ON b.account_id = 105 AND b.external_id = a.external_id
WHERE a.account_id = 104 AND a.merged_into IS NULL;
CREATE TABLE by_id_rows AS
SELECT g AS row_number, p.id_a, p.id_b, 'by-id-' || g AS first_name,
       CASE WHEN g % 5 = 0 THEN '050 3' || lpad(g::text, 6, '0') END AS phone,
       CASE WHEN g % 11 = 0 THEN 'b' || (p.n % 2000 + 1) || '@x.io' END AS email
FROM generate_series(1, 600) AS g JOIN by_id_people p ON p.n = 1 + (g * 37) % 400
UNION ALL SELECT 601, 999999999, 999999999, 'nobody', NULL, NULL;
CREATE TABLE by_id_src AS
SELECT row_number, id_a AS contact_id, first_name, phone, email FROM by_id_rows;
SET contact_identity.import_progress_rows = 601;
CREATE TEMP TABLE imported AS
  SELECT i.row_number::int, i.action, i.matched_by, i.error_code
  FROM contact_identity.import_contacts('by_id_src', dedupe_on => 'contact_id', account_id => 104) AS i;
RESET contact_identity.import_progress_rows;
CREATE TEMP TABLE called (row_number int, action text, matched_by text, error_code text);
DO $$
DECLARE f record; r contact_identity.upsert_result;
BEGIN
  FOR f IN SELECT * FROM by_id_rows ORDER BY row_number LOOP
    BEGIN
      r := contact_identity.upsert_contact(contact_id => f.id_b, phone => f.phone, email => f.email,
                                           first_name => f.first_name, account_id => 105,
                                           dedupe_on => 'contact_id', restore_deleted => false);
      INSERT INTO called VALUES (f.row_number, r.action, r.matched_by, NULL);
    EXCEPTION WHEN OTHERS THEN
      INSERT INTO called VALUES (f.row_number, NULL, NULL, SQLSTATE);
    END;
  END LOOP;
END $$;
SELECT (SELECT count(*) FROM imported) AS rows_compared,
       (SELECT count(*) FROM imported WHERE error_code IS NOT NULL) > 0 AS some_rows_failed,
       (SELECT count(*) FROM ((SELECT * FROM imported EXCEPT ALL SELECT * FROM called)
                              UNION ALL (SELECT * FROM called EXCEPT ALL SELECT * FROM imported)) x) AS result_differences,
       (SELECT count(*) FROM ((SELECT * FROM final_state(104) EXCEPT ALL SELECT * FROM final_state(105))
                              UNION ALL (SELECT * FROM final_state(105) EXCEPT ALL SELECT * FROM final_state(104))) y)
         AS state_differences,
       (SELECT count(*) FROM ((SELECT * FROM log_counts(104) EXCEPT ALL SELECT * FROM log_counts(105))
                              UNION ALL (SELECT * FROM log_counts(105) EXCEPT ALL SELECT * FROM log_counts(104))) z)
         AS log_differences;
DROP TABLE imported, called, by_id_people, by_id_rows, by_id_src;

-- Across batches: run_import in batches of 700 rows (each planned from what
-- the batches before it wrote) ends where a single import_contacts does.
CALL contact_identity.run_import('bulk1', dedupe_on => 'email', batch_size => 700, account_id => 200);
SELECT count(*) AS rows FROM contact_identity.import_contacts('bulk1', dedupe_on => 'email', account_id => 201);
CALL contact_identity.run_import('bulk2', dedupe_on => 'email', batch_size => 700, account_id => 200);
SELECT count(*) AS rows FROM contact_identity.import_contacts('bulk2', dedupe_on => 'email', account_id => 201);
SELECT count(*) AS state_differences
FROM ((SELECT * FROM final_state(200) EXCEPT ALL SELECT * FROM final_state(201))
      UNION ALL (SELECT * FROM final_state(201) EXCEPT ALL SELECT * FROM final_state(200))) x;
SELECT count(*) AS log_differences
FROM ((SELECT * FROM log_counts(200) EXCEPT ALL SELECT * FROM log_counts(201))
      UNION ALL (SELECT * FROM log_counts(201) EXCEPT ALL SELECT * FROM log_counts(200))) x;

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity CASCADE;
DROP FUNCTION row_by_row(text, bigint, regclass), final_state(bigint), bulk_source(float8, int), log_counts(bigint);
DROP TABLE fixture, comparison, bulk1, bulk2, bulk_comparison;
