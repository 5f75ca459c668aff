-- merge_contacts: two profiles an admin knows are one person become one.
-- Identifiers move to the winner, the loser fills the winner's gaps and is
-- left a tombstone; two external IDs are refused unless force.
CREATE EXTENSION contact_identity;
SET contact_identity.default_region = 'UA';

SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-1', email => 'ann@x.io', first_name => 'Ann',
                                                       attributes => '{"city": "Kyiv"}');
SELECT contact_id FROM contact_identity.upsert_contact(email => 'ann.work@x.io', phone => '050 111 2233',
                                                       last_name => 'Lee', identifiers => '{"mobile_push": "tok-a"}',
                                                       attributes => '{"city": "Lviv", "tier": "gold"}');
SELECT contact_identity.merge_contacts(1, 2) AS winner;

-- The winner keeps its own values and fills its gaps from the loser; the
-- loser is a tombstone holding nothing.
SELECT contact_id, external_id, email, phone, first_name, last_name, attributes, merged_into
FROM contact_identity.contacts ORDER BY contact_id;
SELECT type, value, contact_id FROM contact_identity.identifiers ORDER BY type, value;
-- Every key of the loser now finds the winner, its old email included.
SELECT contact_id, matched_by FROM contact_identity.resolve_contact(email => 'ann.work@x.io');
SELECT contact_id, matched_by FROM contact_identity.resolve_contact(identifiers => '{"mobile_push": "tok-a"}');
-- An upsert with the loser's old email updates the winner and replaces
-- nothing: the winner keeps both emails, its own as the primary one.
SELECT contact_id, action, matched_by FROM contact_identity.upsert_contact(email => 'ann.work@x.io', first_name => 'Anna');
SELECT email, first_name FROM contact_identity.contacts WHERE contact_id = 1;
SELECT value FROM contact_identity.identifiers WHERE contact_id = 1 AND type = 'email' ORDER BY value;
-- The log says what moved, so that the merge can be explained and undone.
SELECT contact_id, action, other_contact_id, detail - 'identifiers' AS detail,
       (SELECT jsonb_agg(i - 'attached_at' - 'first_seen_at') FROM jsonb_array_elements(detail->'identifiers') i) AS identifiers
FROM contact_identity.identity_log_steps
WHERE action = 'merged' ORDER BY log_id;
-- The writer of automatic merges writes this one too: the winner's row says
-- it was updated, since it took the loser's phone.
SELECT contact_id, action, detail->'merged' AS merged, detail->'updated' AS updated
FROM contact_identity.identity_log WHERE action = 'merged' ORDER BY log_id LIMIT 1;

-- A merged contact named as the winner stands for the contact it went into.
SELECT contact_id FROM contact_identity.upsert_contact(email => 'bo@x.io', first_name => 'Bo');
SELECT contact_identity.merge_contacts(2, 3) AS winner;
SELECT merged_into FROM contact_identity.contacts WHERE contact_id = 3;
SELECT contact_id FROM contact_identity.resolve_contact(email => 'bo@x.io');

-- A loser with the external ID the winner lacks gives it to the winner.
SELECT contact_id FROM contact_identity.upsert_contact(email => 'cy@x.io');
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-5', first_name => 'Cy');
SELECT contact_identity.merge_contacts(4, 5) AS winner;
SELECT contact_id, external_id, email, first_name FROM contact_identity.contacts WHERE contact_id IN (4, 5) ORDER BY 1;
SELECT contact_id, action, identifier_value, other_contact_id FROM contact_identity.identity_log_steps
WHERE action = 'external_id_assigned' AND other_contact_id = 5;
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-5', last_name => 'Day');

-- Merge protection: both have an external ID.
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-6', email => 'dee@x.io');
SELECT contact_identity.merge_contacts(4, 6);
SELECT contact_identity.merge_contacts(4, 6, force => true) AS winner;
-- The winner keeps its external ID; the loser's still finds it.
SELECT external_id FROM contact_identity.contacts WHERE contact_id = 4;
SELECT contact_id, matched_by FROM contact_identity.resolve_contact(external_id => 'u-6');
SELECT detail->'forced' AS forced FROM contact_identity.identity_log_steps WHERE action = 'merged' AND other_contact_id = 6;

-- Error paths.
SELECT contact_identity.merge_contacts(1, 1);
SELECT contact_identity.merge_contacts(3, 1);   -- 3 went into 1 by way of 2
SELECT contact_identity.merge_contacts(1, 404);
SELECT contact_identity.merge_contacts(404, 1);
SELECT contact_identity.merge_contacts(1, 2);   -- already merged
SELECT contact_id FROM contact_identity.upsert_contact(email => 'gone@x.io');
SELECT contact_identity.delete_contact(7);
SELECT contact_identity.merge_contacts(1, 7);
SELECT contact_identity.merge_contacts(7, 1);
SELECT contact_identity.merge_contacts(NULL, 1);
SELECT contact_identity.merge_contacts(1, NULL);
SELECT contact_identity.merge_contacts(1, 4, force => NULL);
SELECT contact_identity.merge_contacts(1, 4, account_id => -1);
SELECT contact_identity.merge_contacts(1, 4, account_id => 9);
-- Nothing changed by the refused calls.
SELECT count(*) FILTER (WHERE merged_into IS NULL) AS live, count(*) AS contacts FROM contact_identity.contacts;

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
