-- contact_identity 0.4.0 -> 0.5.0: one write path without foreign keys
-- between the extension's tables, one identity_log row per decision and
-- contact, and verify() to prove the invariants the write path keeps.
\echo Use "ALTER EXTENSION contact_identity UPDATE TO '0.5.0'" to load this file. \quit

-- No foreign keys between the extension's tables --------------------------------

-- They cost a check per row written, made pg_restore -j load events and
-- event_keys before the contacts they point at (and fail), and a table
-- with one cannot be distributed on its own. The write path keeps the same
-- invariants, and verify() below proves them.
ALTER TABLE contact_identity.identifiers DROP CONSTRAINT identifiers_type_fkey;
ALTER TABLE contact_identity.identifiers DROP CONSTRAINT identifiers_account_id_contact_id_fkey;
ALTER TABLE contact_identity.contacts DROP CONSTRAINT contacts_account_id_merged_into_fkey;
ALTER TABLE contact_identity.events DROP CONSTRAINT events_account_id_contact_id_fkey;
ALTER TABLE contact_identity.event_keys DROP CONSTRAINT event_keys_account_id_event_id_fkey;
ALTER TABLE contact_identity.import_errors DROP CONSTRAINT import_errors_account_id_import_id_fkey;
COMMENT ON INDEX contact_identity.contacts_merged_into_idx IS
    'the contacts merged into a contact, for purge_contact and verify';

-- An identifier type still in use can be neither deleted nor renamed, as
-- when identifiers referenced it.
CREATE FUNCTION contact_identity.identifier_type_in_use()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    held bigint;
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'TRUNCATE' THEN
        IF EXISTS (SELECT FROM contact_identity.identifiers) THEN
            RAISE EXCEPTION 'cannot truncate contact_identity.identifier_types: identifiers use its types'
                USING ERRCODE = '23503',
                      HINT = 'Delete the identifiers first, or delete only the types nobody uses.';
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' AND OLD.name OPERATOR(pg_catalog.=) NEW.name THEN
        RETURN NEW;
    END IF;
    SELECT pg_catalog.count(*) INTO held FROM contact_identity.identifiers i
    WHERE i.type OPERATOR(pg_catalog.=) OLD.name;
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
COMMENT ON FUNCTION contact_identity.identifier_type_in_use() IS
    'trigger of identifier_types: refuses to delete, rename or truncate types that identifiers use';
REVOKE ALL ON FUNCTION contact_identity.identifier_type_in_use() FROM PUBLIC;

CREATE TRIGGER identifier_types_in_use
    BEFORE UPDATE OR DELETE ON contact_identity.identifier_types
    FOR EACH ROW EXECUTE FUNCTION contact_identity.identifier_type_in_use();
COMMENT ON TRIGGER identifier_types_in_use ON contact_identity.identifier_types IS
    'an identifier type in use is neither deleted nor renamed';
ALTER TABLE contact_identity.identifier_types ENABLE ALWAYS TRIGGER identifier_types_in_use;
CREATE TRIGGER identifier_types_truncate
    BEFORE TRUNCATE ON contact_identity.identifier_types
    FOR EACH STATEMENT EXECUTE FUNCTION contact_identity.identifier_type_in_use();
COMMENT ON TRIGGER identifier_types_truncate ON contact_identity.identifier_types IS
    'identifier_types is not truncated while identifiers use its types';
ALTER TABLE contact_identity.identifier_types ENABLE ALWAYS TRIGGER identifier_types_truncate;

-- identity_log: one row per decision and contact ------------------------------------

-- From 0.5.0 a call writes one row for each contact it changes: the
-- winner's row says what happened to it (created, restored, merged,
-- updated, identifiers_changed) and lists in its detail the identifiers
-- attached, moved in or detached, the anonymous events attached and the
-- external ID assigned; a merged contact gets a merged_into row with what
-- it brought; a contact that lost a token to another gets an
-- identifiers_changed row naming the receiver. Rows written before keep
-- their shape (one step each, with identifier_type and identifier_value);
-- identity_log_steps shows both kinds one step per row.
ALTER TABLE contact_identity.identity_log DROP CONSTRAINT identity_log_action_check;
ALTER TABLE contact_identity.identity_log ADD CONSTRAINT identity_log_action_check
    CHECK (action OPERATOR(pg_catalog.=) ANY (ARRAY[
        'created', 'updated', 'restored', 'deleted', 'merged', 'merged_into', 'unmerged',
        'identifiers_changed', 'remembered', 'purged',
        -- the steps of rows written before 0.5.0
        'external_id_assigned', 'identifier_attached', 'identifier_detached',
        'identifier_moved', 'identifier_remembered', 'events_attached']));
