-- run_import: the import that commits after every batch, with its progress
-- in imports and its failed rows in import_errors.
CREATE EXTENSION contact_identity;

CREATE TABLE run_src AS
SELECT 'u-' || g AS external_id, 'e' || g || '@x.io' AS email,
       CASE WHEN g % 7 = 0 THEN 'bad' END AS phone, g % 3 AS tier
FROM generate_series(1, 25) AS g;
CALL contact_identity.run_import('run_src', batch_size => 10);
SELECT import_id, account_id, source, dedupe_on, batch_size, status, rows_total, rows_done,
       created, updated, restored, merged, skipped, failed, last_row_number, last_ctid, finished_at IS NOT NULL AS finished
FROM contact_identity.imports;
SELECT import_id, row_number, account_id, sqlstate, message, row_data FROM contact_identity.import_errors ORDER BY row_number;
SELECT count(*) AS contacts, count(*) FILTER (WHERE attributes ? 'tier') AS with_tier FROM contact_identity.contacts;

-- Resuming a finished import does nothing; a second run updates.
CALL contact_identity.run_import('run_src', import_id => 1);
CALL contact_identity.run_import('run_src', batch_size => 100);
SELECT import_id, status, rows_done, created, updated, failed FROM contact_identity.imports ORDER BY import_id;

-- A source with a row_number column runs in that order.
CREATE TABLE run_src_ordered (row_number int, external_id text, first_name text);
INSERT INTO run_src_ordered VALUES (3, 'u-1', 'third'), (1, 'u-1', 'first'), (2, 'u-1', 'second');
CALL contact_identity.run_import('run_src_ordered', batch_size => 1);
SELECT first_name FROM contact_identity.contacts WHERE external_id = 'u-1';
SELECT last_row_number, rows_done FROM contact_identity.imports WHERE import_id = 3;

-- A finished import resumes to nothing, even once its source is gone.
CREATE TABLE run_src_gone AS SELECT 'gone-1' AS external_id;
CALL contact_identity.run_import('run_src_gone');
DROP TABLE run_src_gone;
CALL contact_identity.run_import(NULL, import_id => 4);

-- Physical order across empty stretches of the table: pages read windows of
-- blocks after the last row, and go on past windows with no rows. 2,000 wide
-- rows, most of them deleted, in batches of 37: every row lands once.
CREATE TABLE run_src_sparse AS
SELECT 'sparse-' || g AS external_id, repeat('x', 1000) AS note FROM generate_series(1, 2000) AS g;
DELETE FROM run_src_sparse WHERE substr(external_id, 8)::int BETWEEN 11 AND 1900;
CALL contact_identity.run_import('run_src_sparse', batch_size => 37, account_id => 7);
SELECT status, rows_total, rows_done, created, failed FROM contact_identity.imports WHERE account_id = 7;
SELECT count(*) AS contacts, count(DISTINCT external_id) AS distinct_ids,
       min(substr(external_id, 8)::int), max(substr(external_id, 8)::int)
FROM contact_identity.contacts WHERE account_id = 7;

-- A partitioned source: ctids repeat across partitions, so pages go by
-- (partition, ctid). Batches of one row: none skipped, none twice.
CREATE TABLE run_src_parts (region text, external_id text) PARTITION BY LIST (region);
CREATE TABLE run_src_parts_eu PARTITION OF run_src_parts FOR VALUES IN ('eu');
CREATE TABLE run_src_parts_us PARTITION OF run_src_parts FOR VALUES IN ('us');
INSERT INTO run_src_parts VALUES ('eu', 'p-1'), ('eu', 'p-2'), ('us', 'p-3'), ('us', 'p-4');
CALL contact_identity.run_import('run_src_parts', batch_size => 1, account_id => 8);
SELECT rows_done, created, last_ctid LIKE '%.run_src_parts_us (%' AS last_in_second_partition
FROM contact_identity.imports WHERE account_id = 8;
SELECT external_id FROM contact_identity.contacts WHERE account_id = 8 ORDER BY contact_id;

-- New external IDs: their other keys are taken to be new, not read. A key
-- that is not (held@x.io, which a contact without an external ID holds)
-- makes its batch's insertion fail; that batch is tried again reading
-- every key, and so are the batches after it. Every batch stays set-based
-- (the NOTICE counts them), and the rows end as if every key had been read:
-- rows 2 and 4 fail naming the contacts that hold their emails. (The
-- contact IDs the failed try took are not used again, as with any
-- rolled-back INSERT.)
SELECT action FROM contact_identity.upsert_contact(email => 'held@x.io', first_name => 'Held', account_id => 9);
CREATE TABLE run_src_assumed (row_number int, external_id text, email text);
INSERT INTO run_src_assumed VALUES (1, 'n-1', 'n1@x.io'), (2, 'n-2', 'held@x.io'), (3, 'n-3', 'n3@x.io'),
                                   (4, 'n-4', 'n3@x.io');
