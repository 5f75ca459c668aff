-- Events and anonymous history: track_event never creates a contact; an
-- event nobody is known for is kept under its identifiers and attached, in
-- the same transaction, when a write links one of them to a contact.
CREATE EXTENSION contact_identity;
SET contact_identity.default_region = 'UA';

-- The seed's website case: a visitor browses with a cookie, then subscribes.
SELECT contact_identity.track_event('page_view', '{"url": "/shoes"}', identifiers => '{"cookie": "ck-1"}',
                                    occurred_at => '2026-11-01 10:00+00') AS event_id;
SELECT contact_identity.track_event('page_view', '{"url": "/boots"}', identifiers => '{"cookie": "ck-1"}',
                                    occurred_at => '2026-11-01 10:05+00') AS event_id;
SELECT contact_identity.track_event('cart', identifiers => '{"cookie": "ck-2"}',
                                    occurred_at => '2026-11-01 11:00+00') AS event_id;
SELECT count(*) AS contacts FROM contact_identity.contacts;
SELECT event_id, contact_id FROM contact_identity.events ORDER BY event_id;
SELECT type, value, event_id FROM contact_identity.event_keys ORDER BY event_id;
-- The cookie is remembered without a profile.
SELECT type, value, contact_id FROM contact_identity.identifiers ORDER BY value;
SELECT action, identifier_value FROM contact_identity.identity_log_steps ORDER BY log_id, step;

-- The subscription links the cookie: its history comes along.
SELECT contact_id, action FROM contact_identity.upsert_contact(email => 'ann@x.io', identifiers => '{"cookie": "ck-1"}');
SELECT event_type, payload, occurred_at FROM contact_identity.contact_events(1);
SELECT event_id, contact_id FROM contact_identity.events ORDER BY event_id;
SELECT type, value, event_id FROM contact_identity.event_keys ORDER BY event_id;
SELECT contact_id, action, detail FROM contact_identity.identity_log_steps WHERE action = 'events_attached';
-- Later events of the cookie go straight to the contact.
SELECT contact_identity.track_event('page_view', '{"url": "/sale"}', identifiers => '{"cookie": "ck-1"}',
                                    occurred_at => '2026-11-02 09:00+00') AS event_id;
SELECT event_type, occurred_at FROM contact_identity.contact_events(1, since => '2026-11-02');

-- The seed's mobile case: a token-only profile, then registration with the
-- same token: the profile and its history become the registered person's.
SELECT contact_id, action FROM contact_identity.upsert_contact(identifiers => '{"mobile_push": "tok-9"}');
SELECT contact_identity.track_event('app_open', identifiers => '{"mobile_push": "tok-9"}',
                                    occurred_at => '2026-11-03 08:00+00') IS NOT NULL AS tracked;
SELECT contact_id, action, matched_by
FROM contact_identity.upsert_contact(external_id => 'u-9', email => 'bo@x.io', phone => '050 123 4567',
                                     identifiers => '{"mobile_push": "tok-9"}');
SELECT event_type, occurred_at FROM contact_identity.contact_events(2);

-- An order by external ID is activity: the contact's updated_at moves.
UPDATE contact_identity.contacts SET updated_at = '2026-01-01' WHERE contact_id = 2;
SELECT contact_identity.track_event('order', '{"total": 42}', external_id => 'u-9') IS NOT NULL AS tracked;
SELECT updated_at > '2026-01-01' AS touched FROM contact_identity.contacts WHERE contact_id = 2;

-- An anonymous event under an email is attached when a contact gets it.
SELECT contact_identity.track_event('newsletter_click', email => 'Cy@X.io',
                                    occurred_at => '2026-11-04 12:00+00') IS NOT NULL AS tracked;
SELECT contact_id, action FROM contact_identity.upsert_contact(external_id => 'u-10', email => 'cy@x.io');
SELECT event_type FROM contact_identity.contact_events(3);

-- A merge gives the loser's events to the winner; the loser's ID still
-- reads them.
SELECT contact_identity.merge_contacts(2, 3) AS winner;
SELECT contact_identity.merge_contacts(2, 3, force => true) AS winner;
SELECT event_type FROM contact_identity.contact_events(2) ORDER BY 1;
SELECT event_type FROM contact_identity.contact_events(3) ORDER BY 1;
SELECT detail->'events' AS events_moved FROM contact_identity.identity_log_steps WHERE action = 'merged';
SELECT count(*) AS newest_only FROM contact_identity.contact_events(2, max_rows => 1);

-- An import linking a remembered cookie attaches its history too.
CREATE TABLE event_src (external_id text, cookie text);
INSERT INTO event_src VALUES ('u-20', 'ck-2');
SELECT row_number, action FROM contact_identity.import_contacts('event_src');
SELECT e.event_type, c.external_id
FROM contact_identity.events e JOIN contact_identity.contacts c USING (account_id, contact_id)
WHERE e.event_type = 'cart';
DROP TABLE event_src;

-- Error paths.
SELECT contact_identity.track_event(NULL, identifiers => '{"cookie": "ck-3"}');
SELECT contact_identity.track_event('', identifiers => '{"cookie": "ck-3"}');
SELECT contact_identity.track_event('x', '[1]', identifiers => '{"cookie": "ck-3"}');
SELECT contact_identity.track_event('x', identifiers => '{"cookie": "ck-3"}', occurred_at => NULL);
SELECT contact_identity.track_event('x');
SELECT contact_identity.track_event('x', email => 'null');
SELECT contact_identity.track_event('x', email => 'not-an-email');
SELECT contact_identity.track_event('x', identifiers => '{"fax": "1"}');
SELECT contact_identity.track_event('x', email => 'ann@x.io', account_id => -1);
SELECT contact_identity.contact_events(NULL);
SELECT contact_identity.contact_events(404);
SELECT contact_identity.contact_events(1, max_rows => 0);
SELECT contact_identity.contact_events(1, account_id => 5);
-- No refused call left an event behind.
SELECT count(*) AS events FROM contact_identity.events;

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
