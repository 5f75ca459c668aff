-- Bulk import: every source row as the request upsert_contact with the same
-- dedupe_on would get, in source order; a bad row is reported, never fatal.
CREATE EXTENSION contact_identity;
SET contact_identity.default_region = 'UA';

-- Columns are matched by name; other columns become attributes; a bad row
-- fails alone and every good row lands.
CREATE TABLE src (external_id text, email text, phone text, first_name text, city text, age int,
                  mobile_push text, attributes jsonb);
INSERT INTO src VALUES
    ('u-1', 'Ann@X.io', '050 123 45 67', 'Ann', 'Kyiv', 30, 'tok-1', '{"vip": true}'),
    ('u-2', 'bad-email', NULL, 'Bob', NULL, NULL, NULL, NULL),
    (NULL, 'c@x.io', NULL, 'NoExt', NULL, NULL, NULL, NULL),
    ('u-1', NULL, NULL, 'Anna', 'Lviv', NULL, NULL, '{"x": 1}'),
    ('u-3', 'ann@x.io', NULL, 'Impostor', NULL, NULL, NULL, NULL),
    ('u-4', 'd@x.io', NULL, 'Dan', NULL, NULL, 'tok-1', NULL),
    ('null', 'e@x.io', NULL, 'Junk', NULL, NULL, NULL, NULL);
SET client_min_messages = warning;
SELECT * FROM contact_identity.import_contacts('src');
RESET client_min_messages;
SELECT contact_id, external_id, email, phone, first_name, attributes FROM contact_identity.contacts ORDER BY 1;
SELECT type, value, contact_id FROM contact_identity.identifiers ORDER BY contact_id, type;

-- The same rows again: all updates, nothing new.
SELECT action, count(*) FROM contact_identity.import_contacts('src') GROUP BY 1 ORDER BY 1;
SELECT count(*) AS contacts FROM contact_identity.contacts;

-- Wrong calls fail before anything is read.
SELECT * FROM contact_identity.import_contacts('src', dedupe_on => 'nope');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE src_no_key (email text);
SELECT * FROM contact_identity.import_contacts('src_no_key');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM contact_identity.import_contacts('src', account_id => NULL);
SELECT * FROM contact_identity.import_contacts('no_such_table');
CREATE VIEW src_view AS SELECT * FROM src;
SELECT * FROM contact_identity.import_contacts('src_view');
DROP VIEW src_view;

-- dedupe_on email: found by email only; the row's external ID goes to a
-- match without one, a match with another fails the row.
CREATE TABLE src_email (row_number int, email text, external_id text, first_name text);
INSERT INTO src_email VALUES (2, 'd@x.io', 'u-4', 'Daniel'), (1, 'new@x.io', 'u-5', 'Nina'),
    (3, 'ann@x.io', 'u-9', 'Wrong'), (4, NULL, 'u-6', 'NoEmail');
SELECT * FROM contact_identity.import_contacts('src_email', dedupe_on => 'email');

-- dedupe_on email_or_phone (phone first) and an identifier type.
CREATE TABLE src_mixed (email text, phone text, mobile_push text, cookie text, identifiers jsonb);
INSERT INTO src_mixed VALUES ('ann@x.io', '+380501234567', NULL, 'ck-1', NULL),
    ('zed@x.io', NULL, 'tok-9', NULL, '{"telegram": 42}'),
    (NULL, NULL, NULL, NULL, '{"telegram": {"id": 42}}');
SELECT * FROM contact_identity.import_contacts('src_mixed', dedupe_on => 'email_or_phone');
SELECT * FROM contact_identity.import_contacts('src_mixed', dedupe_on => 'mobile_push');

-- dedupe_on contact_id: existing contacts only.
CREATE TABLE src_ids (contact_id text, last_name text);
INSERT INTO src_ids VALUES ('1', 'Lee'), ('404', 'Nobody'), ('x', 'Bad'), (NULL, 'None');
SELECT * FROM contact_identity.import_contacts('src_ids', dedupe_on => 'contact_id');

-- Deleted matches: skipped unless restore_deleted.
SELECT contact_identity.delete_contact(1);
CREATE TABLE src_deleted (external_id text, first_name text);
INSERT INTO src_deleted VALUES ('u-1', 'Back');
SELECT * FROM contact_identity.import_contacts('src_deleted');
SELECT deleted_at IS NOT NULL AS still_deleted, first_name FROM contact_identity.contacts WHERE contact_id = 1;
-- A skipped request leaves nothing behind, not even the new keys it sent.
SELECT action FROM contact_identity.upsert_contact(external_id => 'u-1', identifiers => '{"mobile_push": "tok-skip"}',
                                                   dedupe_on => 'external_id', restore_deleted => false);
