-- contact_identity 0.5.1 -> 0.5.2: production hardening (issue 14).
\echo Use "ALTER EXTENSION contact_identity UPDATE TO '0.5.2'" to load this file. \quit

-- ==== Regions per account ====

-- ==== Imports: environmental errors, cancel and interrupted imports ====

-- ==== Writes refused on a standby or in a read-only transaction ====

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

-- ==== Roles and SECURITY DEFINER ====

-- ==== Comments ====
