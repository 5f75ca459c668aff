-- identifier_types.max_per_contact: past a type's limit, the identifier of
-- that type known the longest is detached and logged, never an error.
CREATE EXTENSION contact_identity;

SELECT name, class, max_per_contact FROM contact_identity.identifier_types ORDER BY name;
INSERT INTO contact_identity.identifier_types (name, class, priority, max_per_contact)
VALUES ('device', 'changeable', 50, 2);

-- A third device detaches the first; it is free again.
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-1', identifiers => '{"device": "d1"}');
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-1', identifiers => '{"device": "d2"}');
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-1', identifiers => '{"device": "d3"}');
SELECT value FROM contact_identity.identifiers WHERE type = 'device' ORDER BY value;
SELECT action, matched_by, identifier_value, detail - 'attached_at' - 'first_seen_at' AS detail,
       detail ?& ARRAY['attached_at', 'first_seen_at'] AS times_kept FROM contact_identity.identity_log_steps
WHERE action = 'identifier_detached';
SELECT contact_id, action FROM contact_identity.upsert_contact(external_id => 'u-2', identifiers => '{"device": "d1"}');

-- One call with more than the limit keeps the limit.
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-3',
                                                       identifiers => '{"device": ["d7", "d8", "d9"]}');
SELECT count(*) AS devices_of_u3 FROM contact_identity.identifiers i
JOIN contact_identity.contacts c USING (account_id, contact_id) WHERE c.external_id = 'u-3' AND i.type = 'device';

-- A merge: the winner keeps the limit, the devices known the longest go.
SELECT contact_identity.merge_contacts(1, 3, force => true) AS winner;
SELECT value FROM contact_identity.identifiers WHERE type = 'device' AND contact_id = 1 ORDER BY value;

-- An import row adding a device: the set-based path detaches the same way.
CREATE TABLE limit_src (external_id text, device text);
INSERT INTO limit_src VALUES ('u-2', 'd5');
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-2', identifiers => '{"device": "d4"}');
SELECT row_number, action FROM contact_identity.import_contacts('limit_src');
SELECT value FROM contact_identity.identifiers WHERE type = 'device' AND contact_id = 2 ORDER BY value;
SELECT contact_id, identifier_value, detail->>'reason' AS reason FROM contact_identity.identity_log_steps
WHERE action = 'identifier_detached' ORDER BY log_id;
DROP TABLE limit_src;

-- Limits are positive, and only for changeable types.
UPDATE contact_identity.identifier_types SET max_per_contact = 1 WHERE name = 'email';
UPDATE contact_identity.identifier_types SET max_per_contact = 0 WHERE name = 'device';
-- No limit: NULL.
UPDATE contact_identity.identifier_types SET max_per_contact = NULL WHERE name = 'device';
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-1', identifiers => '{"device": ["e1", "e2", "e3"]}');
SELECT count(*) AS devices_of_u1 FROM contact_identity.identifiers WHERE type = 'device' AND contact_id = 1;

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