COMMENT ON CONSTRAINT identity_log_action_check ON contact_identity.identity_log IS 'the actions the log knows';
COMMENT ON TABLE contact_identity.identity_log IS
    'append-only record of every identity decision, one row per decision and contact changed, so any profile can be explained';
COMMENT ON COLUMN contact_identity.identity_log.action IS
    'what happened to the contact: created, updated, restored, merged (it took others in), merged_into, unmerged, identifiers_changed, deleted, purged, remembered (no contact); rows before 0.5.0 also external_id_assigned, identifier_attached, identifier_detached, identifier_moved, identifier_remembered, events_attached';
COMMENT ON COLUMN contact_identity.identity_log.other_contact_id IS
    'merged_into and unmerged: the winner; identifiers_changed: the contact that took the identifiers; rows before 0.5.0: merged, the contact merged in, identifier_moved, the previous holder';
COMMENT ON COLUMN contact_identity.identity_log.identifier_type IS
    'rows before 0.5.0: the identifier concerned (later rows list identifiers in detail)';
COMMENT ON COLUMN contact_identity.identity_log.identifier_value IS
    'rows before 0.5.0: the identifier concerned (later rows list identifiers in detail)';
COMMENT ON COLUMN contact_identity.identity_log.detail IS
    'what the decision did and knew, as JSON: attached, moved, moved_to, detached, remembered (lists of {type, value, ...}), events_attached, external_id, merged, and for merged_into what the contact brought';
-- Purge finds a person's rows through their contacts, not their values.
DROP INDEX contact_identity.identity_log_identifier_idx;

-- Whether a row is a decision row of 0.5.0 on (its steps in detail) rather
-- than one step.
CREATE FUNCTION contact_identity.log_row_is_decision(l contact_identity.identity_log)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT l.detail IS NOT NULL
       AND (l.action OPERATOR(pg_catalog.=) ANY (ARRAY['created', 'updated', 'restored', 'identifiers_changed',
                                                       'remembered', 'unmerged'])
            OR (l.action OPERATOR(pg_catalog.=) 'merged' AND l.other_contact_id IS NULL))
$$;
COMMENT ON FUNCTION contact_identity.log_row_is_decision(contact_identity.identity_log) IS
    'true for the identity_log rows of 0.5.0 on that list their steps in detail; false for one-step rows';

