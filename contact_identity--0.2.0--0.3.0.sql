-- contact_identity 0.2.0 -> 0.3.0: unmerge_contact.
\echo Use "ALTER EXTENSION contact_identity UPDATE TO '0.3.0'" to load this file. \quit

-- Unmerging is part of the record.
ALTER TABLE contact_identity.identity_log DROP CONSTRAINT identity_log_action_check;
ALTER TABLE contact_identity.identity_log ADD CONSTRAINT identity_log_action_check
    CHECK (action OPERATOR(pg_catalog.=) ANY (ARRAY[
        'created', 'updated', 'restored', 'deleted', 'merged', 'unmerged',
        'external_id_assigned', 'identifier_attached', 'identifier_detached',
        'identifier_moved', 'identifier_remembered', 'events_attached', 'purged']));
COMMENT ON CONSTRAINT identity_log_action_check ON contact_identity.identity_log IS 'the actions the log knows';
COMMENT ON COLUMN contact_identity.identity_log.action IS
    'created, updated, restored, deleted, merged, unmerged, external_id_assigned, identifier_attached, identifier_detached, identifier_moved, identifier_remembered, events_attached or purged';
COMMENT ON COLUMN contact_identity.identity_log.other_contact_id IS
    'merged: the contact merged in; unmerged: the contact it had been merged into; identifier_moved: the previous holder';

CREATE FUNCTION contact_identity.unmerge_contact(loser bigint, account_id bigint DEFAULT 0)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'ci_unmerge_contact'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET jit = off;
COMMENT ON FUNCTION contact_identity.unmerge_contact(bigint, bigint) IS
    'reverses the merge of a contact, automatic or explicit, from identity_log: it gets back the identifiers, events and values it brought, the winner keeps what it gained since; returns what went back';

-- How many identifiers an unmerge gave the loser: those it took from the
-- winner and those it found free again.
CREATE FUNCTION contact_identity.unmerged_identifiers(detail jsonb, loser bigint)
RETURNS bigint
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.jsonb_array_length(detail OPERATOR(pg_catalog.->) 'identifiers')
         OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*)
             FROM pg_catalog.jsonb_array_elements(detail OPERATOR(pg_catalog.->) 'given_back') AS g
             WHERE (g OPERATOR(pg_catalog.->>) 'contact_id')::bigint OPERATOR(pg_catalog.=) loser)
$$;
COMMENT ON FUNCTION contact_identity.unmerged_identifiers(jsonb, bigint) IS
    'for explain_contact: how many identifiers the unmerge logged with this detail gave back to the loser';

-- explain_contact learns the words for an unmerge, and leaves out the event
-- IDs a merge records for unmerge_contact (its count stays).
DROP FUNCTION contact_identity.explain_contact(bigint, bigint);
CREATE FUNCTION contact_identity.explain_contact(contact_id bigint, account_id bigint DEFAULT 0)
RETURNS TABLE (at timestamptz, what text, detail jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF explain_contact.contact_id IS NULL THEN
        RAISE EXCEPTION 'contact_id must not be null' USING ERRCODE = '22004';
    END IF;
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
             WHEN l.action OPERATOR(pg_catalog.=) 'merged' AND l.other_contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id
               THEN pg_catalog.format('merged into contact %s', l.contact_id)
             WHEN l.action OPERATOR(pg_catalog.=) 'unmerged' AND l.other_contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id
               THEN pg_catalog.format('contact %s unmerged from this one: %s identifier(s) and %s event(s) went back',
                                      l.contact_id, contact_identity.unmerged_identifiers(l.detail, l.contact_id),
                                      l.detail OPERATOR(pg_catalog.->>) 'events')
             WHEN l.action OPERATOR(pg_catalog.=) 'identifier_moved' AND l.other_contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id
               THEN pg_catalog.format('%s %s moved to contact %s', l.identifier_type, l.identifier_value, l.contact_id)
             ELSE CASE l.action
               WHEN 'created' THEN 'profile created'
               WHEN 'updated' THEN 'profile updated'
               WHEN 'restored' THEN 'profile restored'
               WHEN 'deleted' THEN 'profile deleted'
               WHEN 'merged' THEN pg_catalog.format('contact %s merged into this one%s', l.other_contact_id,
                   CASE WHEN (l.detail OPERATOR(pg_catalog.->>) 'explicit')::boolean THEN ' by merge_contacts'
                        ELSE '' END)
               WHEN 'unmerged' THEN pg_catalog.format('unmerged from contact %s: %s identifier(s) and %s event(s) came back',
                                                      l.other_contact_id,
                                                      contact_identity.unmerged_identifiers(l.detail, l.contact_id),
                                                      l.detail OPERATOR(pg_catalog.->>) 'events')
               WHEN 'external_id_assigned' THEN pg_catalog.format('external ID %s assigned', l.identifier_value)
               WHEN 'identifier_attached' THEN pg_catalog.format('%s %s attached', l.identifier_type, l.identifier_value)
               WHEN 'identifier_detached' THEN pg_catalog.format('%s %s detached', l.identifier_type, l.identifier_value)
               WHEN 'identifier_moved' THEN pg_catalog.format('%s %s moved here from contact %s', l.identifier_type,
                                                              l.identifier_value, l.other_contact_id)
               WHEN 'events_attached' THEN pg_catalog.format('%s anonymous event(s) attached',
                                                             l.detail OPERATOR(pg_catalog.->>) 'events')
               ELSE l.action
             END
           END
           OPERATOR(pg_catalog.||) CASE WHEN l.matched_by IS NOT NULL AND l.contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id
                    THEN pg_catalog.format(', matched by %s', l.matched_by) ELSE '' END,
           pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
               'action', l.action, 'matched_by', l.matched_by, 'identifier_type', l.identifier_type,
               'identifier_value', l.identifier_value, 'other_contact_id', l.other_contact_id))
             OPERATOR(pg_catalog.||) (COALESCE(l.detail, '{}'::jsonb) OPERATOR(pg_catalog.-) 'event_ids'::text)
    FROM contact_identity.identity_log l
    WHERE l.account_id OPERATOR(pg_catalog.=) explain_contact.account_id
      AND (l.contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id
           OR (l.other_contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id
               AND l.action OPERATOR(pg_catalog.=) ANY (ARRAY['merged', 'unmerged', 'identifier_moved'])))
    ORDER BY l.log_id;
END
$$;
COMMENT ON FUNCTION contact_identity.explain_contact(bigint, bigint) IS
    'the profile''s history from identity_log, oldest first, in words a support agent can read, with the facts as JSON';
