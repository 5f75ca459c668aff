-- Hostile input: every SQL function of the extension gets very long values
-- (1 MB), control characters, odd Unicode, deep and huge JSON, JSON of the
-- wrong type, NULL in each argument, and account IDs out of range. Each call
-- gives a normal result or an error with a SQLSTATE and a message naming the
-- argument; a refused call writes nothing; the backend never goes away (a
-- crash would show as a lost connection below).
CREATE EXTENSION contact_identity;
SET contact_identity.default_region = 'UA';
SET client_min_messages = warning;   -- blocked values say so in NOTICEs
SET statement_timeout = '10s';       -- a hang would show as 57014

-- outcome(sql): 'ok: ' and the first column of the first row (cut to 60
-- characters), or the SQLSTATE and the message (cut to 120).
CREATE FUNCTION outcome(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  r text;
BEGIN
  EXECUTE q INTO r;
  RETURN 'ok: ' || coalesce(left(r, 60), '<null>');
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || left(SQLERRM, 120);
END $$;

-- What the extension has written, to compare before and after refused calls.
CREATE VIEW written AS SELECT
  (SELECT count(*) FROM contact_identity.contacts) AS contacts,
  (SELECT count(*) FROM contact_identity.identifiers) AS identifiers,
  (SELECT count(*) FROM contact_identity.identity_log) AS identity_log,
  (SELECT count(*) FROM contact_identity.events) AS events,
  (SELECT count(*) FROM contact_identity.event_keys) AS event_keys,
  (SELECT count(*) FROM contact_identity.segments) AS segments,
  (SELECT count(*) FROM contact_identity.imports) AS imports,
  (SELECT count(*) FROM contact_identity.import_errors) AS import_errors;

-- The hostile values: h(name) as text, hj(name) as jsonb.
CREATE TABLE hostile (name text PRIMARY KEY, t text, j jsonb);
INSERT INTO hostile (name, t) VALUES
  ('1mb', repeat('a', 1048576)),
  ('1mb_cyrillic', repeat('ж', 524288)),
  ('1mb_local', repeat('a', 1048576) || '@x.io'),
  ('1mb_domain', 'ann@' || repeat('a', 1048576) || '.io'),
  ('1mb_phone', '+380 (50) ' || repeat('x', 1048576)),
  ('1k_digits', '+380' || repeat('1234567890', 100)),
  ('1mb_digits', '+380' || repeat('5', 1048576));
INSERT INTO hostile (name, j) VALUES
  ('deep_array', (repeat('[', 10000) || repeat(']', 10000))::jsonb),
  ('deep_object', (repeat('{"a": ', 10000) || '1' || repeat('}', 10000))::jsonb),
  ('wide', (SELECT jsonb_object_agg('k' || g, g) FROM generate_series(1, 100000) AS g)),
  ('1mb_value', jsonb_build_object('cookie', repeat('a', 1048576))),
  ('1mb_key', jsonb_build_object(repeat('k', 1048576), 'v'));
CREATE FUNCTION h(n text) RETURNS text LANGUAGE sql STABLE AS $$ SELECT t FROM hostile WHERE name = n $$;
CREATE FUNCTION hj(n text) RETURNS jsonb LANGUAGE sql STABLE AS $$ SELECT j FROM hostile WHERE name = n $$;
SELECT name, octet_length(coalesce(t, j::text)) AS bytes FROM hostile ORDER BY name;

-- jsonb itself refuses an unpaired surrogate and \u0000: such input never
-- reaches a function. A surrogate pair is an emoji.
SELECT outcome($$SELECT '{"cookie": "\ud800"}'::jsonb$$) AS unpaired_high,
       outcome($$SELECT '{"cookie": "\udc00x"}'::jsonb$$) AS unpaired_low,
       outcome($$SELECT '{"cookie": "a\u0000b"}'::jsonb$$) AS nul,
       outcome($$SELECT '{"cookie": "\ud83d\ude00"}'::jsonb$$) AS pair;

-- The contacts the calls below work on.
SELECT contact_id AS ann FROM contact_identity.upsert_contact(external_id => 'u-1', email => 'ann@x.io',
    phone => '050 123 45 67', identifiers => '{"cookie": "ck-1"}', first_name => 'Ann') \gset
SELECT contact_id AS bo FROM contact_identity.upsert_contact(email => 'bo@x.io') \gset
SELECT contact_id AS cy FROM contact_identity.upsert_contact(email => 'cy@x.io') \gset
SELECT contact_identity.merge_contacts(:ann, :cy) AS winner;
SELECT contact_identity.track_event('order', '{"total": 1}', external_id => 'u-1') AS event_id;
SELECT contact_identity.create_segment('seg', '{"field": "email", "op": "is_not_empty"}');
SELECT :ann AS ann, :bo AS bo, :cy AS cy;
SELECT * FROM written;

-- Normalizers: NULL gives NULL (they are STRICT, normalize_phone's region
-- falls back to the default); everything else is a value or a 22023 naming
-- the email or phone, with the value cut and escaped. Domains go through
-- IDNA (NFC, Punycode: a Cyrillic homoglyph stays visibly different); local
-- parts are put in NFC and lower case (sql/29_unicode.sql); format
-- characters (a right-to-left override, a zero-width joiner) are refused
-- anywhere.
-- A phone of more than 100 characters is refused before libphonenumber
-- reads it: its regular expressions take time growing with the square of
-- the length and cannot be cancelled (1 MB of digits ran for hours before
-- this limit).
SELECT c AS "case", outcome(q) FROM (VALUES
  ('normalize_email NULL', $$SELECT contact_identity.normalize_email(NULL)$$),
  ('normalize_email 1 MB no @', $$SELECT contact_identity.normalize_email(h('1mb'))$$),
  ('normalize_email 1 MB local part', $$SELECT contact_identity.normalize_email(h('1mb_local'))$$),
  ('normalize_email 1 MB domain', $$SELECT contact_identity.normalize_email(h('1mb_domain'))$$),
  ('normalize_email 1 MB Cyrillic', $$SELECT contact_identity.normalize_email(h('1mb_cyrillic'))$$),
  ('normalize_email \x01', $$SELECT contact_identity.normalize_email(E'ann\x01@x.io')$$),
  ('normalize_email \x1b', $$SELECT contact_identity.normalize_email(E'ann@x.io\x1b[31m')$$),
  ('normalize_email \x7f', $$SELECT contact_identity.normalize_email(E'ann@x\x7f.io')$$),
  ('normalize_email inner newline', $$SELECT contact_identity.normalize_email(E'ann\n@x.io')$$),
  ('normalize_email outer tab/newline', $$SELECT contact_identity.normalize_email(E'\tann@x.io\n')$$),
  ('normalize_email combining mark', $$SELECT contact_identity.normalize_email(U&'ann\0301@x.io')$$),
  ('normalize_email combining in domain', $$SELECT contact_identity.normalize_email(U&'ann@xe\0301.io')$$),
  ('normalize_email RTL override', $$SELECT contact_identity.normalize_email(U&'ann@x\202E.io')$$),
  ('normalize_email zero-width joiner', $$SELECT contact_identity.normalize_email(U&'an\200Dn@x.io')$$),
  ('normalize_email homoglyph domain', $$SELECT contact_identity.normalize_email(U&'ann@\0430pple.com')$$),
  ('normalize_email emoji local part', $$SELECT contact_identity.normalize_email(U&'\+01F600@x.io')$$),
  ('normalize_email emoji domain', $$SELECT contact_identity.normalize_email(U&'ann@\+01F600.io')$$),
  ('normalize_email NFC = NFD local part', $$SELECT contact_identity.normalize_email(U&'n\00E9@x.io') = contact_identity.normalize_email(U&'ne\0301@x.io')$$),
  ('normalize_email NFC = NFD domain', $$SELECT contact_identity.normalize_email(U&'n@\00E9.io') = contact_identity.normalize_email(U&'n@e\0301.io')$$),
  ('normalize_phone NULL phone', $$SELECT contact_identity.normalize_phone(NULL, 'UA')$$),
  ('normalize_phone NULL region', $$SELECT contact_identity.normalize_phone('050 123 45 67', NULL)$$),
  ('normalize_phone 1 MB', $$SELECT contact_identity.normalize_phone(h('1mb_phone'))$$),
  ('normalize_phone 1 MB letters', $$SELECT contact_identity.normalize_phone(h('1mb'))$$),
  ('normalize_phone 1,000 digits', $$SELECT contact_identity.normalize_phone(h('1k_digits'))$$),
  ('normalize_phone 1 MB digits', $$SELECT contact_identity.normalize_phone(h('1mb_digits'))$$),
  ('normalize_phone 1 MB region', $$SELECT contact_identity.normalize_phone('050 123 45 67', h('1mb'))$$),
  ('normalize_phone region \x01', $$SELECT contact_identity.normalize_phone('050 123 45 67', E'U\x01A')$$),
  ('normalize_phone empty region', $$SELECT contact_identity.normalize_phone('050 123 45 67', '')$$),
  ('normalize_phone \x01', $$SELECT contact_identity.normalize_phone(E'+380\x01501234567')$$),
  ('normalize_phone \x1b', $$SELECT contact_identity.normalize_phone(E'+380501234567\x1b')$$),
  ('normalize_phone newline', $$SELECT contact_identity.normalize_phone(E'+380 50\n123 45 67')$$),
  ('normalize_phone RTL override', $$SELECT contact_identity.normalize_phone(U&'+380\202E501234567')$$),
  ('normalize_phone Arabic-Indic digits', $$SELECT contact_identity.normalize_phone(U&'+\0663\0668\0660\0665\0660\0661\0662\0663\0664\0665\0666\0667')$$),
  ('normalize_phone emoji', $$SELECT contact_identity.normalize_phone(U&'+380\+01F600501234567')$$),
  ('default_region 1 MB', $$SELECT set_config('contact_identity.default_region', h('1mb'), false)$$),
  ('default_region \x01', $$SELECT set_config('contact_identity.default_region', E'U\x01A', false)$$),
  ('default_region RTL override', $$SELECT set_config('contact_identity.default_region', U&'\202EUA', false)$$),
  ('email_mailbox NULL', $$SELECT contact_identity.email_mailbox(NULL)$$),
  ('email_mailbox 1 MB', $$SELECT contact_identity.email_mailbox(h('1mb'))$$),
  ('email_mailbox 1 MB local part', $$SELECT contact_identity.email_mailbox(h('1mb_local'))$$),
  ('email_mailbox \x01', $$SELECT contact_identity.email_mailbox(E'a\x01+tag@gmail.com')$$),
  ('email_mailbox RTL override', $$SELECT contact_identity.email_mailbox(U&'a.b+\202E@gmail.com')$$),
  ('email_mailbox no @', $$SELECT contact_identity.email_mailbox('no-at-sign')$$),
  ('email_mailbox empty', $$SELECT contact_identity.email_mailbox('')$$)
) AS t(c, q);
SHOW contact_identity.default_region;

-- upsert_contact, refused: nothing is written.
SELECT * FROM written;
SELECT c AS "case", outcome(q) FROM (VALUES
  ('account_id NULL', $$SELECT (contact_identity.upsert_contact(email => 'n@x.io', account_id => NULL)).action$$),
  ('restore_deleted NULL', $$SELECT (contact_identity.upsert_contact(email => 'n@x.io', restore_deleted => NULL)).action$$),
  ('all keys NULL', $$SELECT (contact_identity.upsert_contact(external_id => NULL, email => NULL, phone => NULL, identifiers => NULL, first_name => 'x')).action$$),
  ('account_id -1', $$SELECT (contact_identity.upsert_contact(email => 'n@x.io', account_id => -1)).action$$),
  ('account_id bigint min', $$SELECT (contact_identity.upsert_contact(email => 'n@x.io', account_id => -9223372036854775808)).action$$),
  ('contact_id -1', $$SELECT (contact_identity.upsert_contact(contact_id => -1, first_name => 'x')).action$$),
  ('contact_id bigint max', $$SELECT (contact_identity.upsert_contact(contact_id => 9223372036854775807, first_name => 'x')).action$$),
  ('external_id 1 MB', $$SELECT (contact_identity.upsert_contact(external_id => h('1mb'))).action$$),
  ('external_id 1 MB Cyrillic', $$SELECT (contact_identity.upsert_contact(external_id => h('1mb_cyrillic'))).action$$),
  ('email 1 MB local part', $$SELECT (contact_identity.upsert_contact(email => h('1mb_local'))).action$$),
  ('email 1 MB domain', $$SELECT (contact_identity.upsert_contact(email => h('1mb_domain'))).action$$),
  ('phone 1 MB', $$SELECT (contact_identity.upsert_contact(phone => h('1mb_phone'))).action$$),
  ('phone 1,000 digits', $$SELECT (contact_identity.upsert_contact(phone => h('1k_digits'))).action$$),
  ('phone 1 MB digits', $$SELECT (contact_identity.upsert_contact(phone => h('1mb_digits'))).action$$),
  ('20,000 cookies', $$SELECT (contact_identity.upsert_contact(email => 'many@x.io', identifiers => jsonb_build_object('cookie', (SELECT jsonb_agg('ck' || g) FROM generate_series(1, 20000) g)))).action$$),
  ('identifiers value 1 MB', $$SELECT (contact_identity.upsert_contact(identifiers => hj('1mb_value'))).action$$),
  ('identifiers type 1 MB', $$SELECT (contact_identity.upsert_contact(identifiers => hj('1mb_key'))).action$$),
  ('dedupe_on 1 MB', $$SELECT (contact_identity.upsert_contact(email => 'n@x.io', dedupe_on => h('1mb'))).action$$),
  ('external_id \x01', $$SELECT (contact_identity.upsert_contact(external_id => E'u\x01')).action$$),
  ('external_id \x1b', $$SELECT (contact_identity.upsert_contact(external_id => E'u\x1b[2J')).action$$),
  ('external_id \x7f', $$SELECT (contact_identity.upsert_contact(external_id => E'u\x7f')).action$$),
  ('external_id newline', $$SELECT (contact_identity.upsert_contact(external_id => E'u\n2')).action$$),
  ('email \x01', $$SELECT (contact_identity.upsert_contact(email => E'n\x01@x.io')).action$$),
  ('phone \x1b', $$SELECT (contact_identity.upsert_contact(phone => E'+38050123\x1b4567')).action$$),
  ('identifiers value \u0001', $$SELECT (contact_identity.upsert_contact(identifiers => '{"cookie": "c\u0001"}')).action$$),
  ('identifiers type \u001b', $$SELECT (contact_identity.upsert_contact(identifiers => '{"coo\u001bkie": "c"}')).action$$),
  ('dedupe_on \x01', $$SELECT (contact_identity.upsert_contact(email => 'n@x.io', dedupe_on => E'email\x01')).action$$),
  ('email RTL override', $$SELECT (contact_identity.upsert_contact(email => U&'n@x\202E.io')).action$$),
  ('email zero-width joiner', $$SELECT (contact_identity.upsert_contact(email => U&'n\200D@x.io')).action$$),
  ('external_id RTL override', $$SELECT (contact_identity.upsert_contact(external_id => U&'u-\202E3')).external_id$$),
  ('external_id ZWJ and combining', $$SELECT (contact_identity.upsert_contact(external_id => U&'u-\200De\0301')).external_id$$),
  ('identifiers RTL cookie', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', identifiers => '{"cookie": "\u202ec"}')).action$$),
  ('email emoji domain', $$SELECT (contact_identity.upsert_contact(email => U&'n@\+01F600.io')).action$$),
  ('identifiers 10,000-deep array', $$SELECT (contact_identity.upsert_contact(identifiers => hj('deep_array'))).action$$),
  ('identifiers 10,000-deep object', $$SELECT (contact_identity.upsert_contact(identifiers => hj('deep_object'))).action$$),
  ('identifiers cookie: deep array', $$SELECT (contact_identity.upsert_contact(identifiers => jsonb_build_object('cookie', hj('deep_array')))).action$$),
  ('identifiers 100,000 keys', $$SELECT (contact_identity.upsert_contact(identifiers => hj('wide'))).action$$),
  ('identifiers array', $$SELECT (contact_identity.upsert_contact(identifiers => '["ck-1"]')).action$$),
  ('identifiers number', $$SELECT (contact_identity.upsert_contact(identifiers => '42')).action$$),
  ('identifiers boolean', $$SELECT (contact_identity.upsert_contact(identifiers => 'true')).action$$),
  ('identifiers JSON null', $$SELECT (contact_identity.upsert_contact(identifiers => 'null')).action$$),
  ('identifiers string', $$SELECT (contact_identity.upsert_contact(identifiers => '"ck-1"')).action$$),
  ('identifiers cookie: null', $$SELECT (contact_identity.upsert_contact(identifiers => '{"cookie": null}')).action$$),
  ('identifiers cookie: object', $$SELECT (contact_identity.upsert_contact(identifiers => '{"cookie": {"v": "c"}}')).action$$),
  ('identifiers cookie: boolean', $$SELECT (contact_identity.upsert_contact(identifiers => '{"cookie": false}')).action$$),
  ('identifiers telegram: 1e1000', $$SELECT (contact_identity.upsert_contact(identifiers => '{"telegram": 1e1000}')).action$$),
  ('attributes 10,000-deep array', $$SELECT (contact_identity.upsert_contact(email => 'n@x.io', attributes => hj('deep_array'))).action$$),
  ('attributes array', $$SELECT (contact_identity.upsert_contact(email => 'n@x.io', attributes => '[{"a": 1}]')).action$$),
  ('attributes number', $$SELECT (contact_identity.upsert_contact(email => 'n@x.io', attributes => '1')).action$$),
  ('attributes boolean', $$SELECT (contact_identity.upsert_contact(email => 'n@x.io', attributes => 'false')).action$$),
  ('attributes JSON null', $$SELECT (contact_identity.upsert_contact(email => 'n@x.io', attributes => 'null')).action$$),
  ('attributes string', $$SELECT (contact_identity.upsert_contact(email => 'n@x.io', attributes => '"x"')).action$$),
  ('valid email, bad phone', $$SELECT (contact_identity.upsert_contact(email => 'n@x.io', first_name => 'N', phone => h('1k_digits'))).action$$)
) AS t(c, q);
SELECT * FROM written;

-- upsert_contact, accepted: NULL in an optional argument leaves it out;
-- names and attributes are data (any size, any character); external IDs and
-- emails in odd Unicode (but for format characters, refused above) are kept
-- or normalized.
SELECT c AS "case", outcome(q) FROM (VALUES
  ('external_id NULL', $$SELECT (contact_identity.upsert_contact(external_id => NULL, email => 'n1@x.io')).action$$),
  ('email NULL', $$SELECT (contact_identity.upsert_contact(external_id => 'u-n2', email => NULL)).action$$),
  ('phone NULL', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', phone => NULL)).action$$),
  ('identifiers NULL', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', identifiers => NULL)).action$$),
  ('first_name NULL', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', first_name => NULL)).action$$),
  ('last_name NULL', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', last_name => NULL)).action$$),
  ('attributes NULL', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', attributes => NULL)).action$$),
  ('contact_id NULL', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', contact_id => NULL)).action$$),
  ('dedupe_on NULL', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', dedupe_on => NULL)).action$$),
  ('account_id bigint max', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', account_id => 9223372036854775807)).action$$),
  ('first_name 1 MB', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', first_name => h('1mb'))).action$$),
  ('last_name 1 MB', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', last_name => h('1mb_cyrillic'))).action$$),
  ('first_name control chars', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', first_name => E'A\x01\x1b\x7f\n\tB')).action$$),
  ('last_name RTL, ZWJ, combining, emoji', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', last_name => U&'\202Eo\0301\200D\+01F600')).action$$),
  ('attributes 1 MB key', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', attributes => hj('1mb_key'))).action$$),
  ('attributes 1 MB value', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', attributes => hj('1mb_value'))).action$$),
  ('attributes 10,000-deep object', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', attributes => hj('deep_object'))).action$$),
  ('attributes key: 10,000-deep array', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', attributes => jsonb_build_object('d', hj('deep_array')))).action$$),
  ('attributes 100,000 keys', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', attributes => hj('wide'))).action$$),
  ('attributes control chars', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', attributes => '{"k\u001b": "v\u0001\n"}')).action$$),
  ('external_id Arabic, right to left', $$SELECT (contact_identity.upsert_contact(external_id => U&'u-\0639\0631\0628\06493')).external_id$$),
  ('external_id combining', $$SELECT (contact_identity.upsert_contact(external_id => U&'u-e\0301')).external_id$$),
  ('external_id emoji', $$SELECT (contact_identity.upsert_contact(external_id => U&'\+01F600')).external_id$$),
  ('email homoglyph domain', $$SELECT (contact_identity.upsert_contact(email => U&'n@\0430pple.com')).action$$),
  ('email combining mark', $$SELECT (contact_identity.upsert_contact(email => U&'ne\0301@x.io')).action$$),
  ('identifiers emoji (surrogate pair)', $$SELECT (contact_identity.upsert_contact(identifiers => '{"cookie": "\ud83d\ude00"}')).action$$),
  ('identifiers Hebrew cookie', $$SELECT (contact_identity.upsert_contact(email => 'n1@x.io', identifiers => '{"cookie": "\u05d0c"}')).action$$)
) AS t(c, q);
SELECT * FROM written;
-- What was stored for the odd values.
SELECT external_id, email FROM contact_identity.contacts
WHERE email LIKE 'n%' OR external_id LIKE 'u-%' OR external_id = U&'\+01F600' ORDER BY contact_id;
SELECT octet_length(first_name) AS first_name_bytes, octet_length(last_name) AS last_name_bytes,
       (SELECT count(*) FROM jsonb_object_keys(attributes)) AS attribute_keys
FROM contact_identity.contacts WHERE email = 'n1@x.io' AND account_id = 0;

-- resolve_contact: a lookup writes nothing; NULL in an optional key leaves
-- it out. The local part of an email is stored in NFC: the NFD spelling
-- finds it too. An external ID is opaque: only its own spelling finds it.
SELECT c AS "case", outcome(q) FROM (VALUES
  ('external_id NULL', $$SELECT string_agg(contact_id || ' by ' || matched_by, ',') FROM contact_identity.resolve_contact(external_id => NULL, email => 'ann@x.io')$$),
  ('email NULL', $$SELECT string_agg(contact_id || ' by ' || matched_by, ',') FROM contact_identity.resolve_contact(external_id => 'u-1', email => NULL)$$),
  ('phone NULL', $$SELECT string_agg(contact_id || ' by ' || matched_by, ',') FROM contact_identity.resolve_contact(email => 'ann@x.io', phone => NULL)$$),
  ('identifiers NULL', $$SELECT string_agg(contact_id || ' by ' || matched_by, ',') FROM contact_identity.resolve_contact(email => 'ann@x.io', identifiers => NULL)$$),
  ('account_id NULL', $$SELECT count(*) FROM contact_identity.resolve_contact(email => 'ann@x.io', account_id => NULL)$$),
  ('include_deleted NULL', $$SELECT count(*) FROM contact_identity.resolve_contact(email => 'ann@x.io', include_deleted => NULL)$$),
  ('all NULL', $$SELECT count(*) FROM contact_identity.resolve_contact(NULL, NULL, NULL, NULL)$$),
  ('account_id -1', $$SELECT count(*) FROM contact_identity.resolve_contact(email => 'ann@x.io', account_id => -1)$$),
  ('account_id bigint max', $$SELECT count(*) FROM contact_identity.resolve_contact(email => 'ann@x.io', account_id => 9223372036854775807)$$),
  ('external_id 1 MB', $$SELECT count(*) FROM contact_identity.resolve_contact(external_id => h('1mb'))$$),
  ('email 1 MB', $$SELECT count(*) FROM contact_identity.resolve_contact(email => h('1mb_local'))$$),
  ('phone 1 MB', $$SELECT count(*) FROM contact_identity.resolve_contact(phone => h('1mb_phone'))$$),
  ('phone 1,000 digits', $$SELECT count(*) FROM contact_identity.resolve_contact(phone => h('1k_digits'))$$),
  ('identifiers value 1 MB', $$SELECT count(*) FROM contact_identity.resolve_contact(identifiers => hj('1mb_value'))$$),
  ('identifiers type 1 MB', $$SELECT count(*) FROM contact_identity.resolve_contact(identifiers => hj('1mb_key'))$$),
  ('external_id \x1b', $$SELECT count(*) FROM contact_identity.resolve_contact(external_id => E'u-1\x1b')$$),
  ('email \x7f', $$SELECT count(*) FROM contact_identity.resolve_contact(email => E'ann@x.io\x7f')$$),
  ('phone tab inside', $$SELECT count(*) FROM contact_identity.resolve_contact(phone => E'+38050\t1234567')$$),
  ('email homoglyph domain', $$SELECT count(*) FROM contact_identity.resolve_contact(email => U&'ann@\0445.io')$$),
  ('external_id RTL override', $$SELECT string_agg(matched_by, ',') FROM contact_identity.resolve_contact(external_id => U&'u-\202E3')$$),
  ('external_id combining as stored', $$SELECT string_agg(matched_by, ',') FROM contact_identity.resolve_contact(external_id => U&'u-e\0301')$$),
  ('external_id composed', $$SELECT count(*) FROM contact_identity.resolve_contact(external_id => U&'u-\00E9')$$),
  ('email NFC of an NFD email', $$SELECT count(*) FROM contact_identity.resolve_contact(email => U&'n\00E9@x.io')$$),
  ('email NFD', $$SELECT count(*) FROM contact_identity.resolve_contact(email => U&'ne\0301@x.io')$$),
  ('identifiers 10,000-deep array', $$SELECT count(*) FROM contact_identity.resolve_contact(identifiers => hj('deep_array'))$$),
  ('identifiers 10,000-deep object', $$SELECT count(*) FROM contact_identity.resolve_contact(identifiers => hj('deep_object'))$$),
  ('identifiers 100,000 keys', $$SELECT count(*) FROM contact_identity.resolve_contact(identifiers => hj('wide'))$$),
  ('identifiers number', $$SELECT count(*) FROM contact_identity.resolve_contact(identifiers => '1')$$),
  ('identifiers JSON null', $$SELECT count(*) FROM contact_identity.resolve_contact(identifiers => 'null')$$),
  ('identifiers cookie: array of objects', $$SELECT count(*) FROM contact_identity.resolve_contact(identifiers => '{"cookie": [{}]}')$$)
) AS t(c, q);

-- The contact functions taking a contact ID: NULL in each argument, IDs and
-- accounts out of range, contacts that do not exist. Refused: nothing
-- written.
SELECT * FROM written;
SELECT c AS "case", outcome(q) FROM (VALUES
  ('assign_external_id contact_id NULL', $$SELECT (contact_identity.assign_external_id(NULL, 'u-x')).action$$),
  ('assign_external_id external_id NULL', $$SELECT (contact_identity.assign_external_id(2, NULL)).action$$),
  ('assign_external_id account_id NULL', $$SELECT (contact_identity.assign_external_id(2, 'u-x', NULL)).action$$),
  ('assign_external_id account_id -1', $$SELECT (contact_identity.assign_external_id(2, 'u-x', -1)).action$$),
  ('assign_external_id account_id max', $$SELECT (contact_identity.assign_external_id(2, 'u-x', 9223372036854775807)).action$$),
  ('assign_external_id contact_id -1', $$SELECT (contact_identity.assign_external_id(-1, 'u-x')).action$$),
  ('assign_external_id contact_id max', $$SELECT (contact_identity.assign_external_id(9223372036854775807, 'u-x')).action$$),
  ('assign_external_id 1 MB', $$SELECT (contact_identity.assign_external_id(2, h('1mb'))).action$$),
  ('assign_external_id \x01', $$SELECT (contact_identity.assign_external_id(2, E'u\x01x')).action$$),
  ('assign_external_id empty', $$SELECT (contact_identity.assign_external_id(2, '')).action$$),
  ('delete_contact contact_id NULL', $$SELECT contact_identity.delete_contact(NULL)$$),
  ('delete_contact account_id NULL', $$SELECT contact_identity.delete_contact(2, NULL)$$),
  ('delete_contact account_id -1', $$SELECT contact_identity.delete_contact(2, -1)$$),
  ('delete_contact account_id max', $$SELECT contact_identity.delete_contact(2, 9223372036854775807)$$),
  ('delete_contact contact_id -1', $$SELECT contact_identity.delete_contact(-1)$$),
  ('delete_contact contact_id max', $$SELECT contact_identity.delete_contact(9223372036854775807)$$),
  ('merge_contacts winner NULL', $$SELECT contact_identity.merge_contacts(NULL, 2)$$),
  ('merge_contacts loser NULL', $$SELECT contact_identity.merge_contacts(1, NULL)$$),
  ('merge_contacts force NULL', $$SELECT contact_identity.merge_contacts(1, 2, NULL)$$),
  ('merge_contacts account_id NULL', $$SELECT contact_identity.merge_contacts(1, 2, account_id => NULL)$$),
  ('merge_contacts account_id -1', $$SELECT contact_identity.merge_contacts(1, 2, account_id => -1)$$),
  ('merge_contacts account_id max', $$SELECT contact_identity.merge_contacts(1, 2, account_id => 9223372036854775807)$$),
  ('merge_contacts winner = loser', $$SELECT contact_identity.merge_contacts(1, 1)$$),
  ('merge_contacts winner -1', $$SELECT contact_identity.merge_contacts(-1, 2)$$),
  ('merge_contacts loser max', $$SELECT contact_identity.merge_contacts(1, 9223372036854775807)$$),
  ('merge_contacts loser already merged', $$SELECT contact_identity.merge_contacts(2, 3)$$),
  ('unmerge_contact loser NULL', $$SELECT contact_identity.unmerge_contact(NULL)$$),
  ('unmerge_contact account_id NULL', $$SELECT contact_identity.unmerge_contact(3, NULL)$$),
  ('unmerge_contact account_id -1', $$SELECT contact_identity.unmerge_contact(3, -1)$$),
  ('unmerge_contact account_id max', $$SELECT contact_identity.unmerge_contact(3, 9223372036854775807)$$),
  ('unmerge_contact loser -1', $$SELECT contact_identity.unmerge_contact(-1)$$),
  ('unmerge_contact loser max', $$SELECT contact_identity.unmerge_contact(9223372036854775807)$$),
  ('unmerge_contact not merged', $$SELECT contact_identity.unmerge_contact(2)$$),
  ('purge_contact contact_id NULL', $$SELECT contact_identity.purge_contact(NULL)$$),
  ('purge_contact account_id NULL', $$SELECT contact_identity.purge_contact(2, NULL)$$),
  ('purge_contact account_id -1', $$SELECT contact_identity.purge_contact(2, -1)$$),
  ('purge_contact account_id max', $$SELECT contact_identity.purge_contact(2, 9223372036854775807)$$),
  ('purge_contact contact_id -1', $$SELECT contact_identity.purge_contact(-1)$$),
  ('purge_contact contact_id max', $$SELECT contact_identity.purge_contact(9223372036854775807)$$),
  ('explain_contact contact_id NULL', $$SELECT count(*) FROM contact_identity.explain_contact(NULL)$$),
  ('explain_contact account_id NULL', $$SELECT count(*) FROM contact_identity.explain_contact(1, NULL)$$),
  ('explain_contact account_id -1', $$SELECT count(*) FROM contact_identity.explain_contact(1, -1)$$),
  ('explain_contact account_id max', $$SELECT count(*) FROM contact_identity.explain_contact(1, 9223372036854775807)$$),
  ('explain_contact contact_id -1', $$SELECT count(*) FROM contact_identity.explain_contact(-1)$$),
  ('explain_contact contact_id max', $$SELECT count(*) FROM contact_identity.explain_contact(9223372036854775807)$$),
  ('assign_external_id RTL and emoji', $$SELECT (contact_identity.assign_external_id(2, U&'\202E\+01F600')).action$$)
) AS t(c, q);
SELECT * FROM written;

-- Accepted: get_contact answers NULL for a contact it does not know; the
-- others work on contacts that exist, whatever their values hold.
SELECT c AS "case", outcome(q) FROM (VALUES
  ('get_contact contact_id NULL', $$SELECT contact_identity.get_contact(NULL)$$),
  ('get_contact account_id NULL', $$SELECT contact_identity.get_contact(1, NULL)$$),
  ('get_contact account_id -1', $$SELECT contact_identity.get_contact(1, -1)$$),
  ('get_contact account_id max', $$SELECT contact_identity.get_contact(1, 9223372036854775807)$$),
  ('get_contact contact_id -1', $$SELECT contact_identity.get_contact(-1)$$),
  ('get_contact contact_id max', $$SELECT contact_identity.get_contact(9223372036854775807)$$),
  ('get_contact 1 MB attributes', $$SELECT octet_length(contact_identity.get_contact(contact_id)::text) > 1048576 FROM contact_identity.contacts WHERE email = 'n1@x.io' AND account_id = 0$$),
  ('explain_contact 1 MB values', $$SELECT count(*) FROM contact_identity.explain_contact((SELECT contact_id FROM contact_identity.contacts WHERE email = 'n1@x.io' AND account_id = 0))$$),
  ('assign_external_id Hebrew and emoji', $$SELECT (contact_identity.assign_external_id(2, U&'\05D0\+01F600')).action$$),
  ('delete_contact', $$SELECT contact_identity.delete_contact(2)$$),
  ('delete_contact again', $$SELECT contact_identity.delete_contact(2)$$),
  ('unmerge_contact', $$SELECT jsonb_build_object('winner', contact_identity.unmerge_contact(3)->'winner')$$)
) AS t(c, q);
SELECT * FROM written;

-- track_event and contact_events, refused: no event is written.
SELECT c AS "case", outcome(q) FROM (VALUES
  ('track_event event_type NULL', $$SELECT contact_identity.track_event(NULL, '{}', email => 'ann@x.io')$$),
  ('track_event occurred_at NULL', $$SELECT contact_identity.track_event('x', occurred_at => NULL, external_id => 'u-1')$$),
  ('track_event account_id NULL', $$SELECT contact_identity.track_event('x', account_id => NULL, external_id => 'u-1')$$),
  ('track_event all keys NULL', $$SELECT contact_identity.track_event('x')$$),
  ('track_event account_id -1', $$SELECT contact_identity.track_event('x', account_id => -1, external_id => 'u-1')$$),
  ('track_event empty event_type', $$SELECT contact_identity.track_event('', external_id => 'u-1')$$),
  ('track_event external_id 1 MB', $$SELECT contact_identity.track_event('x', external_id => h('1mb'))$$),
  ('track_event email 1 MB', $$SELECT contact_identity.track_event('x', email => h('1mb_local'))$$),
  ('track_event phone 1 MB', $$SELECT contact_identity.track_event('x', phone => h('1mb_phone'))$$),
  ('track_event phone 1,000 digits', $$SELECT contact_identity.track_event('x', phone => h('1k_digits'))$$),
  ('track_event identifiers value 1 MB', $$SELECT contact_identity.track_event('x', identifiers => hj('1mb_value'))$$),
  ('track_event identifiers 10,000-deep', $$SELECT contact_identity.track_event('x', identifiers => hj('deep_array'))$$),
  ('track_event identifiers 100,000 keys', $$SELECT contact_identity.track_event('x', identifiers => hj('wide'))$$),
  ('track_event identifiers boolean', $$SELECT contact_identity.track_event('x', identifiers => 'false')$$),
  ('track_event external_id \x01', $$SELECT contact_identity.track_event('x', external_id => E'u-1\x01')$$),
  ('track_event email RTL override', $$SELECT contact_identity.track_event('x', email => U&'ann\202E@x.io')$$),
  ('track_event cookie zero-width space', $$SELECT contact_identity.track_event('x', identifiers => '{"cookie": "ck\u200b"}')$$),
  ('track_event payload 10,000-deep array', $$SELECT contact_identity.track_event('x', hj('deep_array'), external_id => 'u-1')$$),
  ('track_event payload array', $$SELECT contact_identity.track_event('x', '[]', external_id => 'u-1')$$),
  ('track_event payload number', $$SELECT contact_identity.track_event('x', '7', external_id => 'u-1')$$),
  ('track_event payload string', $$SELECT contact_identity.track_event('x', '"{"', external_id => 'u-1')$$),
  ('track_event payload JSON null', $$SELECT contact_identity.track_event('x', 'null', external_id => 'u-1')$$),
  ('track_event payload boolean', $$SELECT contact_identity.track_event('x', 'true', external_id => 'u-1')$$),
  ('contact_events contact_id NULL', $$SELECT count(*) FROM contact_identity.contact_events(NULL)$$),
  ('contact_events max_rows NULL', $$SELECT count(*) FROM contact_identity.contact_events(1, max_rows => NULL)$$),
  ('contact_events account_id NULL', $$SELECT count(*) FROM contact_identity.contact_events(1, account_id => NULL)$$),
  ('contact_events account_id -1', $$SELECT count(*) FROM contact_identity.contact_events(1, account_id => -1)$$),
  ('contact_events account_id max', $$SELECT count(*) FROM contact_identity.contact_events(1, account_id => 9223372036854775807)$$),
  ('contact_events contact_id -1', $$SELECT count(*) FROM contact_identity.contact_events(-1)$$),
  ('contact_events contact_id max', $$SELECT count(*) FROM contact_identity.contact_events(9223372036854775807)$$),
  ('contact_events max_rows -1', $$SELECT count(*) FROM contact_identity.contact_events(1, max_rows => -1)$$)
) AS t(c, q);
SELECT * FROM written;
-- Accepted: NULL in an optional argument leaves it out; event types and
-- payloads are data (any size, any character, any depth of object).
SELECT c AS "case", outcome(q) FROM (VALUES
  ('track_event payload NULL', $$SELECT contact_identity.track_event('x', NULL, email => 'ann@x.io') > 0$$),
  ('track_event external_id NULL', $$SELECT contact_identity.track_event('x', external_id => NULL, email => 'ann@x.io') > 0$$),
  ('track_event email NULL', $$SELECT contact_identity.track_event('x', email => NULL, external_id => 'u-1') > 0$$),
  ('track_event phone NULL', $$SELECT contact_identity.track_event('x', phone => NULL, external_id => 'u-1') > 0$$),
  ('track_event identifiers NULL', $$SELECT contact_identity.track_event('x', identifiers => NULL, external_id => 'u-1') > 0$$),
  ('track_event event_type 1 MB', $$SELECT contact_identity.track_event(h('1mb'), external_id => 'u-1') > 0$$),
  ('track_event event_type control chars', $$SELECT contact_identity.track_event(E'x\x01\x1b\x7f\n\t', external_id => 'u-1') > 0$$),
  ('track_event event_type RTL, ZWJ, emoji', $$SELECT contact_identity.track_event(U&'\202Ex\200D\+01F600', external_id => 'u-1') > 0$$),
  ('track_event payload 10,000-deep object', $$SELECT contact_identity.track_event('x', hj('deep_object'), external_id => 'u-1') > 0$$),
  ('track_event payload 100,000 keys', $$SELECT contact_identity.track_event('x', hj('wide'), external_id => 'u-1') > 0$$),
  ('track_event payload 1 MB key', $$SELECT contact_identity.track_event('x', hj('1mb_key'), external_id => 'u-1') > 0$$),
  ('track_event occurred_at infinity', $$SELECT contact_identity.track_event('x', occurred_at => 'infinity', external_id => 'u-1') > 0$$),
  ('track_event occurred_at -infinity', $$SELECT contact_identity.track_event('x', occurred_at => '-infinity', external_id => 'u-1') > 0$$),
  ('track_event account_id max (anonymous)', $$SELECT contact_identity.track_event('x', account_id => 9223372036854775807, email => 'ann@x.io') > 0$$),
  ('track_event emoji cookie (anonymous)', $$SELECT contact_identity.track_event('x', identifiers => '{"cookie": "\ud83d\ude00\u05d0"}') > 0$$),
  ('contact_events since NULL', $$SELECT count(*) FROM contact_identity.contact_events(1, since => NULL)$$),
  ('contact_events since infinity', $$SELECT count(*) FROM contact_identity.contact_events(1, since => 'infinity')$$),
  ('contact_events max_rows int max', $$SELECT count(*) FROM contact_identity.contact_events(1, max_rows => 2147483647)$$),
  ('contact_events 1 MB event type', $$SELECT max(octet_length(event_type)) FROM contact_identity.contact_events(1)$$)
) AS t(c, q);
SELECT * FROM written;

-- import_contacts and import_contacts_json: a wrong call is refused before
-- anything is read; a hostile row fails alone, reported with the column.
CREATE TABLE hostile_src (row_number int, external_id text, email text, phone text, first_name text,
                          cookie text, attributes jsonb, identifiers jsonb, "odd "" col" text);
INSERT INTO hostile_src VALUES
  (1, h('1mb'), NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (2, 'i-2', h('1mb_local'), NULL, NULL, NULL, NULL, NULL, NULL),
  (3, 'i-3', NULL, h('1mb_phone'), NULL, NULL, NULL, NULL, NULL),
  (4, 'i-4', NULL, NULL, NULL, h('1mb'), NULL, NULL, NULL),
  (5, E'i-5\x01', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (6, 'i-6', E'x\x1b@x.io', NULL, NULL, NULL, NULL, NULL, NULL),
  (7, 'i-7', NULL, NULL, NULL, NULL, hj('deep_array'), NULL, NULL),
  (8, 'i-8', NULL, NULL, NULL, NULL, NULL, hj('deep_array'), NULL),
  (9, 'i-9', NULL, NULL, NULL, NULL, NULL, hj('wide'), NULL),
  (10, 'i-10', NULL, NULL, NULL, NULL, NULL, '[1]', NULL),
  (11, 'i-11', NULL, NULL, h('1mb'), NULL, hj('deep_object'), NULL, E'\x01\x7f'),
  (12, U&'i-\062712', U&'i12@\0430pple.com', NULL, U&'\+01F600', U&'c\0301', hj('wide'), NULL, h('1mb')),
  (13, U&'i-\202E13', NULL, NULL, NULL, U&'c\200D', NULL, NULL, NULL);
SELECT * FROM written;
SELECT c AS "case", outcome(q) FROM (VALUES
  ('import_contacts source NULL', $$SELECT count(*) FROM contact_identity.import_contacts(NULL)$$),
  ('import_contacts dedupe_on NULL', $$SELECT count(*) FROM contact_identity.import_contacts('hostile_src', dedupe_on => NULL)$$),
  ('import_contacts restore_deleted NULL', $$SELECT count(*) FROM contact_identity.import_contacts('hostile_src', restore_deleted => NULL)$$),
  ('import_contacts clear_nulls NULL', $$SELECT count(*) FROM contact_identity.import_contacts('hostile_src', clear_nulls => NULL)$$),
  ('import_contacts account_id NULL', $$SELECT count(*) FROM contact_identity.import_contacts('hostile_src', account_id => NULL)$$),
  ('import_contacts account_id -1', $$SELECT count(*) FROM contact_identity.import_contacts('hostile_src', account_id => -1)$$),
  ('import_contacts dedupe_on 1 MB', $$SELECT count(*) FROM contact_identity.import_contacts('hostile_src', dedupe_on => h('1mb'))$$),
  ('import_contacts dedupe_on \x01', $$SELECT count(*) FROM contact_identity.import_contacts('hostile_src', dedupe_on => E'email\x01')$$),
  ('import_contacts dedupe_on empty', $$SELECT count(*) FROM contact_identity.import_contacts('hostile_src', dedupe_on => '')$$),
  ('import_contacts source OID 0', $$SELECT count(*) FROM contact_identity.import_contacts(0)$$),
  ('import_contacts source OID that is no table', $$SELECT count(*) FROM contact_identity.import_contacts(4294967295)$$),
  ('import_contacts source a catalog', $$SELECT count(*) FROM contact_identity.import_contacts('pg_class', dedupe_on => 'contact_id')$$),
  ('import_contacts source an index', $$SELECT count(*) FROM contact_identity.import_contacts('hostile_pkey')$$),
  ('import_contacts source a sequence', $$SELECT count(*) FROM contact_identity.import_contacts('contact_identity.events_event_id_seq')$$),
  ('import_contacts source a view', $$SELECT count(*) FROM contact_identity.import_contacts('written')$$),
  ('import_contacts source its own table', $$SELECT count(*) FROM contact_identity.import_contacts('contact_identity.identity_log')$$),
  ('import_contacts_json contacts NULL', $$SELECT count(*) FROM contact_identity.import_contacts_json(NULL)$$),
  ('import_contacts_json dedupe_on NULL', $$SELECT count(*) FROM contact_identity.import_contacts_json('[]', dedupe_on => NULL)$$),
  ('import_contacts_json restore_deleted NULL', $$SELECT count(*) FROM contact_identity.import_contacts_json('[]', restore_deleted => NULL)$$),
  ('import_contacts_json clear_nulls NULL', $$SELECT count(*) FROM contact_identity.import_contacts_json('[]', clear_nulls => NULL)$$),
  ('import_contacts_json account_id NULL', $$SELECT count(*) FROM contact_identity.import_contacts_json('[]', account_id => NULL)$$),
  ('import_contacts_json account_id -1', $$SELECT count(*) FROM contact_identity.import_contacts_json('[]', account_id => -1)$$),
  ('import_contacts_json dedupe_on 1 MB', $$SELECT count(*) FROM contact_identity.import_contacts_json('[]', dedupe_on => h('1mb'))$$),
  ('import_contacts_json 10,000-deep object', $$SELECT count(*) FROM contact_identity.import_contacts_json(hj('deep_object'))$$),
  ('import_contacts_json 100,000 keys', $$SELECT count(*) FROM contact_identity.import_contacts_json(hj('wide'))$$),
  ('import_contacts_json number', $$SELECT count(*) FROM contact_identity.import_contacts_json('1')$$),
  ('import_contacts_json JSON null', $$SELECT count(*) FROM contact_identity.import_contacts_json('null')$$),
  ('import_contacts_json string', $$SELECT count(*) FROM contact_identity.import_contacts_json('"[]"')$$),
  ('run_import in a transaction', $$CALL contact_identity.run_import('hostile_src')$$)
) AS t(c, q);
SELECT * FROM written;

-- Each hostile row: applied or failed alone, with a message naming the column.
SELECT row_number, action, error_code, left(error_message, 110) AS error_message
FROM contact_identity.import_contacts('hostile_src');
SELECT row_number, action, error_code, left(error_message, 110) AS error_message
FROM contact_identity.import_contacts('hostile_src', dedupe_on => 'email', account_id => 9223372036854775807);
SELECT row_number, action, error_code, left(error_message, 110) AS error_message
FROM contact_identity.import_contacts_json(jsonb_build_array(
  1, true, NULL, '"x"', '[]', hj('deep_array'),
  jsonb_build_object('externalCustomerId', h('1mb')),
  jsonb_build_object('externalCustomerId', 'j-8', 'channels', hj('deep_array')),
  jsonb_build_object('externalCustomerId', 'j-9', 'channels', jsonb_build_array(jsonb_build_object('type', 'cookie', 'value', hj('deep_array')))),
  jsonb_build_object('externalCustomerId', 'j-10', 'channels', jsonb_build_array(jsonb_build_object('type', h('1mb'), 'value', 'v'))),
  jsonb_build_object('externalCustomerId', 'j-11', 'channels', '[{"type": "cookie"}]'::jsonb),
  jsonb_build_object('externalCustomerId', 'j-12', 'fields', hj('deep_array')),
  jsonb_build_object('externalCustomerId', 'j-13', 'fields', hj('deep_object'), 'firstName', h('1mb')),
  jsonb_build_object('externalCustomerId', 'j-14', 'contactId', 'x'),
  jsonb_build_object('externalCustomerId', 'j-15', 'contactId', 9223372036854775807),
  jsonb_build_object('externalCustomerId', E'j-16\u0001', 'channels', '[{"type": "email", "value": "\u202e@x.io"}]'::jsonb),
  jsonb_build_object('externalCustomerId', 17)));
-- contact_id is read only with dedupe_on contact_id: then each bad one fails its row.
SELECT row_number, action, error_code, left(error_message, 110) AS error_message
FROM contact_identity.import_contacts_json('[{"contactId": "x"}, {"contactId": 9223372036854775807}, {"contactId": -1},
  {"contactId": 1e30}, {"contactId": 1.5}, {"contactId": [1]}, {"contactId": null}, {"contactId": 1}]', dedupe_on => 'contact_id');
-- The extension's own tables as a source are refused: an import writes
-- them, and run_import would read the rows it writes without end.
SELECT outcome($$SELECT count(*) FROM contact_identity.import_contacts('contact_identity.contacts', dedupe_on => 'contact_id')$$)
    AS from_contacts;
\set VERBOSITY terse
CALL contact_identity.run_import('contact_identity.contacts', dedupe_on => 'contact_id', batch_size => 1);
\set VERBOSITY default
SELECT * FROM written;

-- run_import commits, so it cannot run inside outcome(): each CALL on its
-- own. A refused call records no import.
\set VERBOSITY terse
CALL contact_identity.run_import(NULL);
\echo :SQLSTATE
CALL contact_identity.run_import('hostile_src', dedupe_on => NULL);
\echo :SQLSTATE
CALL contact_identity.run_import('hostile_src', batch_size => NULL);
\echo :SQLSTATE
CALL contact_identity.run_import('hostile_src', restore_deleted => NULL);
\echo :SQLSTATE
CALL contact_identity.run_import('hostile_src', clear_nulls => NULL);
\echo :SQLSTATE
CALL contact_identity.run_import('hostile_src', account_id => NULL);
\echo :SQLSTATE
CALL contact_identity.run_import('hostile_src', account_id => -1);
\echo :SQLSTATE
CALL contact_identity.run_import('hostile_src', batch_size => 0);
\echo :SQLSTATE
CALL contact_identity.run_import('hostile_src', batch_size => -2147483648);
\echo :SQLSTATE
CALL contact_identity.run_import('hostile_src', dedupe_on => h('1mb'));
\echo :SQLSTATE
CALL contact_identity.run_import('hostile_src', dedupe_on => E'\x1b[2J');
\echo :SQLSTATE
CALL contact_identity.run_import('written');
\echo :SQLSTATE
CALL contact_identity.run_import(0);
\echo :SQLSTATE
CALL contact_identity.run_import(NULL, import_id => -1);
\echo :SQLSTATE
CALL contact_identity.run_import(NULL, import_id => 9223372036854775807);
\echo :SQLSTATE
CALL contact_identity.run_import(NULL, import_id => 1, account_id => NULL);
\echo :SQLSTATE
\set VERBOSITY default
SELECT * FROM written;
-- Accepted: import_id NULL starts an import; the largest batch size and
-- account work; hostile rows fail alone into import_errors.
CALL contact_identity.run_import('hostile_src', import_id => NULL);
CALL contact_identity.run_import('hostile_src', batch_size => 2147483647, account_id => 9223372036854775807);
SELECT import_id, account_id, status, rows_done, created, updated, failed FROM contact_identity.imports ORDER BY 1;
SELECT import_id, row_number, sqlstate, left(message, 90) AS message, octet_length(row_data::text) > 1048576 AS big_row
FROM contact_identity.import_errors ORDER BY 1, 2;
SELECT * FROM written;

-- Segments: names are checked (NULL, empty, over 63 bytes), rules are
-- bounded in size and depth and must have the right JSON types. Refused:
-- nothing written.
SELECT c AS "case", outcome(q) FROM (VALUES
  ('create_segment name NULL', $$SELECT contact_identity.create_segment(NULL, '{"has_identifier": "cookie"}')$$),
  ('create_segment rule NULL', $$SELECT contact_identity.create_segment('s1', NULL)$$),
  ('create_segment account_id NULL', $$SELECT contact_identity.create_segment('s1', '{"has_identifier": "cookie"}', NULL)$$),
  ('create_segment account_id -1', $$SELECT contact_identity.create_segment('s1', '{"has_identifier": "cookie"}', -1)$$),
  ('create_segment name 1 MB', $$SELECT contact_identity.create_segment(h('1mb'), '{"has_identifier": "cookie"}')$$),
  ('create_segment name 16 emoji (64 bytes)', $$SELECT contact_identity.create_segment(repeat(U&'\+01F600', 16), '{"has_identifier": "cookie"}')$$),
  ('create_segment name empty', $$SELECT contact_identity.create_segment('', '{"has_identifier": "cookie"}')$$),
  ('create_segment name taken', $$SELECT contact_identity.create_segment('seg', '{"has_identifier": "cookie"}')$$),
  ('create_segment rule 10,000-deep array', $$SELECT contact_identity.create_segment('s1', hj('deep_array'))$$),
  ('create_segment rule 10,000-deep object', $$SELECT contact_identity.create_segment('s1', hj('deep_object'))$$),
  ('create_segment rule 40-deep not', $$SELECT contact_identity.create_segment('s1', (repeat('{"not": ', 40) || '{"has_identifier": "cookie"}' || repeat('}', 40))::jsonb)$$),
  ('create_segment rule 100,000 keys', $$SELECT contact_identity.create_segment('s1', hj('wide'))$$),
  ('create_segment rule 1 MB value', $$SELECT contact_identity.create_segment('s1', jsonb_build_object('field', 'email', 'op', 'eq', 'value', h('1mb')))$$),
  ('create_segment rule 1 MB event', $$SELECT contact_identity.create_segment('s1', jsonb_build_object('event', h('1mb')))$$),
  ('create_segment rule 1,001 conditions', $$SELECT contact_identity.create_segment('s1', jsonb_build_object('any', (SELECT jsonb_agg('{"has_identifier": "cookie"}'::jsonb) FROM generate_series(1, 1001))))$$),
  ('create_segment rule array', $$SELECT contact_identity.create_segment('s1', '[{"has_identifier": "cookie"}]')$$),
  ('create_segment rule number', $$SELECT contact_identity.create_segment('s1', '1')$$),
  ('create_segment rule boolean', $$SELECT contact_identity.create_segment('s1', 'true')$$),
  ('create_segment rule JSON null', $$SELECT contact_identity.create_segment('s1', 'null')$$),
  ('create_segment rule string', $$SELECT contact_identity.create_segment('s1', '"email"')$$),
  ('create_segment rule all: object', $$SELECT contact_identity.create_segment('s1', '{"all": {"has_identifier": "cookie"}}')$$),
  ('create_segment rule op: number', $$SELECT contact_identity.create_segment('s1', '{"field": "email", "op": 1, "value": "x"}')$$),
  ('create_segment rule has_identifier RTL', $$SELECT contact_identity.create_segment('s1', '{"has_identifier": "\u202ecookie"}')$$),
  ('create_segment rule has_identifier 60 KB', $$SELECT contact_identity.create_segment('s1', jsonb_build_object('has_identifier', repeat('t', 60000)))$$),
  ('create_segment rule matches bad regex', $$SELECT contact_identity.create_segment('s1', '{"field": "email", "op": "matches", "value": "(\u0001"}')$$),
  ('replace_segment name NULL', $$SELECT contact_identity.replace_segment(NULL, '{"has_identifier": "cookie"}')$$),
  ('replace_segment rule NULL', $$SELECT contact_identity.replace_segment('seg', NULL)$$),
  ('replace_segment name 1 MB', $$SELECT contact_identity.replace_segment(h('1mb'), '{"has_identifier": "cookie"}')$$),
  ('replace_segment name unknown', $$SELECT contact_identity.replace_segment(E'seg\x01', '{"has_identifier": "cookie"}')$$),
  ('replace_segment rule 10,000-deep', $$SELECT contact_identity.replace_segment('seg', hj('deep_array'))$$),
  ('replace_segment rule 100,000 keys', $$SELECT contact_identity.replace_segment('seg', hj('wide'))$$),
  ('replace_segment rule array', $$SELECT contact_identity.replace_segment('seg', '[]')$$),
  ('drop_segment name NULL', $$SELECT contact_identity.drop_segment(NULL)$$),
  ('drop_segment name 1 MB', $$SELECT contact_identity.drop_segment(h('1mb'))$$),
  ('drop_segment name empty', $$SELECT contact_identity.drop_segment('')$$),
  ('drop_segment name unknown', $$SELECT contact_identity.drop_segment(U&'seg\200D')$$),
  ('segment_members name NULL', $$SELECT count(*) FROM contact_identity.segment_members(NULL)$$),
  ('segment_members name 1 MB', $$SELECT count(*) FROM contact_identity.segment_members(h('1mb'))$$),
  ('segment_members name unknown', $$SELECT count(*) FROM contact_identity.segment_members(E'seg\n')$$),
  ('segment_count name NULL', $$SELECT contact_identity.segment_count(NULL)$$),
  ('segment_count name 1 MB', $$SELECT contact_identity.segment_count(h('1mb'))$$),
  ('segment_count name unknown', $$SELECT contact_identity.segment_count(U&'\202Eseg')$$)
) AS t(c, q);
SELECT * FROM written;
-- Accepted: any character in a name up to 63 bytes, the largest account,
-- odd strings in rule values.
SELECT c AS "case", outcome(q) FROM (VALUES
  ('create_segment name control chars', $$SELECT contact_identity.create_segment(E's\x01\x1b\x7f\n\t', '{"has_identifier": "cookie"}')$$),
  ('create_segment name RTL, ZWJ, emoji', $$SELECT contact_identity.create_segment(U&'\202Es\200D\+01F600', '{"has_identifier": "cookie"}')$$),
  ('create_segment name 63 bytes', $$SELECT contact_identity.create_segment(repeat('n', 63), '{"has_identifier": "cookie"}')$$),
  ('create_segment account_id max', $$SELECT contact_identity.create_segment('big account', '{"has_identifier": "cookie"}', 9223372036854775807)$$),
  ('create_segment rule attribute key \u0001', $$SELECT contact_identity.create_segment('s1', '{"field": "attributes.a\u0001", "op": "is_empty"}')$$),
  ('create_segment rule odd strings', $$SELECT contact_identity.create_segment('odd', '{"any": [{"field": "first_name", "op": "eq", "value": "\u0001\u001b\u007f\n"}, {"event": "\u202e\ud83d\ude00", "within": "1 day"}, {"field": "attributes.\u200d", "op": "contains", "value": "a\u0301"}]}')$$),
  ('segment_count control chars', $$SELECT contact_identity.segment_count(E's\x01\x1b\x7f\n\t')$$),
  ('segment_members RTL name', $$SELECT count(*) FROM contact_identity.segment_members(U&'\202Es\200D\+01F600')$$),
  ('segment_count account_id max', $$SELECT contact_identity.segment_count('big account')$$),
  ('segment_count odd', $$SELECT contact_identity.segment_count('odd')$$),
  ('replace_segment control chars', $$SELECT contact_identity.replace_segment(E's\x01\x1b\x7f\n\t', '{"event": "\u0001"}')$$),
  ('drop_segment control chars', $$SELECT contact_identity.drop_segment(E's\x01\x1b\x7f\n\t')$$),
  ('drop_segment RTL name', $$SELECT contact_identity.drop_segment(U&'\202Es\200D\+01F600')$$),
  ('drop_segment 63 bytes', $$SELECT contact_identity.drop_segment(repeat('n', 63))$$)
) AS t(c, q);
SELECT name, account_id FROM contact_identity.segments ORDER BY name;

-- export_changes and create_export_publication.
SET client_min_messages = error;   -- CREATE PUBLICATION warns when wal_level is not logical
SELECT c AS "case", outcome(q) FROM (VALUES
  ('export_changes since NULL', $$SELECT count(*) FROM contact_identity.export_changes(NULL)$$),
  ('export_changes account_id NULL', $$SELECT count(*) FROM contact_identity.export_changes('-infinity', NULL)$$),
  ('export_changes account_id -1', $$SELECT count(*) FROM contact_identity.export_changes('-infinity', -1)$$),
  ('export_changes account_id max', $$SELECT count(*) FROM contact_identity.export_changes('-infinity', 9223372036854775807)$$),
  ('export_changes since infinity', $$SELECT count(*) FROM contact_identity.export_changes('infinity')$$),
  ('export_changes 1 MB values', $$SELECT max(octet_length(first_name)) FROM contact_identity.export_changes('-infinity')$$),
  ('create_export_publication NULL', $$SELECT contact_identity.create_export_publication(NULL)$$),
  ('create_export_publication empty', $$SELECT contact_identity.create_export_publication('')$$),
  ('create_export_publication 1 MB', $$SELECT contact_identity.create_export_publication(h('1mb'))$$),
  ('create_export_publication control chars', $$SELECT contact_identity.create_export_publication(E'p\x01\x1b\x7f\n')$$),
  ('create_export_publication RTL, emoji', $$SELECT contact_identity.create_export_publication(U&'\202Ep\+01F600')$$),
  ('create_export_publication taken', $$SELECT contact_identity.create_export_publication(E'p\x01\x1b\x7f\n')$$)
) AS t(c, q);
SET client_min_messages = warning;
SELECT octet_length(pubname) AS name_bytes, pubname = repeat('a', 63) AS truncated_1mb FROM pg_publication ORDER BY 1;
DO $$ DECLARE p text; BEGIN
  FOR p IN SELECT pubname FROM pg_publication LOOP EXECUTE format('DROP PUBLICATION %I', p); END LOOP;
END $$;

-- The helper functions the install script defines: NULL and hostile input.
SELECT c AS "case", outcome(q) FROM (VALUES
  ('merge_attributes current NULL', $$SELECT contact_identity.merge_attributes(NULL, '{"a": 1}')$$),
  ('merge_attributes changes NULL', $$SELECT contact_identity.merge_attributes('{"a": 1}', NULL)$$),
  ('merge_attributes 10,000-deep objects', $$SELECT contact_identity.merge_attributes(hj('deep_object'), hj('deep_object')) = hj('deep_object')$$),
  ('merge_attributes 10,000-deep array', $$SELECT contact_identity.merge_attributes('{}', hj('deep_array'))$$),
  ('merge_attributes 100,000 keys', $$SELECT (SELECT count(*) FROM jsonb_object_keys(contact_identity.merge_attributes(hj('wide'), '{"k1": null}')))$$),
  ('merge_attributes number', $$SELECT contact_identity.merge_attributes('1', '2')$$),
  ('segment_check_name NULL', $$SELECT contact_identity.segment_check_name(NULL)$$),
  ('segment_check_name 1 MB', $$SELECT contact_identity.segment_check_name(h('1mb'))$$),
  ('segment_row NULL', $$SELECT (contact_identity.segment_row(NULL, 'reader')).name$$),
  ('segment_row unknown', $$SELECT (contact_identity.segment_row(E'\x01', 'reader')).name$$),
  ('segment_rule_sql NULL', $$SELECT contact_identity.segment_rule_sql(NULL)$$),
  ('segment_rule_sql 10,000-deep', $$SELECT contact_identity.segment_rule_sql(hj('deep_array'))$$),
  ('segment_rule_sql 100,000 keys', $$SELECT contact_identity.segment_rule_sql(hj('wide'))$$),
  ('segment_view_sql name NULL', $$SELECT contact_identity.segment_view_sql(NULL, '{"has_identifier": "cookie"}', 0)$$),
  ('segment_view_sql rule NULL', $$SELECT contact_identity.segment_view_sql('s', NULL, 0)$$),
  ('segment_view_sql account_id NULL', $$SELECT contact_identity.segment_view_sql('s', '{"has_identifier": "cookie"}', NULL) IS NOT NULL$$),
  ('unmerged_identifiers NULL', $$SELECT contact_identity.unmerged_identifiers(NULL, NULL)$$),
  ('unmerged_identifiers wrong types', $$SELECT contact_identity.unmerged_identifiers('{"identifiers": 1}', 1)$$),
  ('unmerged_identifiers contact_id text', $$SELECT contact_identity.unmerged_identifiers('{"identifiers": [], "given_back": [{"contact_id": "x"}]}', 1)$$)
) AS t(c, q);

-- The backend is still here, and every table still holds only valid rows.
SELECT count(*) FILTER (WHERE external_id IS NOT NULL AND external_id !~ '^[^[:cntrl:]]+$') AS bad_external_ids,
       count(*) FILTER (WHERE email !~ '^[^[:cntrl:]@]+@[^[:cntrl:]@]+$') AS bad_emails
FROM contact_identity.contacts;
SELECT * FROM written;

DROP FUNCTION outcome, h, hj;
DROP VIEW written;
DROP TABLE hostile, hostile_src;
-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity CASCADE;
