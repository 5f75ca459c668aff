-- Privileges and tenants: three roles say what a role may call, account
-- grants say which accounts it may use; every function checks the calling
-- role before it reads anything, views and tables show only the accounts
-- granted, and nobody writes the tables but the functions. A hostile role's
-- look-alike functions, operators and tables change nothing.
CREATE EXTENSION contact_identity;
SET contact_identity.default_region = 'UA';
SET client_min_messages = warning;

-- Nothing for PUBLIC; the three roles exist.
SELECT count(*) AS public_routines FROM pg_proc p
WHERE p.pronamespace = 'contact_identity'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE');
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'contact_identity_%' ORDER BY 1;
SELECT count(*) FILTER (WHERE prosecdef) AS security_definer,
       count(*) FILTER (WHERE prosecdef AND NOT 'search_path=pg_catalog, pg_temp' = ANY (proconfig)) AS without_pinned_path
FROM pg_proc WHERE pronamespace = 'contact_identity'::regnamespace;
SELECT relname FROM pg_class WHERE relnamespace = 'contact_identity'::regnamespace AND relkind = 'r'
  AND NOT relrowsecurity ORDER BY 1;

-- Two tenants with the same email and external ID.
SELECT (contact_identity.upsert_contact(external_id => 'u-1', email => 'ann@x.io', first_name => 'Ann',
    account_id => 1)).contact_id AS t1_ann \gset
SELECT (contact_identity.upsert_contact(external_id => 'u-1', email => 'ann@x.io', first_name => 'Anna',
    account_id => 2)).contact_id AS t2_ann \gset
SELECT (contact_identity.upsert_contact(email => 'bob@x.io', account_id => 2)).contact_id AS t2_bob \gset
SELECT contact_identity.create_segment('tenant 2 all', '{"field": "email", "op": "is_not_empty"}', 2) IS NOT NULL;

CREATE ROLE regress_ci_w1;   -- writes account 1
CREATE ROLE regress_ci_a1;   -- administers account 1
CREATE ROLE regress_ci_r2;   -- reads account 2
CREATE ROLE regress_ci_none; -- writer role, no account
GRANT contact_identity_writer TO regress_ci_w1, regress_ci_none;
GRANT contact_identity_admin TO regress_ci_a1;
GRANT contact_identity_reader TO regress_ci_r2;
SELECT contact_identity.grant_account('regress_ci_w1', 1, 'writer');
SELECT contact_identity.grant_account('regress_ci_a1', 1, 'admin');
SELECT contact_identity.grant_account('regress_ci_r2', 2, 'reader');
CREATE TABLE import_t1 (external_id text, email text);
INSERT INTO import_t1 VALUES ('u-7', 'seven@x.io');
GRANT SELECT ON import_t1 TO regress_ci_w1;
CREATE TABLE secret_source (external_id text);
INSERT INTO secret_source VALUES ('leak');
RESET client_min_messages;

-- The writer of account 1 works in account 1.
SET ROLE regress_ci_w1;
SELECT contact_id = :t1_ann AS same, action FROM contact_identity.upsert_contact(external_id => 'u-1', last_name => 'Lee',
    account_id => 1);
