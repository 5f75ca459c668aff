-- test/citus/use_cases.sql: the seed's two use cases, a mobile app and a
-- website (shared/seeds/000_5807636d7bdef509.txt), in account :acct of a
-- distributed database. Every call is one statement of its own, so that
-- Citus delegates it to the worker holding the account (run on the
-- coordinator, which holds no account, anything else fails with 0A000).
-- Each outcome is checked as the single-node rules say
-- (docs/identity-rules.md) with expect(), which stops the script at the
-- first difference. Variables: acct, and lo and hi, the ID range of the
-- account's worker (a new contact's ID must be in it).
\set ON_ERROR_STOP 1

-- ==== Use case 1: the mobile app ====
-- The app is installed: its push token alone creates a profile.
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"mobile_push": "tok-a"}', account_id => :acct) \gset r_
\set m_ann :r_contact_id
SELECT expect(:'r_action' = 'created' AND :m_ann BETWEEN :lo AND :hi,
              format('install: the token alone creates contact %s, in the worker''s ID range', :m_ann));

-- Ann registers: the system sends her external ID, email and phone with the
-- token; the profile found by the token is updated.
SELECT * FROM contact_identity.upsert_contact(external_id => 'app-ann', email => 'ann@app.example',
    phone => '+380501110001', first_name => 'Ann', identifiers => '{"mobile_push": "tok-a"}', account_id => :acct) \gset r_
SELECT expect(:r_contact_id = :m_ann AND :'r_action' = 'updated' AND :'r_matched_by' = 'mobile_push',
              format('registration: %s %s by %s', :r_contact_id, :'r_action', :'r_matched_by'));

-- A login that changes nothing returns the contact and writes no log row.
SELECT count(*) AS log_rows FROM contact_identity.identity_log WHERE account_id = :acct \gset
SELECT * FROM contact_identity.upsert_contact(external_id => 'app-ann', identifiers => '{"mobile_push": "tok-a"}',
    account_id => :acct) \gset r_
SELECT expect(:r_contact_id = :m_ann AND :'r_action' = 'updated' AND :'r_matched_by' = 'external_id'
              AND (SELECT count(*) FROM contact_identity.identity_log WHERE account_id = :acct) = :log_rows,
              format('login: %s %s by %s, no log row', :r_contact_id, :'r_action', :'r_matched_by'));

-- Ann logs out and Bob logs in on the same phone: he is another person
-- (other external ID and email), so he gets his own profile and the token
-- moves to him; Ann keeps hers.
SELECT * FROM contact_identity.upsert_contact(external_id => 'app-bob', email => 'bob@app.example',
    identifiers => '{"mobile_push": "tok-a"}', account_id => :acct) \gset r_
\set m_bob :r_contact_id
SELECT expect(:m_bob <> :m_ann AND :'r_action' = 'created' AND :m_bob BETWEEN :lo AND :hi
              AND (SELECT contact_id FROM contact_identity.identifiers
                    WHERE account_id = :acct AND type = 'mobile_push' AND value = 'tok-a') = :m_bob
              AND (SELECT email FROM contact_identity.contacts WHERE account_id = :acct AND contact_id = :m_ann) = 'ann@app.example',
              format('another login on the phone: %s %s, the token moved from %s', :m_bob, :'r_action', :m_ann));

-- Ann logs in again on it: the token comes back to her.
SELECT * FROM contact_identity.upsert_contact(external_id => 'app-ann', identifiers => '{"mobile_push": "tok-a"}',
    account_id => :acct) \gset r_
SELECT expect(:r_contact_id = :m_ann AND :'r_action' = 'updated' AND :'r_matched_by' = 'external_id'
              AND (SELECT contact_id FROM contact_identity.identifiers
                    WHERE account_id = :acct AND type = 'mobile_push' AND value = 'tok-a') = :m_ann,
              format('Ann back on the phone: %s %s by %s, the token is hers again', :r_contact_id, :'r_action', :'r_matched_by'));

-- Her tablet adds a second token; either token, and her phone number, find her.
SELECT * FROM contact_identity.upsert_contact(external_id => 'app-ann', identifiers => '{"mobile_push": "tok-b"}',
    account_id => :acct) \gset r_
