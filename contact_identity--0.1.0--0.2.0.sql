-- contact_identity 0.1.0 -> 0.2.0: explicit merges, events and anonymous history.
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

-- Events and anonymous history ---------------------------------------------

CREATE TABLE contact_identity.events (
    account_id  bigint NOT NULL CHECK (account_id OPERATOR(pg_catalog.>=) 0),
    event_id    bigint GENERATED ALWAYS AS IDENTITY,
    event_type  text NOT NULL CHECK (event_type OPERATOR(pg_catalog.<>) ''),
    payload     jsonb NOT NULL DEFAULT '{}'
                CHECK (pg_catalog.jsonb_typeof(payload) OPERATOR(pg_catalog.=) 'object'),
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    contact_id  bigint,
    PRIMARY KEY (account_id, event_id),
    FOREIGN KEY (account_id, contact_id) REFERENCES contact_identity.contacts (account_id, contact_id)
);
CREATE INDEX events_contact_idx ON contact_identity.events (account_id, contact_id, occurred_at, event_id)
    WHERE contact_id IS NOT NULL;
COMMENT ON TABLE contact_identity.events IS
    'what a person did (an order, a page view); an event nobody is known for yet is anonymous history, attached when one of its identifiers is linked to a contact';
COMMENT ON COLUMN contact_identity.events.contact_id IS
    'the contact it belongs to; NULL while anonymous (its identifiers are in event_keys)';
COMMENT ON COLUMN contact_identity.events.occurred_at IS 'when it happened, as the caller says';
COMMENT ON COLUMN contact_identity.events.recorded_at IS 'when track_event stored it';
COMMENT ON INDEX contact_identity.events_contact_idx IS 'a contact''s events in time order';

CREATE TABLE contact_identity.event_keys (
    account_id bigint NOT NULL,
    type       text NOT NULL,
    value      text NOT NULL,
    event_id   bigint NOT NULL,
    PRIMARY KEY (account_id, type, value, event_id),
    FOREIGN KEY (account_id, event_id) REFERENCES contact_identity.events (account_id, event_id) ON DELETE CASCADE
);
COMMENT ON TABLE contact_identity.event_keys IS
    'the normalized identifiers an anonymous event carries; removed when the event is attached to a contact';

-- Attaching a visitor's history, and purging a person, are part of the record.
ALTER TABLE contact_identity.identity_log DROP CONSTRAINT identity_log_action_check;
ALTER TABLE contact_identity.identity_log ADD CONSTRAINT identity_log_action_check
    CHECK (action OPERATOR(pg_catalog.=) ANY (ARRAY[
        'created', 'updated', 'restored', 'deleted', 'merged',
        'external_id_assigned', 'identifier_attached', 'identifier_detached',
        'identifier_moved', 'identifier_remembered', 'events_attached', 'purged']));
COMMENT ON CONSTRAINT identity_log_action_check ON contact_identity.identity_log IS 'the actions the log knows';
COMMENT ON COLUMN contact_identity.identity_log.action IS
    'created, updated, restored, deleted, merged, external_id_assigned, identifier_attached, identifier_detached, identifier_moved, identifier_remembered, events_attached or purged';

SELECT pg_catalog.pg_extension_config_dump('contact_identity.events', '');
SELECT pg_catalog.pg_extension_config_dump('contact_identity.event_keys', '');
SELECT pg_catalog.pg_extension_config_dump('contact_identity.events_event_id_seq', '');

CREATE FUNCTION contact_identity.track_event(
    event_type text,
    payload jsonb DEFAULT '{}',
    external_id text DEFAULT NULL,
    email text DEFAULT NULL,
    phone text DEFAULT NULL,
    identifiers jsonb DEFAULT NULL,
    occurred_at timestamptz DEFAULT pg_catalog.now(),
    account_id bigint DEFAULT 0)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ci_track_event'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET jit = off;
COMMENT ON FUNCTION contact_identity.track_event(text, jsonb, text, text, text, jsonb, timestamptz, bigint) IS
    'records an event for the contact its identifiers find (never creating one), or as anonymous history under those identifiers; returns the event ID';

CREATE FUNCTION contact_identity.contact_events(
    contact_id bigint,
    since timestamptz DEFAULT NULL,
    max_rows integer DEFAULT 100,
    account_id bigint DEFAULT 0)
