-- import_contacts_json: the same import for a JSON array of contacts in the
-- shape get_contact returns, so an API payload or an export loads as it is.
CREATE EXTENSION contact_identity;

SELECT * FROM contact_identity.import_contacts_json('[
  {"externalCustomerId": "u-1", "firstName": "Ann", "lastName": "Lee", "fields": {"city": "Kyiv"},
   "channels": [{"type": "email", "value": "Ann@X.io"}, {"type": "mobile_push", "value": "t1"},
                {"type": "cookie", "value": "c1"}, {"type": "cookie", "value": "c2"}]},
  5,
  {"externalCustomerId": "u-2", "channels": "nope"},
  {"externalCustomerId": "u-3", "channels": [{"value": "x"}]},
  {"externalCustomerId": "u-4", "fields": [1]},
  {"externalCustomerId": "u-5", "channels": [{"type": "email", "value": "a@x.io"}, {"type": "email", "value": "b@x.io"}]},
  {"externalCustomerId": "u-6", "channels": [{"type": "fax", "value": "1"}]},
  {"channels": [{"type": "email", "value": "no-id@x.io"}]},
  {"externalCustomerId": "u-1", "firstName": "Anna", "createdAt": "ignored"}
]');
SELECT contact_identity.get_contact(1) - 'createdAt' - 'updatedAt';

-- Round trip: an export loads into another account as the same profiles.
SELECT row_number, action, error_code FROM contact_identity.import_contacts_json(
    (SELECT jsonb_agg(contact_identity.get_contact(c.contact_id)) FROM contact_identity.contacts c), account_id => 9);
SELECT (contact_identity.get_contact(c.contact_id, 9) - 'contactId' - 'createdAt' - 'updatedAt')
     = (contact_identity.get_contact(1) - 'contactId' - 'createdAt' - 'updatedAt') AS same_profile
FROM contact_identity.contacts c WHERE c.account_id = 9;

-- dedupe_on contact_id uses contactId; other dedupe_on ignore it.
SELECT * FROM contact_identity.import_contacts_json('[{"contactId": 1, "lastName": "Li"}, {"contactId": 404}]',
                                                    dedupe_on => 'contact_id');
SELECT last_name FROM contact_identity.contacts WHERE contact_id = 1;

-- A profile that holds two emails after a merge, as get_contact exports it,
-- loads whole: an import row may carry several values of a permanent type,
-- the first one sent is the primary. A single upsert_contact call may not.
SELECT row_number, action, error_code FROM contact_identity.import_contacts_json(
    '[{"externalCustomerId": "u-20", "channels": [{"type": "email", "value": "dora@x.io"},
                                                  {"type": "email", "value": "dora.work@x.io"}]}]');
SELECT c.email, array_agg(i.value ORDER BY i.value) AS emails
FROM contact_identity.contacts c JOIN contact_identity.identifiers i USING (account_id, contact_id)
WHERE c.external_id = 'u-20' AND i.type = 'email' GROUP BY c.email;
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-21',
    identifiers => '{"email": ["eve@x.io", "eve.work@x.io"]}');

-- Not an array: an error before anything happens.
SELECT * FROM contact_identity.import_contacts_json('{"externalCustomerId": "u-1"}');
SELECT * FROM contact_identity.import_contacts_json(NULL);
-- Twice in one transaction.
BEGIN;
SELECT count(*) FROM contact_identity.import_contacts_json('[{"externalCustomerId": "u-7"}]');
SELECT count(*) FROM contact_identity.import_contacts_json('[{"externalCustomerId": "u-8"}]');
COMMIT;

-- A read-only transaction (or a standby) refuses the import at once, with
-- no internal statement as CONTEXT.
BEGIN READ ONLY;
SELECT * FROM contact_identity.import_contacts_json('[{"externalCustomerId": "u-9"}]');
ROLLBACK;

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity CASCADE;
