-- explain_contact: a profile's history from identity_log, in words.
CREATE EXTENSION contact_identity;
SET contact_identity.default_region = 'UA';

-- The seed's mobile case: a token-only profile, then registration.
SELECT contact_id FROM contact_identity.upsert_contact(identifiers => '{"mobile_push": "tok-1"}');
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-17', email => 'ann@x.io',
                                                       phone => '050 123 4567', identifiers => '{"mobile_push": "tok-1"}');
SELECT what FROM contact_identity.explain_contact(1);

-- A new email replaces the old one; a device passes to someone else.
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-17', email => 'ann@new.io');
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-18', identifiers => '{"mobile_push": "tok-1"}');
SELECT what FROM contact_identity.explain_contact(1) OFFSET 6;
SELECT what FROM contact_identity.explain_contact(2);

-- Merges, seen from both sides, and a visitor's history joining a profile.
SELECT contact_identity.track_event('page_view', identifiers => '{"cookie": "ck-1"}') IS NOT NULL AS tracked;
SELECT contact_id FROM contact_identity.upsert_contact(phone => '067 111 2233', identifiers => '{"cookie": "ck-1"}');
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-18', phone => '067 111 2233');
SELECT contact_identity.merge_contacts(1, 2, force => true) AS winner;
SELECT what, (SELECT jsonb_agg(i - 'attached_at' - 'first_seen_at') FROM jsonb_array_elements(detail->'identifiers') i) AS identifiers, detail->'events' AS events
FROM contact_identity.explain_contact(3);
SELECT what FROM contact_identity.explain_contact(1) OFFSET 8;
SELECT contact_identity.delete_contact(1);
SELECT what FROM contact_identity.explain_contact(1) OFFSET 9;

-- Error paths.
SELECT * FROM contact_identity.explain_contact(NULL);
SELECT * FROM contact_identity.explain_contact(404);
SELECT * FROM contact_identity.explain_contact(1, account_id => 5);

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
