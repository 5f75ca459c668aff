-- Identifier types are data: admins add permanent and changeable ones.
CREATE EXTENSION contact_identity;

INSERT INTO contact_identity.identifier_types (name, class, priority, normalizer)
VALUES ('loyalty_card', 'permanent', 30, 'lower'), ('viber', 'changeable', 15, 'text'),
       ('work_email', 'permanent', 40, 'email');
-- Names must be identifiers, classes and normalizers known.
INSERT INTO contact_identity.identifier_types (name, class, priority) VALUES ('Bad Name', 'permanent', 1);
INSERT INTO contact_identity.identifier_types (name, class, priority) VALUES ('external_id', 'permanent', 1);
INSERT INTO contact_identity.identifier_types (name, class, priority) VALUES ('fax', 'sometimes', 1);

SELECT * FROM contact_identity.upsert_contact(identifiers => '{"loyalty_card": " CARD-1 ", "viber": "vb-1", "work_email": "Ann@Corp.Example"}');
SELECT type, value FROM contact_identity.identifiers ORDER BY type;
-- A new permanent type ranks after phone, a changeable one among the tokens.
SELECT contact_id FROM contact_identity.upsert_contact(identifiers => '{"mobile_push": "t-2"}');     -- 2
SELECT * FROM contact_identity.resolve_contact(identifiers => '{"mobile_push": "t-2", "viber": "vb-1"}');
SELECT * FROM contact_identity.resolve_contact(identifiers => '{"mobile_push": "t-2", "loyalty_card": "card-1"}');
-- Permanent means one value per contact: another card contradicts it.
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"loyalty_card": "card-2", "viber": "vb-1"}');
SELECT contact_id FROM contact_identity.identifiers WHERE type = 'viber';
-- ...and a call may carry only one value of a permanent type.
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"loyalty_card": ["card-1", "card-3"]}');
-- A type in use cannot be dropped.
DELETE FROM contact_identity.identifier_types WHERE name = 'viber';
-- The external ID is an argument of its own, not an identifiers entry.
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"external_id": "u-1"}');
-- Unknown types are an error that lists the known ones.
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"fax": "1"}');
\echo :LAST_ERROR_SQLSTATE

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
