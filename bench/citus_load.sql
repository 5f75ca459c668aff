-- bench/citus_load.sql: the contacts bench/citus's logins find, the same on
-- every side: accounts 1 to :accounts, :per_account contacts each, contact
-- K of account A with external ID 'u-A-K' and email 'user-A-K@example.com'.
-- One import_contacts_json call per account, each a statement of its own,
-- so that on a Citus coordinator each is delegated to the account's worker:
--   psql -X -v accounts=1000 -v per_account=20 -d DB -f bench/citus_load.sql
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

SELECT pg_catalog.format(
         'SELECT count(*) FILTER (WHERE error_code IS NOT NULL) FROM contact_identity.import_contacts_json(%L::jsonb, account_id => %s)',
         (SELECT jsonb_agg(jsonb_build_object(
                   'externalCustomerId', 'u-' || a || '-' || k,
                   'channels', jsonb_build_array(jsonb_build_object('type', 'email',
                                                                    'value', 'user-' || a || '-' || k || '@example.com')))
                   ORDER BY k)
            FROM generate_series(1, :per_account) k),
         a)
  FROM generate_series(1, :accounts) a \gexec

-- Every row loaded, or an error (and psql's exit status 3).
SELECT pg_catalog.format('DO $d$ BEGIN RAISE EXCEPTION %L; END $d$',
                         'bench/citus_load.sql: ' || count(*) || ' of ' || :accounts * :per_account || ' contacts loaded')
  FROM contact_identity.contacts HAVING count(*) <> :accounts * :per_account \gexec
ANALYZE contact_identity.contacts;
ANALYZE contact_identity.identifiers;
