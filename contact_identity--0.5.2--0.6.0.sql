-- contact_identity 0.5.2 -> 0.6.0: scale-out on Citus (issue 15).
\echo Use "ALTER EXTENSION contact_identity UPDATE TO '0.6.0'" to load this file. \quit

-- ==== Distribution with Citus ====
-- One call, contact_identity.distribute(), on a Citus coordinator with
-- workers: every per-account table is distributed by account_id and
-- co-located with contacts, so that one account's rows sit in one shard
-- group on one worker; the configuration and access tables become
-- reference tables (a copy on every node); every per-account C function is
-- delegated to the worker that holds its account, where the library works
-- on that account's local shards directly (docs/scale-out.md). Nothing here
-- runs, and nothing costs, on a server without Citus.

-- The tables distributed by account_id, in the order they are distributed
-- (contacts first: the others are co-located with it).
CREATE FUNCTION contact_identity.distributed_tables()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY['contacts', 'identifiers', 'events', 'event_keys', 'identity_log', 'imports', 'import_errors']
$$;
COMMENT ON FUNCTION contact_identity.distributed_tables() IS
    'the tables distribute() shards by account_id, co-located with contacts';
REVOKE ALL ON FUNCTION contact_identity.distributed_tables() FROM PUBLIC;

-- The tables every node keeps a whole copy of.
CREATE FUNCTION contact_identity.reference_tables()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY['identifier_types', 'blocked_values', 'account_settings', 'account_grants', 'secrets', 'segments']
$$;
COMMENT ON FUNCTION contact_identity.reference_tables() IS
    'the tables distribute() makes Citus reference tables (a copy on every node)';
REVOKE ALL ON FUNCTION contact_identity.reference_tables() FROM PUBLIC;

CREATE FUNCTION contact_identity.is_distributed()
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    distributed boolean;
BEGIN
    -- pg_dist_partition exists only with Citus; read it by name so that
    -- this function works without it.
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p'
            ' WHERE p.logicalrelid OPERATOR(pg_catalog.=) ''contact_identity.contacts''::pg_catalog.regclass)'
       INTO distributed;
    RETURN distributed;
END
$$;
COMMENT ON FUNCTION contact_identity.is_distributed() IS
    'whether distribute() has sharded the tables with Citus';
REVOKE ALL ON FUNCTION contact_identity.is_distributed() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contact_identity.is_distributed() TO contact_identity_reader;