SELECT * FROM contact_identity.resolve_contact(identifiers => '{"mobile_push": "tok-b"}', account_id => :acct) \gset by_token_
SELECT * FROM contact_identity.resolve_contact(phone => '+380501110001', account_id => :acct) \gset by_phone_
SELECT expect(:r_contact_id = :m_ann AND :by_token_contact_id = :m_ann AND :'by_token_matched_by' = 'mobile_push'
              AND :by_phone_contact_id = :m_ann AND :'by_phone_matched_by' = 'phone'
              AND (SELECT count(*) FROM contact_identity.identifiers
                    WHERE account_id = :acct AND contact_id = :m_ann AND type = 'mobile_push') = 2,
              format('second device: contact %s holds both tokens; resolve by token and by phone give %s and %s',
                     :m_ann, :by_token_contact_id, :by_phone_contact_id));

-- An event from the app lands on her profile.
SELECT contact_identity.track_event('app_open', identifiers => '{"mobile_push": "tok-b"}', account_id => :acct) AS ev \gset
SELECT expect((SELECT contact_id FROM contact_identity.events WHERE account_id = :acct AND event_id = :ev) = :m_ann,
              format('event %s from the tablet is on contact %s', :ev, :m_ann));

-- Bob deletes his profile; his next login by external ID restores it.
SELECT contact_identity.delete_contact(:m_bob, :acct) \g /dev/null
SELECT * FROM contact_identity.upsert_contact(external_id => 'app-bob', account_id => :acct) \gset r_
SELECT expect(:r_contact_id = :m_bob AND :'r_action' = 'restored',
              format('deleted, then a login: %s %s', :r_contact_id, :'r_action'));

-- External IDs never change, and one belongs to one contact: the errors
-- come back from the worker with their SQLSTATE.
\set ON_ERROR_STOP 0
SELECT * FROM contact_identity.assign_external_id(:m_ann, 'app-other', :acct);
\set ON_ERROR_STOP 1
SELECT expect(:'SQLSTATE' = '55000', format('another external ID for contact %s: SQLSTATE %s', :m_ann, :'SQLSTATE'));
\set ON_ERROR_STOP 0
SELECT * FROM contact_identity.upsert_contact(external_id => 'app-bob', email => 'ann@app.example', account_id => :acct);
\set ON_ERROR_STOP 1
SELECT expect(:'SQLSTATE' = '23505', format('Bob''s external ID with Ann''s email: SQLSTATE %s', :'SQLSTATE'));

-- ==== Use case 2: the website ====
-- A visitor who has not logged in: the cookie is remembered, no profile is
-- made, and the page views are kept under the cookie.
\unset r_contact_id
SELECT * FROM contact_identity.upsert_contact(identifiers => '{"cookie": "ck-1"}', account_id => :acct) \gset r_
SELECT expect(NOT :{?r_contact_id} AND :'r_action' = 'remembered',
              format('anonymous visit: %s, no contact', :'r_action'));
SELECT contact_identity.track_event('page_view', '{"url": "/shoes"}', identifiers => '{"cookie": "ck-1"}',
    account_id => :acct) AS view \gset
SELECT expect((SELECT contact_id IS NULL FROM contact_identity.events WHERE account_id = :acct AND event_id = :view),
              format('anonymous page view: event %s has no contact', :view));

-- She subscribes to the newsletter: the email and the cookie make her
-- profile, which takes her earlier page view.
SELECT * FROM contact_identity.upsert_contact(email => 'carol@web.example', identifiers => '{"cookie": "ck-1"}',
    account_id => :acct) \gset r_
\set w_carol :r_contact_id
SELECT expect(:'r_action' = 'created' AND :w_carol BETWEEN :lo AND :hi
              AND (SELECT contact_id FROM contact_identity.events WHERE account_id = :acct AND event_id = :view) = :w_carol,
              format('subscription: contact %s %s, with the cookie''s page view', :w_carol, :'r_action'));

-- She registers: the system gives her an external ID, found by her email.
SELECT * FROM contact_identity.upsert_contact(external_id => 'web-carol', email => 'carol@web.example',
    first_name => 'Carol', identifiers => '{"cookie": "ck-1"}', account_id => :acct) \gset r_
SELECT expect(:r_contact_id = :w_carol AND :'r_action' = 'updated' AND :'r_matched_by' = 'email'
              AND :'r_external_id' = 'web-carol',
              format('registration: %s %s by %s, external ID %s', :r_contact_id, :'r_action', :'r_matched_by', :'r_external_id'));

