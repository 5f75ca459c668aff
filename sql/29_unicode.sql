-- Unicode in identifiers (issue 14): an email typed in several Unicode forms
-- is one key (its local part in NFC and lower case, ICU), and invisible
-- format characters (Unicode category Cf: bidi controls, zero-width
-- characters, the soft hyphen...) are refused in every identifier with
-- 22023. Rows stored by 0.5.1 are listed by unnormalized_identifiers(),
-- which the update to 0.5.2 points to.

-- A database of 0.5.1 with what 0.5.1 stored as sent: the library that
-- runs now normalizes as 0.5.2, so the old rows are written around the
-- API, as 0.5.1 would have stored them (it lower-cased ASCII only, kept
-- the Unicode form and took format characters).
CREATE EXTENSION contact_identity VERSION '0.5.1';
SET contact_identity.default_region = 'UA';
SELECT contact_id AS old_upper FROM contact_identity.upsert_contact(email => 'old-upper@old.io') \gset
SELECT contact_id AS old_nfd FROM contact_identity.upsert_contact(email => 'old-nfd@old.io') \gset
SELECT contact_id AS old_nfc FROM contact_identity.upsert_contact(email => U&'an\00E9@old.io') \gset
SELECT contact_id AS old_rlo FROM contact_identity.upsert_contact(external_id => 'old-rlo', email => 'rlo@old.io') \gset
CREATE TEMP TABLE as_0_5_1 (id bigint, type text, old text, stored text);
INSERT INTO as_0_5_1 VALUES
  (:old_upper, 'email', 'old-upper@old.io', U&'jos\00C9@old.io'),      -- JOSÉ@old.io
  (:old_nfd, 'email', 'old-nfd@old.io', U&'ane\0301@old.io'),          -- ané, decomposed
  (:old_rlo, 'external_id', 'old-rlo', U&'u-\202Eold');                -- a right-to-left override
UPDATE contact_identity.identifiers i SET value = a.stored FROM as_0_5_1 a
WHERE i.account_id = 0 AND i.type = a.type AND i.value = a.old;
UPDATE contact_identity.contacts c SET email = a.stored FROM as_0_5_1 a
WHERE c.contact_id = a.id AND a.type = 'email';
UPDATE contact_identity.contacts c SET external_id = a.stored FROM as_0_5_1 a
WHERE c.contact_id = a.id AND a.type = 'external_id';

-- The update rewrites none of them, and warns where to look.
ALTER EXTENSION contact_identity UPDATE TO '0.5.2';
-- Unaligned: psql 17 pads a right-to-left override to another width than 15.
\pset format unaligned
SELECT contact_id, external_id, email FROM contact_identity.contacts ORDER BY contact_id;
SELECT * FROM contact_identity.unnormalized_identifiers();
\pset format aligned
-- JOSÉ is not found as stored: a login would create a second profile.
SELECT count(*) AS found FROM contact_identity.resolve_contact(email => U&'JOS\00C9@old.io');
-- The fix: the contact's email replaced by the normalized one, through the
-- API (the old one detached and logged); the two ané are one person, merged.
SELECT action FROM contact_identity.upsert_contact(contact_id => :old_upper, email => U&'JOS\00C9@old.io');
SELECT contact_identity.merge_contacts(winner => :old_nfc, loser => :old_nfd);
SELECT contact_id = :old_upper AS jose_found FROM contact_identity.resolve_contact(email => U&'JOS\00C9@old.io');
\pset format unaligned
SELECT * FROM contact_identity.unnormalized_identifiers();
\pset format aligned
-- The refused external ID stays (external IDs never change): the contact
-- is found by its other identifiers; a request sending it is refused.
SELECT contact_id = :old_rlo AS rlo_found FROM contact_identity.resolve_contact(email => 'rlo@old.io');
SELECT * FROM contact_identity.resolve_contact(external_id => U&'u-\202Eold');
-- Only admins see the list, as with verify().
CREATE ROLE regress_ci_unicode_writer;
GRANT contact_identity_writer TO regress_ci_unicode_writer;
SET ROLE regress_ci_unicode_writer;
SELECT * FROM contact_identity.unnormalized_identifiers(0);
RESET ROLE;
DROP ROLE regress_ci_unicode_writer;
DROP EXTENSION contact_identity;

-- 0.5.2 from here on.
CREATE EXTENSION contact_identity;
SET contact_identity.default_region = 'UA';

-- The issue's first example: 'jos' || U&'\00E9' (composed é) and 'jose' ||
-- U&'\0301' (e and a combining acute) are one email, one contact.
SELECT contact_id AS jose, action FROM contact_identity.upsert_contact(
    email => 'jos' || U&'\00E9' || '@example.com', first_name => 'José') \gset
SELECT contact_id = :jose AS same_contact, action, matched_by
FROM contact_identity.upsert_contact(email => 'jose' || U&'\0301' || '@example.com');
SELECT email, email = 'jos' || U&'\00E9' || '@example.com' AS stored_composed
FROM contact_identity.contacts WHERE contact_id = :jose;

