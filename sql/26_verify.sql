-- verify(): like amcheck, no row means healthy. A database built through
-- the API passes; then each invariant the write path keeps is broken by
-- writing around the API, one at a time, and verify() reports exactly that
-- problem (and nothing else) until it is repaired. verify(account_id) checks
-- one account only, and only its admins (or a superuser) may run it.
CREATE EXTENSION contact_identity;
SET contact_identity.default_region = 'UA';

-- The caller's grant is checked first, also when there is nothing to read.
CREATE ROLE regress_ci_verify_early;
GRANT contact_identity_admin TO regress_ci_verify_early;
SET ROLE regress_ci_verify_early;
\set VERBOSITY terse
SELECT * FROM contact_identity.verify();
SELECT * FROM contact_identity.verify(7);
\set VERBOSITY default
RESET ROLE;
DROP ROLE regress_ci_verify_early;

-- A small healthy database. Ann: external ID, email, phone, two push tokens.
SELECT contact_id, action FROM contact_identity.upsert_contact(external_id => 'u-1', email => 'ann@x.io',
    phone => '050 123 45 67', identifiers => '{"mobile_push": ["tok-1", "tok-2"]}', first_name => 'Ann');
-- Her work profile, with a cookie and an event, merged into hers by an admin.
SELECT contact_id, action FROM contact_identity.upsert_contact(email => 'ann.work@x.io',
    identifiers => '{"cookie": "ck-1"}');
SELECT contact_identity.track_event('page_view', '{"url": "/shoes"}', email => 'ann.work@x.io') AS event_id;
SELECT contact_identity.merge_contacts(winner => 1, loser => 2);
-- A browser profile, merged into hers when she sends its token.
SELECT contact_id, action FROM contact_identity.upsert_contact(identifiers => '{"web_push": "wp-1"}');
SELECT contact_id, action, matched_by FROM contact_identity.upsert_contact(external_id => 'u-1',
    identifiers => '{"web_push": "wp-1"}');
-- Bob, deleted.
SELECT contact_id, action FROM contact_identity.upsert_contact(external_id => 'u-4', email => 'bob@x.io');
SELECT contact_identity.delete_contact(4);
-- Ann's order, and a visitor's anonymous page view kept under its cookie.
SELECT contact_identity.track_event('order', '{"total": 42}', external_id => 'u-1') AS event_id;
SELECT contact_identity.track_event('page_view', '{"url": "/boots"}', identifiers => '{"cookie": "ck-anon"}') AS event_id;
-- An import with a failed row.
CREATE TABLE verify_src (external_id text, email text);
INSERT INTO verify_src VALUES ('u-5', 'cy@x.io'), ('u-6', 'bad-email');
CALL contact_identity.run_import('verify_src');
SELECT import_id, row_number, sqlstate FROM contact_identity.import_errors;
-- Another account, with an order.
SELECT contact_id, action FROM contact_identity.upsert_contact(external_id => 'u-7', email => 'ann@x.io',
    account_id => 7);
SELECT contact_identity.track_event('order', external_id => 'u-7', account_id => 7) AS event_id;

SELECT account_id, contact_id, external_id, email, phone, deleted_at IS NOT NULL AS deleted, merged_into
FROM contact_identity.contacts ORDER BY account_id, contact_id;
SELECT account_id, event_id, event_type, contact_id FROM contact_identity.events ORDER BY account_id, event_id;
SELECT account_id, type, value, event_id FROM contact_identity.event_keys;
-- Healthy.
SELECT * FROM contact_identity.verify();

-- From here on, as a superuser, around the API. Each break is followed by
-- verify() and its repair; each verify() shows only the new problem, so the
-- repair before it held.

-- An identifier whose holder does not exist.
INSERT INTO contact_identity.identifiers (account_id, type, value, contact_id) VALUES (0, 'telegram', 'tg-9', 99);
SELECT * FROM contact_identity.verify();
DELETE FROM contact_identity.identifiers WHERE account_id = 0 AND type = 'telegram' AND value = 'tg-9';

-- An identifier left on a merged contact.
UPDATE contact_identity.identifiers SET contact_id = 2 WHERE account_id = 0 AND type = 'cookie' AND value = 'ck-1';
SELECT * FROM contact_identity.verify();
UPDATE contact_identity.identifiers SET contact_id = 1 WHERE account_id = 0 AND type = 'cookie' AND value = 'ck-1';

-- An identifier of a type identifier_types does not have (the trigger
-- keeps a type in use from being deleted, so it is inserted directly).
INSERT INTO contact_identity.identifiers (account_id, type, value, contact_id) VALUES (0, 'fax', '+380441234567', 1);
SELECT * FROM contact_identity.verify();
DELETE FROM contact_identity.identifiers WHERE account_id = 0 AND type = 'fax';

