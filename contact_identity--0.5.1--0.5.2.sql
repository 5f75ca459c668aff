-- contact_identity 0.5.1 -> 0.5.2: production hardening (issue 14).
\echo Use "ALTER EXTENSION contact_identity UPDATE TO '0.5.2'" to load this file. \quit

-- ==== Regions per account ====

-- ==== Imports: environmental errors, cancel and interrupted imports ====
-- An error that is no row's (a read-only transaction, a lock or statement
-- timeout, a deadlock, a serialization failure, running out of memory, a
-- cancel) rolls back run_import's batch and fails the call; the import
-- stays running, to be resumed, and its row says why.
ALTER TABLE contact_identity.imports
    ADD COLUMN last_error_sqlstate text,
    ADD COLUMN last_error_message  text,
    ADD COLUMN last_error_at       timestamptz;
COMMENT ON COLUMN contact_identity.imports.last_error_sqlstate IS
    'the SQLSTATE of the last error that ended a run_import call of this import (no row''s: a timeout, a cancel, a deadlock, ...); its batch rolled back. NULL when none did';
COMMENT ON COLUMN contact_identity.imports.last_error_message IS 'the message of that error';
COMMENT ON COLUMN contact_identity.imports.last_error_at IS 'when that error ended the call';

-- cancel_import ends an import whose session is gone: a new status.
ALTER TABLE contact_identity.imports DROP CONSTRAINT imports_status_check,
    ADD CONSTRAINT imports_status_check
        CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['running', 'done', 'cancelled']));
COMMENT ON CONSTRAINT imports_status_check ON contact_identity.imports IS 'an import is running, done or cancelled';
COMMENT ON COLUMN contact_identity.imports.status IS
    'running (also after a crash, a cancel or an error that ended its call: CALL run_import(..., import_id => N) resumes it; import_progress says whether a session runs it), done, or cancelled (by cancel_import; never resumed)';
COMMENT ON COLUMN contact_identity.imports.finished_at IS 'when the import ended: done, or cancelled';

-- run_import holds an advisory lock on its import while its call runs
-- (src/pg/import_lock.h): who holds it is whether a session runs it.
CREATE FUNCTION contact_identity.import_session_pid(import_id bigint)
RETURNS integer
AS 'MODULE_PATHNAME', 'ci_import_session_pid'
LANGUAGE C VOLATILE STRICT
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION contact_identity.import_session_pid(bigint) IS
    'the backend whose CALL run_import runs the import now (it holds the import''s advisory lock), or NULL';
