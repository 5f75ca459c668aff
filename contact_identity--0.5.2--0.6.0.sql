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
        'contact_identity.cancel_import(bigint,bigint)'
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

-- ==== What does not run distributed yet ====
-- docs/scale-out.md lists these; each refuses with 0A000 before it reads.
CREATE FUNCTION contact_identity.refuse_distributed(function_name text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF contact_identity.is_distributed() THEN
        RAISE EXCEPTION 'not supported on distributed tables: contact_identity.%', function_name
            USING ERRCODE = '0A000',
            DETAIL = 'contact_identity''s tables are sharded with Citus, and this function reads them in a way Citus cannot plan.',
            HINT = 'docs/scale-out.md lists what runs distributed and what to use instead.';
    END IF;
END
$$;
COMMENT ON FUNCTION contact_identity.refuse_distributed(text) IS
    'raises 0A000 naming the function when the tables are distributed with Citus (functions that do not run there)';
REVOKE ALL ON FUNCTION contact_identity.refuse_distributed(text) FROM PUBLIC;

-- verify() and unnormalized_identifiers() start with verify_scope().
CREATE OR REPLACE FUNCTION contact_identity.verify_scope(account_id bigint)
RETURNS bigint[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    accounts bigint[];
BEGIN
    PERFORM contact_identity.refuse_distributed('verify() and unnormalized_identifiers()');
    IF verify_scope.account_id IS NOT NULL THEN
        PERFORM contact_identity.require_account(verify_scope.account_id, 'admin');
        RETURN ARRAY[verify_scope.account_id];
    END IF;
    IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) contact_identity.calling_role()) THEN
        RETURN NULL;
    END IF;
    SELECT COALESCE(pg_catalog.array_agg(DISTINCT g.account_id), '{}') INTO accounts
    FROM contact_identity.account_grants g
    JOIN pg_catalog.pg_roles r ON r.rolname OPERATOR(pg_catalog.=) g.role
    WHERE g.level OPERATOR(pg_catalog.=) 'admin'
      AND pg_catalog.pg_has_role(contact_identity.calling_role(), r.oid, 'MEMBER');
    IF pg_catalog.cardinality(accounts) OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'permission denied for verify' USING ERRCODE = '42501',
            DETAIL = 'Checking every account needs a superuser or an admin grant.',
            HINT = 'Pass the account_id of an account you administer.';
    END IF;
    RETURN accounts;
END
$$;