SELECT count(*) AS left_behind FROM contact_identity.identifiers WHERE value = 'tok-skip';
SELECT * FROM contact_identity.import_contacts('src_deleted', restore_deleted => true);
SELECT deleted_at IS NOT NULL AS still_deleted, first_name FROM contact_identity.contacts WHERE contact_id = 1;

-- NULL cells leave fields alone; clear_nulls clears them.
CREATE TABLE src_clear (external_id text, phone text, first_name text, city text);
INSERT INTO src_clear VALUES ('u-1', NULL, NULL, NULL);
SELECT * FROM contact_identity.import_contacts('src_clear');
SELECT phone, first_name, attributes ? 'city' AS has_city FROM contact_identity.contacts WHERE contact_id = 1;
SELECT * FROM contact_identity.import_contacts('src_clear', clear_nulls => true);
SELECT phone, first_name, attributes ? 'city' AS has_city FROM contact_identity.contacts WHERE contact_id = 1;
SELECT count(*) AS phone_identifiers FROM contact_identity.identifiers WHERE contact_id = 1 AND type = 'phone';

-- A value PostgreSQL itself refuses (invalid JSON in a text column) rolls
-- its batch back; the batch runs again without it and every other row lands.
CREATE TABLE src_bad_json (external_id text, attributes text);
INSERT INTO src_bad_json VALUES ('u-20', '{"ok": 1}'), ('u-21', '{"broken": '), ('u-22', '{}'), ('u-23', '[1]');
SELECT * FROM contact_identity.import_contacts('src_bad_json');
SELECT external_id FROM contact_identity.contacts WHERE external_id LIKE 'u-2_' ORDER BY 1;
SELECT count(*) AS stray_claims FROM contact_identity.identifiers WHERE contact_id IS NULL;

-- Progress is reported every contact_identity.import_progress_rows rows.
SET contact_identity.import_progress_rows = 2;
SELECT count(*) FROM contact_identity.import_contacts('src_bad_json');
RESET contact_identity.import_progress_rows;

-- A cancel (here a statement timeout) ends the import: it is never taken for
-- a bad row, and nothing of the import stays.
CREATE TABLE src_big AS SELECT 'big-' || g AS external_id FROM generate_series(1, 20000) AS g;
SELECT last_value AS ids_before_the_cancel FROM contact_identity.contacts_contact_id_seq \gset
SET statement_timeout = '200ms';
\set VERBOSITY terse
SELECT count(*) FROM contact_identity.import_contacts('src_big');
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
SELECT count(*) AS imported_before_the_cancel FROM contact_identity.contacts WHERE external_id LIKE 'big-%';
-- How many contact IDs the cancelled import drew depends on how far it got
-- in 200 ms: the IDs below start after one batch's worth, whatever the speed.
SELECT setval('contact_identity.contacts_contact_id_seq', :ids_before_the_cancel + 10000) > 0 AS ids_reset;

-- A row that changes nothing leaves its contact's row version alone and
-- logs nothing; a new name, a new attribute value or an attribute removed
-- by a JSON null is written and logged.
CREATE TABLE src_fields (external_id text, first_name text, attributes jsonb);
INSERT INTO src_fields VALUES ('f-1', 'One', '{"k": 1, "m": 2}'), ('f-2', 'Two', '{"k": 1, "m": 2}'),
    ('f-3', 'Three', '{"k": 1, "m": 2}'), ('f-4', 'Four', '{"k": 1, "m": 2}'), ('f-5', 'Five', '{"k": 1, "m": 2}');
SELECT count(*) FROM contact_identity.import_contacts('src_fields', account_id => 7);
CREATE TABLE fields_before AS SELECT external_id, ctid AS version FROM contact_identity.contacts WHERE account_id = 7;
TRUNCATE src_fields;
INSERT INTO src_fields VALUES ('f-1', 'One', '{"k": 1, "m": 2}'), ('f-2', 'Deux', '{"k": 1, "m": 2}'),
    ('f-3', 'Three', '{"k": 3}'), ('f-4', 'Four', '{"m": null}'), ('f-5', NULL, '{"k": 1}');
SELECT external_id, action FROM contact_identity.import_contacts('src_fields', account_id => 7) i
JOIN contact_identity.contacts c USING (contact_id) ORDER BY 1;
SELECT c.external_id, c.first_name, c.attributes, c.ctid = b.version AS same_row_version,
       (SELECT count(*) FROM contact_identity.identity_log l
        WHERE l.account_id = 7 AND l.contact_id = c.contact_id AND l.action = 'updated') AS updated_logged
FROM contact_identity.contacts c JOIN fields_before b USING (external_id) WHERE c.account_id = 7 ORDER BY 1;

