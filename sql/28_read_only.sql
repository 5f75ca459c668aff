-- Writes on a standby or in a read-only transaction: every function that
-- writes refuses before doing any work, with 25006 naming itself, a DETAIL
-- saying why (a standby, or READ ONLY) and a HINT, and no internal SQL as
-- CONTEXT. A standby cannot be made here; BEGIN READ ONLY takes the same
-- path (test/scripts/standby.sh checks a real standby). Reads still work.
CREATE EXTENSION contact_identity;
SELECT (contact_identity.upsert_contact(external_id => 'u-1', email => 'ann@x.io')).contact_id AS ann \gset
SELECT (contact_identity.upsert_contact(external_id => 'u-2', email => 'bob@x.io')).contact_id AS bob \gset
SELECT contact_identity.create_segment('everyone', '{"field": "email", "op": "is_not_empty"}') IS NOT NULL AS segment;
CREATE TABLE ro_src AS SELECT 'u-3' AS external_id;

BEGIN READ ONLY;
SELECT * FROM contact_identity.upsert_contact(external_id => 'u-1', first_name => 'Ann');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN READ ONLY;
SELECT * FROM contact_identity.assign_external_id(:ann, 'u-1');
ROLLBACK;
BEGIN READ ONLY;
SELECT contact_identity.delete_contact(:ann);
ROLLBACK;
BEGIN READ ONLY;
SELECT * FROM contact_identity.import_contacts('ro_src');
ROLLBACK;
BEGIN READ ONLY;
SELECT * FROM contact_identity.import_contacts_json('[{"externalCustomerId": "u-3"}]');
ROLLBACK;
BEGIN READ ONLY;
SELECT contact_identity.merge_contacts(:ann, :bob);
ROLLBACK;
BEGIN READ ONLY;
SELECT contact_identity.unmerge_contact(:bob);
ROLLBACK;
BEGIN READ ONLY;
SELECT * FROM contact_identity.purge_contact(:bob);
ROLLBACK;
BEGIN READ ONLY;
SELECT contact_identity.track_event('login', external_id => 'u-1');
ROLLBACK;
BEGIN READ ONLY;
SELECT contact_identity.grant_account('postgres', 1, 'reader');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN READ ONLY;
SELECT contact_identity.revoke_account('postgres', 1);
ROLLBACK;
BEGIN READ ONLY;
SELECT contact_identity.set_account_region(1, 'UA');
ROLLBACK;
BEGIN READ ONLY;
SELECT contact_identity.create_segment('nobody', '{"field": "email", "op": "is_empty"}');
ROLLBACK;
BEGIN READ ONLY;
SELECT contact_identity.replace_segment('everyone', '{"field": "email", "op": "is_empty"}');
ROLLBACK;
BEGIN READ ONLY;
SELECT contact_identity.drop_segment('everyone');
ROLLBACK;
BEGIN READ ONLY;
SELECT contact_identity.create_export_publication('ro_pub');
ROLLBACK;
BEGIN READ ONLY;
SELECT contact_identity.cancel_import(1);
ROLLBACK;
-- run_import, a procedure that commits, cannot run in BEGIN; every
-- transaction it would start is read-only here.
SET default_transaction_read_only = on;
CALL contact_identity.run_import('ro_src');
RESET default_transaction_read_only;

-- The refusal comes first: before the arguments are checked, or the
-- caller's grant.
BEGIN READ ONLY;
SELECT * FROM contact_identity.upsert_contact(account_id => NULL);
ROLLBACK;
BEGIN READ ONLY;
SELECT contact_identity.drop_segment('no such segment');
ROLLBACK;

-- Reads work in a read-only transaction, resolve_contact included (it
-- claims nothing).
BEGIN READ ONLY;
SELECT matched_by FROM contact_identity.resolve_contact(email => 'ANN@x.io');
SELECT contact_identity.get_contact(:ann) ->> 'externalCustomerId' AS external_id;
SELECT count(*) AS members FROM contact_identity.segment_members('everyone');
SELECT count(*) AS imports FROM contact_identity.import_progress;
SELECT count(*) AS problems FROM contact_identity.verify();
ROLLBACK;

-- Nothing was written.
SELECT count(*) AS contacts, count(*) FILTER (WHERE first_name IS NOT NULL) AS named,
       count(*) FILTER (WHERE deleted_at IS NOT NULL OR merged_into IS NOT NULL) AS changed
FROM contact_identity.contacts;
SELECT count(*) AS events FROM contact_identity.events;
SELECT name FROM contact_identity.segments;
SELECT count(*) AS imports FROM contact_identity.imports;

DROP EXTENSION contact_identity CASCADE;
DROP TABLE ro_src;
