-- Rule 4: a request without an external ID.
CREATE EXTENSION contact_identity;

-- Nothing found: created.
SELECT * FROM contact_identity.upsert_contact(email => 'ann@x.io', first_name => 'Ann');
-- Found by email: updated.
SELECT * FROM contact_identity.upsert_contact(email => 'ann@x.io', phone => '+380501234567');
-- Found by phone: updated.
SELECT * FROM contact_identity.upsert_contact(phone => '+380501234567', last_name => 'Lee');
-- A deleted match is restored.
SELECT contact_identity.delete_contact(1);
SELECT * FROM contact_identity.upsert_contact(phone => '+380501234567');

-- Mobile app: the install sends only a push token; a profile is created.
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"mobile_push": "tok-A"}');
-- The same token again finds it.
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"mobile_push": "tok-A"}', first_name => 'Bob');
-- Registration on that device: the token's contact holds no contradicting
-- permanent identifier, so it is the person and gets the email.
SELECT * FROM contact_identity.upsert_contact(email => 'bob@x.io', identifiers => '{"mobile_push": "tok-A"}');

-- Another person logs in on Bob's device: Bob holds another email, so the
-- request is someone else; the token moves to the contact the request ends with.
SELECT * FROM contact_identity.upsert_contact(email => 'carol@x.io', identifiers => '{"mobile_push": "tok-A"}');
SELECT c.email, i.value AS token FROM contact_identity.identifiers i
JOIN contact_identity.contacts c USING (account_id, contact_id) WHERE i.type = 'mobile_push';
SELECT action, identifier_value, other_contact_id FROM contact_identity.identity_log_steps WHERE action = 'identifier_moved';
-- Bob's profile is untouched otherwise.
SELECT email, first_name FROM contact_identity.contacts WHERE contact_id = 2;

-- A token whose holder has an external ID is not taken by a request that
-- carries a different one.
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-7', identifiers => '{"web_push": "wp-1"}');
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-8', identifiers => '{"web_push": "wp-1"}');
SELECT external_id FROM contact_identity.contacts c JOIN contact_identity.identifiers i USING (account_id, contact_id)
WHERE i.value = 'wp-1';
-- Without an external ID or other contradiction the holder is the match.
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"web_push": "wp-1"}', first_name => 'Dan');

-- Website: a cookie alone creates no profile; it is remembered.
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"cookie": "ck-1"}');
SELECT type, value, contact_id FROM contact_identity.identifiers WHERE type = 'cookie';
SELECT count(*) AS contacts FROM contact_identity.contacts;
-- Seen again: nothing new is written.
SELECT count(*) AS log_rows_before FROM contact_identity.identity_log;
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"cookie": "ck-1"}');
SELECT count(*) AS log_rows_after FROM contact_identity.identity_log;
-- resolve finds nobody behind a remembered cookie.
SELECT * FROM contact_identity.resolve_contact(identifiers => '{"cookie": "ck-1"}');
-- The visitor subscribes: the new profile claims the remembered cookie.
SELECT * FROM contact_identity.upsert_contact(email => 'eve@x.io', identifiers => '{"cookie": "ck-1"}');
SELECT c.email, i.value, i.attached_at IS NOT NULL AS attached FROM contact_identity.identifiers i
JOIN contact_identity.contacts c USING (account_id, contact_id) WHERE i.type = 'cookie';
-- Now the cookie alone finds her.
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"cookie": "ck-1"}');
SELECT * FROM contact_identity.resolve_contact(identifiers => '{"cookie": "ck-1"}');
-- A cookie with another changeable identifier does create a profile.
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"cookie": "ck-2", "telegram": "777"}');

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
