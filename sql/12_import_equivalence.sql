-- Importing a source ends exactly where calling upsert_contact once per row,
-- in source order, with the same dedupe_on would: checked on a randomized
-- fixture with overlapping, missing, invalid and junk keys, for every
-- dedupe_on that can start from an empty account.
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
CREATE FUNCTION row_by_row(dedupe text, account bigint)
RETURNS TABLE (row_number int, action text, matched_by text, error_code text)
LANGUAGE plpgsql AS $$
DECLARE f record; r contact_identity.upsert_result;
BEGIN
  FOR f IN SELECT * FROM fixture ORDER BY fixture.row_number LOOP
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

DROP EXTENSION contact_identity CASCADE;
DROP TABLE fixture, comparison;
DROP FUNCTION row_by_row(text, bigint), final_state(bigint);
