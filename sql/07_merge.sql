-- Rule 6: keys of one request that match different contacts.
CREATE EXTENSION contact_identity;

-- An email-only and a phone-only profile, joined by a registration that
-- carries both: the phone-only one is merged into the email's contact.
SELECT contact_id FROM contact_identity.upsert_contact(email => 'ann@x.io', first_name => 'Ann');     -- 1
SELECT contact_id FROM contact_identity.upsert_contact(phone => '+380501234567', last_name => 'Lee',
    attributes => '{"city": "Kyiv", "tier": "gold"}', identifiers => '{"cookie": "ck-1"}');            -- 2
SELECT contact_id FROM contact_identity.upsert_contact(email => 'ann@x.io', attributes => '{"tier": "silver"}'); -- 1
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', email => 'ann@x.io', phone => '+380501234567');
-- The winner has both identifiers, the loser's last name and the attributes
-- it lacked (its own values win); the loser is a tombstone holding nothing.
SELECT contact_id, external_id, email, phone, first_name, last_name, attributes, merged_into
FROM contact_identity.contacts ORDER BY contact_id;
SELECT type, value, contact_id FROM contact_identity.identifiers ORDER BY type, value;
-- (when each identifier was first seen and attached is in the detail too, for
-- unmerge_contact)
SELECT action, contact_id, other_contact_id, matched_by, detail - 'identifiers' AS detail,
       (SELECT jsonb_agg(i - 'attached_at' - 'first_seen_at') FROM jsonb_array_elements(detail->'identifiers') i) AS identifiers
FROM contact_identity.identity_log_steps
WHERE action = 'merged';
-- The phone now finds the winner.
SELECT * FROM contact_identity.resolve_contact(phone => '+380501234567');
-- Updating the tombstone by ID reaches the winner.
SELECT * FROM contact_identity.upsert_contact(contact_id => 2, first_name => 'Anna');
SELECT contact_identity.delete_contact(2);

-- Mobile case: the token-only profile is merged into the contact its
-- external ID already has.
SELECT contact_id FROM contact_identity.upsert_contact(identifiers => '{"mobile_push": "tok-1"}');     -- 3
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', identifiers => '{"mobile_push": "tok-1"}');
SELECT merged_into FROM contact_identity.contacts WHERE contact_id = 3;

-- A matched contact that holds another external ID is never merged: its
-- changeable identifier moves (the device changed hands)...
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-2', identifiers => '{"mobile_push": "tok-2"}'); -- 4
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', identifiers => '{"mobile_push": "tok-2"}');
SELECT contact_id, merged_into FROM contact_identity.contacts WHERE contact_id = 4;
SELECT contact_id FROM contact_identity.identifiers WHERE value = 'tok-2';
-- ...and its permanent identifier is an error that names both contacts.
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-5', email => 'eve@x.io'); -- 5
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', email => 'eve@x.io');
\echo :LAST_ERROR_SQLSTATE
-- (A phone nobody holds simply replaces the winner's.)
SELECT * FROM contact_identity.upsert_contact(email => 'ann@x.io', phone => '+380671112233');
SELECT contact_id FROM contact_identity.upsert_contact(phone => '+380679998877', email => 'frank@x.io'); -- 6
-- Another email on the phone's holder contradicts the request: error.
SELECT * FROM contact_identity.upsert_contact(email => 'ann@x.io', phone => '+380679998877');
-- Both hold a phone: the winner's and the other's phones differ, error.
SELECT contact_id FROM contact_identity.upsert_contact(phone => '+380631234567');                 -- 7
SELECT * FROM contact_identity.upsert_contact(email => 'frank@x.io', phone => '+380631234567');
SELECT count(*) FILTER (WHERE merged_into IS NULL) AS live, count(*) FILTER (WHERE merged_into IS NOT NULL) AS merged
FROM contact_identity.contacts;

-- A merged contact's external ID goes to a winner that had none.
SELECT contact_id FROM contact_identity.upsert_contact(email => 'gil@x.io');                              -- 8
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-9', phone => '+380661234567');  -- 9
SELECT * FROM contact_identity.upsert_contact(email => 'gil@x.io', phone => '+380661234567');
SELECT * FROM contact_identity.resolve_contact(external_id => 'u-9');

-- Several losers: each is checked against the winner as merged so far.
SELECT contact_id FROM contact_identity.upsert_contact(email => 'hal@x.io');                           -- 10
SELECT contact_id FROM contact_identity.upsert_contact(phone => '+380971234567');                      -- 11
SELECT contact_id FROM contact_identity.upsert_contact(identifiers => '{"telegram": "tg-1"}');         -- 12
SELECT * FROM contact_identity.upsert_contact(email => 'hal@x.io', phone => '+380971234567',
    identifiers => '{"telegram": "tg-1"}');
SELECT contact_id, merged_into FROM contact_identity.contacts WHERE contact_id IN (10, 11, 12) ORDER BY 1;

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
