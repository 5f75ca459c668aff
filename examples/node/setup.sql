-- setup.sql: what a DBA does once before the application connects, run as a
-- superuser in the application's database:
--   psql -v ON_ERROR_STOP=1 -v app_role=shop_app -f setup.sql
-- The application's login role gets the writer functions and account 42
-- (the shop's account), whose phone numbers without a country code are
-- Ukrainian. It gets no grant on account 43, another shop's.
\if :{?app_role}
\else
\set app_role shop_app
\endif
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS contact_identity;
SELECT format('CREATE ROLE %I LOGIN', :'app_role')
 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = :'app_role') \gexec
SELECT format('GRANT contact_identity_writer TO %I', :'app_role') \gexec
SELECT contact_identity.grant_account(:'app_role', 42, 'writer');
SELECT contact_identity.set_account_region(42, 'UA');
