-- demo/demo.sql: the two use cases of identity resolution, end to end.
-- Use case 1: a mobile app (push token first, then registration, then logins).
-- Use case 2: a website (a cookie first, then a subscription).
-- Then: lookups, a junk value, a conflict, delete and restore.
-- Run it with `bash demo/run` (a fresh database, psql -X -v ON_ERROR_STOP=1).

\set QUIET on
\pset null '(null)'
SET client_min_messages = notice;
CREATE EXTENSION contact_identity;
-- Phone numbers written without +country code are read in the account's
-- region (the demo uses the default account 0).
SELECT contact_identity.set_account_region(0, 'UA') AS region \gset

-- Every call's result goes into this table as well as on screen, so that later
-- steps can refer to the contacts it found or created.
CREATE TEMP TABLE step (step text, contact_id bigint, external_id text, action text, matched_by text,
                        n serial);
\set show 'RETURNING step, contact_id, external_id, action, matched_by'

\echo
\echo '================ Use case 1: the mobile app ================'
\echo
\echo '1.1 The app is installed on an Android phone and sends its push token, nothing else.'
\echo '    No profile has this token: one is created with the token as its only identifier.'
INSERT INTO step SELECT 'install', r.* FROM contact_identity.upsert_contact(
    identifiers => '{"mobile_push": "tok-android-5f3a"}') AS r
:show;
SELECT contact_id AS app_contact FROM step WHERE step = 'install' \gset

\echo '1.2 The person registers in the app. Your system gives them the external ID'
\echo '    app-user-1001 and sends it with the email, the phone (local format: the'
\echo '    account''s region UA applies), the name and the same push token.'
\echo '    Neither the external ID, the email nor the phone is known: the token finds'
\echo '    the profile of step 1.1, which gets the external ID and the new identifiers.'
INSERT INTO step SELECT 'register', r.* FROM contact_identity.upsert_contact(
    external_id => 'app-user-1001',
    email       => 'Olena.Koval@Example.com',
    phone       => '050 123 4567',
    identifiers => '{"mobile_push": "tok-android-5f3a"}',
    first_name  => 'Olena',
    attributes  => '{"app_version": "2.3.0"}') AS r
:show;

\echo '1.3 Later logins send the external ID alone: it finds the profile, which is updated.'
INSERT INTO step SELECT 'login', r.* FROM contact_identity.upsert_contact(
    external_id => 'app-user-1001',
    last_name   => 'Koval',
    attributes  => '{"app_version": "2.4.1", "last_login": "2024-05-01"}') AS r
:show;

\echo '1.4 One profile for all three requests:'
SELECT step, contact_id, action, matched_by FROM step ORDER BY n;
\echo 'get_contact shows it in the API shape:'
SELECT jsonb_pretty(contact_identity.get_contact(contact_id => :app_contact)) AS app_contact;
\echo 'and identity_log explains every decision about it:'
SELECT log_id, action, matched_by, identifier_type, identifier_value, other_contact_id
FROM contact_identity.identity_log
WHERE contact_id = :app_contact
ORDER BY log_id;

\echo
\echo '================ Use case 2: the website ================'
\echo
\echo '2.1 A visitor who is not logged in browses the site; the tracking script sends'
\echo '    their cookie alone. A cookie does not create a profile: contact_id is NULL,'
\echo '    the cookie is remembered.'
INSERT INTO step SELECT 'visit', r.* FROM contact_identity.upsert_contact(
    identifiers => '{"cookie": "ck-9b1e77"}') AS r
:show;
SELECT type, value, contact_id FROM contact_identity.identifiers WHERE type = 'cookie';
\echo '    What they look at is tracked as events; nobody is known yet, so the events'
\echo '    wait as anonymous history under the cookie.'
SELECT contact_identity.track_event('page_view', '{"url": "/bikes"}', identifiers => '{"cookie": "ck-9b1e77"}') AS event_id
UNION ALL
SELECT contact_identity.track_event('page_view', '{"url": "/helmets"}', identifiers => '{"cookie": "ck-9b1e77"}');

\echo '2.2 The visitor subscribes to the newsletter. Your system gives them the external'
\echo '    ID web-user-2002 and sends it with the email and the cookie: the profile is'
\echo '    created and the remembered cookie (their browsing history) is attached to it.'
INSERT INTO step SELECT 'subscribe', r.* FROM contact_identity.upsert_contact(
    external_id => 'web-user-2002',
    email       => 'petro@example.org',
    identifiers => '{"cookie": "ck-9b1e77"}',
    first_name  => 'Petro') AS r
:show;
SELECT contact_id AS web_contact FROM step WHERE step = 'subscribe' \gset
SELECT jsonb_pretty(contact_identity.get_contact(contact_id => :web_contact)) AS web_contact;
SELECT type, value, contact_id FROM contact_identity.identifiers WHERE type = 'cookie';
SELECT log_id, action, matched_by, identifier_type, identifier_value
FROM contact_identity.identity_log
WHERE contact_id = :web_contact OR identifier_value = 'ck-9b1e77'
ORDER BY log_id;
\echo '    The browsing history from before the subscription is now the profile''s:'
SELECT event_type, payload FROM contact_identity.contact_events(contact_id => :web_contact);
\echo '    and explain_contact tells the story in words:'
SELECT what FROM contact_identity.explain_contact(contact_id => :web_contact);

