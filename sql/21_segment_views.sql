-- The built-in segments: contacts_without_external_id, contacts_anonymous,
-- contacts_deleted and possible_duplicates, always current.
CREATE EXTENSION contact_identity;
SET contact_identity.default_region = 'UA';
SET client_min_messages = warning;

SELECT contact_id AS ann FROM contact_identity.upsert_contact(external_id => 'ann-1', email => 'ann.lee@gmail.com',
    first_name => 'Ann', last_name => 'Lee', attributes => '{"birth_date": "1990-04-01"}') \gset
SELECT contact_id AS ann_shop FROM contact_identity.upsert_contact(email => 'annlee+shop@googlemail.com') \gset
SELECT contact_id AS token_only FROM contact_identity.upsert_contact(identifiers => '{"mobile_push": "tok-1"}') \gset
SELECT contact_id AS phone_only FROM contact_identity.upsert_contact(phone => '050 111 2233',
    identifiers => '{"mobile_push": "tok-2"}') \gset
SELECT contact_id AS bob FROM contact_identity.upsert_contact(external_id => 'bob-1', email => 'bob@x.io',
    phone => '067 000 1122', first_name => 'Bob', last_name => 'Stone') \gset
SELECT contact_id AS gone FROM contact_identity.upsert_contact(email => 'gone@x.io') \gset
SELECT contact_identity.delete_contact(:gone) AS deleted;
-- Another profile with Ann's name and birth date, in other letters' case.
SELECT contact_id AS ann_again FROM contact_identity.upsert_contact(email => 'a.lee@work.io', first_name => 'ANN',
    last_name => 'lee', attributes => '{"birth_date": "1990-04-01"}') \gset
-- Bob's phone is replaced; later a profile with another email gets it.
SELECT contact_id = :bob AS bob FROM contact_identity.upsert_contact(external_id => 'bob-1', phone => '067 999 8877');
SELECT contact_id AS bob_new FROM contact_identity.upsert_contact(email => 'bobby@y.io', phone => '067 000 1122') \gset
-- In another account, the same mailbox joins nothing.
SELECT (contact_identity.upsert_contact(email => 'ann.lee+x@gmail.com', account_id => 2)).action;
RESET client_min_messages;

SELECT contact_id, email, phone FROM contact_identity.contacts_without_external_id
WHERE account_id = 0 ORDER BY contact_id;
SELECT contact_id FROM contact_identity.contacts_anonymous ORDER BY contact_id;
SELECT contact_id, email FROM contact_identity.contacts_deleted ORDER BY contact_id;
SELECT account_id, contact_id, other_contact_id, reason, detail FROM contact_identity.possible_duplicates
ORDER BY account_id, contact_id, other_contact_id, reason;

-- Always current: a new contact without an external ID is in the segment at
-- once; one that gets an external ID leaves it; a merge removes the loser.
SELECT count(*) AS without_external_id FROM contact_identity.contacts_without_external_id WHERE account_id = 0;
SELECT (contact_identity.upsert_contact(email => 'new@x.io')).action;
SELECT count(*) AS without_external_id FROM contact_identity.contacts_without_external_id WHERE account_id = 0;
SELECT (contact_identity.assign_external_id(:token_only, 'tok-user')).action;
SELECT count(*) AS without_external_id FROM contact_identity.contacts_without_external_id WHERE account_id = 0;
SELECT contact_id FROM contact_identity.contacts_anonymous ORDER BY contact_id;
-- A reviewed pair merged leaves possible_duplicates; unmerged, it is not
-- proposed again.
SELECT contact_identity.merge_contacts(:ann, :ann_shop) = :ann AS merged;
SELECT contact_id, other_contact_id, reason FROM contact_identity.possible_duplicates WHERE account_id = 0
ORDER BY contact_id, other_contact_id, reason;
SELECT (contact_identity.unmerge_contact(:ann_shop))->>'winner' AS unmerged_from;
SELECT contact_id, other_contact_id, reason FROM contact_identity.possible_duplicates WHERE account_id = 0
ORDER BY contact_id, other_contact_id, reason;

-- The mailbox of an email.
SELECT e, contact_identity.email_mailbox(e) FROM (VALUES ('a.b+c@gmail.com'), ('a.b+c@x.io'), ('x'), (NULL)) AS t(e);

-- The count of contacts_without_external_id is an index-only scan of its
-- partial index. (The rows are written directly: only the plan matters.)
INSERT INTO contact_identity.contacts (account_id, external_id, email)
SELECT 5, CASE WHEN g % 20 <> 0 THEN 'bulk-' || g END, 'bulk' || g || '@x.io' FROM generate_series(1, 20000) AS g;
VACUUM ANALYZE contact_identity.contacts;
EXPLAIN (COSTS OFF) SELECT count(*) FROM contact_identity.contacts_without_external_id;
EXPLAIN (COSTS OFF) SELECT count(*) FROM contact_identity.contacts_without_external_id WHERE account_id = 5;
SELECT count(*) FROM contact_identity.contacts_without_external_id WHERE account_id = 5;
-- The rows written around the API go again (verify() would report them).
DELETE FROM contact_identity.contacts WHERE account_id = 5;

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