SELECT contact_id = :t1_ann AS same FROM contact_identity.resolve_contact(email => 'ann@x.io', account_id => 1);
SELECT contact_identity.get_contact(:t1_ann, 1)->>'firstName' AS first_name;
SELECT count(*) > 0 AS explained FROM contact_identity.explain_contact(:t1_ann, 1);
SELECT contact_identity.track_event('order', external_id => 'u-1', account_id => 1) > 0 AS tracked;
SELECT count(*) AS events FROM contact_identity.contact_events(:t1_ann, account_id => 1);
SELECT action FROM contact_identity.import_contacts('import_t1', account_id => 1);
SELECT action FROM contact_identity.import_contacts_json('[{"externalCustomerId": "u-8"}]', account_id => 1);
CALL contact_identity.run_import('import_t1', account_id => 1);
SELECT count(*) AS changes FROM contact_identity.export_changes('-infinity', 1);
-- It sees account 1 only, whatever it reads.
SELECT account_id, external_id, email FROM contact_identity.contacts ORDER BY account_id, contact_id;
SELECT DISTINCT account_id FROM contact_identity.identifiers;
SELECT DISTINCT account_id FROM contact_identity.identity_log;
SELECT account_id, external_id FROM contact_identity.contacts_export ORDER BY contact_id;
SELECT count(*) FROM contact_identity.contacts_without_external_id WHERE account_id = 2;
SELECT count(*) FROM contact_identity_segments."tenant 2 all";
SELECT name FROM contact_identity.segments;
-- Account 2 is closed to it: every function fails with 42501 before reading.
\set VERBOSITY terse
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', first_name => 'Mallory', account_id => 2);
SELECT * FROM contact_identity.resolve_contact(email => 'ann@x.io', account_id => 2);
SELECT contact_identity.get_contact(:t2_ann, 2);
SELECT * FROM contact_identity.explain_contact(:t2_ann, 2);
SELECT * FROM contact_identity.contact_events(:t2_ann, account_id => 2);
SELECT contact_identity.track_event('order', external_id => 'u-1', account_id => 2);
SELECT * FROM contact_identity.assign_external_id(:t2_bob, 'u-2', 2);
SELECT contact_identity.delete_contact(:t2_bob, 2);
SELECT * FROM contact_identity.import_contacts('import_t1', account_id => 2);
SELECT * FROM contact_identity.import_contacts_json('[{"externalCustomerId": "u-9"}]', account_id => 2);
CALL contact_identity.run_import('import_t1', account_id => 2);
SELECT * FROM contact_identity.export_changes('-infinity', 2);
SELECT contact_identity.segment_count('tenant 2 all');
-- Nor may it read a table it has no SELECT on through an import, call what
-- only admins call, or write the tables directly.
SELECT * FROM contact_identity.import_contacts('secret_source', account_id => 1);
CALL contact_identity.run_import('secret_source', account_id => 1);
SELECT contact_identity.merge_contacts(:t1_ann, :t1_ann, account_id => 1);
SELECT contact_identity.grant_account('regress_ci_w1', 2, 'admin');
SELECT * FROM contact_identity.account_grants;
UPDATE contact_identity.contacts SET first_name = 'Mallory' WHERE account_id = 2;
INSERT INTO contact_identity.identifiers (account_id, type, value) VALUES (2, 'email', 'x@x.io');
DELETE FROM contact_identity.identity_log;
SELECT * FROM contact_identity.secrets;
\set VERBOSITY default
RESET ROLE;
SELECT first_name FROM contact_identity.contacts WHERE contact_id = :t2_ann;

-- A role with the writer role and no grant can do nothing at all.
SET ROLE regress_ci_none;
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-5', account_id => 0);
SELECT count(*) FROM contact_identity.contacts;
RESET ROLE;

-- The reader of account 2 reads it, and writes nothing.
SET ROLE regress_ci_r2;
SELECT contact_id = :t2_ann AS same FROM contact_identity.resolve_contact(external_id => 'u-1', account_id => 2);
SELECT contact_identity.segment_count('tenant 2 all');
SELECT count(*) FROM contact_identity_segments."tenant 2 all";
SELECT account_id, external_id, first_name FROM contact_identity.contacts ORDER BY contact_id;
\set VERBOSITY terse
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', first_name => 'X', account_id => 2);
\set VERBOSITY default
RESET ROLE;