-- A contact's external ID that its identifier row no longer gives it.
UPDATE contact_identity.identifiers SET contact_id = NULL
WHERE account_id = 0 AND type = 'external_id' AND value = 'u-5';
SELECT * FROM contact_identity.verify();
UPDATE contact_identity.identifiers SET contact_id = 5
WHERE account_id = 0 AND type = 'external_id' AND value = 'u-5';

-- A primary email that is not among the contact's identifiers.
UPDATE contact_identity.contacts SET email = 'cy.old@x.io' WHERE account_id = 0 AND contact_id = 5;
SELECT * FROM contact_identity.verify();
UPDATE contact_identity.contacts SET email = 'cy@x.io' WHERE account_id = 0 AND contact_id = 5;

-- The same for a primary phone.
UPDATE contact_identity.contacts SET phone = '+380671112233' WHERE account_id = 0 AND contact_id = 5;
SELECT * FROM contact_identity.verify();
UPDATE contact_identity.contacts SET phone = NULL WHERE account_id = 0 AND contact_id = 5;

-- A contact holding an external ID with an empty external_id.
UPDATE contact_identity.contacts SET external_id = NULL WHERE account_id = 0 AND contact_id = 5;
SELECT * FROM contact_identity.verify();
UPDATE contact_identity.contacts SET external_id = 'u-5' WHERE account_id = 0 AND contact_id = 5;

-- A merged contact pointing at a contact that does not exist.
UPDATE contact_identity.contacts SET merged_into = 99 WHERE account_id = 0 AND contact_id = 2;
SELECT * FROM contact_identity.verify();
UPDATE contact_identity.contacts SET merged_into = 1 WHERE account_id = 0 AND contact_id = 2;

-- Two merged contacts pointing at each other: neither chain ends.
UPDATE contact_identity.contacts SET merged_into = CASE contact_id WHEN 2 THEN 3 ELSE 2 END
WHERE account_id = 0 AND contact_id IN (2, 3);
SELECT * FROM contact_identity.verify();
UPDATE contact_identity.contacts SET merged_into = 1 WHERE account_id = 0 AND contact_id IN (2, 3);

-- Eleven push tokens on one contact; mobile_push allows ten.
INSERT INTO contact_identity.identifiers (account_id, type, value, contact_id)
SELECT 0, 'mobile_push', 'tok-extra-' || g, 1 FROM generate_series(1, 9) AS g;
SELECT * FROM contact_identity.verify();
DELETE FROM contact_identity.identifiers WHERE account_id = 0 AND type = 'mobile_push' AND value LIKE 'tok-extra-%';

-- An event of a contact that does not exist.
UPDATE contact_identity.events SET contact_id = 99 WHERE account_id = 0 AND event_id = 2;
SELECT * FROM contact_identity.verify();
UPDATE contact_identity.events SET contact_id = 1 WHERE account_id = 0 AND event_id = 2;

-- An event left on a merged contact.
UPDATE contact_identity.events SET contact_id = 2 WHERE account_id = 0 AND event_id = 1;
SELECT * FROM contact_identity.verify();
UPDATE contact_identity.events SET contact_id = 1 WHERE account_id = 0 AND event_id = 1;

-- An anonymous event deleted without its keys (no foreign key cascades).
CREATE TEMP TABLE saved_event AS SELECT * FROM contact_identity.events WHERE account_id = 0 AND event_id = 3;
DELETE FROM contact_identity.events WHERE account_id = 0 AND event_id = 3;
SELECT * FROM contact_identity.verify();
INSERT INTO contact_identity.events OVERRIDING SYSTEM VALUE SELECT * FROM saved_event;
DROP TABLE saved_event;

-- An anonymous event attached to a contact without dropping its keys.
UPDATE contact_identity.events SET contact_id = 1 WHERE account_id = 0 AND event_id = 3;
SELECT * FROM contact_identity.verify();
UPDATE contact_identity.events SET contact_id = NULL WHERE account_id = 0 AND event_id = 3;

-- An anonymous event whose identifier was given a holder without the
-- event: the write that does so attaches the event.
UPDATE contact_identity.identifiers SET contact_id = 1 WHERE account_id = 0 AND type = 'cookie' AND value = 'ck-anon';
SELECT * FROM contact_identity.verify();
UPDATE contact_identity.identifiers SET contact_id = NULL WHERE account_id = 0 AND type = 'cookie' AND value = 'ck-anon';