SET contact_identity.import_progress_rows = 4;
CALL contact_identity.run_import('run_src_assumed', batch_size => 1, account_id => 9);
RESET contact_identity.import_progress_rows;
SELECT created, updated, failed FROM contact_identity.imports WHERE account_id = 9;
SELECT e.row_number, e.sqlstate, e.message FROM contact_identity.import_errors e
WHERE e.account_id = 9 ORDER BY e.row_number;
SELECT c.external_id, c.email, c.first_name, count(i.*) AS keys
FROM contact_identity.contacts c JOIN contact_identity.identifiers i USING (account_id, contact_id)
WHERE c.account_id = 9 GROUP BY 1, 2, 3 ORDER BY 1;
SELECT action, matched_by FROM contact_identity.import_contacts('run_src_assumed', account_id => 9);

-- An error that is no row's (here a trigger's 57014, as a cancel or a
-- statement timeout raises it) rolls back the batch it happens in and fails
-- the call; the batches committed before stay, the import stays running
-- and says why. No session runs it any more: import_progress shows it
-- interrupted. Resumed, it goes on from the last committed batch.
CREATE TABLE run_src_env (row_number int, external_id text);
INSERT INTO run_src_env SELECT g, 'env-' || g FROM generate_series(1, 5) AS g;
CREATE FUNCTION run_env_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.external_id = current_setting('run_env.refused', true) THEN
        RAISE EXCEPTION 'a stand-in for a cancel' USING ERRCODE = 'query_canceled';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER run_env_trigger BEFORE INSERT ON contact_identity.contacts
    FOR EACH ROW EXECUTE FUNCTION run_env_trigger();
SET run_env.refused = 'env-3';
\set SHOW_CONTEXT never
CALL contact_identity.run_import('run_src_env', batch_size => 2, account_id => 10);
\echo :LAST_ERROR_SQLSTATE
SELECT import_id AS env_import FROM contact_identity.imports WHERE account_id = 10 \gset
SELECT status, rows_done, created, failed, last_error_sqlstate, last_error_message, last_error_at IS NOT NULL AS at
FROM contact_identity.imports WHERE account_id = 10;
SELECT status, session_pid, rows_done FROM contact_identity.import_progress WHERE account_id = 10;
SELECT external_id FROM contact_identity.contacts WHERE account_id = 10 ORDER BY 1;
RESET run_env.refused;
CALL contact_identity.run_import(NULL, import_id => :env_import, account_id => 10);
SELECT status, rows_done, created, failed FROM contact_identity.import_progress WHERE account_id = 10;

-- cancel_import ends an interrupted import for good: it cannot be resumed,
-- its committed batches stay. A second cancel says false; a done import,
-- another account's or an unknown one cannot be cancelled.
SET run_env.refused = 'env-2';
CALL contact_identity.run_import('run_src_env', batch_size => 1, account_id => 11);
\set SHOW_CONTEXT errors
SELECT import_id AS cancel_import FROM contact_identity.imports WHERE account_id = 11 \gset
RESET run_env.refused;
SELECT status FROM contact_identity.import_progress WHERE import_id = :cancel_import;
SELECT contact_identity.cancel_import(:cancel_import, account_id => 11) AS cancelled;
SELECT status, rows_done, finished_at IS NOT NULL AS finished FROM contact_identity.import_progress
WHERE import_id = :cancel_import;
CALL contact_identity.run_import(NULL, import_id => :cancel_import, account_id => 11);
\echo :LAST_ERROR_SQLSTATE
SELECT contact_identity.cancel_import(:cancel_import, account_id => 11) AS cancelled;
SELECT contact_identity.cancel_import(:env_import, account_id => 10);
\echo :LAST_ERROR_SQLSTATE
SELECT contact_identity.cancel_import(:env_import, account_id => 11);
\echo :LAST_ERROR_SQLSTATE
SELECT contact_identity.cancel_import(NULL);
SELECT external_id FROM contact_identity.contacts WHERE account_id = 11 ORDER BY 1;
DROP TRIGGER run_env_trigger ON contact_identity.contacts;
DROP FUNCTION run_env_trigger();

-- A read-only transaction (or a standby) refuses run_import before it
-- records anything.
SET default_transaction_read_only = on;
CALL contact_identity.run_import('run_src');
\echo :LAST_ERROR_SQLSTATE
SELECT contact_identity.cancel_import(:env_import, account_id => 10);
\echo :LAST_ERROR_SQLSTATE
RESET default_transaction_read_only;

-- Wrong calls.
BEGIN;
CALL contact_identity.run_import('run_src');
ROLLBACK;
CALL contact_identity.run_import('run_src', import_id => 404);
\echo :LAST_ERROR_SQLSTATE
CALL contact_identity.run_import('run_src', batch_size => 0);
CALL contact_identity.run_import('run_src', dedupe_on => 'fax');
CALL contact_identity.run_import(NULL);
SELECT count(*) AS imports FROM contact_identity.imports;

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity CASCADE;
DROP TABLE run_src, run_src_ordered, run_src_sparse, run_src_parts, run_src_assumed, run_src_env;