-- The admin of account 1 merges there, grants there, and nowhere else.
SET ROLE regress_ci_a1;
SELECT (contact_identity.upsert_contact(email => 'ann.work@x.io', account_id => 1)).contact_id AS t1_work \gset
SELECT contact_identity.merge_contacts(:t1_ann, :t1_work, account_id => 1) = :t1_ann AS merged;
SELECT (contact_identity.unmerge_contact(:t1_work, 1))->>'winner' = :t1_ann::text AS unmerged;
SELECT contact_identity.create_segment('tenant 1 all', '{"field": "email", "op": "is_not_empty"}', 1) IS NOT NULL;
SELECT contact_identity.grant_account('regress_ci_r2', 1, 'reader');
\set VERBOSITY terse
SELECT contact_identity.merge_contacts(:t2_ann, :t2_bob, account_id => 2);
SELECT contact_identity.purge_contact(:t2_bob, 2);
SELECT contact_identity.create_segment('sneaky', '{"field": "email", "op": "is_not_empty"}', 2);
SELECT contact_identity.drop_segment('tenant 2 all');
SELECT contact_identity.grant_account('regress_ci_a1', 2, 'admin');
\set VERBOSITY default
RESET ROLE;
-- Granted account 1 too, the reader now reads both; revoked, one again.
SET ROLE regress_ci_r2;
SELECT DISTINCT account_id FROM contact_identity.contacts ORDER BY 1;
RESET ROLE;
SELECT contact_identity.revoke_account('regress_ci_r2', 1);
SET ROLE regress_ci_r2;
SELECT DISTINCT account_id FROM contact_identity.contacts ORDER BY 1;
RESET ROLE;
-- Grants made to a group role hold for its members.
CREATE ROLE regress_ci_team;
GRANT regress_ci_team TO regress_ci_none;
SELECT contact_identity.grant_account('regress_ci_team', 3, 'writer');
SET ROLE regress_ci_none;
SELECT action FROM contact_identity.upsert_contact(external_id => 'team-1', account_id => 3);
RESET ROLE;
-- Errors of the grant functions.
SELECT contact_identity.grant_account('regress_ci_nobody', 1, 'reader');
SELECT contact_identity.grant_account('regress_ci_r2', 1, 'owner');
SELECT contact_identity.grant_account(NULL, 1, 'reader');
SELECT contact_identity.grant_account('regress_ci_r2', -1, 'reader');
SELECT contact_identity.revoke_account('regress_ci_r2', 1);

-- A hostile writer puts look-alikes of what the functions use in public and
-- in its own schema, first on its search_path: lower(), btrim(), now(),
-- jsonb_build_object(), an = operator on text that is always true, and
-- tables named like the extension's. Every result stays the same.
SELECT contact_identity.grant_account('regress_ci_w1', 4, 'writer');
GRANT CREATE ON SCHEMA public TO regress_ci_w1;
CREATE SCHEMA regress_ci_evil AUTHORIZATION regress_ci_w1;
SET ROLE regress_ci_w1;
CREATE TEMP TABLE calls (run text, n int, result text);
CREATE FUNCTION pg_temp.run_calls(run text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE q text; i int := 0; r text;
BEGIN
  FOREACH q IN ARRAY ARRAY[
    $q$SELECT row(u.*)::text FROM contact_identity.upsert_contact(external_id => 'h-1', email => ' H1@X.IO ', phone => '050 444 5566', first_name => 'H', attributes => '{"a": 1}', identifiers => '{"cookie": "ck-h"}', account_id => 4) u$q$,
    $q$SELECT row(u.*)::text FROM contact_identity.upsert_contact(email => 'h1@x.io', last_name => 'One', account_id => 4) u$q$,
    $q$SELECT row(r.*)::text FROM contact_identity.resolve_contact(email => 'H1@x.io', account_id => 4) r$q$,
    $q$SELECT row(r.*)::text FROM contact_identity.resolve_contact(identifiers => '{"cookie": "ck-h"}', account_id => 4) r$q$,
    $q$SELECT contact_identity.get_contact((SELECT contact_id FROM contact_identity.resolve_contact(external_id => 'h-1', account_id => 4)), 4) - 'createdAt' - 'updatedAt' - 'contactId'$q$,
    $q$SELECT count(*)::text FROM contact_identity.explain_contact((SELECT contact_id FROM contact_identity.resolve_contact(external_id => 'h-1', account_id => 4)), 4)$q$,
    $q$SELECT (contact_identity.track_event('visit', '{"p": 1}', identifiers => '{"cookie": "ck-anon-h"}', account_id => 4) > 0)::text$q$,
    $q$SELECT string_agg(event_type, ',' ORDER BY event_type) FROM contact_identity.contact_events((SELECT contact_id FROM contact_identity.resolve_contact(external_id => 'h-1', account_id => 4)), account_id => 4)$q$,
    $q$SELECT contact_identity.normalize_email(' Ä@Bücher.example ') || contact_identity.normalize_phone('050 123 4567', 'UA')$q$,
    $q$SELECT string_agg(external_id || '/' || coalesce(email, '-'), ',' ORDER BY external_id) FROM contact_identity.contacts_export WHERE account_id = 4$q$,
    $q$SELECT count(*)::text FROM contact_identity.export_changes('-infinity', 4)$q$
  ] LOOP
    i := i + 1;
    BEGIN
      EXECUTE q INTO r;
    EXCEPTION WHEN OTHERS THEN
      r := 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
    END;
    INSERT INTO calls VALUES (run, i, r);
  END LOOP;
END $$;
-- The calls twice without look-alikes (the first creates, the second finds
-- what the first made), then with them, on the same state as the second.
SELECT pg_temp.run_calls('first');
SELECT pg_temp.run_calls('plain');
CREATE FUNCTION regress_ci_evil.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'evil' $$;
CREATE FUNCTION regress_ci_evil.btrim(text) RETURNS text LANGUAGE sql AS $$ SELECT 'evil' $$;
CREATE FUNCTION regress_ci_evil.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT 'epoch'::timestamptz $$;
CREATE FUNCTION regress_ci_evil.jsonb_build_object(text, text) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{"evil": true}'::jsonb $$;
CREATE FUNCTION regress_ci_evil.text_eq_evil(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR regress_ci_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_ci_evil.text_eq_evil);
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_ci_evil.text_eq_evil);
CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'evil' $$;
CREATE TABLE regress_ci_evil.contacts (account_id bigint, contact_id bigint, external_id text);
CREATE TABLE public.identifiers (account_id bigint, type text, value text, contact_id bigint);
CREATE TABLE regress_ci_evil.identifier_types (name text);
SET search_path = regress_ci_evil, public, pg_catalog;
SELECT pg_temp.run_calls('hostile');
RESET search_path;
SELECT p.n, p.result AS plain, h.result AS hostile
FROM calls p JOIN calls h ON h.n = p.n AND h.run = 'hostile' WHERE p.run = 'plain'
  AND p.result IS DISTINCT FROM h.result;
