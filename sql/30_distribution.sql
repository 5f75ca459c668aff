-- Scale-out on Citus (docs/scale-out.md): on a server without Citus,
-- distribute() refuses and nothing else changes. The distributed behaviour
-- itself is tested on a real Citus cluster by test/scripts/citus.sh.
CREATE EXTENSION contact_identity;

SELECT contact_identity.is_distributed();

-- Without the citus extension: 55000, naming what to do.
SELECT contact_identity.distribute();
DO $$
BEGIN
    PERFORM contact_identity.distribute();
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'SQLSTATE %', SQLSTATE;
END
$$;

-- Only a superuser distributes.
SET ROLE contact_identity_admin;
SELECT contact_identity.distribute();
RESET ROLE;

-- Every table with an account_id is either distributed by it or a
-- reference table; a new table missing from both lists would stay on the
-- coordinator alone.
SELECT c.relname AS unplaced_table
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'account_id' AND NOT a.attisdropped
WHERE c.relnamespace = 'contact_identity'::regnamespace AND c.relkind = 'r'
  AND c.relname <> ALL (contact_identity.distributed_tables() || contact_identity.reference_tables());
SELECT t AS missing_table
FROM unnest(contact_identity.distributed_tables() || contact_identity.reference_tables()) t
WHERE to_regclass('contact_identity.' || t) IS NULL;

-- Each delegated function takes the account as account_id, the argument
-- Citus routes by.
SELECT f AS delegated_without_account_id
FROM unnest(contact_identity.delegated_functions()) f
JOIN pg_proc p ON p.oid = f
WHERE NOT 'account_id' = ANY (p.proargnames);
SELECT cardinality(contact_identity.delegated_functions()) AS delegated;

-- On one server a statement is its own local form, whatever the account.
SELECT contact_identity.local_sql('SELECT 1 FROM contact_identity.contacts', 5) AS local_sql;
SELECT contact_identity.local_sql('SELECT 1 FROM contact_identity.contacts', NULL) AS local_sql;
SELECT contact_identity.local_sql(NULL, 5);

-- get_contact, now PL/pgSQL: the same answer, and NULL for an unknown contact.
SELECT contact_id FROM contact_identity.upsert_contact(email => 'ann@example.com', first_name => 'Ann');
SELECT contact_identity.get_contact(1) - 'createdAt' - 'updatedAt';
SELECT contact_identity.get_contact(99);

-- verify(), unnormalized_identifiers() and possible_duplicates_of() go
-- through rows_by_account and their *_on_node functions: the same rows as
-- the statements of 0.5.2 (sql/26, sql/29 and sql/21 test what they find),
-- here one problem and one pair, in every account and in one.
SELECT contact_id FROM contact_identity.upsert_contact(email => 'annsmith@example.com', account_id => 0);
SELECT contact_id FROM contact_identity.upsert_contact(email => 'bob.b@gmail.com', account_id => 2);
SELECT contact_id FROM contact_identity.upsert_contact(email => 'bobb@gmail.com', account_id => 2);
SELECT * FROM contact_identity.possible_duplicates ORDER BY 1, 2;
SELECT * FROM contact_identity.possible_duplicates_of(2);
DELETE FROM contact_identity.identifiers WHERE value = 'bobb@gmail.com';
SELECT * FROM contact_identity.verify();
SELECT * FROM contact_identity.verify(2);
SELECT count(*) FROM contact_identity.verify(0);
SELECT count(*) FROM contact_identity.unnormalized_identifiers();

DROP EXTENSION contact_identity;