-- Per-node ID ranges: each node's sequences of the per-account tables
-- hand out IDs from a range of 2^40 of their own, so that IDs stay unique
-- across the cluster without asking another node. The worker in node group
-- g takes range g - 1 (starting above the IDs the tables had before they
-- were distributed, `floors`); the coordinator (group 0) takes the last
-- range under 2^53, so IDs stay exact in JSON and JavaScript. Run on every
-- node by distribute(); a node whose ranges are set keeps them.
CREATE FUNCTION contact_identity.claim_id_ranges(floors jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    node_group integer;
    range_index bigint;
    low bigint;
    high bigint;
    seq text;
    claimed text := '';
    current_high bigint;
    start_at bigint;
BEGIN
    EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO node_group;
    range_index := CASE WHEN node_group OPERATOR(pg_catalog.=) 0 THEN 8191 ELSE node_group OPERATOR(pg_catalog.-) 1 END;
    IF range_index OPERATOR(pg_catalog.>) 8191 THEN
        RAISE EXCEPTION 'node group % has no ID range', node_group USING ERRCODE = '54000',
            DETAIL = 'contact_identity gives each node group up to 8190 a range of 2^40 IDs under 2^53.';
    END IF;
    low := range_index OPERATOR(pg_catalog.*) 1099511627776 OPERATOR(pg_catalog.+) 1;
    high := low OPERATOR(pg_catalog.+) 1099511627775;
    FOREACH seq IN ARRAY ARRAY['contacts_contact_id_seq', 'events_event_id_seq', 'identity_log_log_id_seq',
                               'imports_import_id_seq'] LOOP
        SELECT s.seqmax INTO current_high FROM pg_catalog.pg_sequence s
         WHERE s.seqrelid OPERATOR(pg_catalog.=) pg_catalog.format('contact_identity.%I', seq)::pg_catalog.regclass;
        CONTINUE WHEN current_high OPERATOR(pg_catalog.=) high;
        start_at := GREATEST(low, COALESCE((floors OPERATOR(pg_catalog.->>) seq)::pg_catalog.int8, 0)
                                             OPERATOR(pg_catalog.+) 1);
        EXECUTE pg_catalog.format('ALTER SEQUENCE contact_identity.%I MINVALUE %s MAXVALUE %s START WITH %s RESTART WITH %s',
                                  seq, low, high, low, start_at);
        claimed := claimed OPERATOR(pg_catalog.||) seq OPERATOR(pg_catalog.||) ' ';
    END LOOP;
    RETURN pg_catalog.format('group %s: [%s, %s] %s', node_group, low, high, claimed);
END
$$;
COMMENT ON FUNCTION contact_identity.claim_id_ranges(jsonb) IS
    'gives this node''s sequences of the per-account tables their range of IDs (distribute() runs it on every node)';
REVOKE ALL ON FUNCTION contact_identity.claim_id_ranges(jsonb) FROM PUBLIC;

-- ==== Readers that answer across the cluster ====
-- verify(), unnormalized_identifiers() and possible_duplicates_of() read
-- several tables of an account together, in statements Citus cannot plan
-- across shards. Each now runs its statement account by account on the
-- node that holds the account, with the account's shards named there
-- (local_sql), through a function Citus delegates (*_on_node); on one
-- server it runs once over everything, as before. The statements are
-- those of 0.5.2, with their scope as parameters ($1 the account, $2 the
-- accounts the caller may check). verify's and unnormalized_identifiers'
-- rows come back as JSON, so that one function (rows_by_account) goes over
-- the accounts for both; possible_duplicates_of, which returns many rows,
-- has a loop of its own with typed rows.

CREATE FUNCTION contact_identity.local_sql(sql text, account_id bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'ci_local_sql'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION contact_identity.local_sql(text, bigint) IS
    'a statement with the account''s local shards named in place of the tables when they are distributed with Citus '
    '(0A000 on a node without them); the statement itself otherwise';
REVOKE ALL ON FUNCTION contact_identity.local_sql(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contact_identity.local_sql(text, bigint) TO contact_identity_reader;

-- The accounts that have rows (of `scope`, when given), in order: what a
-- check of every account goes over, one account at a time.
CREATE FUNCTION contact_identity.accounts_with_rows(scope bigint[])
RETURNS SETOF bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT a.id FROM (SELECT c.account_id AS id FROM contact_identity.contacts c GROUP BY c.account_id
                      UNION SELECT i.account_id FROM contact_identity.identifiers i GROUP BY i.account_id
                      UNION SELECT e.account_id FROM contact_identity.events e GROUP BY e.account_id
                      UNION SELECT k.account_id FROM contact_identity.event_keys k GROUP BY k.account_id
                      UNION SELECT r.account_id FROM contact_identity.import_errors r GROUP BY r.account_id) a
    WHERE scope IS NULL OR a.id OPERATOR(pg_catalog.=) ANY (scope)
    ORDER BY a.id;
END
$$;
COMMENT ON FUNCTION contact_identity.accounts_with_rows(bigint[]) IS
    'the accounts that have rows in the per-account tables (those of scope, when given), in order';
REVOKE ALL ON FUNCTION contact_identity.accounts_with_rows(bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contact_identity.accounts_with_rows(bigint[]) TO contact_identity_reader;

CREATE FUNCTION contact_identity.rows_by_account(on_node regprocedure, account_id bigint, scope bigint[])
RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    one bigint;
    call text := pg_catalog.format('SELECT * FROM %s($1, $2)', on_node::pg_catalog.oid::pg_catalog.regproc);
BEGIN
    -- One statement per account, a function call alone: Citus delegates it
    -- (EXECUTE plans it with the values, so the account is a constant).
    IF rows_by_account.account_id IS NOT NULL OR NOT contact_identity.is_distributed() THEN
        RETURN QUERY EXECUTE call USING rows_by_account.account_id, scope;
        RETURN;
    END IF;
    FOR one IN SELECT a.id FROM contact_identity.accounts_with_rows(scope) AS a(id) LOOP
        RETURN QUERY EXECUTE call USING one, scope;
    END LOOP;
END
$$;
COMMENT ON FUNCTION contact_identity.rows_by_account(regprocedure, bigint, bigint[]) IS
    'the rows of an *_on_node function for one account, or for every account (of scope) one by one on its node when distributed';
REVOKE ALL ON FUNCTION contact_identity.rows_by_account(regprocedure, bigint, bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contact_identity.rows_by_account(regprocedure, bigint, bigint[]) TO contact_identity_reader;

CREATE FUNCTION contact_identity.verify_on_node(account_id bigint, scope bigint[])
RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY EXECUTE 'SELECT pg_catalog.to_jsonb(r) FROM (' OPERATOR(pg_catalog.||)
        contact_identity.local_sql($sql$
    WITH scope AS MATERIALIZED (SELECT $2::pg_catalog.int8[] AS accounts),
    c AS (SELECT * FROM contact_identity.contacts c
               WHERE (SELECT scope.accounts FROM scope) IS NULL OR c.account_id OPERATOR(pg_catalog.=) ANY ((SELECT scope.accounts FROM scope)::pg_catalog.int8[])),
    i AS (SELECT * FROM contact_identity.identifiers i
          WHERE (SELECT scope.accounts FROM scope) IS NULL OR i.account_id OPERATOR(pg_catalog.=) ANY ((SELECT scope.accounts FROM scope)::pg_catalog.int8[])),
    e AS (SELECT * FROM contact_identity.events e
          WHERE (SELECT scope.accounts FROM scope) IS NULL OR e.account_id OPERATOR(pg_catalog.=) ANY ((SELECT scope.accounts FROM scope)::pg_catalog.int8[]))
    -- Every identifier's holder exists and is not a merged tombstone.
    SELECT i.account_id, i.contact_id, 'identifier_holder_missing',
           pg_catalog.format('%s %s is held by contact %s, which does not exist', i.type, i.value, i.contact_id)
    FROM i LEFT JOIN c ON c.account_id OPERATOR(pg_catalog.=) i.account_id AND c.contact_id OPERATOR(pg_catalog.=) i.contact_id
    WHERE i.contact_id IS NOT NULL AND c.contact_id IS NULL
    UNION ALL
    SELECT i.account_id, i.contact_id, 'identifier_held_by_tombstone',
           pg_catalog.format('%s %s is held by contact %s, which was merged into contact %s', i.type, i.value,
                             i.contact_id, c.merged_into)
    FROM i JOIN c ON c.account_id OPERATOR(pg_catalog.=) i.account_id AND c.contact_id OPERATOR(pg_catalog.=) i.contact_id
    WHERE c.merged_into IS NOT NULL
    UNION ALL
    SELECT i.account_id, i.contact_id, 'identifier_type_unknown',
           pg_catalog.format('%s %s has a type contact_identity.identifier_types does not have', i.type, i.value)
    FROM i WHERE NOT EXISTS (SELECT FROM contact_identity.identifier_types t WHERE t.name OPERATOR(pg_catalog.=) i.type)
    UNION ALL
    -- A contact's external ID, email and phone are among its identifiers,
    -- and one holding an external ID says which.
    SELECT c.account_id, c.contact_id, x.type OPERATOR(pg_catalog.||) '_not_held',
           pg_catalog.format('the contact''s %s %s is not among its identifiers', x.type, x.value)
    FROM c CROSS JOIN LATERAL (VALUES ('external_id', c.external_id), ('email', c.email), ('phone', c.phone)) AS x(type, value)
    WHERE x.value IS NOT NULL
      AND NOT EXISTS (SELECT FROM contact_identity.identifiers h
                      WHERE h.account_id OPERATOR(pg_catalog.=) c.account_id AND h.type OPERATOR(pg_catalog.=) x.type
                        AND h.value OPERATOR(pg_catalog.=) x.value AND h.contact_id OPERATOR(pg_catalog.=) c.contact_id)
    UNION ALL
    SELECT c.account_id, c.contact_id, 'external_id_not_set',
           pg_catalog.format('the contact holds external ID %s but its external_id is empty', pg_catalog.min(i.value))
    FROM c JOIN i ON i.account_id OPERATOR(pg_catalog.=) c.account_id AND i.contact_id OPERATOR(pg_catalog.=) c.contact_id
    WHERE i.type OPERATOR(pg_catalog.=) 'external_id' AND c.external_id IS NULL
    GROUP BY c.account_id, c.contact_id
    UNION ALL
    -- merged_into chains end at a contact that is not merged, without cycles.
    SELECT c.account_id, c.contact_id, 'merged_into_missing',
           pg_catalog.format('merged into contact %s, which does not exist', c.merged_into)
    FROM c WHERE c.merged_into IS NOT NULL
      AND NOT EXISTS (SELECT FROM contact_identity.contacts w
                      WHERE w.account_id OPERATOR(pg_catalog.=) c.account_id
                        AND w.contact_id OPERATOR(pg_catalog.=) c.merged_into)
    UNION ALL
    (WITH RECURSIVE chain (account_id, start_id, id) AS (
         SELECT c.account_id, c.contact_id, c.merged_into FROM c WHERE c.merged_into IS NOT NULL
         UNION ALL
         SELECT ch.account_id, ch.start_id, n.merged_into
         FROM chain ch JOIN contact_identity.contacts n ON n.account_id OPERATOR(pg_catalog.=) ch.account_id
                                                      AND n.contact_id OPERATOR(pg_catalog.=) ch.id
         WHERE n.merged_into IS NOT NULL)
       CYCLE id SET looped USING path
     SELECT DISTINCT ch.account_id, ch.start_id, 'merge_chain_cycle',
            'its merged_into chain comes back to a contact it went through'
     FROM chain ch WHERE ch.looped)
    UNION ALL
    -- No contact holds more identifiers of a type than its max_per_contact.
    SELECT i.account_id, i.contact_id, 'over_limit',
           pg_catalog.format('holds %s identifiers of type %s, max_per_contact is %s', pg_catalog.count(*), i.type,
                             pg_catalog.min(t.max_per_contact))
    FROM i JOIN contact_identity.identifier_types t ON t.name OPERATOR(pg_catalog.=) i.type
    WHERE i.contact_id IS NOT NULL AND t.max_per_contact IS NOT NULL
    GROUP BY i.account_id, i.contact_id, i.type
    HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) pg_catalog.min(t.max_per_contact)
    UNION ALL
    -- Events belong to contacts that exist and are not merged; the
    -- identifiers of anonymous events only are kept in event_keys.
    SELECT e.account_id, e.contact_id, 'event_contact_missing',
           pg_catalog.format('event %s belongs to contact %s, which does not exist', e.event_id, e.contact_id)
    FROM e LEFT JOIN c ON c.account_id OPERATOR(pg_catalog.=) e.account_id AND c.contact_id OPERATOR(pg_catalog.=) e.contact_id
    WHERE e.contact_id IS NOT NULL AND c.contact_id IS NULL
    UNION ALL
    SELECT e.account_id, e.contact_id, 'event_on_tombstone',
           pg_catalog.format('event %s belongs to contact %s, which was merged into contact %s', e.event_id,
                             e.contact_id, c.merged_into)
    FROM e JOIN c ON c.account_id OPERATOR(pg_catalog.=) e.account_id AND c.contact_id OPERATOR(pg_catalog.=) e.contact_id
    WHERE c.merged_into IS NOT NULL
    UNION ALL
    SELECT k.account_id, e.contact_id, CASE WHEN e.event_id IS NULL THEN 'event_key_orphan' ELSE 'event_key_of_attached_event' END,
           pg_catalog.format('event_keys holds %s %s of event %s, which %s', k.type, k.value, k.event_id,
                             CASE WHEN e.event_id IS NULL THEN 'does not exist'
                                  ELSE pg_catalog.format('belongs to contact %s', e.contact_id) END)
    FROM contact_identity.event_keys k
    LEFT JOIN contact_identity.events e ON e.account_id OPERATOR(pg_catalog.=) k.account_id
                                       AND e.event_id OPERATOR(pg_catalog.=) k.event_id
    WHERE ((SELECT scope.accounts FROM scope) IS NULL OR k.account_id OPERATOR(pg_catalog.=) ANY ((SELECT scope.accounts FROM scope)::pg_catalog.int8[]))
      AND (e.event_id IS NULL OR e.contact_id IS NOT NULL)
    UNION ALL
    -- An anonymous event's identifiers are remembered without a holder: the
    -- write that gives one a holder attaches the event.
    SELECT k.account_id, i.contact_id,
           CASE WHEN i.type IS NULL THEN 'event_key_unremembered' ELSE 'event_key_held' END,
           pg_catalog.format('event %s waits under %s %s, which %s', k.event_id, k.type, k.value,
                             CASE WHEN i.type IS NULL THEN 'has no identifiers row'
                                  ELSE pg_catalog.format('contact %s holds', i.contact_id) END)
    FROM contact_identity.event_keys k
    JOIN contact_identity.events e ON e.account_id OPERATOR(pg_catalog.=) k.account_id
                                  AND e.event_id OPERATOR(pg_catalog.=) k.event_id AND e.contact_id IS NULL
    LEFT JOIN contact_identity.identifiers i ON i.account_id OPERATOR(pg_catalog.=) k.account_id
                                            AND i.type OPERATOR(pg_catalog.=) k.type
                                            AND i.value OPERATOR(pg_catalog.=) k.value
    WHERE ((SELECT scope.accounts FROM scope) IS NULL OR k.account_id OPERATOR(pg_catalog.=) ANY ((SELECT scope.accounts FROM scope)::pg_catalog.int8[]))
      AND (i.type IS NULL OR i.contact_id IS NOT NULL)
    UNION ALL
    -- Every contact's creation is in the log.
    SELECT c.account_id, c.contact_id, 'created_not_logged', 'identity_log has no created row for the contact'
    FROM c WHERE NOT EXISTS (SELECT FROM contact_identity.identity_log l
                             WHERE l.account_id OPERATOR(pg_catalog.=) c.account_id
                               AND l.contact_id OPERATOR(pg_catalog.=) c.contact_id
                               AND l.action OPERATOR(pg_catalog.=) 'created')
    UNION ALL
    -- Failed import rows belong to an import.
    SELECT r.account_id, NULL::pg_catalog.int8, 'import_error_orphan',
           pg_catalog.format('import_errors holds row %s of import %s, which does not exist', r.row_number, r.import_id)
    FROM contact_identity.import_errors r
    WHERE ((SELECT scope.accounts FROM scope) IS NULL OR r.account_id OPERATOR(pg_catalog.=) ANY ((SELECT scope.accounts FROM scope)::pg_catalog.int8[]))
      AND NOT EXISTS (SELECT FROM contact_identity.imports m
                      WHERE m.account_id OPERATOR(pg_catalog.=) r.account_id
                        AND m.import_id OPERATOR(pg_catalog.=) r.import_id)
    ORDER BY 1, 2, 3, 4
$sql$, verify_on_node.account_id) OPERATOR(pg_catalog.||) ') AS r(account_id, contact_id, problem, detail)'
        USING verify_on_node.account_id, scope;
END
$$;
COMMENT ON FUNCTION contact_identity.verify_on_node(bigint, bigint[]) IS
    'verify()''s checks of one account (NULL: all) on the node that holds it, each problem as JSON';
REVOKE ALL ON FUNCTION contact_identity.verify_on_node(bigint, bigint[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION contact_identity.verify(account_id bigint DEFAULT NULL)
RETURNS TABLE (account_id bigint, contact_id bigint, problem text, detail text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    -- verify_scope checks the caller's grant before anything is read.
    SELECT x.account_id, x.contact_id, x.problem, x.detail
    FROM contact_identity.rows_by_account('contact_identity.verify_on_node(bigint, bigint[])', verify.account_id,
                                          contact_identity.verify_scope(verify.account_id)) AS j(r)
    CROSS JOIN LATERAL pg_catalog.jsonb_to_record(j.r) AS x(account_id bigint, contact_id bigint, problem text, detail text)
    ORDER BY 1, 2, 3, 4
$$;

CREATE FUNCTION contact_identity.unnormalized_on_node(account_id bigint, scope bigint[])
RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY EXECUTE 'SELECT pg_catalog.to_jsonb(r) FROM (' OPERATOR(pg_catalog.||)
        contact_identity.local_sql($sql$
    WITH scope AS MATERIALIZED (SELECT $2::pg_catalog.int8[] AS accounts),
    checked AS (
        SELECT i.account_id, i.contact_id, i.type, i.value, f.normalized, f.refused
        FROM contact_identity.identifiers i
        JOIN contact_identity.identifier_types t ON t.name OPERATOR(pg_catalog.=) i.type
        CROSS JOIN LATERAL contact_identity.identifier_normal_form(i.type, t.normalizer, i.value) f
        WHERE ((SELECT scope.accounts FROM scope) IS NULL
               OR i.account_id OPERATOR(pg_catalog.=) ANY ((SELECT scope.accounts FROM scope)::pg_catalog.int8[]))
          AND i.value OPERATOR(pg_catalog.~) '[^\x01-\x7f]')
    SELECT c.account_id, c.contact_id, c.type, c.value, c.normalized,
           CASE WHEN c.refused IS NOT NULL THEN 'refused'
                WHEN h.type IS NOT NULL THEN 'normalized_held'
                ELSE 'not_normalized' END,
           CASE WHEN c.refused IS NOT NULL THEN c.refused
                WHEN h.type IS NOT NULL THEN
                    pg_catalog.format('requests for it look up %s %s, which %s holds', c.type, c.normalized,
                                      COALESCE('contact ' OPERATOR(pg_catalog.||) h.contact_id, 'no contact'))
                ELSE pg_catalog.format('requests for it look up %s %s, which nobody holds', c.type, c.normalized) END
    FROM checked c
    LEFT JOIN contact_identity.identifiers h
           ON h.account_id OPERATOR(pg_catalog.=) c.account_id AND h.type OPERATOR(pg_catalog.=) c.type
          AND h.value OPERATOR(pg_catalog.=) c.normalized
    WHERE c.refused IS NOT NULL
       OR (c.normalized OPERATOR(pg_catalog.<>) c.value
           AND NOT (h.type IS NOT NULL AND h.contact_id IS NOT DISTINCT FROM c.contact_id))
    ORDER BY 1, 2, 3, 4
$sql$, unnormalized_on_node.account_id) OPERATOR(pg_catalog.||)
        ') AS r(account_id, contact_id, type, value, normalized, problem, detail)'
        USING unnormalized_on_node.account_id, scope;
END
$$;
COMMENT ON FUNCTION contact_identity.unnormalized_on_node(bigint, bigint[]) IS
    'unnormalized_identifiers() of one account (NULL: all) on the node that holds it, each row as JSON';
REVOKE ALL ON FUNCTION contact_identity.unnormalized_on_node(bigint, bigint[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION contact_identity.unnormalized_identifiers(account_id bigint DEFAULT NULL)
RETURNS TABLE (account_id bigint, contact_id bigint, type text, value text, normalized text, problem text,
               detail text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    -- verify_scope checks the caller's grant before anything is read.
    SELECT x.account_id, x.contact_id, x.type, x.value, x.normalized, x.problem, x.detail
    FROM contact_identity.rows_by_account('contact_identity.unnormalized_on_node(bigint, bigint[])',
                                          unnormalized_identifiers.account_id,
                                          contact_identity.verify_scope(unnormalized_identifiers.account_id)) AS j(r)
    CROSS JOIN LATERAL pg_catalog.jsonb_to_record(j.r)
        AS x(account_id bigint, contact_id bigint, type text, value text, normalized text, problem text, detail text)
    ORDER BY 1, 2, 3, 4
$$;

-- possible_duplicates_of reads with the caller's rights (row-level
-- security), as before; so do the functions it goes through.
CREATE FUNCTION contact_identity.possible_duplicates_on_node(account_id bigint, scope bigint[])
RETURNS TABLE (pair_account_id bigint, pair_contact_id bigint, pair_other_contact_id bigint, pair_reason text,
               pair_detail jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET enable_nestloop = off
SET jit = off
AS $$
BEGIN
    RETURN QUERY EXECUTE contact_identity.local_sql($sql$
WITH mailbox_groups AS (
    SELECT i.account_id, contact_identity.email_mailbox(i.value) AS mailbox,
           pg_catalog.array_agg(i.contact_id ORDER BY i.contact_id, i.value) AS contact_ids,
           pg_catalog.array_agg(i.value ORDER BY i.contact_id, i.value) AS emails
    FROM contact_identity.identifiers i
    JOIN contact_identity.contacts c ON c.account_id OPERATOR(pg_catalog.=) i.account_id
                                    AND c.contact_id OPERATOR(pg_catalog.=) i.contact_id
    WHERE i.type OPERATOR(pg_catalog.=) 'email' AND c.deleted_at IS NULL AND c.merged_into IS NULL
      AND ($1::pg_catalog.int8 IS NULL OR i.account_id OPERATOR(pg_catalog.=) $1::pg_catalog.int8)
    GROUP BY 1, 2
    HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1),
name_groups AS (
    SELECT c.account_id,
           pg_catalog.array_agg(c.contact_id ORDER BY c.contact_id) AS contact_ids,
           pg_catalog.array_agg(c.first_name ORDER BY c.contact_id) AS first_names,
           pg_catalog.array_agg(c.last_name ORDER BY c.contact_id) AS last_names,
           c.attributes OPERATOR(pg_catalog.->>) 'birth_date' AS birth_date
    FROM contact_identity.contacts c
    WHERE c.deleted_at IS NULL AND c.merged_into IS NULL
      AND ($1::pg_catalog.int8 IS NULL OR c.account_id OPERATOR(pg_catalog.=) $1::pg_catalog.int8)
    GROUP BY c.account_id, pg_catalog.lower(c.first_name), pg_catalog.lower(c.last_name),
             c.attributes OPERATOR(pg_catalog.->>) 'birth_date'
    HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1
       AND pg_catalog.lower(c.first_name) IS NOT NULL AND pg_catalog.lower(c.last_name) IS NOT NULL
       AND c.attributes OPERATOR(pg_catalog.->>) 'birth_date' IS NOT NULL),
detached_phones AS MATERIALIZED (
    SELECT l.account_id, s.contact_id, s.identifier_value AS phone
    FROM contact_identity.identity_log l
    -- A whole row of a shard has the shard's row type: log_steps takes the
    -- table's (its name quoted so that local_sql leaves it as it is).
    CROSS JOIN LATERAL contact_identity.log_steps(ROW(l.*)::contact_identity."identity_log") s
    WHERE (l.action OPERATOR(pg_catalog.=) 'identifier_detached' OR l.detail OPERATOR(pg_catalog.?) 'detached')
      AND s.action OPERATOR(pg_catalog.=) 'identifier_detached' AND s.identifier_type OPERATOR(pg_catalog.=) 'phone'
      AND ($1::pg_catalog.int8 IS NULL OR l.account_id OPERATOR(pg_catalog.=) $1::pg_catalog.int8)),
pairs AS (
    SELECT g.account_id, g.contact_ids[a] AS contact_id, g.contact_ids[b] AS other_contact_id, 'same_mailbox' AS reason,
           pg_catalog.jsonb_build_object('email', g.emails[a], 'other_email', g.emails[b], 'mailbox', g.mailbox) AS detail
    FROM mailbox_groups g
    CROSS JOIN LATERAL pg_catalog.generate_series(1, pg_catalog.cardinality(g.contact_ids)) a
    CROSS JOIN LATERAL pg_catalog.generate_series(a OPERATOR(pg_catalog.+) 1, pg_catalog.cardinality(g.contact_ids)) b
    WHERE g.contact_ids[b] OPERATOR(pg_catalog.>) g.contact_ids[a]
    UNION ALL
    SELECT DISTINCT d.account_id, LEAST(d.contact_id, i.contact_id), GREATEST(d.contact_id, i.contact_id),
           'same_phone', pg_catalog.jsonb_build_object('phone', i.value)
    FROM detached_phones d
    JOIN contact_identity.identifiers i ON i.account_id OPERATOR(pg_catalog.=) d.account_id
                                       AND i.type OPERATOR(pg_catalog.=) 'phone'
                                       AND i.value OPERATOR(pg_catalog.=) d.phone
    WHERE i.contact_id OPERATOR(pg_catalog.<>) d.contact_id
      -- Both live, each looked up by its key: joins of both contacts would
      -- share account_id, and a planner without statistics joins them on
      -- it alone.
      AND (SELECT c.deleted_at IS NULL AND c.merged_into IS NULL FROM contact_identity.contacts c
           WHERE c.account_id OPERATOR(pg_catalog.=) d.account_id AND c.contact_id OPERATOR(pg_catalog.=) d.contact_id)
      AND (SELECT c.deleted_at IS NULL AND c.merged_into IS NULL FROM contact_identity.contacts c
           WHERE c.account_id OPERATOR(pg_catalog.=) i.account_id AND c.contact_id OPERATOR(pg_catalog.=) i.contact_id)
    UNION ALL
    SELECT g.account_id, g.contact_ids[a], g.contact_ids[b], 'same_name_and_birth_date',
           pg_catalog.jsonb_build_object('first_name', g.first_names[a], 'last_name', g.last_names[a],
                                         'birth_date', g.birth_date)
    FROM name_groups g
    CROSS JOIN LATERAL pg_catalog.generate_series(1, pg_catalog.cardinality(g.contact_ids)) a
    CROSS JOIN LATERAL pg_catalog.generate_series(a OPERATOR(pg_catalog.+) 1, pg_catalog.cardinality(g.contact_ids)) b),
unmerged AS (
    SELECT u.account_id, LEAST(u.contact_id, u.other_contact_id) AS contact_id,
           GREATEST(u.contact_id, u.other_contact_id) AS other_contact_id
    FROM contact_identity.identity_log u
    WHERE u.action OPERATOR(pg_catalog.=) 'unmerged'
      AND ($1::pg_catalog.int8 IS NULL OR u.account_id OPERATOR(pg_catalog.=) $1::pg_catalog.int8))
SELECT p.account_id, p.contact_id, p.other_contact_id, p.reason, p.detail
FROM pairs p
WHERE NOT EXISTS (SELECT FROM unmerged u
                  WHERE u.account_id OPERATOR(pg_catalog.=) p.account_id
                    AND u.contact_id OPERATOR(pg_catalog.=) p.contact_id
                    AND u.other_contact_id OPERATOR(pg_catalog.=) p.other_contact_id)
$sql$, possible_duplicates_on_node.account_id)
        USING possible_duplicates_on_node.account_id, scope;
END
$$;
COMMENT ON FUNCTION contact_identity.possible_duplicates_on_node(bigint, bigint[]) IS
    'possible_duplicates_of() of one account (NULL: all) on the node that holds it';
REVOKE ALL ON FUNCTION contact_identity.possible_duplicates_on_node(bigint, bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contact_identity.possible_duplicates_on_node(bigint, bigint[]) TO contact_identity_reader;

-- Its own loop over the accounts, with typed rows: a pair as JSON and back
-- cost a single server about 40% more (possible_duplicates returns many
-- rows; verify() and unnormalized_identifiers() none when all is well).
CREATE FUNCTION contact_identity.possible_duplicates_rows(for_account bigint)
RETURNS TABLE (pair_account_id bigint, pair_contact_id bigint, pair_other_contact_id bigint, pair_reason text,
               pair_detail jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    one bigint;
BEGIN
    -- Each account's call a statement of its own, which Citus delegates.
    IF for_account IS NOT NULL OR NOT contact_identity.is_distributed() THEN
        RETURN QUERY EXECUTE 'SELECT * FROM contact_identity.possible_duplicates_on_node($1, NULL)' USING for_account;
        RETURN;
    END IF;
    FOR one IN SELECT a.id FROM contact_identity.accounts_with_rows(NULL) AS a(id) LOOP
        RETURN QUERY EXECUTE 'SELECT * FROM contact_identity.possible_duplicates_on_node($1, NULL)' USING one;
    END LOOP;
END
$$;
COMMENT ON FUNCTION contact_identity.possible_duplicates_rows(bigint) IS
    'the pairs of possible_duplicates_of: of one account, or on a Citus cluster of every account one by one on its node';
REVOKE ALL ON FUNCTION contact_identity.possible_duplicates_rows(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contact_identity.possible_duplicates_rows(bigint) TO contact_identity_reader;

CREATE OR REPLACE FUNCTION contact_identity.possible_duplicates_of(account_id bigint)
RETURNS TABLE (account_id bigint, contact_id bigint, other_contact_id bigint, reason text, detail jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET enable_nestloop = off
SET jit = off
AS $$
    SELECT * FROM contact_identity.possible_duplicates_rows(possible_duplicates_of.account_id)
$$;

-- import_contacts on the coordinator for an account whose shards are on a
-- worker sends the source's rows there in batches (src/pg/import_forward.cpp):
-- each batch, JSON with the source's columns and row numbers, becomes a
-- temporary table on the worker, imported there by import_contacts. Not
-- SECURITY DEFINER: the caller imports as itself, with its own grant.
CREATE FUNCTION contact_identity.import_forwarded(
    rows jsonb,
    column_names text[],
    column_types text[],
    dedupe_on text,
    restore_deleted boolean,
    clear_nulls boolean,
    account_id bigint)
RETURNS TABLE (row_number bigint, contact_id bigint, action text, matched_by text,
               error_code text, error_message text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    definition text;
BEGIN
    -- Names quoted and types read as types: nothing of the text is SQL.
    SELECT pg_catalog.string_agg(pg_catalog.format('%I %s', c.name, c.type::pg_catalog.regtype), ', ' ORDER BY c.ord)
      INTO definition
      FROM ROWS FROM (pg_catalog.unnest(column_names), pg_catalog.unnest(column_types)) WITH ORDINALITY AS c(name, type, ord);
    IF NOT 'row_number' OPERATOR(pg_catalog.=) ANY (column_names) THEN
        definition := COALESCE(definition OPERATOR(pg_catalog.||) ', ', '') OPERATOR(pg_catalog.||) 'row_number bigint';
    END IF;
    IF pg_catalog.to_regclass('pg_temp.contact_identity_forwarded') IS NOT NULL THEN
        DROP TABLE pg_temp.contact_identity_forwarded;
    END IF;
    EXECUTE pg_catalog.format('CREATE TEMP TABLE contact_identity_forwarded ON COMMIT DROP AS'
                              ' SELECT * FROM pg_catalog.jsonb_to_recordset($1) AS x(%s)', definition)
      USING rows;
    RETURN QUERY SELECT * FROM contact_identity.import_contacts(
        'pg_temp.contact_identity_forwarded'::pg_catalog.regclass, import_forwarded.dedupe_on,
        import_forwarded.restore_deleted, import_forwarded.clear_nulls, import_forwarded.account_id);
    DROP TABLE pg_temp.contact_identity_forwarded;
END
$$;
COMMENT ON FUNCTION contact_identity.import_forwarded(jsonb, text[], text[], text, boolean, boolean, bigint) IS
    'one batch of an import_contacts the coordinator sends to the account''s worker (Citus); not for direct use';
REVOKE ALL ON FUNCTION contact_identity.import_forwarded(jsonb, text[], text[], text, boolean, boolean, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contact_identity.import_forwarded(jsonb, text[], text[], text, boolean, boolean, bigint)
    TO contact_identity_writer;

-- The per-account functions delegated to the worker that holds the
-- account (Citus's create_distributed_function): the C functions, which
-- work there on the account's local shards, and the PL/pgSQL ones whose
-- statements Citus routes there.
CREATE FUNCTION contact_identity.delegated_functions()
RETURNS regprocedure[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY[
        'contact_identity.resolve_contact(text,text,text,jsonb,bigint,boolean)',
        'contact_identity.upsert_contact(text,text,text,jsonb,text,text,jsonb,bigint,bigint,text,boolean)',
        'contact_identity.assign_external_id(bigint,text,bigint)',
        'contact_identity.delete_contact(bigint,bigint)',
        'contact_identity.merge_contacts(bigint,bigint,boolean,bigint)',
        'contact_identity.track_event(text,jsonb,text,text,text,jsonb,timestamp with time zone,bigint)',
        'contact_identity.purge_contact(bigint,bigint)',
        'contact_identity.unmerge_contact(bigint,bigint)',
        'contact_identity.import_contacts_json(jsonb,text,boolean,boolean,bigint)',
        'contact_identity.cancel_import(bigint,bigint)',
        'contact_identity.import_forwarded(jsonb,text[],text[],text,boolean,boolean,bigint)',
        'contact_identity.verify_on_node(bigint,bigint[])',
        'contact_identity.unnormalized_on_node(bigint,bigint[])',
        'contact_identity.possible_duplicates_on_node(bigint,bigint[])'
    ]::pg_catalog.regprocedure[]
$$;
COMMENT ON FUNCTION contact_identity.delegated_functions() IS
    'the per-account functions distribute() delegates to the worker that holds the account';
REVOKE ALL ON FUNCTION contact_identity.delegated_functions() FROM PUBLIC;

CREATE FUNCTION contact_identity.distribute()
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
DECLARE
    workers bigint;
    coordinator boolean;
    t text;
    f pg_catalog.regprocedure;
    floors jsonb;
    done_tables integer := 0;
    done_functions integer := 0;
    failed text;
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
        RAISE EXCEPTION 'permission denied for contact_identity.distribute()' USING ERRCODE = '42501',
            DETAIL = 'Distributing the tables changes every node of the cluster.',
            HINT = 'Run it as a superuser.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
        RAISE EXCEPTION 'contact_identity.distribute() needs the citus extension' USING ERRCODE = '55000',
            DETAIL = pg_catalog.format('Database %s has no extension citus.', pg_catalog.current_database()),
            HINT = 'Add citus to shared_preload_libraries on every node, run CREATE EXTENSION citus, '
                   'and add the workers with citus_add_node.';
    END IF;
    EXECUTE 'SELECT pg_catalog.citus_is_coordinator()' INTO coordinator;
    IF NOT coordinator THEN
        RAISE EXCEPTION 'contact_identity.distribute() runs on the coordinator' USING ERRCODE = '55000',
            DETAIL = 'This node is a Citus worker.',
            HINT = 'Connect to the coordinator.';
    END IF;
    EXECUTE 'SELECT pg_catalog.count(*) FROM pg_catalog.pg_dist_node n'
            ' WHERE n.noderole OPERATOR(pg_catalog.=) ''primary'' AND n.groupid OPERATOR(pg_catalog.<>) 0'
            ' AND n.isactive AND n.shouldhaveshards'
       INTO workers;
    IF workers OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'contact_identity.distribute() needs worker nodes' USING ERRCODE = '55000',
            DETAIL = 'The Citus cluster has no active worker that takes shards.',
            HINT = 'Add workers with SELECT citus_add_node(host, port), then run distribute() again.';
    END IF;

    -- The key of purge_contact's hashes is made now, on the coordinator:
    -- made by a purge on a worker, it would be a write to every node.
    INSERT INTO contact_identity.secrets (hmac_key)
    SELECT pg_catalog.decode(pg_catalog.md5(pg_catalog.random()::text) OPERATOR(pg_catalog.||)
                             pg_catalog.md5(pg_catalog.clock_timestamp()::text), 'hex')
     WHERE NOT EXISTS (SELECT FROM contact_identity.secrets);

    -- The configuration triggers (statement triggers that tell each
    -- backend to read the tables again) are meant to fire on every node's
    -- copy: Citus puts them on the shards only when asked.
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);

    -- Citus accepts no subquery in a policy: the InitPlan form, which reads
    -- the grants once per statement, becomes a per-row call.
    FOREACH t IN ARRAY contact_identity.distributed_tables() OPERATOR(pg_catalog.||) contact_identity.reference_tables() LOOP
        IF EXISTS (SELECT FROM pg_catalog.pg_policy p
                    WHERE p.polrelid OPERATOR(pg_catalog.=) pg_catalog.format('contact_identity.%I', t)::pg_catalog.regclass
                      AND p.polname OPERATOR(pg_catalog.=) 'granted_accounts'
                      AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) OPERATOR(pg_catalog.~) 'SELECT') THEN
            EXECUTE pg_catalog.format('DROP POLICY granted_accounts ON contact_identity.%I', t);
            EXECUTE pg_catalog.format('CREATE POLICY granted_accounts ON contact_identity.%I FOR SELECT'
                                      ' USING (account_id OPERATOR(pg_catalog.=) ANY (contact_identity.readable_accounts()))', t);
            EXECUTE pg_catalog.format('COMMENT ON POLICY granted_accounts ON contact_identity.%I IS %L', t,
                                      'a role reads the accounts it has a grant on');
        END IF;
    END LOOP;

    FOREACH t IN ARRAY contact_identity.reference_tables() LOOP
        CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
                               WHERE p.logicalrelid OPERATOR(pg_catalog.=) pg_catalog.format('contact_identity.%I', t)::pg_catalog.regclass);
        PERFORM pg_catalog.create_reference_table(pg_catalog.format('contact_identity.%I', t)::pg_catalog.regclass);
        -- The few rows the coordinator's table held stay there, unread: its
        -- truncate trigger refuses to empty identifier_types.
        done_tables := done_tables OPERATOR(pg_catalog.+) 1;
    END LOOP;

    -- The IDs the tables hold before they are distributed: the first
    -- worker's range starts above them. Once distributed, the coordinator's
    -- sequences are in its own range and say nothing about the workers'.
    floors := '{}';
    IF NOT contact_identity.is_distributed() THEN
        SELECT pg_catalog.jsonb_object_agg(q.name, q.last_id) INTO floors FROM (
            SELECT 'contacts_contact_id_seq' AS name, CASE WHEN s.is_called THEN s.last_value ELSE 0 END AS last_id
              FROM contact_identity.contacts_contact_id_seq s
            UNION ALL SELECT 'events_event_id_seq', CASE WHEN s.is_called THEN s.last_value ELSE 0 END
              FROM contact_identity.events_event_id_seq s
            UNION ALL SELECT 'identity_log_log_id_seq', CASE WHEN s.is_called THEN s.last_value ELSE 0 END
              FROM contact_identity.identity_log_log_id_seq s
            UNION ALL SELECT 'imports_import_id_seq', CASE WHEN s.is_called THEN s.last_value ELSE 0 END
              FROM contact_identity.imports_import_id_seq s) q;
    END IF;

    FOREACH t IN ARRAY contact_identity.distributed_tables() LOOP
        CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
                               WHERE p.logicalrelid OPERATOR(pg_catalog.=) pg_catalog.format('contact_identity.%I', t)::pg_catalog.regclass);
        PERFORM pg_catalog.create_distributed_table(
            pg_catalog.format('contact_identity.%I', t)::pg_catalog.regclass, 'account_id',
            colocate_with => CASE WHEN t OPERATOR(pg_catalog.=) 'contacts' THEN 'none' ELSE 'contact_identity.contacts' END);
        -- The coordinator's own copy of the rows, no longer read.
        PERFORM pg_catalog.truncate_local_data_after_distributing_table(pg_catalog.format('contact_identity.%I', t)::pg_catalog.regclass);
        done_tables := done_tables OPERATOR(pg_catalog.+) 1;
    END LOOP;

    EXECUTE 'SELECT pg_catalog.string_agg(pg_catalog.format(''node %s: %s'', r.nodeid, r.result), ''; '')'
            ' FROM pg_catalog.run_command_on_all_nodes($1) r WHERE NOT r.success'
       INTO failed USING pg_catalog.format('SELECT contact_identity.claim_id_ranges(%L)', floors);
    IF failed IS NOT NULL THEN
        RAISE EXCEPTION 'contact_identity.distribute() could not set the ID ranges of every node' USING ERRCODE = '55000',
            DETAIL = failed, HINT = 'Fix what the nodes report, then run distribute() again.';
    END IF;

    FOREACH f IN ARRAY contact_identity.delegated_functions() LOOP
        PERFORM pg_catalog.create_distributed_function(f, distribution_arg_name => 'account_id',
                                                       colocate_with => 'contact_identity.contacts',
                                                       force_delegation => true);
        done_functions := done_functions OPERATOR(pg_catalog.+) 1;
    END LOOP;

    RETURN pg_catalog.format('%s tables distributed, %s functions delegated, on %s workers',
                             done_tables, done_functions, workers);
END
$$;
COMMENT ON FUNCTION contact_identity.distribute() IS
    'shards the per-account tables by account_id with Citus, makes the configuration reference tables and '
    'delegates the per-account functions (a superuser, on the coordinator; run again after adding workers)';
REVOKE ALL ON FUNCTION contact_identity.distribute() FROM PUBLIC;

-- ==== Functions whose statements Citus could not plan ====
-- These are redefined with CREATE OR REPLACE, which keeps each function's
-- OID, grants and comment; the attributes (SECURITY DEFINER, search_path)
-- are restated, since the command resets them.

-- get_contact: an SQL function's statements are planned with their
-- parameters unknown, which Citus cannot route; PL/pgSQL plans them with
-- the values (and on one server keeps its plan across calls, which an SQL
-- function does not).
CREATE OR REPLACE FUNCTION contact_identity.get_contact(contact_id bigint, account_id bigint DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM contact_identity.require_account(get_contact.account_id, 'reader');
    RETURN (
        SELECT pg_catalog.jsonb_build_object(
                   'contactId', c.contact_id,
                   'externalCustomerId', c.external_id,
                   'firstName', c.first_name,
                   'lastName', c.last_name,
                   'channels', COALESCE((
                       SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('type', i.type, 'value', i.value)
                                                   ORDER BY t.class DESC, t.priority, i.attached_at, i.value)
                       FROM contact_identity.identifiers i
                       JOIN contact_identity.identifier_types t ON t.name OPERATOR(pg_catalog.=) i.type
                       WHERE i.account_id OPERATOR(pg_catalog.=) get_contact.account_id
                         AND i.contact_id OPERATOR(pg_catalog.=) get_contact.contact_id
                         AND t.class OPERATOR(pg_catalog.<>) 'external'), '[]'::jsonb),
                   'fields', c.attributes,
                   'createdAt', c.created_at,
                   'updatedAt', c.updated_at,
                   'deletedAt', c.deleted_at,
                   'mergedInto', c.merged_into)
        FROM contact_identity.contacts c
        WHERE c.account_id OPERATOR(pg_catalog.=) get_contact.account_id
          AND c.contact_id OPERATOR(pg_catalog.=) get_contact.contact_id);
END
$$;

-- grant_account: Citus allows only immutable functions in an upsert's DO
-- UPDATE on its tables; the time is taken first.
CREATE OR REPLACE FUNCTION contact_identity.grant_account(role name, account_id bigint, level text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    granted timestamptz := pg_catalog.now();
BEGIN
    PERFORM contact_identity.require_writable('grant_account');
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be null' USING ERRCODE = '22004';
    END IF;
    IF level IS NULL OR NOT level OPERATOR(pg_catalog.=) ANY (ARRAY['reader', 'writer', 'admin']) THEN
        RAISE EXCEPTION 'invalid level %', COALESCE(pg_catalog.quote_literal(pg_catalog.left(level, 100)), 'NULL')
            USING ERRCODE = '22023',
            HINT = 'A level is reader, writer or admin.';
    END IF;
    PERFORM contact_identity.require_account(grant_account.account_id, 'admin');
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) grant_account.role) THEN
        RAISE EXCEPTION 'role "%" does not exist', role USING ERRCODE = '42704';
    END IF;
    INSERT INTO contact_identity.account_grants (role, account_id, level, granted_at)
    VALUES (grant_account.role, grant_account.account_id, grant_account.level, granted)
    ON CONFLICT ON CONSTRAINT account_grants_pkey DO UPDATE SET level = EXCLUDED.level, granted_at = EXCLUDED.granted_at;
END
$$;

-- explain_contact: Citus sends a whole-row reference to the shard as the
-- shard's row type, which log_steps does not take; the row built from
-- the columns is an identity_log on every node.
CREATE OR REPLACE FUNCTION contact_identity.explain_contact(contact_id bigint, account_id bigint DEFAULT 0)
RETURNS TABLE (at timestamptz, what text, detail jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF explain_contact.contact_id IS NULL THEN
        RAISE EXCEPTION 'contact_id must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM contact_identity.require_account(explain_contact.account_id, 'reader');
    PERFORM FROM contact_identity.contacts c
    WHERE c.account_id OPERATOR(pg_catalog.=) explain_contact.account_id
      AND c.contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'contact % does not exist', explain_contact.contact_id USING ERRCODE = 'P0002',
            DETAIL = pg_catalog.format('Account %s has no contact %s.', explain_contact.account_id,
                                       explain_contact.contact_id),
            HINT = 'Check contact_id and account_id.';
    END IF;
    RETURN QUERY
    SELECT l.logged_at,
           CASE
             WHEN s.action OPERATOR(pg_catalog.=) 'merged' AND s.other_contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id
               THEN pg_catalog.format('merged into contact %s', s.contact_id)
             WHEN s.action OPERATOR(pg_catalog.=) 'unmerged' AND s.other_contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id
               THEN pg_catalog.format('contact %s unmerged from this one: %s identifier(s) and %s event(s) went back',
                                      s.contact_id, contact_identity.unmerged_identifiers(s.detail, s.contact_id),
                                      s.detail OPERATOR(pg_catalog.->>) 'events')
             WHEN s.action OPERATOR(pg_catalog.=) 'identifier_moved' AND s.other_contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id
               THEN pg_catalog.format('%s %s moved to contact %s', s.identifier_type, s.identifier_value, s.contact_id)
             ELSE CASE s.action
               WHEN 'created' THEN 'profile created'
               WHEN 'updated' THEN 'profile updated'
               WHEN 'restored' THEN 'profile restored'
               WHEN 'deleted' THEN 'profile deleted'
               WHEN 'merged' THEN pg_catalog.format('contact %s merged into this one%s', s.other_contact_id,
                   CASE WHEN (s.detail OPERATOR(pg_catalog.->>) 'explicit')::boolean THEN ' by merge_contacts'
                        ELSE '' END)
               WHEN 'unmerged' THEN pg_catalog.format('unmerged from contact %s: %s identifier(s) and %s event(s) came back',
                                                      s.other_contact_id,
                                                      contact_identity.unmerged_identifiers(s.detail, s.contact_id),
                                                      s.detail OPERATOR(pg_catalog.->>) 'events')
               WHEN 'external_id_assigned' THEN pg_catalog.format('external ID %s assigned', s.identifier_value)
               WHEN 'identifier_attached' THEN pg_catalog.format('%s %s attached', s.identifier_type, s.identifier_value)
               WHEN 'identifier_detached' THEN pg_catalog.format('%s %s detached', s.identifier_type, s.identifier_value)
               WHEN 'identifier_moved' THEN pg_catalog.format('%s %s moved here from contact %s', s.identifier_type,
                                                              s.identifier_value, s.other_contact_id)
               WHEN 'events_attached' THEN pg_catalog.format('%s anonymous event(s) attached',
                                                             s.detail OPERATOR(pg_catalog.->>) 'events')
               ELSE s.action
             END
           END
           OPERATOR(pg_catalog.||) CASE WHEN s.matched_by IS NOT NULL AND s.contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id
                    THEN pg_catalog.format(', matched by %s', s.matched_by) ELSE '' END,
           pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
               'action', s.action, 'matched_by', s.matched_by, 'identifier_type', s.identifier_type,
               'identifier_value', s.identifier_value, 'other_contact_id', s.other_contact_id))
             OPERATOR(pg_catalog.||) (COALESCE(s.detail, '{}'::jsonb) OPERATOR(pg_catalog.-) 'event_ids'::text)
    FROM contact_identity.identity_log l
    CROSS JOIN LATERAL contact_identity.log_steps(ROW(l.*)::contact_identity.identity_log) s
    WHERE l.account_id OPERATOR(pg_catalog.=) explain_contact.account_id
      AND (l.contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id
           OR (l.other_contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id
               AND l.action OPERATOR(pg_catalog.=) ANY (ARRAY['merged', 'merged_into', 'unmerged', 'identifier_moved'])))
      AND (s.contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id
           OR (s.other_contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id
               AND s.action OPERATOR(pg_catalog.=) ANY (ARRAY['merged', 'unmerged', 'identifier_moved'])))
    ORDER BY l.log_id, s.step;
END
$$;

-- identifier_type_in_use: on a Citus cluster the trigger fires on every
-- node's copy of identifier_types (identifier_types_<shard>), where a
-- query of the distributed identifiers is refused; each node then checks
-- the identifiers of its own shards, which together are all of them.
CREATE OR REPLACE FUNCTION contact_identity.identifier_type_in_use()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    held bigint := 0;
    n bigint;
    shard text;
    on_shard boolean := TG_TABLE_NAME OPERATOR(pg_catalog.<>) 'identifier_types';
    type_name text;  -- NULL for a TRUNCATE: any identifier counts
BEGIN
    IF TG_OP OPERATOR(pg_catalog.<>) 'TRUNCATE' THEN
        IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' AND OLD.name OPERATOR(pg_catalog.=) NEW.name THEN
            RETURN NEW;
        END IF;
        type_name := OLD.name;
    END IF;
    IF NOT on_shard THEN
        SELECT pg_catalog.count(*) INTO held FROM contact_identity.identifiers i
        WHERE type_name IS NULL OR i.type OPERATOR(pg_catalog.=) type_name;
    ELSE
        FOR shard IN EXECUTE
            'SELECT pg_catalog.format(''contact_identity.%I'', ''identifiers_'' OPERATOR(pg_catalog.||) s.shardid)'
            ' FROM pg_catalog.pg_dist_shard s JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid'
            ' WHERE s.logicalrelid OPERATOR(pg_catalog.=) ''contact_identity.identifiers''::pg_catalog.regclass'
            ' AND p.groupid OPERATOR(pg_catalog.=) (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g)'
        LOOP
            EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s i'
                                      ' WHERE $1 IS NULL OR i.type OPERATOR(pg_catalog.=) $1', shard)
               INTO n USING type_name;
            held := held OPERATOR(pg_catalog.+) n;
        END LOOP;
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'TRUNCATE' THEN
        IF held OPERATOR(pg_catalog.>) 0 THEN
            RAISE EXCEPTION 'cannot truncate contact_identity.identifier_types: identifiers use its types'
                USING ERRCODE = '23503',
                      HINT = 'Delete the identifiers first, or delete only the types nobody uses.';
        END IF;
        RETURN NULL;
    END IF;
    IF held OPERATOR(pg_catalog.>) 0 THEN
        RAISE EXCEPTION 'identifier type "%" is in use', OLD.name
            USING ERRCODE = '23503',
                  DETAIL = pg_catalog.format('%s identifier(s) of type "%s" are stored.', held, OLD.name),
                  HINT = pg_catalog.format('Identifiers keep their type; add a new type instead of %s this one.',
                                           CASE TG_OP WHEN 'DELETE' THEN 'deleting' ELSE 'renaming' END);
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;

-- import_progress: the session that runs an import is looked up where
-- the view is read, on the imports rows as read (OFFSET 0): Citus sends no
-- volatile function to the workers, and a run_import from the coordinator
-- holds its lock there.
CREATE OR REPLACE VIEW contact_identity.import_progress WITH (security_invoker = true) AS
SELECT i.account_id, i.import_id, i.source,
       CASE WHEN i.status OPERATOR(pg_catalog.=) 'running' AND s.pid IS NULL THEN 'interrupted'
            ELSE i.status END AS status,
       s.pid AS session_pid,
       i.rows_total, i.rows_done, i.created, i.updated, i.restored, i.merged, i.skipped, i.failed,
       i.started_at, i.finished_at, i.last_error_sqlstate, i.last_error_message, i.last_error_at
FROM (SELECT * FROM contact_identity.imports OFFSET 0) AS i
LEFT JOIN LATERAL (SELECT contact_identity.import_session_pid(i.import_id) AS pid
                   WHERE i.status OPERATOR(pg_catalog.=) 'running') AS s ON true;

-- identity_log_steps: log_steps of a whole row, built from the columns
-- (Citus sends a whole row to a shard with the shard's row type).
CREATE OR REPLACE VIEW contact_identity.identity_log_steps WITH (security_invoker = true) AS
SELECT l.account_id, l.log_id, s.step, l.logged_at, s.contact_id, s.action, s.matched_by, s.identifier_type,
       s.identifier_value, s.other_contact_id, s.detail
FROM contact_identity.identity_log l
CROSS JOIN LATERAL contact_identity.log_steps(ROW(l.*)::contact_identity.identity_log) s
WHERE NOT s.mirrored;

-- readable_accounts: in C, reading the grants from this node's copy of
-- account_grants and keeping them for the statement. On a Citus cluster
-- the policies call it for every row (Citus refuses the InitPlan form),
-- inside the query Citus runs on a shard, where reading the distributed
-- reference table through Citus would be a nested distributed query,
-- which Citus refuses.
CREATE OR REPLACE FUNCTION contact_identity.readable_accounts()
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'ci_readable_accounts'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
