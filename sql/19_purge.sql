-- purge_contact: the right to be forgotten. The person (the contact and
-- every contact merged into it) is erased: contacts, identifiers, events,
-- failed import rows naming them. identity_log keeps its rows with keyed
-- hashes in place of their values. No personal value is left in any table.
CREATE EXTENSION contact_identity;
SET contact_identity.default_region = 'UA';
SET client_min_messages = warning;

-- Ann: a cookie history, a registration, a token, an email she had before,
-- a second profile merged into hers, and a failed import row.
SELECT contact_identity.track_event('page_view', '{"url": "/shoes"}', identifiers => '{"cookie": "ck-ann"}') > 0 AS tracked;
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'ann-17', email => 'ann.old@x.io',
    phone => '050 123 4567', first_name => 'Annabel', identifiers => '{"cookie": "ck-ann", "mobile_push": "tok-ann"}');
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'ann-17', email => 'annabel@x.io');
SELECT contact_id FROM contact_identity.upsert_contact(email => 'annabel.work@x.io', last_name => 'Kovalenko');
SELECT contact_identity.merge_contacts(1, 2) AS winner;
SELECT contact_identity.track_event('order', '{"total": 42}', external_id => 'ann-17') > 0 AS tracked;
-- An anonymous event under her old email, after she gave it up.
SELECT contact_identity.track_event('newsletter_click', email => 'ann.old@x.io') > 0 AS tracked;
CREATE TABLE purge_src (external_id text, email text, phone text);
INSERT INTO purge_src VALUES ('ann-17', 'ANNABEL@X.IO ', 'not a phone'), ('bob-1', 'bob@x.io', NULL);
SELECT count(*) FROM contact_identity.import_contacts('purge_src') WHERE error_code IS NULL;
CALL contact_identity.run_import('purge_src');
-- Bob, who must be left alone.
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'bob-1', identifiers => '{"cookie": "ck-bob"}');
RESET client_min_messages;

-- Every value that names Ann, as stored or as sent.
CREATE TABLE ann_values (v text);
INSERT INTO ann_values VALUES ('ann-17'), ('ann.old@x.io'), ('annabel@x.io'), ('annabel.work@x.io'),
    ('+380501234567'), ('ck-ann'), ('tok-ann'), ('Annabel'), ('Kovalenko'), ('ANNABEL@X.IO');
-- Where they occur, in every table of the extension.
CREATE FUNCTION occurrences() RETURNS TABLE (tbl text, v text, n bigint) LANGUAGE plpgsql AS $$
DECLARE t regclass; a record;
BEGIN
  FOR t IN SELECT c.oid FROM pg_class c WHERE c.relnamespace = 'contact_identity'::regnamespace
             AND c.relkind = 'r' ORDER BY c.relname LOOP
    FOR a IN SELECT * FROM ann_values LOOP
      EXECUTE format('SELECT count(*) FROM %s x WHERE x::text ILIKE %L', t, '%' || a.v || '%') INTO n;
      IF n > 0 THEN tbl := t::text; v := a.v; RETURN NEXT; END IF;
    END LOOP;
  END LOOP;
END $$;
SELECT tbl, count(*) AS values_found FROM occurrences() GROUP BY tbl ORDER BY tbl;

SELECT contact_identity.purge_contact(1);
SELECT * FROM occurrences();

-- What is left: Bob, and a log that still counts and connects.
SELECT contact_id, external_id FROM contact_identity.contacts ORDER BY contact_id;
SELECT type, value FROM contact_identity.identifiers ORDER BY type, value;
SELECT event_type, contact_id FROM contact_identity.events ORDER BY event_id;
SELECT count(*) AS import_errors_left FROM contact_identity.import_errors;
SELECT action, detail FROM contact_identity.identity_log WHERE action = 'purged';
-- One value, one hash: the rows about her cookie still match each other.
SELECT count(DISTINCT identifier_value) AS hashes, count(*) AS rows
FROM contact_identity.identity_log_steps WHERE identifier_type = 'cookie' AND identifier_value LIKE 'hmac:%';
-- Her rows keep what happened, with hashes for her values, and say they
-- were purged; the names and attributes a merge filled in are gone.
SELECT count(*) AS rows, count(*) FILTER (WHERE detail::text LIKE '%hmac:%') AS with_hashes,
       count(*) FILTER (WHERE detail->>'purged' = 'true') AS marked_purged,
       count(*) FILTER (WHERE detail ? 'filled' AND detail->'filled' <> '{"purged": true}') AS fills_left
FROM contact_identity.identity_log WHERE (contact_id IN (1, 2) OR other_contact_id IN (1, 2)) AND action <> 'purged';

-- Her identifiers are free: a new person may have them.
SELECT contact_id, action FROM contact_identity.upsert_contact(external_id => 'ann-17', email => 'annabel@x.io');

-- Error paths.
SELECT contact_identity.purge_contact(NULL);
SELECT contact_identity.purge_contact(404);
SELECT contact_identity.purge_contact(5, account_id => 9);
-- A merged contact is part of the contact it went into: purge that one.
SELECT contact_id AS loser FROM contact_identity.upsert_contact(email => 'x@x.io') \gset
SELECT contact_identity.merge_contacts(4, :loser) AS winner;
SELECT contact_identity.purge_contact(:loser);
SELECT contact_identity.purge_contact(4, account_id => -1);
-- The secret is the owner's alone.
SELECT has_table_privilege('public', 'contact_identity.secrets', 'SELECT') AS public_can_read;

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
DROP TABLE purge_src, ann_values;
DROP FUNCTION occurrences();
