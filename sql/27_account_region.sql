-- The region of an account: a phone written without a country code is read
-- in its account's region (account_settings, set with set_account_region),
-- else in contact_identity.default_region. Nothing here depends on a
-- session setting, so a connection pooler cannot hand one client's region
-- to another.
CREATE EXTENSION contact_identity;
SET client_min_messages = warning;

-- Two accounts, two regions, no session setting: the same national number
-- is two different phones.
SELECT contact_identity.set_account_region(1, 'ua');
SELECT contact_identity.set_account_region(2, ' GB ');
SELECT action FROM contact_identity.upsert_contact(phone => '050 123 45 67', account_id => 1);
SELECT action FROM contact_identity.upsert_contact(phone => '020 7946 0018', account_id => 2);
SELECT account_id, phone FROM contact_identity.contacts ORDER BY 1;
SELECT account_id, default_region FROM contact_identity.account_settings ORDER BY 1;

-- The account's region comes before the setting, whatever the session says.
SET contact_identity.default_region = 'US';
SELECT c.phone FROM contact_identity.resolve_contact(phone => '050 123 45 67', account_id => 1) r
  JOIN contact_identity.contacts c ON c.account_id = 1 AND c.contact_id = r.contact_id;
-- An account without one uses the setting.
SELECT action FROM contact_identity.upsert_contact(phone => '(509) 463-5519', account_id => 3);
SELECT phone FROM contact_identity.contacts WHERE account_id = 3;
RESET contact_identity.default_region;
SELECT * FROM contact_identity.upsert_contact(phone => '(509) 463-5519', account_id => 4);

-- Imports read the region of their account.
CREATE TEMP TABLE ua_rows AS SELECT '067 000 11 22'::text AS phone, 'imported' AS first_name;
SELECT action FROM contact_identity.import_contacts('ua_rows', 'phone', account_id => 1);
CALL contact_identity.run_import('ua_rows', 'phone', account_id => 2);
-- A change is seen at once (each backend keeps the regions in memory until
-- the table changes; test/specs/config_cache.spec has the other sessions).
SELECT contact_identity.set_account_region(2, 'UA');
CALL contact_identity.run_import('ua_rows', 'phone', account_id => 2);
SELECT account_id, phone FROM contact_identity.contacts WHERE first_name = 'imported' ORDER BY 1, 2;

-- NULL or '' removes the account's region.
SELECT contact_identity.set_account_region(2, NULL);
SELECT contact_identity.set_account_region(1, '');
SELECT count(*) FROM contact_identity.account_settings;
SELECT * FROM contact_identity.upsert_contact(phone => '050 123 45 67', account_id => 1);

-- Errors.
SELECT contact_identity.set_account_region(1, 'ZZ');
SELECT contact_identity.set_account_region(NULL, 'UA');
\set VERBOSITY terse
INSERT INTO contact_identity.account_settings (account_id, default_region) VALUES (5, 'us');
INSERT INTO contact_identity.account_settings (account_id, default_region) VALUES (5, 'XX');
\set VERBOSITY default

-- Only an account's admins set its region; its readers see it.
CREATE ROLE regress_ci_region_admin;
GRANT contact_identity_admin TO regress_ci_region_admin;
SELECT contact_identity.grant_account('regress_ci_region_admin', 2, 'admin');
SET ROLE regress_ci_region_admin;
SELECT contact_identity.set_account_region(2, 'UA');
SELECT contact_identity.set_account_region(1, 'UA');
SELECT contact_identity.set_account_region(1, NULL);
SELECT account_id, default_region FROM contact_identity.account_settings;
RESET ROLE;
SELECT contact_identity.set_account_region(1, 'GB');
SET ROLE regress_ci_region_admin;
SELECT account_id, default_region FROM contact_identity.account_settings;
RESET ROLE;
REVOKE contact_identity_admin FROM regress_ci_region_admin;
SELECT contact_identity.revoke_account('regress_ci_region_admin', 2);
DROP ROLE regress_ci_region_admin;
-- A writer may not call it at all.
SELECT has_function_privilege('contact_identity_writer', 'contact_identity.set_account_region(bigint, text)', 'EXECUTE')
  AS writer_may_set;

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
