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

DROP EXTENSION contact_identity CASCADE;
DROP TABLE run_src, run_src_ordered;