-- A merged contact holds two emails; a row sending the one that is not its
-- primary email leaves the primary as it is, as upsert_contact does (the
-- batch reads the contact's identifiers for such a row: its email is not
-- the primary one).
SELECT contact_id AS winner FROM contact_identity.upsert_contact(external_id => 'm-1', email => 'first@x.io', account_id => 8) \gset
SELECT contact_id AS loser FROM contact_identity.upsert_contact(email => 'second@x.io', account_id => 8) \gset
SELECT contact_identity.merge_contacts(:winner, :loser, account_id => 8) = :winner AS merged;
CREATE TABLE src_primary AS SELECT 'm-1' AS external_id, 'second@x.io' AS email, 'Kept' AS first_name;
SELECT action, matched_by FROM contact_identity.import_contacts('src_primary', account_id => 8);
SELECT external_id, email, first_name FROM contact_identity.contacts WHERE account_id = 8 AND merged_into IS NULL;

-- A new external ID's other keys are taken to be new without a read, and
-- checked by their insertion. A row refused on another key inserts
-- nothing: it must be decided on all of its keys, as upsert_contact
-- decides it. Row 1's email (searched before its phone) belongs to c-1;
-- its phone, read for row 2, to d-1. Both refuse the row; the email
-- names it.
SELECT action FROM contact_identity.upsert_contact(external_id => 'c-1', email => 'taken@x.io', account_id => 10);
SELECT action FROM contact_identity.upsert_contact(external_id => 'd-1', phone => '+380501112233', account_id => 10);
CREATE TABLE src_unread (row_number int, external_id text, email text, phone text);
INSERT INTO src_unread VALUES (1, 'n-5', 'taken@x.io', '+380501112233'), (2, NULL, NULL, '+380501112233');
SELECT row_number, action, error_code, error_message
FROM contact_identity.import_contacts('src_unread', account_id => 10);
SELECT contact_identity.upsert_contact(external_id => 'n-5', email => 'taken@x.io', phone => '+380501112233',
                                       dedupe_on => 'external_id', account_id => 10);
SELECT count(*) AS contacts FROM contact_identity.contacts WHERE account_id = 10;

-- Errors that are no row's end the call. A read-only transaction (or a
-- standby) refuses the import before it reads a row, not every row with
-- 25006.
CREATE TABLE src_env (row_number int, external_id text, first_name text);
INSERT INTO src_env VALUES (1, 'env-1', 'One'), (2, 'env-2', 'Two'), (3, 'env-3', 'Three');
BEGIN READ ONLY;
SELECT * FROM contact_identity.import_contacts('src_env', account_id => 11);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- A row error is one of class 22 or 23 (or the rules' own 55000 and P0002):
-- a DBA's trigger refusing a row with check_violation fails that row...
CREATE FUNCTION env_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.external_id = 'env-2' THEN
        RAISE EXCEPTION 'env-2 is refused' USING ERRCODE = current_setting('env_test.errcode');
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER env_trigger BEFORE INSERT ON contact_identity.contacts FOR EACH ROW EXECUTE FUNCTION env_trigger();
SET env_test.errcode = 'check_violation';
SELECT row_number, action, error_code, error_message FROM contact_identity.import_contacts('src_env', account_id => 11);
-- ... any other error ends the call and leaves nothing: here a trigger's
-- serialization failure, as would a cancel, a lock or statement timeout, a
-- deadlock or running out of memory.
SET env_test.errcode = 'serialization_failure';
\set SHOW_CONTEXT never
SELECT row_number, action, error_code FROM contact_identity.import_contacts('src_env', account_id => 12);
\echo :LAST_ERROR_SQLSTATE
\set SHOW_CONTEXT errors
SELECT count(*) AS contacts FROM contact_identity.contacts WHERE account_id = 12;
DROP TRIGGER env_trigger ON contact_identity.contacts;
DROP FUNCTION env_trigger();
RESET env_test.errcode;

-- A json attributes column is read as its text was written: white space
-- after the object does not stop other columns joining its attributes.
CREATE TABLE src_json_attrs (email text, attributes json, city text);
INSERT INTO src_json_attrs VALUES ('ja-1@x.io', '{"plan": "pro"} ', 'Kyiv'), ('ja-2@x.io', E'{"plan": "free"}\n\t', 'Lviv'),
    ('ja-3@x.io', '{ }  ', 'Odesa');
SELECT row_number, action, error_code, error_message
FROM contact_identity.import_contacts('src_json_attrs', 'email', account_id => 13) ORDER BY 1;
SELECT email, attributes FROM contact_identity.contacts WHERE account_id = 13 ORDER BY 1;
DROP TABLE src_json_attrs;

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity CASCADE;
DROP TABLE src_big, src, src_no_key, src_email, src_mixed, src_ids, src_deleted, src_clear, src_bad_json, src_fields, fields_before,
    src_primary, src_unread, src_env;
