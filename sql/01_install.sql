-- The extension installs into its own schema, documents every object and
-- ships its reference data.
CREATE EXTENSION contact_identity;

-- Not relocatable, everything in schema contact_identity.
SELECT extname, extrelocatable, extnamespace::regnamespace FROM pg_extension WHERE extname = 'contact_identity';

-- Every object of the extension has a comment (relations, columns excluded).
SELECT pg_describe_object(d.classid, d.objid, 0) AS undocumented
FROM pg_depend d
WHERE d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'contact_identity')
  AND d.deptype = 'e'
  AND obj_description(d.objid, (SELECT relname FROM pg_class WHERE oid = d.classid)) IS NULL
  AND NOT (d.classid = 'pg_class'::regclass
           AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S')
  -- Row types of tables and views, and array types, members from
  -- PostgreSQL 17 on: their relation or element type has the comment.
  AND NOT (d.classid = 'pg_type'::regclass
           AND (EXISTS (SELECT FROM pg_type e WHERE e.typarray = d.objid)
                OR EXISTS (SELECT FROM pg_type t JOIN pg_class r ON r.oid = t.typrelid
                           WHERE t.oid = d.objid AND r.relkind <> 'c')))
ORDER BY 1;

-- Indexes and constraints have their comments too.
SELECT c.relname AS undocumented_index FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE c.relnamespace = 'contact_identity'::regnamespace AND NOT i.indisprimary
  AND obj_description(c.oid, 'pg_class') IS NULL;

-- So do the schemas and every column of every table (0.5.2).
SELECT n.nspname AS undocumented_schema FROM pg_namespace n
WHERE n.nspname LIKE 'contact_identity%' AND obj_description(n.oid, 'pg_namespace') IS NULL;
SELECT c.relname || '.' || a.attname AS undocumented_column
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relnamespace = 'contact_identity'::regnamespace AND c.relkind = 'r'
  AND a.attnum > 0 AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL
ORDER BY 1;

-- The functions of the API, with their argument names.
SELECT p.oid::regprocedure AS function, pg_get_function_result(p.oid) AS returns
FROM pg_proc p WHERE p.pronamespace = 'contact_identity'::regnamespace ORDER BY p.proname;
SELECT pg_get_function_arguments('contact_identity.upsert_contact'::regproc);
SELECT pg_get_function_arguments('contact_identity.resolve_contact'::regproc);

-- Uniqueness is enforced by indexes, not by code alone.
SELECT indexrelid::regclass, pg_get_indexdef(indexrelid) FROM pg_index
WHERE indrelid IN ('contact_identity.contacts'::regclass, 'contact_identity.identifiers'::regclass)
  AND indisunique ORDER BY indexrelid::regclass::text;

-- Identifier types are data.
SELECT name, class, priority, normalizer, creates_contact FROM contact_identity.identifier_types
ORDER BY array_position(ARRAY['external', 'permanent', 'changeable'], class), priority;
SELECT identifier_type, count(*) FILTER (WHERE is_pattern) AS patterns, count(*) FILTER (WHERE NOT is_pattern) AS exact
FROM contact_identity.blocked_values GROUP BY 1 ORDER BY 1 NULLS FIRST;

-- pg_dump keeps the tables' data.
SELECT * FROM (SELECT unnest(extconfig)::regclass AS dumped, unnest(extcondition) AS condition
               FROM pg_extension WHERE extname = 'contact_identity') AS config
ORDER BY dumped::text;

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;

-- A database on 0.1.0 updates in place; the update adds merge_contacts.
CREATE EXTENSION contact_identity VERSION '0.1.0';
SELECT to_regprocedure('contact_identity.merge_contacts(bigint, bigint, boolean, bigint)') IS NOT NULL AS has_merge;
ALTER EXTENSION contact_identity UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'contact_identity';
SELECT obj_description('contact_identity.merge_contacts(bigint, bigint, boolean, bigint)'::regprocedure) IS NOT NULL
       AS documented;
-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;

-- So does a populated database on 0.2.0: the update adds unmerge_contact,
-- segments and exports, and keeps the data.
CREATE EXTENSION contact_identity VERSION '0.2.0';
SET client_min_messages = warning;
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-1', email => 'a@x.io',
    attributes => '{"city": "Kyiv"}');
SELECT contact_id FROM contact_identity.upsert_contact(email => 'a.work@x.io', identifiers => '{"cookie": "ck-1"}');
SELECT contact_identity.merge_contacts(1, 2);
SELECT contact_identity.track_event('order', external_id => 'u-1') > 0 AS tracked;
CREATE TABLE old_rows AS SELECT 'u-' || g AS external_id FROM generate_series(3, 50) AS g;
SELECT count(*) FROM contact_identity.import_contacts('old_rows');
RESET client_min_messages;
ALTER EXTENSION contact_identity UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'contact_identity';
SELECT obj_description('contact_identity.unmerge_contact(bigint, bigint)'::regprocedure) IS NOT NULL AS documented;
-- 0.5.1: the "one digit repeated" pattern without a back-reference, and
-- still blocking what it blocked.
SELECT value FROM contact_identity.blocked_values WHERE builtin AND reason = 'one digit repeated';
SELECT phone, phone OPERATOR(pg_catalog.~*) b.value AS blocked
FROM (VALUES ('+15555555555'), ('+380777777777'), ('+38077777777'), ('+380501234567')) AS p(phone),
     contact_identity.blocked_values b
WHERE b.builtin AND b.reason = 'one digit repeated' ORDER BY 1;
-- 0.4.0: the triggers that tell every backend to read the configuration
-- tables again (always enabled: a replication subscriber fires them too).
SELECT tgrelid::regclass, tgname, tgenabled FROM pg_trigger
WHERE tgrelid IN ('contact_identity.identifier_types'::regclass, 'contact_identity.blocked_values'::regclass)
  AND NOT tgisinternal ORDER BY 1, 2;
SELECT count(*) AS contacts, count(*) FILTER (WHERE merged_into IS NOT NULL) AS merged FROM contact_identity.contacts;
SELECT contact_id, external_id, email, identifiers FROM contact_identity.contacts_export WHERE contact_id <= 2
ORDER BY contact_id;
SELECT contact_identity.create_segment('kyiv', '{"field": "attributes.city", "op": "eq", "value": "Kyiv"}');
SELECT contact_identity.segment_count('kyiv');
SELECT count(*) AS changes FROM contact_identity.export_changes('-infinity');
-- The merge before the update was logged by this library, which records
-- what unmerge needs whatever the SQL version: it can be reversed. (Rows
-- logged by the 0.2.0 library cannot: sql/20_unmerge.sql.)
SELECT contact_identity.unmerge_contact(2);
DROP TABLE old_rows;
-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity CASCADE;