RETURNS TABLE (event_id bigint, event_type text, payload jsonb, occurred_at timestamptz, recorded_at timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target bigint := contact_events.contact_id;
    next_id bigint;
BEGIN
    IF contact_events.contact_id IS NULL THEN
        RAISE EXCEPTION 'contact_id must not be null' USING ERRCODE = '22004';
    END IF;
    IF max_rows IS NULL OR max_rows OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'invalid max_rows %', COALESCE(max_rows::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Pass a number of rows of 1 or more.';
    END IF;
    -- A merged contact's events went to the contact it was merged into.
    FOR hop IN 1..1000 LOOP
        SELECT c.merged_into INTO next_id FROM contact_identity.contacts c
        WHERE c.account_id OPERATOR(pg_catalog.=) contact_events.account_id
          AND c.contact_id OPERATOR(pg_catalog.=) target;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'contact % does not exist', contact_events.contact_id USING ERRCODE = 'P0002',
                DETAIL = pg_catalog.format('Account %s has no contact %s.', contact_events.account_id, target),
                HINT = 'Check contact_id and account_id.';
        END IF;
        EXIT WHEN next_id IS NULL;
        target := next_id;
    END LOOP;
    RETURN QUERY
    SELECT e.event_id, e.event_type, e.payload, e.occurred_at, e.recorded_at
    FROM contact_identity.events e
    WHERE e.account_id OPERATOR(pg_catalog.=) contact_events.account_id
      AND e.contact_id OPERATOR(pg_catalog.=) target
      AND (since IS NULL OR e.occurred_at OPERATOR(pg_catalog.>=) since)
    ORDER BY e.occurred_at DESC, e.event_id DESC
    LIMIT max_rows;
END
$$;
COMMENT ON FUNCTION contact_identity.contact_events(bigint, timestamptz, integer, bigint) IS
    'a contact''s events, newest first, including those recorded before it existed and those of contacts merged into it';

-- Explaining a profile -------------------------------------------------------

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
             OPERATOR(pg_catalog.||) COALESCE(l.detail, '{}'::jsonb)
    FROM contact_identity.identity_log l
    WHERE l.account_id OPERATOR(pg_catalog.=) explain_contact.account_id
      AND (l.contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id
           OR (l.other_contact_id OPERATOR(pg_catalog.=) explain_contact.contact_id
               AND l.action OPERATOR(pg_catalog.=) ANY (ARRAY['merged', 'identifier_moved'])))
    ORDER BY l.log_id;
END
$$;
COMMENT ON FUNCTION contact_identity.explain_contact(bigint, bigint) IS
    'the profile''s history from identity_log, oldest first, in words a support agent can read, with the facts as JSON';

-- The log of one contact as explain_contact reads it, and the other side of
-- merges and moves.
CREATE INDEX identity_log_other_idx ON contact_identity.identity_log (account_id, other_contact_id, log_id)
    WHERE other_contact_id IS NOT NULL;
COMMENT ON INDEX contact_identity.identity_log_other_idx IS
    'log rows naming a contact as the other side (merged into, identifier moved away), for explain_contact';

-- Limits per contact -----------------------------------------------------------

ALTER TABLE contact_identity.identifier_types ADD COLUMN max_per_contact integer;
ALTER TABLE contact_identity.identifier_types ADD CONSTRAINT identifier_types_max_per_contact_check
    CHECK (max_per_contact IS NULL
           OR (max_per_contact OPERATOR(pg_catalog.>) 0 AND class OPERATOR(pg_catalog.=) 'changeable'));
COMMENT ON COLUMN contact_identity.identifier_types.max_per_contact IS
    'how many identifiers of this type one contact keeps; past it the longest known (first_seen_at) is detached and logged; NULL: no limit (permanent types have none)';
COMMENT ON CONSTRAINT identifier_types_max_per_contact_check ON contact_identity.identifier_types IS
    'limits are positive and only for changeable types: a merged contact keeps every email and phone';
UPDATE contact_identity.identifier_types SET max_per_contact = 10 WHERE builtin AND name IN ('mobile_push', 'web_push');
UPDATE contact_identity.identifier_types SET max_per_contact = 50 WHERE builtin AND name = 'cookie';

-- Purge: the right to be forgotten ---------------------------------------------

-- The key of the keyed hashes that stand in for a purged person's values in
-- identity_log. One per database, 32 random bytes made by the first purge,
-- kept by pg_dump so that hashes stay comparable after a restore (made at
-- install instead, it would collide with the restored one), readable by
-- nobody but its owner.
CREATE TABLE contact_identity.secrets (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    hmac_key  bytea NOT NULL CHECK (pg_catalog.length(hmac_key) OPERATOR(pg_catalog.>=) 32)
);
REVOKE ALL ON contact_identity.secrets FROM PUBLIC;
COMMENT ON TABLE contact_identity.secrets IS
    'the per-database key of the HMAC-SHA256 hashes purge_contact leaves in identity_log; one row';
COMMENT ON COLUMN contact_identity.secrets.hmac_key IS '32 random bytes from pg_strong_random, made by the first purge';
SELECT pg_catalog.pg_extension_config_dump('contact_identity.secrets', '');

-- Finding the tombstones merged into a contact.
CREATE INDEX contacts_merged_into_idx ON contact_identity.contacts (account_id, merged_into)
    WHERE merged_into IS NOT NULL;
COMMENT ON INDEX contact_identity.contacts_merged_into_idx IS
    'the contacts merged into a contact, for purge_contact and the merged_into foreign key';

CREATE FUNCTION contact_identity.purge_contact(contact_id bigint, account_id bigint DEFAULT 0)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'ci_purge_contact'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET jit = off;
COMMENT ON FUNCTION contact_identity.purge_contact(bigint, bigint) IS
    'erases a person: the contact and the contacts merged into it, their identifiers (free again), events and failed import rows; identity_log keeps keyed hashes in place of their values; returns what was erased';
