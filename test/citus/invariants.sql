-- test/citus/invariants.sql: what contact_identity.verify() checks, for the
-- one account :acct, as a query Citus routes to that account's shard group
-- (verify() itself cannot be planned distributed; see test/scripts/citus.sh).
-- Every table is filtered on the account, so the whole query runs on one
-- worker. No row means healthy; the columns are verify()'s.
WITH RECURSIVE c AS (SELECT * FROM contact_identity.contacts WHERE account_id = :acct),
i AS (SELECT * FROM contact_identity.identifiers WHERE account_id = :acct),
e AS (SELECT * FROM contact_identity.events WHERE account_id = :acct),
k AS (SELECT * FROM contact_identity.event_keys WHERE account_id = :acct),
-- merged_into chains, followed until they end, come back or run too long
-- (verify()'s CYCLE clause is not deparsed correctly by Citus).
chain (start_id, id, depth) AS (
  SELECT c.contact_id, c.merged_into, 1 FROM contact_identity.contacts c
   WHERE c.account_id = :acct AND c.merged_into IS NOT NULL
  UNION ALL
  SELECT ch.start_id, n.merged_into, ch.depth + 1
    FROM chain ch JOIN contact_identity.contacts n ON n.account_id = :acct AND n.contact_id = ch.id
   WHERE n.merged_into IS NOT NULL AND ch.id <> ch.start_id AND ch.depth < 1000)
SELECT i.account_id, i.contact_id, 'identifier_holder_missing' AS problem, i.type || ' ' || i.value AS detail
  FROM i LEFT JOIN c ON c.contact_id = i.contact_id
 WHERE i.contact_id IS NOT NULL AND c.contact_id IS NULL
UNION ALL
SELECT i.account_id, i.contact_id, 'identifier_held_by_tombstone', i.type || ' ' || i.value
  FROM i JOIN c ON c.contact_id = i.contact_id WHERE c.merged_into IS NOT NULL
UNION ALL
SELECT i.account_id, i.contact_id, 'identifier_type_unknown', i.type
  FROM i WHERE NOT EXISTS (SELECT FROM contact_identity.identifier_types t WHERE t.name = i.type)
UNION ALL
SELECT c.account_id, c.contact_id, x.type || '_not_held', x.value
  FROM c CROSS JOIN LATERAL (VALUES ('external_id', c.external_id), ('email', c.email), ('phone', c.phone)) AS x(type, value)
 WHERE x.value IS NOT NULL
   AND NOT EXISTS (SELECT FROM i WHERE i.type = x.type AND i.value = x.value AND i.contact_id = c.contact_id)
UNION ALL
SELECT c.account_id, c.contact_id, 'external_id_not_set', min(i.value)
  FROM c JOIN i ON i.contact_id = c.contact_id
 WHERE i.type = 'external_id' AND c.external_id IS NULL GROUP BY c.account_id, c.contact_id
UNION ALL
SELECT c.account_id, c.contact_id, 'merged_into_missing', c.merged_into::text
  FROM c WHERE c.merged_into IS NOT NULL AND NOT EXISTS (SELECT FROM c w WHERE w.contact_id = c.merged_into)
UNION ALL
SELECT :acct, ch.start_id, 'merge_chain_cycle', ''
  FROM chain ch WHERE ch.id = ch.start_id OR ch.depth >= 1000 GROUP BY ch.start_id
UNION ALL
SELECT i.account_id, i.contact_id, 'over_limit', i.type || ': ' || count(*)
  FROM i JOIN contact_identity.identifier_types t ON t.name = i.type
 WHERE i.contact_id IS NOT NULL AND t.max_per_contact IS NOT NULL
 GROUP BY i.account_id, i.contact_id, i.type HAVING count(*) > min(t.max_per_contact)
UNION ALL
SELECT e.account_id, e.contact_id, 'event_contact_missing', e.event_id::text
  FROM e LEFT JOIN c ON c.contact_id = e.contact_id WHERE e.contact_id IS NOT NULL AND c.contact_id IS NULL
UNION ALL
SELECT e.account_id, e.contact_id, 'event_on_tombstone', e.event_id::text
  FROM e JOIN c ON c.contact_id = e.contact_id WHERE c.merged_into IS NOT NULL
UNION ALL
SELECT k.account_id, e.contact_id, CASE WHEN e.event_id IS NULL THEN 'event_key_orphan' ELSE 'event_key_of_attached_event' END,
       k.type || ' ' || k.value
  FROM k LEFT JOIN e ON e.event_id = k.event_id WHERE e.event_id IS NULL OR e.contact_id IS NOT NULL
UNION ALL
SELECT k.account_id, i.contact_id, CASE WHEN i.type IS NULL THEN 'event_key_unremembered' ELSE 'event_key_held' END,
       k.type || ' ' || k.value
  FROM k JOIN e ON e.event_id = k.event_id AND e.contact_id IS NULL
  LEFT JOIN i ON i.type = k.type AND i.value = k.value
 WHERE i.type IS NULL OR i.contact_id IS NOT NULL
UNION ALL
SELECT c.account_id, c.contact_id, 'created_not_logged', ''
  FROM c WHERE NOT EXISTS (SELECT FROM contact_identity.identity_log l
                           WHERE l.account_id = :acct AND l.contact_id = c.contact_id AND l.action = 'created')
UNION ALL
SELECT r.account_id, NULL, 'import_error_orphan', r.import_id::text
  FROM contact_identity.import_errors r
 WHERE r.account_id = :acct
   AND NOT EXISTS (SELECT FROM contact_identity.imports m WHERE m.account_id = :acct AND m.import_id = r.import_id)
UNION ALL
-- Beyond verify(): never two live contacts with one email, phone or
-- external ID in the account (the concurrency check's "0 duplicates").
SELECT :acct, min(c.contact_id), 'duplicate_' || x.type, x.value || ' held by ' || count(*) || ' live contacts'
  FROM c CROSS JOIN LATERAL (VALUES ('email', c.email), ('phone', c.phone), ('external_id', c.external_id)) AS x(type, value)
 WHERE c.merged_into IS NULL AND c.deleted_at IS NULL AND x.value IS NOT NULL
 GROUP BY x.type, x.value HAVING count(*) > 1
ORDER BY 1, 2, 3, 4;
