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

-- Attaching a visitor's history is part of the record.
ALTER TABLE contact_identity.identity_log DROP CONSTRAINT identity_log_action_check;
ALTER TABLE contact_identity.identity_log ADD CONSTRAINT identity_log_action_check
    CHECK (action OPERATOR(pg_catalog.=) ANY (ARRAY[
        'created', 'updated', 'restored', 'deleted', 'merged',
        'external_id_assigned', 'identifier_attached', 'identifier_detached',
        'identifier_moved', 'identifier_remembered', 'events_attached']));
COMMENT ON CONSTRAINT identity_log_action_check ON contact_identity.identity_log IS 'the actions the log knows';
COMMENT ON COLUMN contact_identity.identity_log.action IS
    'created, updated, restored, deleted, merged, external_id_assigned, identifier_attached, identifier_detached, identifier_moved, identifier_remembered or events_attached';

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
