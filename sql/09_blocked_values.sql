-- Junk identifiers never match two people together: they are dropped with
-- a NOTICE, never used for matching, never stored.
CREATE EXTENSION contact_identity;

SELECT * FROM contact_identity.upsert_contact(email => 'test@test.com', phone => '+380501234567');
SELECT * FROM contact_identity.upsert_contact(email => 'test@test.com', phone => '+380671112233');
SELECT count(*) AS contacts, count(*) FILTER (WHERE email IS NOT NULL) AS with_email FROM contact_identity.contacts;
SELECT count(*) AS stored_junk FROM contact_identity.identifiers WHERE value = 'test@test.com';

-- Placeholders of any type, in any case, before normalization.
SELECT * FROM contact_identity.upsert_contact(external_id => 'NULL', email => 'ann@x.io');
SELECT * FROM contact_identity.upsert_contact(email => ' undefined ', phone => '+380501234567');
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"mobile_push": "None", "telegram": 0}', email => 'bob@x.io');
-- Patterns: placeholder mailboxes and all-zero or repeated-digit phones.
SELECT * FROM contact_identity.upsert_contact(email => 'noreply@shop.example', phone => '+380000000000', external_id => 'u-5');
SELECT * FROM contact_identity.upsert_contact(phone => '+15555555555', external_id => 'u-6');
SELECT email, phone FROM contact_identity.contacts WHERE external_id IN ('u-5', 'u-6') ORDER BY external_id;
-- An extension does not make a junk number usable: the patterns see the
-- number without it.
SELECT * FROM contact_identity.upsert_contact(phone => '+1 555 555 5555 x12', external_id => 'u-6x');
SELECT phone FROM contact_identity.contacts WHERE external_id = 'u-6x';

-- Everything blocked: nothing left to identify the person.
SELECT * FROM contact_identity.upsert_contact(email => 'null', phone => '0');
\echo :LAST_ERROR_SQLSTATE
-- resolve says no row.
SELECT * FROM contact_identity.resolve_contact(email => 'test@test.com');

-- Admins add their own junk, exact or as a pattern, per type or for all.
INSERT INTO contact_identity.blocked_values (identifier_type, value, reason) VALUES ('email', 'info@shop.example', 'shared inbox');
INSERT INTO contact_identity.blocked_values (identifier_type, value, is_pattern, reason) VALUES ('mobile_push', '^simulator-', true, 'test devices');
SELECT * FROM contact_identity.upsert_contact(email => 'INFO@shop.example', identifiers => '{"mobile_push": "simulator-1", "telegram": "55"}');
SELECT type, value FROM contact_identity.identifiers i WHERE contact_id = (SELECT max(contact_id) FROM contact_identity.contacts);
-- An import checks a whole batch's keys at once (more than 100 of them:
-- the batch form of the check). It blocks the same values, for the same
-- reasons, as the calls above: 40 good rows with four junk rows among them.
CREATE TABLE junk_src AS
SELECT 'j-' || g AS external_id, 'j' || g || '@x.io' AS email, '+38050' || lpad(g::text, 7, '0') AS phone
FROM generate_series(1, 40) AS g;
INSERT INTO junk_src VALUES ('NULL', 'ann.j@x.io', NULL), ('j-41', ' TEST@TEST.COM ', '+380000000000'),
                            ('j-42', 'noreply@shop.example', '+15555555555'), ('j-43', 'INFO@shop.example', NULL);
SELECT row_number, action, error_code, error_message
FROM contact_identity.import_contacts('junk_src', dedupe_on => 'email_or_phone', account_id => 9)
WHERE row_number > 40;
SELECT count(*) AS stored_junk FROM contact_identity.identifiers
WHERE account_id = 9 AND value IN ('NULL', 'test@test.com', '+380000000000', 'noreply@shop.example',
                                   '+15555555555', 'info@shop.example');
DROP TABLE junk_src;
-- An invalid pattern is refused when added.
INSERT INTO contact_identity.blocked_values (identifier_type, value, is_pattern) VALUES ('email', '([', true);

-- Most keys are checked without the database, on the import's threads: an
-- ASCII value against patterns of core/ascii_regex.h's subset. Its answers
-- must be those of ~*. For each pattern (the last three are outside the
-- subset, and so is every value with a non-ASCII letter), an import of
-- every subject stores exactly the telegram values the pattern does not
-- match: "wrong" counts the values where it does otherwise.
CREATE TABLE regex_pattern (n serial, pattern text);
INSERT INTO regex_pattern (pattern) VALUES ('^noreply$'), ('noreply'), ('^[a-c]+$'), ('^a.b$'), (E'^a\\.b$'),
    (E'^\\d+$'), (E'^\\+[0-9]{1,3}(0{7,}|5{7,})$'), ('^[^@]+@'), ('^simulator-'), ('a+?b'), ('^(?:x|a)+b$'),
    ('[]]'), ('^jos'), (E'([a-z])\\1'), ('[[:upper:]]'), ('é');
CREATE TABLE regex_src AS
SELECT 'r-' || n AS external_id, subject AS telegram
FROM unnest(ARRAY['noreply', 'NoReply', 'xnoreplyx', 'abc', 'ABC', 'a.b', 'axb', 'a-b', '12345', '+3800000000',
                  '+385555555', '+38555555', 'user@x', '@x', 'simulator-1', 'SIMULATOR-2', 'josé', 'JOSÉ', 'a]b',
                  'aab', 'zzz', 'aa']) WITH ORDINALITY AS s(subject, n);
CREATE TABLE regex_result (pattern text, subjects int, blocked int, wrong int);
SET client_min_messages = warning;  -- one NOTICE per blocked value
DO $$
DECLARE
  p record;
BEGIN
  FOR p IN SELECT n, pattern FROM regex_pattern ORDER BY n LOOP
    DELETE FROM contact_identity.blocked_values WHERE NOT builtin;
    INSERT INTO contact_identity.blocked_values (identifier_type, value, is_pattern, reason)
    VALUES ('telegram', p.pattern, true, 'case');
    PERFORM count(*) FROM contact_identity.import_contacts('regex_src', account_id => 100 + p.n);
    INSERT INTO regex_result
    SELECT p.pattern, count(*), count(*) FILTER (WHERE s.telegram ~* p.pattern),
           count(*) FILTER (WHERE (s.telegram ~* p.pattern) = (i.value IS NOT NULL))
    FROM regex_src s
    LEFT JOIN contact_identity.identifiers i
      ON i.account_id = 100 + p.n AND i.type = 'telegram' AND i.value = s.telegram;
  END LOOP;
END $$;
RESET client_min_messages;
SELECT * FROM regex_result;
DELETE FROM contact_identity.blocked_values WHERE NOT builtin;
DROP TABLE regex_pattern, regex_src, regex_result;

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