-- A row of identity_log as the steps it records, each in the shape rows had
-- before 0.5.0 (one step each): created, identifier_attached, ... The rows
-- before 0.5.0 are their own one step; a merged_into row is the "merged"
-- step of the winner, with the contact merged in as the other side.
CREATE FUNCTION contact_identity.log_steps(l contact_identity.identity_log)
RETURNS TABLE (step integer, contact_id bigint, action text, matched_by text, identifier_type text,
               identifier_value text, other_contact_id bigint, detail jsonb, mirrored boolean)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT (pg_catalog.row_number() OVER (ORDER BY s.rank, s.ord))::integer,
           s.contact_id, s.action, s.matched_by, s.identifier_type, s.identifier_value, s.other_contact_id, s.detail,
           s.rank OPERATOR(pg_catalog.=) -2
    FROM (
        -- One step: a row written before 0.5.0, deleted, purged.
        SELECT 0 AS rank, 0::pg_catalog.int8 AS ord, l.contact_id, l.action, l.matched_by, l.identifier_type,
               l.identifier_value, l.other_contact_id, l.detail
        WHERE NOT contact_identity.log_row_is_decision(l) AND l.action OPERATOR(pg_catalog.<>) 'merged_into'
        UNION ALL
        SELECT 0, 0, l.other_contact_id, 'merged', l.matched_by, NULL, NULL, l.contact_id, l.detail
        WHERE l.action OPERATOR(pg_catalog.=) 'merged_into'
        UNION ALL
        -- A decision: its steps in the order the write made them.
        SELECT 1, 0, l.contact_id, l.action, NULL, NULL, NULL,
               CASE WHEN l.action OPERATOR(pg_catalog.=) 'unmerged' THEN l.other_contact_id END,
               CASE WHEN l.action OPERATOR(pg_catalog.=) 'unmerged'
                    THEN l.detail OPERATOR(pg_catalog.-) ARRAY['attached', 'detached', 'events_attached'] END
        WHERE contact_identity.log_row_is_decision(l) AND l.action OPERATOR(pg_catalog.=) ANY (ARRAY['created', 'unmerged'])
        UNION ALL
        SELECT 2, e.ord, l.contact_id, 'identifier_moved', l.matched_by, e.v OPERATOR(pg_catalog.->>) 'type',
               e.v OPERATOR(pg_catalog.->>) 'value', (e.v OPERATOR(pg_catalog.->>) 'from')::pg_catalog.int8, NULL
        FROM pg_catalog.jsonb_array_elements(l.detail OPERATOR(pg_catalog.->) 'moved') WITH ORDINALITY AS e(v, ord)
        WHERE contact_identity.log_row_is_decision(l)
        UNION ALL
        -- A token moved away: the receiver's row records the same step.
        SELECT -2, e.ord, (e.v OPERATOR(pg_catalog.->>) 'to')::pg_catalog.int8, 'identifier_moved', l.matched_by,
               e.v OPERATOR(pg_catalog.->>) 'type', e.v OPERATOR(pg_catalog.->>) 'value', l.contact_id, NULL
        FROM pg_catalog.jsonb_array_elements(l.detail OPERATOR(pg_catalog.->) 'moved_to') WITH ORDINALITY AS e(v, ord)
        WHERE contact_identity.log_row_is_decision(l)
        UNION ALL
        -- Detached: replaced by the request first; past a limit after the
        -- identifiers that pushed them out.
        SELECT CASE WHEN (e.v OPERATOR(pg_catalog.->>) 'reason') OPERATOR(pg_catalog.~~) 'over max_per_contact%' THEN 6 ELSE 3 END,
               e.ord, l.contact_id, 'identifier_detached', l.matched_by, e.v OPERATOR(pg_catalog.->>) 'type',
               e.v OPERATOR(pg_catalog.->>) 'value', NULL,
               NULLIF(e.v OPERATOR(pg_catalog.-) ARRAY['type', 'value'], '{}'::pg_catalog.jsonb)
        FROM pg_catalog.jsonb_array_elements(l.detail OPERATOR(pg_catalog.->) 'detached') WITH ORDINALITY AS e(v, ord)
        WHERE contact_identity.log_row_is_decision(l)
        UNION ALL
        SELECT 4, e.ord, l.contact_id, 'identifier_attached', l.matched_by, e.v OPERATOR(pg_catalog.->>) 'type',
               e.v OPERATOR(pg_catalog.->>) 'value', NULL,
               NULLIF(e.v OPERATOR(pg_catalog.-) ARRAY['type', 'value'], '{}'::pg_catalog.jsonb)
        FROM pg_catalog.jsonb_array_elements(l.detail OPERATOR(pg_catalog.->) 'attached') WITH ORDINALITY AS e(v, ord)
        WHERE contact_identity.log_row_is_decision(l)
        UNION ALL
        SELECT 4, e.ord, NULL, 'identifier_remembered', NULL, e.v OPERATOR(pg_catalog.->>) 'type',
               e.v OPERATOR(pg_catalog.->>) 'value', NULL, NULL
        FROM pg_catalog.jsonb_array_elements(l.detail OPERATOR(pg_catalog.->) 'remembered') WITH ORDINALITY AS e(v, ord)
        WHERE contact_identity.log_row_is_decision(l)
        UNION ALL
        SELECT 5, e.ord, l.contact_id, 'events_attached', NULL, NULL, NULL, NULL, e.v
        FROM pg_catalog.jsonb_array_elements(l.detail OPERATOR(pg_catalog.->) 'events_attached') WITH ORDINALITY AS e(v, ord)
        WHERE contact_identity.log_row_is_decision(l)
        UNION ALL
        SELECT 7, 0, l.contact_id,
               CASE WHEN l.action OPERATOR(pg_catalog.=) 'restored'
                         OR (l.detail OPERATOR(pg_catalog.->>) 'restored') OPERATOR(pg_catalog.=) 'true'
                    THEN 'restored' ELSE 'updated' END,
               l.matched_by, NULL, NULL, NULL, NULL
        WHERE contact_identity.log_row_is_decision(l)
          AND (l.action OPERATOR(pg_catalog.=) ANY (ARRAY['restored', 'updated'])
               OR (l.detail OPERATOR(pg_catalog.->>) 'restored') OPERATOR(pg_catalog.=) 'true'
               OR (l.detail OPERATOR(pg_catalog.->>) 'updated') OPERATOR(pg_catalog.=) 'true')
        UNION ALL
        SELECT 8, 0, l.contact_id, 'external_id_assigned', l.matched_by, 'external_id',
               l.detail OPERATOR(pg_catalog.->>) 'external_id',
               (l.detail OPERATOR(pg_catalog.->>) 'external_id_from')::pg_catalog.int8, NULL
        WHERE contact_identity.log_row_is_decision(l) AND l.detail OPERATOR(pg_catalog.?) 'external_id'
    ) AS s