REVOKE ALL ON FUNCTION contact_identity.import_session_pid(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contact_identity.import_session_pid(bigint) TO contact_identity_reader;

CREATE VIEW contact_identity.import_progress WITH (security_invoker = true) AS
SELECT i.account_id, i.import_id, i.source,
       CASE WHEN i.status OPERATOR(pg_catalog.=) 'running' AND s.pid IS NULL THEN 'interrupted'
            ELSE i.status END AS status,
       s.pid AS session_pid,
       i.rows_total, i.rows_done, i.created, i.updated, i.restored, i.merged, i.skipped, i.failed,
       i.started_at, i.finished_at, i.last_error_sqlstate, i.last_error_message, i.last_error_at
FROM contact_identity.imports i
LEFT JOIN LATERAL (SELECT contact_identity.import_session_pid(i.import_id) AS pid
                   WHERE i.status OPERATOR(pg_catalog.=) 'running') AS s ON true;
COMMENT ON VIEW contact_identity.import_progress IS
    'the imports with their live status: running while a session runs the import, interrupted when none does (resume it, or cancel_import), done or cancelled';
GRANT SELECT ON contact_identity.import_progress TO contact_identity_reader;

CREATE FUNCTION contact_identity.cancel_import(import_id bigint, account_id bigint DEFAULT 0)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ci_cancel_import'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION contact_identity.cancel_import(bigint, bigint) IS
    'ends a run_import import whose session is gone: cancelled, never resumed, its committed batches stay; 55006 while a session runs it; false when it was cancelled already';
REVOKE ALL ON FUNCTION contact_identity.cancel_import(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contact_identity.cancel_import(bigint, bigint) TO contact_identity_writer;

-- ==== Writes refused on a standby or in a read-only transaction ====
-- Every function that writes refuses first, with 25006 naming it, instead
-- of failing deep inside (a row lock, a temporary table, an INSERT) with the
-- internal SQL as CONTEXT. The C functions check in C (src/pg/writable.h);
-- the PL/pgSQL ones call require_writable first. resolve_contact, a read,
-- runs on a standby.
CREATE FUNCTION contact_identity.require_writable(function_name text)
RETURNS void
AS 'MODULE_PATHNAME', 'ci_require_writable'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION contact_identity.require_writable(text) IS
    'raises 25006 naming contact_identity.<function_name> when the transaction cannot write (a standby, or READ ONLY); the first call of every PL/pgSQL function that writes';
REVOKE ALL ON FUNCTION contact_identity.require_writable(text) FROM PUBLIC;

-- The PL/pgSQL functions that write, as before with the check first
-- (replace_segment reads its segment after it, not in DECLARE). CREATE OR
-- REPLACE keeps their grants and comments; SECURITY DEFINER is said again,
-- as OR REPLACE sets every property the command leaves out to its default.
CREATE OR REPLACE FUNCTION contact_identity.import_contacts_json(
    contacts jsonb,
    dedupe_on text DEFAULT 'external_id',
    restore_deleted boolean DEFAULT false,
    clear_nulls boolean DEFAULT false,
    account_id bigint DEFAULT 0)
RETURNS TABLE (row_number bigint, contact_id bigint, action text, matched_by text,
               error_code text, error_message text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM contact_identity.require_writable('import_contacts_json');
    IF contacts IS NULL OR pg_catalog.jsonb_typeof(contacts) OPERATOR(pg_catalog.<>) 'array' THEN
        RAISE EXCEPTION 'contacts must be a JSON array'
            USING ERRCODE = '22023',
                  DETAIL = pg_catalog.format('It is %s.', COALESCE('a JSON ' OPERATOR(pg_catalog.||)
                                                                    pg_catalog.jsonb_typeof(contacts), 'NULL')),
                  HINT = 'Pass an array of contacts in the shape get_contact returns.';
    END IF;
    -- The API shape as import columns; JSON that cannot be mapped fails its
    -- own row through the _contact_identity_error column.
    IF pg_catalog.to_regclass('pg_temp.contact_identity_json_source') IS NOT NULL THEN
        DROP TABLE pg_temp.contact_identity_json_source;
    END IF;
    CREATE TEMP TABLE contact_identity_json_source ON COMMIT DROP AS
    SELECT e.ord AS row_number,
           CASE WHEN pg_catalog.jsonb_typeof(e.c) OPERATOR(pg_catalog.=) 'object'
                THEN e.c OPERATOR(pg_catalog.->>) 'externalCustomerId' END AS external_id,
           e.c OPERATOR(pg_catalog.->>) 'contactId' AS contact_id,
           e.c OPERATOR(pg_catalog.->>) 'firstName' AS first_name,
           e.c OPERATOR(pg_catalog.->>) 'lastName' AS last_name,
           CASE WHEN pg_catalog.jsonb_typeof(e.c OPERATOR(pg_catalog.->) 'fields') OPERATOR(pg_catalog.=) 'object'
                THEN e.c OPERATOR(pg_catalog.->) 'fields' END AS attributes,
           (SELECT pg_catalog.jsonb_object_agg(ch.type, ch.vals)
              FROM (SELECT x OPERATOR(pg_catalog.->>) 'type' AS type,
                           pg_catalog.jsonb_agg(x OPERATOR(pg_catalog.->) 'value') AS vals
                      FROM pg_catalog.jsonb_array_elements(
                               CASE WHEN pg_catalog.jsonb_typeof(e.c OPERATOR(pg_catalog.->) 'channels')
                                         OPERATOR(pg_catalog.=) 'array'
                                    THEN e.c OPERATOR(pg_catalog.->) 'channels' ELSE '[]' END) AS x
                     WHERE pg_catalog.jsonb_typeof(x OPERATOR(pg_catalog.->) 'type') OPERATOR(pg_catalog.=) 'string'
                     GROUP BY 1) AS ch) AS identifiers,
           CASE WHEN pg_catalog.jsonb_typeof(e.c) OPERATOR(pg_catalog.<>) 'object'
                THEN pg_catalog.format('a contact must be a JSON object, not %s', pg_catalog.jsonb_typeof(e.c))
                WHEN pg_catalog.jsonb_typeof(e.c OPERATOR(pg_catalog.->) 'channels')
                     OPERATOR(pg_catalog.<>) ALL (ARRAY['array', 'null'])
                THEN 'channels must be an array of {"type": ..., "value": ...}'
                WHEN EXISTS (SELECT FROM pg_catalog.jsonb_array_elements(
                                 CASE WHEN pg_catalog.jsonb_typeof(e.c OPERATOR(pg_catalog.->) 'channels')
                                           OPERATOR(pg_catalog.=) 'array'
                                      THEN e.c OPERATOR(pg_catalog.->) 'channels' ELSE '[]' END) AS x
                             WHERE pg_catalog.jsonb_typeof(x OPERATOR(pg_catalog.->) 'type')
                                   IS DISTINCT FROM 'string')
                THEN 'each channel must be {"type": ..., "value": ...} with a type name'
                WHEN pg_catalog.jsonb_typeof(e.c OPERATOR(pg_catalog.->) 'fields')
                     OPERATOR(pg_catalog.<>) ALL (ARRAY['object', 'null'])
                THEN 'fields must be a JSON object'
           END AS _contact_identity_error
    FROM pg_catalog.jsonb_array_elements(contacts) WITH ORDINALITY AS e(c, ord);
    RETURN QUERY SELECT * FROM contact_identity.import_contacts(
        'pg_temp.contact_identity_json_source'::pg_catalog.regclass,
        import_contacts_json.dedupe_on, import_contacts_json.restore_deleted,
        import_contacts_json.clear_nulls, import_contacts_json.account_id);
    DROP TABLE pg_temp.contact_identity_json_source;
END
$$;

CREATE OR REPLACE FUNCTION contact_identity.create_segment(name text, rule jsonb, account_id bigint DEFAULT 0)
RETURNS regclass
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM contact_identity.require_writable('create_segment');
    PERFORM contact_identity.segment_check_name(name);
    IF rule IS NULL THEN
        RAISE EXCEPTION 'rule must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM contact_identity.require_account(account_id, 'admin');
    BEGIN
        INSERT INTO contact_identity.segments (name, account_id, rule)
        VALUES (create_segment.name, create_segment.account_id, create_segment.rule);
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'segment "%" already exists', name USING ERRCODE = '42710',
            HINT = 'Segment names are unique in the database. Change its rule with replace_segment, or choose another name.';
    END;
    EXECUTE 'CREATE ' OPERATOR(pg_catalog.||) contact_identity.segment_view_sql(name, rule, account_id);
    EXECUTE pg_catalog.format('GRANT SELECT ON contact_identity_segments.%I TO contact_identity_reader', name);
    EXECUTE pg_catalog.format('COMMENT ON VIEW contact_identity_segments.%I IS %L', name,
        pg_catalog.format('segment of account %s; its rule is in contact_identity.segments', account_id));
    RETURN pg_catalog.format('contact_identity_segments.%I', name)::regclass;
END
$$;

CREATE OR REPLACE FUNCTION contact_identity.replace_segment(name text, rule jsonb)
RETURNS regclass
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    segment contact_identity.segments;
BEGIN
    PERFORM contact_identity.require_writable('replace_segment');
    segment := contact_identity.segment_row(name, 'admin');
    IF rule IS NULL THEN
        RAISE EXCEPTION 'rule must not be null' USING ERRCODE = '22004';
    END IF;
    EXECUTE 'CREATE OR REPLACE ' OPERATOR(pg_catalog.||) contact_identity.segment_view_sql(name, rule, segment.account_id);
    UPDATE contact_identity.segments s SET rule = replace_segment.rule, updated_at = pg_catalog.now()
    WHERE s.name OPERATOR(pg_catalog.=) replace_segment.name;
    RETURN pg_catalog.format('contact_identity_segments.%I', name)::regclass;
END
$$;

CREATE OR REPLACE FUNCTION contact_identity.drop_segment(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM contact_identity.require_writable('drop_segment');
    PERFORM contact_identity.segment_row(name, 'admin');
    EXECUTE pg_catalog.format('DROP VIEW contact_identity_segments.%I', name);
    DELETE FROM contact_identity.segments s WHERE s.name OPERATOR(pg_catalog.=) drop_segment.name;
END
$$;

CREATE OR REPLACE FUNCTION contact_identity.create_export_publication(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM contact_identity.require_writable('create_export_publication');
    IF name IS NULL THEN
        RAISE EXCEPTION 'name must not be null' USING ERRCODE = '22004';
    END IF;
    IF name OPERATOR(pg_catalog.=) '' OR pg_catalog.octet_length(name) OPERATOR(pg_catalog.>) 63 THEN
        RAISE EXCEPTION 'invalid publication name "%"', pg_catalog.left(name, 100) USING ERRCODE = '22023',
            DETAIL = 'A publication name has 1 to 63 bytes.';
    END IF;
    EXECUTE pg_catalog.format('CREATE PUBLICATION %I FOR TABLE contact_identity.contacts, contact_identity.identifiers',
                              name);
END
$$;

CREATE OR REPLACE FUNCTION contact_identity.grant_account(role name, account_id bigint, level text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
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
    INSERT INTO contact_identity.account_grants (role, account_id, level)
    VALUES (grant_account.role, grant_account.account_id, grant_account.level)
    ON CONFLICT ON CONSTRAINT account_grants_pkey DO UPDATE SET level = EXCLUDED.level, granted_at = pg_catalog.now();
END
$$;

CREATE OR REPLACE FUNCTION contact_identity.revoke_account(role name, account_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM contact_identity.require_writable('revoke_account');
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM contact_identity.require_account(revoke_account.account_id, 'admin');
    DELETE FROM contact_identity.account_grants g
    WHERE g.role OPERATOR(pg_catalog.=) revoke_account.role AND g.account_id OPERATOR(pg_catalog.=) revoke_account.account_id;
    RETURN FOUND;
END
$$;

-- ==== Unicode emails ====

-- ==== Possible duplicates without statistics ====

-- ==== Roles and SECURITY DEFINER ====

-- ==== Comments ====
