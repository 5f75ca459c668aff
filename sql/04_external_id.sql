-- Rule 3: a request with an external ID.
CREATE EXTENSION contact_identity;

-- Not found, nothing else matches: created with it.
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', email => 'ann@x.io', first_name => 'Ann');
-- Found: updated with the request's data.
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', last_name => 'Lee', attributes => '{"city": "Kyiv"}');
SELECT contact_identity.get_contact(1) - 'createdAt' - 'updatedAt';

-- Found but deleted: restored and updated.
SELECT contact_identity.delete_contact(1);
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', attributes => '{"plan": "pro"}');
SELECT deleted_at IS NULL AS live, attributes FROM contact_identity.contacts WHERE contact_id = 1;
-- Attributes merge: new keys overwrite, a JSON null removes a top-level key
-- (nested values are kept as sent), NULL leaves them alone.
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', attributes => '{"plan": null, "prefs": {"sms": null}}');
SELECT attributes FROM contact_identity.contacts WHERE contact_id = 1;
SELECT contact_identity.merge_attributes('{"a": 1}', NULL) AS unchanged,
       contact_identity.merge_attributes(NULL, '{"a": null, "b": 2}') AS from_nothing;
SELECT contact_identity.merge_attributes('{}', '[1]');

-- Not found, but the email finds a contact without an external ID: it gets this one.
SELECT * FROM contact_identity.upsert_contact(email => 'bob@x.io');
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-2', email => 'bob@x.io');
SELECT external_id FROM contact_identity.contacts WHERE contact_id = 2;
-- ...likewise through the phone.
SELECT * FROM contact_identity.upsert_contact(phone => '+380671112233');
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-3', phone => '+380671112233');

-- The match already has a different external ID: an error naming it, nothing written.
SELECT count(*) AS log_rows_before FROM contact_identity.identity_log;
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-9', email => 'ann@x.io', first_name => 'Impostor');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-9', phone => '+380671112233');
SELECT count(*) AS log_rows_after FROM contact_identity.identity_log;
SELECT count(*) AS contacts FROM contact_identity.contacts;

-- A new email through the external ID replaces the old one; the ID stays.
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', email => 'ann.new@x.io');
SELECT contact_id, external_id, email FROM contact_identity.contacts WHERE contact_id = 1;
-- The old email was replaced (and logged), so it is free again.
SELECT action, identifier_type, identifier_value FROM contact_identity.identity_log_steps
WHERE contact_id = 1 AND action = 'identifier_detached';
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-4', email => 'ann@x.io');

-- The lookup is by external ID first: the email belongs to u-4 now, u-1 keeps its own.
SELECT * FROM contact_identity.resolve_contact(external_id => 'u-1', email => 'ann@x.io');
-- An upsert saying so is refused: the email's holder has its own external ID.
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', email => 'ann@x.io');

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
