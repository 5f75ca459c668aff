-- contact_identity 0.5.1 -> 0.5.2: production hardening (issue 14).
\echo Use "ALTER EXTENSION contact_identity UPDATE TO '0.5.2'" to load this file. \quit

-- ==== Regions per account ====
-- A phone written without a country code is read in a region. The session
-- setting contact_identity.default_region does not survive a connection
-- pooler in transaction mode (the next transaction may run in another
-- session, with another client's setting), so the region of an account is
-- kept with the account, and the setting is only the fallback for accounts
-- without one (set it per database or role, not per session).

CREATE FUNCTION contact_identity.is_region(region text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ci_is_region'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION contact_identity.is_region(text) IS
    'whether libphonenumber knows a region code (ISO 3166, upper case, such as UA or US)';

CREATE TABLE contact_identity.account_settings (
    account_id     bigint PRIMARY KEY,
    default_region text NOT NULL CHECK (default_region OPERATOR(pg_catalog.=) pg_catalog.upper(default_region)
                                        AND contact_identity.is_region(default_region)),
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE contact_identity.account_settings IS
    'per-account settings, kept in every backend''s memory until they change; set with set_account_region';
COMMENT ON COLUMN contact_identity.account_settings.account_id IS 'the account the settings are for';
COMMENT ON COLUMN contact_identity.account_settings.default_region IS
    'the region of the account''s phones written without a country code; before contact_identity.default_region';
COMMENT ON COLUMN contact_identity.account_settings.updated_at IS 'when the settings last changed';
SELECT pg_catalog.pg_extension_config_dump('contact_identity.account_settings', '');

CREATE TRIGGER account_settings_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON contact_identity.account_settings
    FOR EACH STATEMENT EXECUTE FUNCTION contact_identity.config_changed();
COMMENT ON TRIGGER account_settings_changed ON contact_identity.account_settings IS
    'tells every backend to read the account settings again';
ALTER TABLE contact_identity.account_settings ENABLE ALWAYS TRIGGER account_settings_changed;

ALTER TABLE contact_identity.account_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY granted_accounts ON contact_identity.account_settings FOR SELECT
    USING (account_id OPERATOR(pg_catalog.=) ANY ((SELECT contact_identity.readable_accounts())::pg_catalog.int8[]));
COMMENT ON POLICY granted_accounts ON contact_identity.account_settings IS 'a role reads the accounts it has a grant on';
GRANT SELECT ON contact_identity.account_settings TO contact_identity_reader;

CREATE FUNCTION contact_identity.set_account_region(account_id bigint, region text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    code text := pg_catalog.upper(pg_catalog.btrim(region));
BEGIN
    PERFORM contact_identity.require_writable('set_account_region');
    IF account_id IS NULL THEN
        RAISE EXCEPTION 'account_id must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM contact_identity.require_account(set_account_region.account_id, 'admin');
    IF code IS NULL OR code OPERATOR(pg_catalog.=) '' THEN
        DELETE FROM contact_identity.account_settings s
        WHERE s.account_id OPERATOR(pg_catalog.=) set_account_region.account_id;
        RETURN NULL;
    END IF;
    IF NOT contact_identity.is_region(code) THEN
        RAISE EXCEPTION 'invalid region "%"', pg_catalog.left(region, 100)
            USING ERRCODE = '22023',
            DETAIL = 'libphonenumber knows no region of that code.',
            HINT = 'Use an ISO 3166 code such as ''UA'' or ''US'', or NULL to use contact_identity.default_region.';
    END IF;
    INSERT INTO contact_identity.account_settings AS s (account_id, default_region)
    VALUES (set_account_region.account_id, code)
    ON CONFLICT ON CONSTRAINT account_settings_pkey
    DO UPDATE SET default_region = EXCLUDED.default_region, updated_at = EXCLUDED.updated_at;
    RETURN code;
END
$$;
COMMENT ON FUNCTION contact_identity.set_account_region(bigint, text) IS
    'sets the region of an account''s phones written without a country code (NULL: back to contact_identity.default_region); returns it; for admins';
REVOKE ALL ON FUNCTION contact_identity.set_account_region(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contact_identity.set_account_region(bigint, text) TO contact_identity_admin;
REVOKE ALL ON FUNCTION contact_identity.is_region(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contact_identity.is_region(text) TO contact_identity_reader;

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

-- From 0.5.2 an email's local part is stored in NFC and lower case (ICU),
-- and control and format characters (Cf: bidi controls, zero-width
-- characters, the soft hyphen...) are refused in every identifier; a "lower"
-- type's values are NFC and lower case too (docs/identity-rules.md,
-- "Unicode in identifiers"). Rows stored before are not rewritten here: a
-- changed key is a decision (it can join two contacts, or free a value) and
-- goes through the write path and its log. unnormalized_identifiers() lists
-- the stored values that 0.5.2 would look up differently, or refuses, with
-- what to do about each; the update warns when there are any.

-- What this library's normalizer makes of a stored value (normalized), or
-- why it refuses it (refused); never raises for a bad value.
CREATE FUNCTION contact_identity.identifier_normal_form(type text, normalizer text, value text,
    OUT normalized text, OUT refused text)
RETURNS record
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ci_identifier_normal_form';
COMMENT ON FUNCTION contact_identity.identifier_normal_form(text, text, text) IS
    'the stored form this library''s normalizer gives a value of an identifier type, or the error refusing it; for unnormalized_identifiers';

-- Like verify(): no row means every stored identifier is what a request
-- for it looks up. ASCII values are skipped: 0.5.1 stored them in the form
-- 0.5.2 gives them. A value whose normal form its own contact holds too is
-- not listed: requests find that contact.
CREATE FUNCTION contact_identity.unnormalized_identifiers(account_id bigint DEFAULT NULL)
RETURNS TABLE (account_id bigint, contact_id bigint, type text, value text, normalized text, problem text,
               detail text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    -- The caller's grant first, before anything is read, as verify() does.
    SELECT contact_identity.verify_scope(unnormalized_identifiers.account_id);
    WITH scope AS MATERIALIZED (
        SELECT contact_identity.verify_scope(unnormalized_identifiers.account_id) AS accounts),
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
$$;
COMMENT ON FUNCTION contact_identity.unnormalized_identifiers(bigint) IS
    'stored identifiers (from before 0.5.2) that requests no longer find as stored: not_normalized (nobody holds the normal form), normalized_held (another holds it) or refused (a format character); no row means none';

REVOKE ALL ON FUNCTION contact_identity.identifier_normal_form(text, text, text),
    contact_identity.unnormalized_identifiers(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contact_identity.unnormalized_identifiers(bigint) TO contact_identity_admin;

-- Says so when the database holds any such identifier (never on a new
-- install: its tables are empty), as a WARNING: an extension script shows
-- nothing less. Reads every non-ASCII identifier once.
DO $$
BEGIN
    IF EXISTS (SELECT FROM contact_identity.identifiers i
               JOIN contact_identity.identifier_types t ON t.name OPERATOR(pg_catalog.=) i.type
               CROSS JOIN LATERAL contact_identity.identifier_normal_form(i.type, t.normalizer, i.value) f
               WHERE i.value OPERATOR(pg_catalog.~) '[^\x01-\x7f]'
                 AND f.normalized IS DISTINCT FROM i.value) THEN
        RAISE WARNING 'some stored identifiers differ from the form contact_identity 0.5.2 gives them'
            USING DETAIL = 'Emails are now compared in NFC and lower case, and format characters are refused.',
                  HINT = 'SELECT * FROM contact_identity.unnormalized_identifiers() lists them, with what to do in docs/identity-rules.md.';
    END IF;
END
$$;

-- ==== Possible duplicates without statistics ====
-- After a restore, before ANALYZE, the planner takes every table for a few
-- rows (deleted_at IS NULL AND merged_into IS NULL alone gives 1 of
-- 100,000) and nested-loops the sets against themselves: the 0.5.0 view ran
-- past 10 minutes on 132,000 contacts. The pairs now come from groups
-- (a mailbox, or a name and birth date, shared by more than one live
-- contact: a hash or a sort whatever the estimates), the two contacts of a
-- phone given up are looked up by their key, and nested loops are off for
-- the rest (a misestimated hash join costs a few extra batches, a
-- misestimated nested loop the product of both sides). 100,000 restored
-- contacts, no ANALYZE: about 2 s (test/scripts/restore_duplicates.sh).
DROP VIEW contact_identity.possible_duplicates;

CREATE FUNCTION contact_identity.possible_duplicates_of(account_id bigint)
RETURNS TABLE (account_id bigint, contact_id bigint, other_contact_id bigint, reason text, detail jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET enable_nestloop = off
SET jit = off
AS $$
WITH mailbox_groups AS (
    SELECT i.account_id, contact_identity.email_mailbox(i.value) AS mailbox,
           pg_catalog.array_agg(i.contact_id ORDER BY i.contact_id, i.value) AS contact_ids,
           pg_catalog.array_agg(i.value ORDER BY i.contact_id, i.value) AS emails
    FROM contact_identity.identifiers i
    JOIN contact_identity.contacts c ON c.account_id OPERATOR(pg_catalog.=) i.account_id
                                    AND c.contact_id OPERATOR(pg_catalog.=) i.contact_id
    WHERE i.type OPERATOR(pg_catalog.=) 'email' AND c.deleted_at IS NULL AND c.merged_into IS NULL
      AND (possible_duplicates_of.account_id IS NULL OR i.account_id OPERATOR(pg_catalog.=) possible_duplicates_of.account_id)
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
      AND (possible_duplicates_of.account_id IS NULL OR c.account_id OPERATOR(pg_catalog.=) possible_duplicates_of.account_id)
    GROUP BY c.account_id, pg_catalog.lower(c.first_name), pg_catalog.lower(c.last_name),
             c.attributes OPERATOR(pg_catalog.->>) 'birth_date'
    HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1
       AND pg_catalog.lower(c.first_name) IS NOT NULL AND pg_catalog.lower(c.last_name) IS NOT NULL
       AND c.attributes OPERATOR(pg_catalog.->>) 'birth_date' IS NOT NULL),
detached_phones AS MATERIALIZED (
    SELECT l.account_id, s.contact_id, s.identifier_value AS phone
    FROM contact_identity.identity_log l
    CROSS JOIN LATERAL contact_identity.log_steps(l) s
    WHERE (l.action OPERATOR(pg_catalog.=) 'identifier_detached' OR l.detail OPERATOR(pg_catalog.?) 'detached')
      AND s.action OPERATOR(pg_catalog.=) 'identifier_detached' AND s.identifier_type OPERATOR(pg_catalog.=) 'phone'
      AND (possible_duplicates_of.account_id IS NULL OR l.account_id OPERATOR(pg_catalog.=) possible_duplicates_of.account_id)),
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
      AND (possible_duplicates_of.account_id IS NULL OR u.account_id OPERATOR(pg_catalog.=) possible_duplicates_of.account_id))
SELECT p.account_id, p.contact_id, p.other_contact_id, p.reason, p.detail
FROM pairs p
WHERE NOT EXISTS (SELECT FROM unmerged u
                  WHERE u.account_id OPERATOR(pg_catalog.=) p.account_id
                    AND u.contact_id OPERATOR(pg_catalog.=) p.contact_id
                    AND u.other_contact_id OPERATOR(pg_catalog.=) p.other_contact_id)
$$;
COMMENT ON FUNCTION contact_identity.possible_duplicates_of(bigint) IS
    'the pairs of possible_duplicates of one account (NULL: every account the caller reads), planned safely without statistics';

CREATE VIEW contact_identity.possible_duplicates WITH (security_invoker = true) AS
SELECT d.account_id, d.contact_id, d.other_contact_id, d.reason, d.detail
FROM contact_identity.possible_duplicates_of(NULL) d;
COMMENT ON VIEW contact_identity.possible_duplicates IS
    'pairs of live contacts that are probably one person though no key joins them (same_mailbox, same_phone, same_name_and_birth_date), for review and merge_contacts; pairs once unmerged are left out';
REVOKE ALL ON FUNCTION contact_identity.possible_duplicates_of(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contact_identity.possible_duplicates_of(bigint) TO contact_identity_reader;
GRANT SELECT ON contact_identity.possible_duplicates TO contact_identity_reader;

-- ==== Roles and SECURITY DEFINER ====
-- The three roles were made "when missing" (0.3.0): a role of that name
-- made before the extension was installed, by whoever could create roles,
-- was adopted, and its members got the rights of every account granted to
-- it. A fresh install now refuses a role it did not make, unless an
-- administrator opts in. A role made by contact_identity carries its
-- comment and none of the attributes it never gives; that is how a second
-- database of the cluster recognizes the roles the first one made. (An
-- update from an earlier version keeps the roles it has.)
DO $$
DECLARE
    r record;
    adopt boolean := pg_catalog.current_setting('contact_identity.adopt_existing_roles', true)
                     OPERATOR(pg_catalog.=) ANY (ARRAY['on', 'true', 'yes', '1']);
    comments text[] := ARRAY[
        'contact_identity: resolve, get, explain, events, segments and exports of the accounts granted',
        'contact_identity: reader, plus upsert, assign, delete, import and track_event',
        'contact_identity: writer, plus merge, unmerge, purge, identifier types, blocked values, segments and account grants'];
BEGIN
    -- Only a fresh install: the row type of its contacts table is this
    -- transaction's (pg_class rows change with every ALTER TABLE of an
    -- update; the table's type row does not).
    IF (SELECT pg_catalog.age(t.xmin) FROM pg_catalog.pg_type t
        WHERE t.oid OPERATOR(pg_catalog.=) 'contact_identity.contacts'::pg_catalog.regtype) OPERATOR(pg_catalog.<>) 0 THEN
        RETURN;
    END IF;
    FOR r IN SELECT a.rolname, k.comment,
                    pg_catalog.shobj_description(a.oid, 'pg_authid') AS description,
                    a.rolcanlogin OR a.rolsuper OR a.rolcreaterole OR a.rolcreatedb OR a.rolreplication
                        OR a.rolbypassrls AS has_attributes
             FROM pg_catalog.pg_authid a
             JOIN ROWS FROM (pg_catalog.unnest(ARRAY['contact_identity_reader', 'contact_identity_writer',
                                                     'contact_identity_admin']),
                             pg_catalog.unnest(comments)) AS k(rolname, comment)
                  ON k.rolname OPERATOR(pg_catalog.=) a.rolname
             -- Made before this transaction, so not by this install.
             WHERE pg_catalog.age(a.xmin) OPERATOR(pg_catalog.<>) 0
    LOOP
        CONTINUE WHEN r.description IS NOT DISTINCT FROM r.comment AND NOT r.has_attributes;
        IF NOT adopt THEN
            RAISE EXCEPTION 'role "%" already exists and was not made by contact_identity', r.rolname
                USING ERRCODE = '42710',
                DETAIL = 'Its members would get the rights of every account granted to it'
                         OPERATOR(pg_catalog.||) CASE WHEN r.has_attributes
                             THEN ', and it has attributes contact_identity never gives (LOGIN, SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS).'
                             ELSE '.' END,
                HINT = 'Drop or rename the role, or, if it was made for contact_identity, run SET contact_identity.adopt_existing_roles = on before CREATE EXTENSION.';
        END IF;
        RAISE WARNING 'adopting the existing role "%" (contact_identity.adopt_existing_roles is on)', r.rolname;
        EXECUTE pg_catalog.format('COMMENT ON ROLE %I IS %L', r.rolname, r.comment);
    END LOOP;
END
$$;

-- The functions that run as the extension's owner, each for the same
-- reason: it reads or writes the tables, which no other role may write,
-- after checking the calling role's grant on the account. 0.3.0 made them
-- so with a loop over every function but a list; this is the list, by
-- name, so that a reader sees it and docs/security.md can match it
-- (test/scripts/definers.sh). A function added since says SECURITY DEFINER
-- on its own definition, or is not one.
ALTER FUNCTION contact_identity.resolve_contact(text, text, text, jsonb, bigint, boolean) SECURITY DEFINER;
ALTER FUNCTION contact_identity.upsert_contact(text, text, text, jsonb, text, text, jsonb, bigint, bigint, text, boolean) SECURITY DEFINER;
ALTER FUNCTION contact_identity.assign_external_id(bigint, text, bigint) SECURITY DEFINER;
ALTER FUNCTION contact_identity.delete_contact(bigint, bigint) SECURITY DEFINER;
ALTER FUNCTION contact_identity.import_contacts(regclass, text, boolean, boolean, bigint) SECURITY DEFINER;
ALTER FUNCTION contact_identity.import_contacts_json(jsonb, text, boolean, boolean, bigint) SECURITY DEFINER;
ALTER FUNCTION contact_identity.merge_contacts(bigint, bigint, boolean, bigint) SECURITY DEFINER;
ALTER FUNCTION contact_identity.unmerge_contact(bigint, bigint) SECURITY DEFINER;
ALTER FUNCTION contact_identity.purge_contact(bigint, bigint) SECURITY DEFINER;
ALTER FUNCTION contact_identity.track_event(text, jsonb, text, text, text, jsonb, timestamptz, bigint) SECURITY DEFINER;
ALTER FUNCTION contact_identity.get_contact(bigint, bigint) SECURITY DEFINER;
ALTER FUNCTION contact_identity.explain_contact(bigint, bigint) SECURITY DEFINER;
ALTER FUNCTION contact_identity.contact_events(bigint, timestamptz, integer, bigint) SECURITY DEFINER;
ALTER FUNCTION contact_identity.export_changes(timestamptz, bigint) SECURITY DEFINER;
ALTER FUNCTION contact_identity.verify(bigint) SECURITY DEFINER;
ALTER FUNCTION contact_identity.create_segment(text, jsonb, bigint) SECURITY DEFINER;
ALTER FUNCTION contact_identity.replace_segment(text, jsonb) SECURITY DEFINER;
ALTER FUNCTION contact_identity.drop_segment(text) SECURITY DEFINER;
ALTER FUNCTION contact_identity.segment_members(text) SECURITY DEFINER;
ALTER FUNCTION contact_identity.segment_count(text) SECURITY DEFINER;
ALTER FUNCTION contact_identity.segment_row(text, text) SECURITY DEFINER;
ALTER FUNCTION contact_identity.segment_rule_sql(jsonb) SECURITY DEFINER;
ALTER FUNCTION contact_identity.segment_view_sql(text, jsonb, bigint) SECURITY DEFINER;
ALTER FUNCTION contact_identity.grant_account(name, bigint, text) SECURITY DEFINER;
ALTER FUNCTION contact_identity.revoke_account(name, bigint) SECURITY DEFINER;
ALTER FUNCTION contact_identity.require_account(bigint, text) SECURITY DEFINER;
ALTER FUNCTION contact_identity.readable_accounts() SECURITY DEFINER;

-- ==== Comments ====
-- Every table column and the schemas have a comment (0.5.1 left 52 of the
-- table columns and the schema contact_identity without one). Comments on
-- 0.5.1's functions that said "E.164" now say that an extension is kept.
COMMENT ON SCHEMA contact_identity IS
    'contact_identity: one profile per person; its tables, views and functions';
COMMENT ON COLUMN contact_identity.account_grants.role IS 'the role (with its members) the grant is for';
COMMENT ON COLUMN contact_identity.account_grants.account_id IS 'the account the role may use';
COMMENT ON COLUMN contact_identity.account_grants.level IS 'reader, writer or admin; each includes the ones before';
COMMENT ON COLUMN contact_identity.account_grants.granted_at IS 'when the grant was made or last changed';
COMMENT ON COLUMN contact_identity.blocked_values.blocked_id IS 'the row''s number; blocked values are checked in this order';
COMMENT ON COLUMN contact_identity.blocked_values.is_pattern IS 'whether value is a regular expression (~*) rather than a value compared after lower()';
COMMENT ON COLUMN contact_identity.blocked_values.reason IS 'why the value is blocked, shown in the NOTICE of a dropped identifier';
COMMENT ON COLUMN contact_identity.contacts.contact_id IS 'the contact''s number within its account, from contacts_contact_id_seq';
COMMENT ON COLUMN contact_identity.contacts.first_name IS 'the first name, as last written';
COMMENT ON COLUMN contact_identity.contacts.last_name IS 'the last name, as last written';
COMMENT ON COLUMN contact_identity.contacts.created_at IS 'when the contact was created';
COMMENT ON COLUMN contact_identity.contacts.updated_at IS 'when the contact last changed: a write, a merge, a delete or a restore';
COMMENT ON COLUMN contact_identity.event_keys.account_id IS 'the account of the event';
COMMENT ON COLUMN contact_identity.event_keys.type IS 'the identifier type, as in identifiers';
COMMENT ON COLUMN contact_identity.event_keys.value IS 'the identifier''s normalized value';
COMMENT ON COLUMN contact_identity.event_keys.event_id IS 'the anonymous event that carries it';
COMMENT ON COLUMN contact_identity.events.account_id IS 'the account the event belongs to';
COMMENT ON COLUMN contact_identity.events.event_id IS 'the event''s number, from events_event_id_seq';
COMMENT ON COLUMN contact_identity.events.event_type IS 'what happened, as the application names it (order, page_view, ...)';
COMMENT ON COLUMN contact_identity.events.payload IS 'the event''s data, a JSON object';
COMMENT ON COLUMN contact_identity.identifier_types.name IS 'the type''s name, as written in the identifiers argument (email, phone, mobile_push, ...)';
COMMENT ON COLUMN contact_identity.identifier_types.description IS 'what the type is, for people';
COMMENT ON COLUMN contact_identity.identifiers.account_id IS 'the account of the identifier';
COMMENT ON COLUMN contact_identity.identifiers.type IS 'the identifier type (identifier_types.name)';
COMMENT ON COLUMN contact_identity.identifiers.first_seen_at IS 'when the value was first attached to a contact in this account';
COMMENT ON COLUMN contact_identity.identity_log.account_id IS 'the account of the decision';
COMMENT ON COLUMN contact_identity.identity_log.log_id IS 'the row''s number, from identity_log_log_id_seq: the order of the decisions';
COMMENT ON COLUMN contact_identity.identity_log.logged_at IS 'when the decision was written (its transactions start)';
COMMENT ON COLUMN contact_identity.identity_log.contact_id IS 'the contact the decision left the request on; NULL once purged';
COMMENT ON COLUMN contact_identity.import_errors.account_id IS 'the account of the import';
COMMENT ON COLUMN contact_identity.import_errors.import_id IS 'the import (imports.import_id)';
COMMENT ON COLUMN contact_identity.import_errors.row_number IS 'the source row: its row_number column, else its position in the source';
COMMENT ON COLUMN contact_identity.import_errors.sqlstate IS 'the SQLSTATE that refused the row (22xxx, 23xxx, or the rules'' own)';
COMMENT ON COLUMN contact_identity.import_errors.message IS 'the error, naming the column and the value';
COMMENT ON COLUMN contact_identity.imports.account_id IS 'the account the import writes to';
COMMENT ON COLUMN contact_identity.imports.import_id IS 'the import''s number, from imports_import_id_seq';
COMMENT ON COLUMN contact_identity.imports.dedupe_on IS 'the key that finds a row''s contact: external_id, email or phone';
COMMENT ON COLUMN contact_identity.imports.batch_size IS 'source rows per committed batch';
COMMENT ON COLUMN contact_identity.imports.restore_deleted IS 'whether a row that matches a deleted contact restores it';
COMMENT ON COLUMN contact_identity.imports.clear_nulls IS 'whether a NULL column clears the stored value (else it keeps it)';
COMMENT ON COLUMN contact_identity.imports.rows_total IS 'the source''s row count when the import started, NULL when not counted';
COMMENT ON COLUMN contact_identity.imports.created IS 'rows that created a contact';
COMMENT ON COLUMN contact_identity.imports.updated IS 'rows that updated a contact';
COMMENT ON COLUMN contact_identity.imports.restored IS 'rows that restored a deleted contact';
COMMENT ON COLUMN contact_identity.imports.merged IS 'rows that merged contacts';
COMMENT ON COLUMN contact_identity.imports.failed IS 'rows refused, each in import_errors';
COMMENT ON COLUMN contact_identity.imports.started_at IS 'when the import started';
COMMENT ON COLUMN contact_identity.secrets.singleton IS 'always true: the table has one row';
COMMENT ON COLUMN contact_identity.segments.account_id IS 'the account whose contacts the segment selects';
COMMENT ON COLUMN contact_identity.segments.created_at IS 'when create_segment made it';
COMMENT ON COLUMN contact_identity.segments.updated_at IS 'when replace_segment last changed its rule';
COMMENT ON COLUMN contact_identity.contacts.phone IS
    'primary phone: E.164, with ";ext=" and the extension when it has one; also held in identifiers';
COMMENT ON FUNCTION contact_identity.normalize_phone(text, text) IS
    'the phone as contact_identity stores it (E.164, with ";ext=" and the extension when it has one); numbers without country code are read in region, else contact_identity.default_region';
