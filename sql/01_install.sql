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
ORDER BY 1;

-- Indexes and constraints have their comments too.
SELECT c.relname AS undocumented_index FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE c.relnamespace = 'contact_identity'::regnamespace AND NOT i.indisprimary
  AND obj_description(c.oid, 'pg_class') IS NULL;

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

DROP EXTENSION contact_identity;

-- A database on 0.1.0 updates in place; the update adds merge_contacts.
CREATE EXTENSION contact_identity VERSION '0.1.0';
SELECT to_regprocedure('contact_identity.merge_contacts(bigint, bigint, boolean, bigint)') IS NOT NULL AS has_merge;
ALTER EXTENSION contact_identity UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'contact_identity';
SELECT obj_description('contact_identity.merge_contacts(bigint, bigint, boolean, bigint)'::regprocedure) IS NOT NULL
       AS documented;
DROP EXTENSION contact_identity;

-- So does a database on 0.2.0; the update adds unmerge_contact and keeps
-- the data.
CREATE EXTENSION contact_identity VERSION '0.2.0';
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-1', email => 'a@x.io');
ALTER EXTENSION contact_identity UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'contact_identity';
SELECT obj_description('contact_identity.unmerge_contact(bigint, bigint)'::regprocedure) IS NOT NULL AS documented;
SELECT contact_id, external_id, email FROM contact_identity.contacts;
DROP EXTENSION contact_identity;