\echo
\echo '================ Lookups, junk values, conflicts ================'
\echo
\echo '3.1 resolve_contact only looks: the external ID comes first, then the email, then'
\echo '    the phone, then the other identifiers. Values are normalized before the search.'
SELECT 'by external ID' AS lookup, * FROM contact_identity.resolve_contact(external_id => 'app-user-1001')
UNION ALL
SELECT 'by email in other case', * FROM contact_identity.resolve_contact(email => 'OLENA.KOVAL@example.com')
UNION ALL
SELECT 'by phone in local format', * FROM contact_identity.resolve_contact(phone => '(050) 123-45-67')
UNION ALL
SELECT 'by cookie', * FROM contact_identity.resolve_contact(identifiers => '{"cookie": "ck-9b1e77"}')
UNION ALL
SELECT 'external ID before email', * FROM contact_identity.resolve_contact(
    external_id => 'web-user-2002', email => 'olena.koval@example.com');
SELECT count(*) AS rows_for_unknown_email
FROM contact_identity.resolve_contact(email => 'nobody.here@example.net');

\echo '3.2 A form that sends the email "null": the value is junk, it is ignored with a'
\echo '    NOTICE and the profile keeps its real email.'
INSERT INTO step SELECT 'junk email', r.* FROM contact_identity.upsert_contact(
    external_id => 'web-user-2002', email => 'null') AS r
:show;
SELECT contact_id, external_id, email FROM contact_identity.contacts WHERE contact_id = :web_contact;

\echo '3.3 A call-centre profile created by phone alone tries to take the external ID of'
\echo '    the app user: an external ID belongs to one contact, so this is an error.'
INSERT INTO step SELECT 'call centre', r.* FROM contact_identity.upsert_contact(
    phone => '+380 67 555 0199', first_name => 'Ivan') AS r
:show;
DO $$
DECLARE
    detail text;
BEGIN
    PERFORM contact_identity.upsert_contact(
        contact_id  => (SELECT contact_id FROM contact_identity.resolve_contact(phone => '+380675550199')),
        external_id => 'app-user-1001');
    RAISE NOTICE 'no error: this should not happen';
EXCEPTION WHEN unique_violation THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RAISE NOTICE 'caught unique_violation: %', SQLERRM;
    RAISE NOTICE 'detail: %', detail;
END
$$;

\echo '3.4 An agent decides the call-centre profile is the app user and merges it in;'
\echo '    the phone now finds the app user. It was a mistake: unmerge_contact reverses'
\echo '    the merge from identity_log, and each profile has its own values again.'
SELECT contact_id AS call_centre FROM contact_identity.resolve_contact(phone => '+380675550199') \gset
SELECT contact_id AS app_user FROM contact_identity.resolve_contact(external_id => 'app-user-1001') \gset
SELECT contact_identity.merge_contacts(winner => :app_user, loser => :call_centre) AS winner;
SELECT * FROM contact_identity.resolve_contact(phone => '+380675550199');
SELECT contact_identity.unmerge_contact(loser => :call_centre) AS unmerged;
SELECT * FROM contact_identity.resolve_contact(phone => '+380675550199');
SELECT contact_id, external_id, phone, first_name, merged_into FROM contact_identity.contacts
WHERE contact_id IN (:app_user, :call_centre) ORDER BY contact_id;

\echo
\echo '================ Delete and restore ================'
\echo
\echo '4.1 The website profile is deleted: it keeps its identifiers but is not found.'
SELECT contact_identity.delete_contact(contact_id => :web_contact) AS deleted;
SELECT count(*) AS found FROM contact_identity.resolve_contact(external_id => 'web-user-2002');
SELECT * FROM contact_identity.resolve_contact(external_id => 'web-user-2002', include_deleted => true);

\echo '4.2 The person logs in again: the request by external ID restores the profile.'
INSERT INTO step SELECT 'login again', r.* FROM contact_identity.upsert_contact(
    external_id => 'web-user-2002', attributes => '{"newsletter": true}') AS r
:show;
SELECT contact_id, external_id, email, deleted_at FROM contact_identity.contacts
WHERE contact_id = :web_contact;
SELECT log_id, action, matched_by FROM contact_identity.identity_log
WHERE contact_id = :web_contact AND action IN ('deleted', 'restored')
ORDER BY log_id;

\echo
\echo '================ All requests of the demo ================'
SELECT step, contact_id, external_id, action, matched_by FROM step ORDER BY n;
SELECT account_id, contact_id, external_id, email, phone, first_name, last_name, deleted_at IS NOT NULL AS deleted
FROM contact_identity.contacts ORDER BY contact_id;