-- JOSÉ@x and josé@x are one email, as JOSE@x and jose@x are.
SELECT contact_id AS jose_x, action FROM contact_identity.upsert_contact(email => U&'JOS\00C9@x.io') \gset
SELECT contact_id = :jose_x AS same_contact, action, matched_by
FROM contact_identity.upsert_contact(email => U&'jos\00E9@x.io');
SELECT contact_id AS jose_ascii, action FROM contact_identity.upsert_contact(email => 'JOSE@x.io') \gset
SELECT contact_id = :jose_ascii AS same_contact, action, matched_by
FROM contact_identity.upsert_contact(email => 'jose@x.io');
-- Upper case and decomposed at once find it too; the stored forms.
SELECT contact_id = :jose_x AS same_contact, matched_by
FROM contact_identity.resolve_contact(email => U&'JOSE\0301@X.IO');
SELECT contact_identity.normalize_email(U&'JOS\00C9@x.io') AS upper_composed,
       contact_identity.normalize_email(U&'JOSE\0301@x.io') AS upper_decomposed,
       contact_identity.normalize_email(U&'\0130STANBUL@x.io') AS dotted_capital_i,
       contact_identity.normalize_email(U&'\03A3\0391\03A3@x.io') AS final_sigma,
       contact_identity.normalize_email(U&'STRA\1E9EE@Stra\00DFe.de') AS sharp_s;
SELECT email FROM contact_identity.contacts ORDER BY contact_id;

-- Format characters: U+202E (right-to-left override) and U+200B (zero
-- width space) are refused in email, phone and external_id, with 22023
-- naming the argument, the character and its position.
SELECT * FROM contact_identity.upsert_contact(email => U&'jos\202E@x.io');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM contact_identity.upsert_contact(email => U&'jo\200Bse@x.io');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM contact_identity.upsert_contact(phone => U&'+380\202E501234567');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM contact_identity.upsert_contact(phone => U&'+380 50\200B123 45 67');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM contact_identity.upsert_contact(external_id => U&'u-\202E1');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM contact_identity.upsert_contact(external_id => U&'u-1\200B');
\echo :LAST_ERROR_SQLSTATE
-- The same everywhere a value is read: lookups, the normalizers, the
-- other types of the identifiers argument, a soft hyphen in a domain
-- (which IDNA would drop silently), a byte order mark, a bidi mark that
-- right-to-left interfaces put around numbers.
SELECT * FROM contact_identity.resolve_contact(email => U&'\FEFFjose@x.io');
SELECT contact_identity.normalize_email(U&'ann@ex\00ADample.com');
SELECT contact_identity.normalize_phone(U&'\200E+380 50 123 45 67');
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"cookie": "ck\u200d"}');
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"mobile_push": "\u2066tok\u2069"}');
SELECT * FROM contact_identity.upsert_contact(email => 'ann@x.io', identifiers => '{"telegram": "12\u200c3"}');
\set VERBOSITY terse
SELECT * FROM contact_identity.track_event('order', '{}', email => U&'jos\202E@x.io');
SELECT * FROM contact_identity.assign_external_id(:jose, U&'\2066u-9\2069');
\set VERBOSITY default
-- Nothing of them was written.
SELECT count(*) AS contacts, (SELECT count(*) FROM contact_identity.identifiers) AS identifiers,
       (SELECT count(*) FROM contact_identity.events) AS events
FROM contact_identity.contacts;

-- Other Unicode is kept as each type says: external IDs and "text" tokens
-- exactly as sent (opaque), emoji with their variation selector, letters
-- of every script.
SELECT external_id FROM contact_identity.upsert_contact(external_id => U&'u-e\0301', email => U&'\2764\FE0F@x.io');
SELECT count(*) AS other_id FROM contact_identity.resolve_contact(external_id => U&'u-\00E9') WHERE contact_id IS NOT NULL;
SELECT email FROM contact_identity.contacts WHERE external_id = U&'u-e\0301';
-- A "lower" type is compared as emails are: NFC and lower case.
INSERT INTO contact_identity.identifier_types (name, class, priority, normalizer, description)
VALUES ('nickname', 'changeable', 50, 'lower', 'a nickname, compared in NFC and lower case');
SELECT contact_id AS eva FROM contact_identity.upsert_contact(identifiers => jsonb_build_object('nickname', U&'\00C9VA')) \gset
SELECT contact_id = :eva AS same_contact, matched_by
FROM contact_identity.resolve_contact(identifiers => jsonb_build_object('nickname', U&'e\0301va'));
SELECT value FROM contact_identity.identifiers WHERE type = 'nickname';

-- An import reads every row the same way; a row with a format character
-- fails alone.
CREATE TEMP TABLE unicode_src (external_id text, email text, phone text);
INSERT INTO unicode_src VALUES
  ('i-1', U&'MARI\0301A@x.io', NULL),
  (NULL, U&'mar\00EDa@x.io', NULL),
  ('i-3', U&'pe\200Bdro@x.io', NULL),
  (U&'i-\202E4', 'ok4@x.io', NULL),
  ('i-5', NULL, U&'+380\00AD501234567');
SELECT row_number, action, matched_by, error_code, error_message
FROM contact_identity.import_contacts('unicode_src', dedupe_on => 'email_or_phone') ORDER BY row_number;
SELECT external_id, email FROM contact_identity.contacts WHERE email LIKE 'mar%' ORDER BY contact_id;

-- The check finds nothing in a database 0.5.2 wrote.
SELECT * FROM contact_identity.unnormalized_identifiers();
-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
