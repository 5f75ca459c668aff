-- Rule 2: search priority is external ID, email, phone, other permanent
-- types, then changeable types; matched_by names the key that decided.
CREATE EXTENSION contact_identity;

SELECT contact_id, action FROM contact_identity.upsert_contact(external_id => 'u-1');                 -- 1
SELECT contact_id, action FROM contact_identity.upsert_contact(email => 'e@x.io');                     -- 2
SELECT contact_id, action FROM contact_identity.upsert_contact(phone => '+380501234567');              -- 3
SELECT contact_id, action FROM contact_identity.upsert_contact(identifiers => '{"mobile_push": "t1"}'); -- 4
SELECT contact_id, action FROM contact_identity.upsert_contact(identifiers => '{"web_push": "w1"}');    -- 5
SELECT contact_id, action FROM contact_identity.upsert_contact(identifiers => '{"telegram": "42"}');   -- 6

-- Each key alone finds its contact.
SELECT * FROM contact_identity.resolve_contact(external_id => 'u-1');
SELECT * FROM contact_identity.resolve_contact(email => 'e@x.io');
SELECT * FROM contact_identity.resolve_contact(phone => '+380501234567');
SELECT * FROM contact_identity.resolve_contact(identifiers => '{"telegram": "42"}');

-- Together, the highest priority wins.
SELECT * FROM contact_identity.resolve_contact(external_id => 'u-1', email => 'e@x.io', phone => '+380501234567');
SELECT * FROM contact_identity.resolve_contact(email => 'e@x.io', phone => '+380501234567');
SELECT * FROM contact_identity.resolve_contact(phone => '+380501234567', identifiers => '{"mobile_push": "t1"}');
SELECT * FROM contact_identity.resolve_contact(identifiers => '{"telegram": "42", "web_push": "w1", "mobile_push": "t1"}');
SELECT * FROM contact_identity.resolve_contact(identifiers => '{"telegram": "42", "web_push": "w1"}');

-- An unknown higher-priority key does not hide a lower one.
SELECT * FROM contact_identity.resolve_contact(external_id => 'u-404', phone => '+380501234567');
-- Nothing known: no row.
SELECT * FROM contact_identity.resolve_contact(email => 'stranger@x.io');

-- Deleted contacts are found only with include_deleted.
SELECT contact_identity.delete_contact(2);
SELECT * FROM contact_identity.resolve_contact(email => 'e@x.io');
SELECT * FROM contact_identity.resolve_contact(email => 'e@x.io', include_deleted => true);
-- A deleted top match is not replaced by a lower one.
SELECT * FROM contact_identity.resolve_contact(email => 'e@x.io', phone => '+380501234567');

-- resolve_contact writes nothing.
SELECT count(*) AS log_rows_before FROM contact_identity.identity_log;
SELECT * FROM contact_identity.resolve_contact(email => 'new@x.io', identifiers => '{"cookie": "c1"}');
SELECT count(*) AS log_rows_after FROM contact_identity.identity_log;
SELECT count(*) AS identifiers_named_c1 FROM contact_identity.identifiers WHERE value = 'c1';

-- The same priority decides upserts.
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', identifiers => '{"web_push": "w9"}');
SELECT * FROM contact_identity.upsert_contact(phone => '+380501234567', identifiers => '{"telegram": "43"}');

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
