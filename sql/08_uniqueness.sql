-- Rule 7 and the data model: uniqueness lives in constraints, per account.
CREATE EXTENSION contact_identity;

SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-1', email => 'ann@x.io',
    identifiers => '{"mobile_push": "tok-1"}');

-- Writing around the API cannot create a second holder.
INSERT INTO contact_identity.contacts (external_id) VALUES ('u-1');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO contact_identity.contacts (first_name) VALUES ('Raw') RETURNING contact_id AS raw_id \gset
INSERT INTO contact_identity.identifiers (account_id, type, value, contact_id) VALUES (0, 'email', 'ann@x.io', :raw_id);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO contact_identity.identifiers (account_id, type, value, contact_id) VALUES (0, 'fax', '1', 1);
INSERT INTO contact_identity.identifiers (account_id, type, value, contact_id) VALUES (0, 'cookie', 'c', 404);
-- A tombstone cannot keep identifiers in its columns (terse: the failing
-- row holds timestamps).
\set VERBOSITY terse
UPDATE contact_identity.contacts SET merged_into = 1, email = 'y@x.io' WHERE contact_id = :raw_id;
UPDATE contact_identity.contacts SET merged_into = 1, external_id = 'u-x' WHERE contact_id = :raw_id;
UPDATE contact_identity.contacts SET merged_into = :raw_id WHERE contact_id = :raw_id;
UPDATE contact_identity.contacts SET merged_into = 404 WHERE contact_id = :raw_id;
\set VERBOSITY default
-- The tables have no foreign keys between them (0.5.0): what is written
-- around the API is found by verify(), which names each broken invariant.
SELECT * FROM contact_identity.verify();
DELETE FROM contact_identity.identifiers WHERE (type, value) IN (('fax', '1'), ('cookie', 'c'));
DELETE FROM contact_identity.contacts WHERE contact_id = :raw_id;
SELECT * FROM contact_identity.verify();

-- Accounts are separate: the same identifiers are different people.
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', email => 'ann@x.io',
    identifiers => '{"mobile_push": "tok-1"}', account_id => 7);
SELECT * FROM contact_identity.resolve_contact(email => 'ann@x.io', account_id => 7);
SELECT * FROM contact_identity.resolve_contact(email => 'ann@x.io', account_id => 8);
SELECT account_id, contact_id, external_id FROM contact_identity.contacts ORDER BY contact_id;
-- A contact ID of another account is unknown there.
SELECT * FROM contact_identity.upsert_contact(contact_id => 1, first_name => 'X', account_id => 7);
SELECT contact_identity.delete_contact(1, account_id => 7);
SELECT contact_identity.get_contact(1, account_id => 7) IS NULL AS not_visible;

-- Every key of the tables leads with account_id (the multi-tenant layout).
SELECT conrelid::regclass AS table_name, conname, pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'contact_identity'::regnamespace AND contype IN ('p', 'u', 'f')
ORDER BY conrelid::regclass::text, conname;

-- Every step is in the log, with the key it matched on.
SELECT * FROM contact_identity.upsert_contact(email => 'ann@x.io', first_name => 'Ann');
SELECT account_id, contact_id, action, matched_by, identifier_type, identifier_value
FROM contact_identity.identity_log_steps ORDER BY log_id, step;
-- An unchanged profile writes nothing: no row version, no log row.
SELECT xmin AS before_xmin FROM contact_identity.contacts WHERE contact_id = 1 \gset
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', email => 'ann@x.io', first_name => 'Ann');
SELECT xmin = :'before_xmin' AS same_row_version FROM contact_identity.contacts WHERE contact_id = 1;
SELECT count(*) AS log_rows FROM contact_identity.identity_log;
-- Nor does a login, nor the same values in another spelling, in a
-- transaction of their own: no row version of any table, no log row, and
-- not even a row lock (0.5.0): the transaction gets no ID, so it writes no
-- WAL (test/specs/concurrent_login.spec shows it does not wait either).
CREATE FUNCTION pg_temp.rows_written() RETURNS bigint LANGUAGE sql AS $$
  SELECT sum(pg_stat_get_xact_tuples_inserted(t) + pg_stat_get_xact_tuples_updated(t)
             + pg_stat_get_xact_tuples_deleted(t))::bigint
  FROM unnest(ARRAY['contact_identity.contacts', 'contact_identity.identifiers',
                    'contact_identity.identity_log']::regclass[]) AS t
$$;
BEGIN;
SELECT pg_temp.rows_written() AS rows_before \gset
SELECT action FROM contact_identity.upsert_contact(external_id => 'u-1');
SELECT action FROM contact_identity.upsert_contact(external_id => 'u-1', email => ' ANN@X.io', first_name => 'Ann');
SELECT pg_current_xact_id_if_assigned() IS NULL AS no_transaction_id,
       pg_temp.rows_written() - :rows_before AS rows_written;
COMMIT;
-- A change does write (the figures above can tell): a row version and a log row.
BEGIN;
SELECT pg_temp.rows_written() AS rows_before \gset
SELECT action FROM contact_identity.upsert_contact(external_id => 'u-1', first_name => 'Anna');
SELECT pg_temp.rows_written() - :rows_before AS rows_written;
COMMIT;

-- Serializing on keys uses row locks, not the shared lock table: an ETL loop
-- of thousands of signups in one transaction holds no advisory lock and
-- does not run out of shared memory (64 locks per transaction by default).
BEGIN;
DO $$
BEGIN
  FOR i IN 1..2500 LOOP
    PERFORM contact_identity.upsert_contact(external_id => 'etl-' || i, email => 'etl' || i || '@x.io',
        identifiers => jsonb_build_object('mobile_push', 'etl-tok-' || i));
  END LOOP;
END $$;
SELECT count(*) AS locks_held FROM pg_locks WHERE pid = pg_backend_pid() AND locktype IN ('advisory', 'tuple');
COMMIT;
SELECT count(*) AS etl_contacts FROM contact_identity.contacts WHERE external_id LIKE 'etl-%';

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