SELECT count(*) AS compared, count(*) FILTER (WHERE result LIKE 'ERROR%') AS errors FROM calls WHERE run = 'hostile';
SELECT n, result FROM calls WHERE run = 'hostile' AND n IN (1, 3, 9) ORDER BY n;
DROP TABLE calls;
DROP FUNCTION pg_temp.run_calls(text);
DROP OPERATOR public.= (text, text);
DROP FUNCTION public.lower(text);
DROP TABLE public.identifiers;
RESET ROLE;

SET client_min_messages = warning;
DROP SCHEMA regress_ci_evil CASCADE;
DROP TABLE import_t1, secret_source;
REVOKE CREATE ON SCHEMA public FROM regress_ci_w1;
-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity CASCADE;
DROP ROLE regress_ci_w1, regress_ci_a1, regress_ci_r2, regress_ci_none, regress_ci_team;

-- The roles: an install adopts a role named contact_identity_* only when
-- contact_identity made it (in this or another database: its comment, and
-- no attribute it never gives), else it fails unless an administrator
-- opts in; its members would otherwise get the role's rights.
DROP SCHEMA contact_identity;   -- left by DROP EXTENSION, with the reader's USAGE
DROP ROLE contact_identity_admin, contact_identity_writer, contact_identity_reader;
CREATE ROLE contact_identity_admin LOGIN;   -- made by someone who could create roles
SET client_min_messages = notice;
CREATE EXTENSION contact_identity;
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'contact_identity';
ALTER ROLE contact_identity_admin NOLOGIN;  -- no attribute, but no comment either
CREATE EXTENSION contact_identity;
SET contact_identity.adopt_existing_roles = on;
CREATE EXTENSION contact_identity;
RESET contact_identity.adopt_existing_roles;
SELECT rolname, rolcanlogin, shobj_description(oid, 'pg_authid') FROM pg_roles
WHERE rolname LIKE 'contact_identity_%' ORDER BY 1;
-- A second install (another database's, here the same one again) knows the
-- roles as contact_identity's own, until one gets an attribute.
DROP EXTENSION contact_identity;
CREATE EXTENSION contact_identity;
DROP EXTENSION contact_identity;
ALTER ROLE contact_identity_reader CREATEDB;
CREATE EXTENSION contact_identity;
ALTER ROLE contact_identity_reader NOCREATEDB;
CREATE EXTENSION contact_identity;
-- An update keeps the roles it has, whatever made them.
DROP EXTENSION contact_identity;
COMMENT ON ROLE contact_identity_writer IS NULL;
CREATE EXTENSION contact_identity VERSION '0.5.1';
ALTER EXTENSION contact_identity UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'contact_identity';
COMMENT ON ROLE contact_identity_writer IS 'contact_identity: reader, plus upsert, assign, delete, import and track_event';
DROP EXTENSION contact_identity;
