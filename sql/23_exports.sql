-- Exports: the contacts_export view, incremental export_changes (deletes,
-- merges and purges included) served by an index, and the publication for
-- streaming to another PostgreSQL.
CREATE EXTENSION contact_identity;
SET contact_identity.default_region = 'UA';
SET client_min_messages = warning;
SELECT contact_id AS ann FROM contact_identity.upsert_contact(external_id => 'u-1', email => 'ann@x.io',
    phone => '050 123 4567', first_name => 'Ann', attributes => '{"city": "Kyiv"}',
    identifiers => '{"mobile_push": ["tok-1", "tok-2"], "cookie": "ck-1"}') \gset
SELECT contact_id AS bob FROM contact_identity.upsert_contact(external_id => 'u-2', email => 'bob@x.io') \gset
SELECT contact_id AS carl FROM contact_identity.upsert_contact(email => 'carl@x.io') \gset
SELECT contact_id AS dora FROM contact_identity.upsert_contact(external_id => 'u-4', email => 'dora@x.io') \gset
RESET client_min_messages;

SELECT contact_id, account_id, external_id, email, phone, first_name, last_name, identifiers, attributes,
       deleted_at, merged_into
FROM contact_identity.contacts_export ORDER BY contact_id;

-- Everything after a point in time. updated_at cannot be set back, so the
-- test starts a clock of its own: every row is made older by a day.
UPDATE contact_identity.contacts SET updated_at = updated_at - interval '1 day', created_at = created_at - interval '1 day';
SELECT now() - interval '1 hour' AS since \gset
SELECT count(*) AS changes FROM contact_identity.export_changes(:'since');
SELECT (contact_identity.upsert_contact(external_id => 'u-1', last_name => 'Lee')).action;
-- A new identifier alone is a change of the contact too.
SELECT (contact_identity.upsert_contact(external_id => 'u-2', identifiers => '{"cookie": "ck-b"}')).action;
SELECT contact_identity.delete_contact(:carl) AS deleted;
SELECT contact_identity.merge_contacts(:dora, :bob, force => true) = :dora AS merged;
SELECT contact_identity.purge_contact((contact_identity.upsert_contact(email => 'forget@x.io')).contact_id) IS NOT NULL
    AS purged;
SELECT change, contact_id = :ann AS ann, contact_id = :bob AS bob, contact_id = :carl AS carl,
       contact_id = :dora AS dora, external_id, last_name, identifiers, merged_into = :dora AS into_dora
FROM contact_identity.export_changes(:'since') ORDER BY change, contact_id;
-- A token that moves to another contact changes its previous holder too.
SELECT now() AS since \gset
SELECT (contact_identity.upsert_contact(external_id => 'u-9', identifiers => '{"mobile_push": "tok-2"}')).action;
SELECT change, contact_id = :ann AS ann, external_id, identifiers FROM contact_identity.export_changes(:'since')
ORDER BY contact_id;
SELECT count(*) AS other_account FROM contact_identity.export_changes('-infinity', account_id => 9);
\set SHOW_CONTEXT never
SELECT count(*) FROM contact_identity.export_changes(NULL);
SELECT count(*) FROM contact_identity.export_changes(now(), NULL);

-- export_changes reads an index, never the whole table: 20,000 contacts of
-- which the last 1% changed. The plan of its query on the view, then the
-- scans the function itself made, counted by the statistics collector.
INSERT INTO contact_identity.contacts (account_id, external_id, updated_at)
SELECT 5, 'bulk-' || g, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second'
FROM generate_series(1, 20000) AS g;
VACUUM ANALYZE contact_identity.contacts;
-- Of the plan, its scans and their conditions: the other lines differ
-- between PostgreSQL versions (17 sorts the identifiers on more keys).
CREATE FUNCTION pg_temp.plan_scans(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
    IF line ~ 'Scan|Cond|Filter|SubPlan' THEN RETURN NEXT line; END IF;
  END LOOP;
END $$;
SELECT pg_temp.plan_scans($$SELECT * FROM contact_identity.contacts_export
WHERE account_id = 5 AND updated_at > '2026-01-01 05:30:00+00'$$) AS plan;
SELECT pg_stat_force_next_flush();
SELECT seq_scan AS seq_before, idx_scan AS idx_before FROM pg_stat_user_tables
WHERE relid = 'contact_identity.contacts'::regclass \gset
SELECT count(*) AS last_changes FROM contact_identity.export_changes('2026-01-01 05:30:00+00', 5);
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT seq_scan - :seq_before AS seq_scans, idx_scan > :idx_before AS index_used FROM pg_stat_user_tables
WHERE relid = 'contact_identity.contacts'::regclass;
-- The rows written around the API go again (verify() would report them).
DELETE FROM contact_identity.contacts WHERE account_id = 5;

-- The publication of the tables an export needs (test/scripts/publication.sh
-- streams it to a second server).
SET client_min_messages = error;
SELECT contact_identity.create_export_publication('warehouse');
RESET client_min_messages;
SELECT pubname, schemaname, tablename FROM pg_publication_tables ORDER BY tablename;
SELECT contact_identity.create_export_publication('warehouse');
SELECT contact_identity.create_export_publication(NULL);
DROP PUBLICATION warehouse;

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