$$;
COMMENT ON FUNCTION contact_identity.log_steps(contact_identity.identity_log) IS
    'the steps one identity_log row records, each in the one-step shape of rows before 0.5.0 (created, identifier_attached, identifier_moved, ...), in the order the write made them; mirrored: the step is the row of another contact too (a token moved away, seen from its previous holder)';


CREATE VIEW contact_identity.identity_log_steps AS
SELECT l.account_id, l.log_id, s.step, l.logged_at, s.contact_id, s.action, s.matched_by, s.identifier_type,
       s.identifier_value, s.other_contact_id, s.detail
FROM contact_identity.identity_log l
CROSS JOIN LATERAL contact_identity.log_steps(l) s
WHERE NOT s.mirrored;
COMMENT ON VIEW contact_identity.identity_log_steps IS
    'identity_log one step per row (created, identifier_attached, identifier_moved, merged, ...), rows of every version alike, in order by log_id and step';
ALTER VIEW contact_identity.identity_log_steps SET (security_invoker = true);

-- explain_contact reads the steps of every row that concerns the contact:
-- its own, and those that name it as the other side of a merge, an unmerge
-- or a move (rows before 0.5.0).
DROP FUNCTION contact_identity.explain_contact(bigint, bigint);
CREATE FUNCTION contact_identity.explain_contact(contact_id bigint, account_id bigint DEFAULT 0)
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
    CROSS JOIN LATERAL contact_identity.log_steps(l) s
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
COMMENT ON FUNCTION contact_identity.explain_contact(bigint, bigint) IS
    'the profile''s history from identity_log, oldest first, in words a support agent can read, with the facts as JSON';

-- possible_duplicates: the phones given up are read from the steps.
DROP VIEW contact_identity.possible_duplicates;
CREATE VIEW contact_identity.possible_duplicates WITH (security_invoker = true) AS
WITH live AS (
    SELECT c.account_id, c.contact_id, c.first_name, c.last_name, c.attributes
    FROM contact_identity.contacts c
    WHERE c.deleted_at IS NULL AND c.merged_into IS NULL),
mailboxes AS (
    SELECT i.account_id, i.contact_id, i.value, contact_identity.email_mailbox(i.value) AS mailbox
    FROM contact_identity.identifiers i
    JOIN live l ON l.account_id OPERATOR(pg_catalog.=) i.account_id AND l.contact_id OPERATOR(pg_catalog.=) i.contact_id
    WHERE i.type OPERATOR(pg_catalog.=) 'email'),
detached_phones AS (
    SELECT l.account_id, s.contact_id, s.identifier_value AS phone
    FROM contact_identity.identity_log l
    CROSS JOIN LATERAL contact_identity.log_steps(l) s
    WHERE (l.action OPERATOR(pg_catalog.=) 'identifier_detached' OR l.detail OPERATOR(pg_catalog.?) 'detached')
      AND s.action OPERATOR(pg_catalog.=) 'identifier_detached' AND s.identifier_type OPERATOR(pg_catalog.=) 'phone'),
