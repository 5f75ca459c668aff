-- contact_identity 0.1.0 -> 0.2.0: explicit merges.
\echo Use "ALTER EXTENSION contact_identity UPDATE TO '0.2.0'" to load this file. \quit

CREATE FUNCTION contact_identity.merge_contacts(winner bigint, loser bigint, force boolean DEFAULT false,
                                                account_id bigint DEFAULT 0)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ci_merge_contacts'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET jit = off;
COMMENT ON FUNCTION contact_identity.merge_contacts(bigint, bigint, boolean, bigint) IS
    'merges two profiles an admin knows are one person into the winner, whose contact ID it returns; refused when both have an external ID unless force';
