-- Rule 5: updating by contact ID; assign_external_id; delete and get.
CREATE EXTENSION contact_identity;

SELECT contact_id FROM contact_identity.upsert_contact(email => 'ann@x.io');                  -- 1
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-2', email => 'bob@x.io'); -- 2

-- Update that contact, giving it an external ID.
SELECT * FROM contact_identity.upsert_contact(contact_id => 1, external_id => 'u-1', first_name => 'Ann');
-- The same again changes nothing and is fine.
SELECT * FROM contact_identity.assign_external_id(contact_id => 1, external_id => 'u-1');
-- An external ID that belongs to another contact: error naming it.
SELECT * FROM contact_identity.assign_external_id(contact_id => 1, external_id => 'u-2');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM contact_identity.upsert_contact(contact_id => 1, external_id => 'u-2');
-- A contact that already has another external ID: error, IDs are immutable.
SELECT * FROM contact_identity.assign_external_id(contact_id => 1, external_id => 'u-99');
\echo :LAST_ERROR_SQLSTATE
SELECT external_id FROM contact_identity.contacts WHERE contact_id = 1;
-- Unknown contact.
SELECT * FROM contact_identity.assign_external_id(contact_id => 404, external_id => 'u-404');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM contact_identity.assign_external_id(contact_id => NULL, external_id => 'u-404');
SELECT * FROM contact_identity.assign_external_id(contact_id => 1, external_id => NULL);
-- Another contact's email through contact ID: error naming both.
SELECT * FROM contact_identity.upsert_contact(contact_id => 1, email => 'bob@x.io');
-- A contact ID alone is an identifier.
SELECT * FROM contact_identity.upsert_contact(contact_id => 2, attributes => '{"vip": true}');

-- delete_contact: soft; the contact keeps its identifiers.
SELECT contact_identity.delete_contact(2);
SELECT contact_identity.delete_contact(2);
SELECT deleted_at IS NOT NULL AS deleted, external_id, email FROM contact_identity.contacts WHERE contact_id = 2;
SELECT count(*) AS identifiers_kept FROM contact_identity.identifiers WHERE contact_id = 2;
-- Its email still belongs to it: nobody else can take it.
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-3', email => 'bob@x.io');
-- Updating a deleted contact by ID restores it.
SELECT * FROM contact_identity.upsert_contact(contact_id => 2, first_name => 'Bob');
SELECT contact_identity.delete_contact(404);
\echo :LAST_ERROR_SQLSTATE
SELECT contact_identity.delete_contact(NULL);

-- get_contact: the API's shape.
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', phone => '+380501234567',
    identifiers => '{"mobile_push": "tok-1", "cookie": "ck-1"}', last_name => 'Lee');
SELECT jsonb_pretty(contact_identity.get_contact(1) - 'createdAt' - 'updatedAt');
SELECT contact_identity.get_contact(404) IS NULL AS unknown_is_null;

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