pairs AS (
    SELECT a.account_id, a.contact_id, b.contact_id AS other_contact_id, 'same_mailbox' AS reason,
           pg_catalog.jsonb_build_object('email', a.value, 'other_email', b.value, 'mailbox', a.mailbox) AS detail
    FROM mailboxes a
    JOIN mailboxes b ON b.account_id OPERATOR(pg_catalog.=) a.account_id
                    AND b.mailbox OPERATOR(pg_catalog.=) a.mailbox
                    AND b.contact_id OPERATOR(pg_catalog.>) a.contact_id
    UNION ALL
    -- A phone one contact holds now that another gave up (replaced by a
    -- request): the same number with a different email.
    SELECT DISTINCT d.account_id, LEAST(d.contact_id, i.contact_id), GREATEST(d.contact_id, i.contact_id),
           'same_phone', pg_catalog.jsonb_build_object('phone', i.value)
    FROM detached_phones d
    JOIN contact_identity.identifiers i ON i.account_id OPERATOR(pg_catalog.=) d.account_id
                                       AND i.type OPERATOR(pg_catalog.=) 'phone'
                                       AND i.value OPERATOR(pg_catalog.=) d.phone
    JOIN live a ON a.account_id OPERATOR(pg_catalog.=) d.account_id AND a.contact_id OPERATOR(pg_catalog.=) d.contact_id
    JOIN live b ON b.account_id OPERATOR(pg_catalog.=) i.account_id AND b.contact_id OPERATOR(pg_catalog.=) i.contact_id
    WHERE i.contact_id OPERATOR(pg_catalog.<>) d.contact_id
    UNION ALL
    SELECT a.account_id, a.contact_id, b.contact_id, 'same_name_and_birth_date',
           pg_catalog.jsonb_build_object('first_name', a.first_name, 'last_name', a.last_name,
                                         'birth_date', a.attributes OPERATOR(pg_catalog.->>) 'birth_date')
    FROM live a
    JOIN live b ON b.account_id OPERATOR(pg_catalog.=) a.account_id
               AND b.contact_id OPERATOR(pg_catalog.>) a.contact_id
               AND pg_catalog.lower(b.first_name) OPERATOR(pg_catalog.=) pg_catalog.lower(a.first_name)
               AND pg_catalog.lower(b.last_name) OPERATOR(pg_catalog.=) pg_catalog.lower(a.last_name)
               AND (b.attributes OPERATOR(pg_catalog.->>) 'birth_date')
                   OPERATOR(pg_catalog.=) (a.attributes OPERATOR(pg_catalog.->>) 'birth_date'))
SELECT p.account_id, p.contact_id, p.other_contact_id, p.reason, p.detail
FROM pairs p
WHERE NOT EXISTS (SELECT FROM contact_identity.identity_log u
                  WHERE u.account_id OPERATOR(pg_catalog.=) p.account_id
                    AND u.action OPERATOR(pg_catalog.=) 'unmerged'
                    AND ((u.contact_id OPERATOR(pg_catalog.=) p.contact_id
                          AND u.other_contact_id OPERATOR(pg_catalog.=) p.other_contact_id)
                         OR (u.contact_id OPERATOR(pg_catalog.=) p.other_contact_id
                             AND u.other_contact_id OPERATOR(pg_catalog.=) p.contact_id)));
COMMENT ON VIEW contact_identity.possible_duplicates IS
    'pairs of live contacts that are probably one person though no key joins them (same_mailbox, same_phone, same_name_and_birth_date), for review and merge_contacts; pairs once unmerged are left out';

-- verify(): the invariants the write path keeps -------------------------------------

-- The accounts verify(account_id) may check: that one (for its admins), or
-- with NULL every account (NULL, for superusers) or every one the caller
-- administers.
CREATE FUNCTION contact_identity.verify_scope(account_id bigint)
RETURNS bigint[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    accounts bigint[];
BEGIN
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
COMMENT ON FUNCTION contact_identity.verify_scope(bigint) IS
    'the accounts verify checks: the one given (its admins only), or NULL (every one) for a superuser, else those the caller administers';

-- Like amcheck: no row means healthy. Each row names the account, the
-- contact (when there is one) and the invariant broken, with the facts.
CREATE FUNCTION contact_identity.verify(account_id bigint DEFAULT NULL)
RETURNS TABLE (account_id bigint, contact_id bigint, problem text, detail text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    -- The caller's grant first, before anything is read (below the scope is
    -- only evaluated where a row needs it).
    SELECT contact_identity.verify_scope(verify.account_id);
    WITH scope AS MATERIALIZED (SELECT contact_identity.verify_scope(verify.account_id) AS accounts),
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
$$;
COMMENT ON FUNCTION contact_identity.verify(bigint) IS
    'checks every invariant contact_identity keeps (holders exist and are not merged, primary values held, merge chains end, limits, events and anonymous history, creation logged, import errors) in one account or all you administer; no row means healthy';

-- Privileges of the new and replaced objects: as in 0.3.0, nothing for PUBLIC.
REVOKE ALL ON FUNCTION contact_identity.log_steps(contact_identity.identity_log),
    contact_identity.verify_scope(bigint),
    contact_identity.log_row_is_decision(contact_identity.identity_log),
    contact_identity.explain_contact(bigint, bigint),
    contact_identity.verify(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contact_identity.log_steps(contact_identity.identity_log),
    contact_identity.log_row_is_decision(contact_identity.identity_log),
    contact_identity.explain_contact(bigint, bigint)
    TO contact_identity_reader;
GRANT EXECUTE ON FUNCTION contact_identity.verify(bigint) TO contact_identity_admin;
GRANT SELECT ON contact_identity.identity_log_steps, contact_identity.possible_duplicates TO contact_identity_reader;