-- An anonymous event whose identifier is not remembered: a later write
-- would insert the identifier afresh and never find the event.
CREATE TEMP TABLE saved_key AS
SELECT * FROM contact_identity.identifiers WHERE account_id = 0 AND type = 'cookie' AND value = 'ck-anon';
DELETE FROM contact_identity.identifiers WHERE account_id = 0 AND type = 'cookie' AND value = 'ck-anon';
SELECT * FROM contact_identity.verify();
INSERT INTO contact_identity.identifiers SELECT * FROM saved_key;
DROP TABLE saved_key;

-- A contact inserted directly: identity_log has no created row for it.
INSERT INTO contact_identity.contacts (account_id, contact_id, first_name) VALUES (0, 50, 'Dee');
SELECT * FROM contact_identity.verify();
DELETE FROM contact_identity.contacts WHERE account_id = 0 AND contact_id = 50;

-- An import deleted without its failed rows (no foreign key cascades).
CREATE TEMP TABLE saved_import AS SELECT * FROM contact_identity.imports WHERE account_id = 0 AND import_id = 1;
DELETE FROM contact_identity.imports WHERE account_id = 0 AND import_id = 1;
SELECT * FROM contact_identity.verify();
INSERT INTO contact_identity.imports OVERRIDING SYSTEM VALUE SELECT * FROM saved_import;
DROP TABLE saved_import;
SELECT * FROM contact_identity.verify();

-- verify(account_id) checks that account only. Problems in account 7, one
-- from each table it reads, and one in account 0.
UPDATE contact_identity.contacts SET email = 'ann.old@x.io' WHERE account_id = 7 AND contact_id = 6;
INSERT INTO contact_identity.identifiers (account_id, type, value, contact_id) VALUES (7, 'telegram', 'tg-7', 99);
UPDATE contact_identity.events SET contact_id = 99 WHERE account_id = 7 AND event_id = 4;
INSERT INTO contact_identity.event_keys (account_id, type, value, event_id) VALUES (7, 'cookie', 'ck-7', 98);
INSERT INTO contact_identity.import_errors (account_id, import_id, row_number, sqlstate, message)
VALUES (7, 97, 1, '22023', 'invalid email');
UPDATE contact_identity.contacts SET phone = '+380671112233' WHERE account_id = 0 AND contact_id = 5;
SELECT * FROM contact_identity.verify();
SELECT * FROM contact_identity.verify(0);
SELECT * FROM contact_identity.verify(7);
SELECT * FROM contact_identity.verify(8);

-- Only a superuser or an account's admins may run it. An admin of account 7
-- checks account 7, with or without account_id, and not account 0.
CREATE ROLE regress_ci_verify_admin7;
CREATE ROLE regress_ci_verify_writer0;
CREATE ROLE regress_ci_verify_plain;
GRANT contact_identity_admin TO regress_ci_verify_admin7, regress_ci_verify_writer0;
GRANT contact_identity_writer TO regress_ci_verify_plain;
SELECT contact_identity.grant_account('regress_ci_verify_admin7', 7, 'admin');
SELECT contact_identity.grant_account('regress_ci_verify_writer0', 0, 'writer');
SELECT contact_identity.grant_account('regress_ci_verify_plain', 0, 'admin');
SET ROLE regress_ci_verify_admin7;
SELECT * FROM contact_identity.verify();
SELECT * FROM contact_identity.verify(7);
\set VERBOSITY terse
SELECT * FROM contact_identity.verify(0);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- The admin role with a writer grant only: neither verify(NULL) nor verify(7)
-- nor verify(0).
SET ROLE regress_ci_verify_writer0;
SELECT * FROM contact_identity.verify();
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM contact_identity.verify(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM contact_identity.verify(7);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM contact_identity.verify(0);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- Without the admin role, an admin grant is not enough to call it.
SET ROLE regress_ci_verify_plain;
SELECT * FROM contact_identity.verify(0);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
\set VERBOSITY default

-- Repaired, every account is healthy again.
UPDATE contact_identity.contacts SET email = 'ann@x.io' WHERE account_id = 7 AND contact_id = 6;
DELETE FROM contact_identity.identifiers WHERE account_id = 7 AND type = 'telegram';
UPDATE contact_identity.events SET contact_id = 6 WHERE account_id = 7 AND event_id = 4;
DELETE FROM contact_identity.event_keys WHERE account_id = 7;
DELETE FROM contact_identity.import_errors WHERE account_id = 7;
UPDATE contact_identity.contacts SET phone = NULL WHERE account_id = 0 AND contact_id = 5;

DROP TABLE verify_src;
-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
DROP ROLE regress_ci_verify_admin7, regress_ci_verify_writer0, regress_ci_verify_plain;