-- An order by phone had made a phone-only profile; her next login sends the
-- phone with a new cookie, and the two profiles become one.
SELECT * FROM contact_identity.upsert_contact(phone => '+380671110002', last_name => 'Lee', account_id => :acct) \gset r_
\set w_phone :r_contact_id
SELECT * FROM contact_identity.upsert_contact(external_id => 'web-carol', phone => '+380671110002',
    identifiers => '{"cookie": "ck-2"}', account_id => :acct) \gset r_
SELECT expect(:r_contact_id = :w_carol AND :'r_action' = 'merged' AND :'r_matched_by' = 'external_id'
              AND (SELECT merged_into FROM contact_identity.contacts WHERE account_id = :acct AND contact_id = :w_phone) = :w_carol
              AND (SELECT phone = '+380671110002' AND last_name = 'Lee' AND first_name = 'Carol'
                     FROM contact_identity.contacts WHERE account_id = :acct AND contact_id = :w_carol)
              AND (SELECT count(*) FROM contact_identity.identifiers
                    WHERE account_id = :acct AND contact_id = :w_carol AND type = 'cookie') = 2,
              format('login with the phone: %s %s, contact %s merged into it', :r_contact_id, :'r_action', :w_phone));

-- A work email profile an admin knows is hers: merged, then unmerged.
SELECT * FROM contact_identity.upsert_contact(email => 'carol@work.example', account_id => :acct) \gset r_
\set w_work :r_contact_id
SELECT contact_identity.merge_contacts(:w_carol, :w_work, account_id => :acct) AS winner \gset
SELECT * FROM contact_identity.resolve_contact(email => 'carol@work.example', account_id => :acct) \gset by_work_
SELECT expect(:winner = :w_carol AND :by_work_contact_id = :w_carol,
              format('merge_contacts(%s, %s): winner %s, the work email finds %s', :w_carol, :w_work, :winner, :by_work_contact_id));
SELECT contact_identity.unmerge_contact(:w_work, :acct) AS unmerged \gset
SELECT :'unmerged'::jsonb ->> 'winner' AS unmerged_from \gset
SELECT * FROM contact_identity.resolve_contact(email => 'carol@work.example', account_id => :acct) \gset by_work_
SELECT expect(:unmerged_from = :w_carol AND :by_work_contact_id = :w_work,
              format('unmerge_contact(%s): from %s, the work email finds %s again', :w_work, :unmerged_from, :by_work_contact_id));

-- A visitor who never logs in: the page view stays anonymous, kept under
-- its cookie (event_keys).
SELECT contact_identity.track_event('page_view', '{"url": "/"}', identifiers => '{"cookie": "ck-never"}',
    account_id => :acct) AS anon \gset
SELECT expect((SELECT count(*) FROM contact_identity.event_keys
                WHERE account_id = :acct AND event_id = :anon AND value = 'ck-never') = 1,
              format('a visitor who never logs in: event %s kept under the cookie', :anon));

-- The site's sign-ups arrive as a JSON import (get_contact's shape): a new
-- person, Carol again by her email, and a broken address refused alone.
-- (The call's rows are not read here: a query around it would not be
-- delegated.)
SELECT * FROM contact_identity.import_contacts_json(
    '[{"externalCustomerId": "web-dan", "channels": [{"type": "email", "value": "dan@web.example"}]},
      {"channels": [{"type": "email", "value": "carol@web.example"}], "fields": {"source": "import"}},
      {"channels": [{"type": "email", "value": "broken@"}]}]', dedupe_on => 'email', account_id => :acct) \g /dev/null
SELECT expect(:ROW_COUNT = 3
              AND (SELECT email FROM contact_identity.contacts WHERE account_id = :acct AND external_id = 'web-dan') = 'dan@web.example'
              AND (SELECT attributes ->> 'source' FROM contact_identity.contacts
                    WHERE account_id = :acct AND contact_id = :w_carol) = 'import'
              AND NOT EXISTS (SELECT FROM contact_identity.identifiers WHERE account_id = :acct AND value LIKE 'broken%'),
              format('JSON import: %s rows; web-dan created, Carol updated, the broken email stored nowhere', :ROW_COUNT));

-- Two accounts never share a person: the same email in account 0, which
-- no test writes to, finds nobody.
SELECT * FROM contact_identity.resolve_contact(email => 'carol@web.example', account_id => 0);
SELECT expect(:ROW_COUNT = 0, 'the same email in account 0 finds nobody');
