-- Rule 1: identifiers are normalized before any lookup; invalid ones are
-- errors (22023) that name the field and value, and nothing is written.
CREATE EXTENSION contact_identity;

-- Email: trimmed, lower-cased, IDN domain in ASCII.
SELECT contact_identity.normalize_email('  Ann.Lee@Example.COM ');
SELECT contact_identity.normalize_email('ivan@пример.укр');
SELECT contact_identity.normalize_email('User@Bücher.Example');
SELECT contact_identity.normalize_email('not-an-email');
\echo :LAST_ERROR_SQLSTATE
SELECT contact_identity.normalize_email('two@@example.com');
SELECT contact_identity.normalize_email('ann@localhost');

-- Phone: E.164 through libphonenumber; national numbers need a region.
SELECT contact_identity.normalize_phone('+380 (50) 123-45-67');
SELECT contact_identity.normalize_phone('050 123 45 67', 'UA');
SELECT contact_identity.normalize_phone('(202) 555-0143', 'US');
SHOW contact_identity.default_region;
SELECT contact_identity.normalize_phone('050 123 45 67');
\echo :LAST_ERROR_SQLSTATE
SET contact_identity.default_region = 'ua';
SELECT contact_identity.normalize_phone('050 123 45 67');
SELECT contact_identity.normalize_phone('12');
SELECT contact_identity.normalize_phone('call me');
-- An extension is kept, as RFC 3966 writes it; letters elsewhere are not.
SELECT contact_identity.normalize_phone('(509) 463-5519 x123', 'US');
SELECT contact_identity.normalize_phone('+1 509 463 5519 ext. 123');
SELECT contact_identity.normalize_phone('1-800-FLOWERS', 'US');
SET contact_identity.default_region = 'Atlantis';
RESET contact_identity.default_region;

-- The same normalization applies inside upsert and resolve.
SET contact_identity.default_region = 'UA';
SELECT * FROM contact_identity.upsert_contact(email => ' Ann@Example.com', phone => '050 123 45 67');
SELECT email, phone FROM contact_identity.contacts;
SELECT * FROM contact_identity.resolve_contact(email => 'ANN@EXAMPLE.COM');
SELECT * FROM contact_identity.resolve_contact(phone => '+380501234567');

-- External IDs are opaque: case and inner spaces kept.
SELECT external_id FROM contact_identity.upsert_contact(external_id => 'Ext ID-42');
SELECT * FROM contact_identity.resolve_contact(external_id => 'ext id-42');
-- ...but empty, blank, too long or control characters are rejected.
SELECT * FROM contact_identity.upsert_contact(external_id => '');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM contact_identity.upsert_contact(external_id => '   ');
SELECT action FROM contact_identity.upsert_contact(external_id => repeat('ж', 255));
SELECT * FROM contact_identity.upsert_contact(external_id => repeat('ж', 256));
SELECT * FROM contact_identity.upsert_contact(external_id => E'u\t1');

-- Invalid values anywhere in the call: an error, nothing written.
SELECT count(*) AS contacts_before FROM contact_identity.contacts;
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-new', email => 'bad@');
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-new', phone => '+1');
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-new', identifiers => '{"mobile_push": " "}');
SELECT count(*) AS contacts_after FROM contact_identity.contacts;

-- The identifiers argument: type name to a value or an array of values.
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"mobile_push": "t1", "cookie": ["c1", "c2"], "telegram": 123456}');
SELECT type, value FROM contact_identity.identifiers
WHERE contact_id = (SELECT contact_id FROM contact_identity.identifiers WHERE value = 't1') ORDER BY type, value;
SELECT * FROM contact_identity.upsert_contact(identifiers => '["t1"]');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"mobile_push": {"token": "t1"}}');
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"mobile_push": true}');
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"fax": "123"}');
SELECT * FROM contact_identity.upsert_contact(email => 'a@x.io', identifiers => '{"email": "b@x.io"}');
-- The same value twice is one identifier.
SELECT * FROM contact_identity.upsert_contact(email => 'a@x.io', identifiers => '{"email": "A@X.IO", "cookie": ["k1", "k1"]}');

-- A call with no identifier at all is an error.
SELECT * FROM contact_identity.upsert_contact(first_name => 'Nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM contact_identity.upsert_contact();
SELECT * FROM contact_identity.upsert_contact(identifiers => '{}');
SELECT * FROM contact_identity.resolve_contact();
-- Other arguments are checked too.
SELECT * FROM contact_identity.upsert_contact(email => 'a@x.io', attributes => '[1, 2]');
SELECT * FROM contact_identity.upsert_contact(email => 'a@x.io', account_id => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM contact_identity.upsert_contact(email => 'a@x.io', account_id => -1);
SELECT * FROM contact_identity.resolve_contact(email => 'a@x.io', include_deleted => NULL);

-- Two people behind one switchboard stay two; the same extension in
-- another spelling finds its person, and the number without one finds
-- neither.
SELECT action FROM contact_identity.upsert_contact(phone => '+1 509 463 5519 x123', first_name => 'Ext 123');
SELECT action FROM contact_identity.upsert_contact(phone => '+1 509 463 5519 x124', first_name => 'Ext 124');
SELECT first_name, phone FROM contact_identity.contacts WHERE phone LIKE '+1509%' ORDER BY phone;
SELECT c.first_name, r.matched_by FROM contact_identity.resolve_contact(phone => '+1 (509) 463-5519 ext. 123') r
  JOIN contact_identity.contacts c USING (contact_id);
SELECT count(*) AS found FROM contact_identity.resolve_contact(phone => '+1 509 463 5519') WHERE contact_id IS NOT NULL;

-- A region set before the library is loaded (here, in a new session) is
-- checked when it loads, where PostgreSQL only warns: the first call that
-- needs the region refuses it, until it is set again.
\c
SET contact_identity.default_region = 'ZZ';
SELECT contact_identity.normalize_phone('050 123 45 67');
-- An import ends at once, instead of failing every row.
CREATE TEMP TABLE region_src AS SELECT '050 123 45 67'::text AS phone;
SELECT * FROM contact_identity.import_contacts('region_src');
SET contact_identity.default_region = 'UA';
SELECT contact_identity.normalize_phone('050 123 45 67');

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
