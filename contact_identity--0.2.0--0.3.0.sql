-- contact_identity 0.2.0 -> 0.3.0: unmerge_contact, segments and exports.
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

-- Built-in segments -------------------------------------------------------------

-- The seed's "Fields -> External ID -> is empty" segment, counted from its
-- partial index.
CREATE VIEW contact_identity.contacts_without_external_id AS
SELECT c.* FROM contact_identity.contacts c
WHERE c.external_id IS NULL AND c.deleted_at IS NULL AND c.merged_into IS NULL;
COMMENT ON VIEW contact_identity.contacts_without_external_id IS
    'every live contact without an external ID, new ones included as they arrive';
CREATE INDEX contacts_without_external_id_idx ON contact_identity.contacts (account_id, contact_id)
    WHERE external_id IS NULL AND deleted_at IS NULL AND merged_into IS NULL;
COMMENT ON INDEX contact_identity.contacts_without_external_id_idx IS
    'the members of contacts_without_external_id: a count is an index-only scan';

CREATE VIEW contact_identity.contacts_anonymous AS
SELECT c.* FROM contact_identity.contacts c
WHERE c.external_id IS NULL AND c.email IS NULL AND c.phone IS NULL
  AND c.deleted_at IS NULL AND c.merged_into IS NULL
  AND NOT EXISTS (SELECT FROM contact_identity.identifiers i
                  JOIN contact_identity.identifier_types t ON t.name OPERATOR(pg_catalog.=) i.type
                  WHERE i.account_id OPERATOR(pg_catalog.=) c.account_id
                    AND i.contact_id OPERATOR(pg_catalog.=) c.contact_id
                    AND t.class OPERATOR(pg_catalog.<>) 'changeable');
COMMENT ON VIEW contact_identity.contacts_anonymous IS
    'live contacts known only by changeable identifiers (push tokens, cookies): no external ID, email, phone or other permanent identifier';

CREATE VIEW contact_identity.contacts_deleted AS
SELECT c.* FROM contact_identity.contacts c
WHERE c.deleted_at IS NOT NULL AND c.merged_into IS NULL;
COMMENT ON VIEW contact_identity.contacts_deleted IS
    'deleted contacts (not merged ones): they keep their identifiers, and a request with restore_deleted brings them back';

CREATE FUNCTION contact_identity.email_mailbox(email text)
RETURNS text
AS 'MODULE_PATHNAME', 'ci_email_mailbox'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION contact_identity.email_mailbox(text) IS
    'the mailbox a stored email delivers to: the +tag dropped, and for Gmail the dots, with the domain gmail.com';

-- Pairs of live contacts that are probably one person though no key joins
-- them, for a person to review and merge; a pair once unmerged is one an
-- admin has already told apart, and is not proposed again.
CREATE VIEW contact_identity.possible_duplicates AS
WITH live AS (
    SELECT c.account_id, c.contact_id, c.first_name, c.last_name, c.attributes
    FROM contact_identity.contacts c
    WHERE c.deleted_at IS NULL AND c.merged_into IS NULL),
mailboxes AS (
    SELECT i.account_id, i.contact_id, i.value, contact_identity.email_mailbox(i.value) AS mailbox
    FROM contact_identity.identifiers i
    JOIN live l ON l.account_id OPERATOR(pg_catalog.=) i.account_id AND l.contact_id OPERATOR(pg_catalog.=) i.contact_id
    WHERE i.type OPERATOR(pg_catalog.=) 'email'),
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
    SELECT DISTINCT l.account_id, LEAST(l.contact_id, i.contact_id), GREATEST(l.contact_id, i.contact_id),
           'same_phone', pg_catalog.jsonb_build_object('phone', i.value)
    FROM contact_identity.identity_log l
    JOIN contact_identity.identifiers i ON i.account_id OPERATOR(pg_catalog.=) l.account_id
                                       AND i.type OPERATOR(pg_catalog.=) l.identifier_type
                                       AND i.value OPERATOR(pg_catalog.=) l.identifier_value
    JOIN live a ON a.account_id OPERATOR(pg_catalog.=) l.account_id AND a.contact_id OPERATOR(pg_catalog.=) l.contact_id
    JOIN live b ON b.account_id OPERATOR(pg_catalog.=) i.account_id AND b.contact_id OPERATOR(pg_catalog.=) i.contact_id
    WHERE l.action OPERATOR(pg_catalog.=) 'identifier_detached' AND l.identifier_type OPERATOR(pg_catalog.=) 'phone'
      AND i.contact_id OPERATOR(pg_catalog.<>) l.contact_id
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

-- Segments -------------------------------------------------------------------------

-- Each segment is a view here, named after it.
CREATE SCHEMA contact_identity_segments;
COMMENT ON SCHEMA contact_identity_segments IS
    'one view per segment, named after it: made by create_segment, changed by replace_segment, dropped by drop_segment';

CREATE TABLE contact_identity.segments (
    name       text PRIMARY KEY
               CHECK (name OPERATOR(pg_catalog.<>) '' AND pg_catalog.octet_length(name) OPERATOR(pg_catalog.<=) 63),
    account_id bigint NOT NULL CHECK (account_id OPERATOR(pg_catalog.>=) 0),
    rule       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE contact_identity.segments IS
    'dynamic segments: a rule over one account''s live contacts, shown by the view contact_identity_segments.<name>';
COMMENT ON COLUMN contact_identity.segments.name IS 'unique in the database: it names the view';
COMMENT ON COLUMN contact_identity.segments.rule IS 'the rule in the segment rule language (docs/segments.md)';
SELECT pg_catalog.pg_extension_config_dump('contact_identity.segments', '');

CREATE FUNCTION contact_identity.segment_rule_sql(rule jsonb)
RETURNS text
AS 'MODULE_PATHNAME', 'ci_segment_rule_sql'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION contact_identity.segment_rule_sql(jsonb) IS
    'the SQL condition a segment rule compiles to, over a row c of contacts; an error naming the JSON path of an invalid rule';

-- The definition of a segment's view.
CREATE FUNCTION contact_identity.segment_view_sql(name text, rule jsonb, account_id bigint)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN pg_catalog.format(
        'VIEW contact_identity_segments.%I WITH (security_invoker = true) AS SELECT c.* FROM contact_identity.contacts c'
        ' WHERE c.account_id OPERATOR(pg_catalog.=) %s AND c.deleted_at IS NULL AND c.merged_into IS NULL AND (%s)',
        segment_view_sql.name, segment_view_sql.account_id, contact_identity.segment_rule_sql(segment_view_sql.rule));
END
$$;
COMMENT ON FUNCTION contact_identity.segment_view_sql(text, jsonb, bigint) IS
    'the view of a segment: the account''s live contacts the rule selects (used by create_segment and replace_segment)';

-- The checks every segment function makes on its name.
CREATE FUNCTION contact_identity.segment_check_name(name text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'name must not be null' USING ERRCODE = '22004';
    END IF;
    IF name OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'segment name must not be empty' USING ERRCODE = '22023',
            DETAIL = 'A segment name names its view.';
    END IF;
    IF pg_catalog.octet_length(name) OPERATOR(pg_catalog.>) 63 THEN
        RAISE EXCEPTION 'segment name "%..." is too long', pg_catalog.left(name, 20) USING ERRCODE = '22023',
            DETAIL = pg_catalog.format('A segment name names its view: at most 63 bytes; this one has %s.',
                                       pg_catalog.octet_length(name)),
            HINT = 'Choose a shorter name.';
    END IF;
END
$$;
COMMENT ON FUNCTION contact_identity.segment_check_name(text) IS
    'raises the error for a segment name that cannot name a view (NULL, empty, over 63 bytes)';

-- The segment's row once the calling role may use its account at level;
-- the error for an unknown segment or a missing grant.
CREATE FUNCTION contact_identity.segment_row(name text, level text)
RETURNS contact_identity.segments
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    segment contact_identity.segments;
BEGIN
    PERFORM contact_identity.segment_check_name(name);
    SELECT * INTO segment FROM contact_identity.segments s WHERE s.name OPERATOR(pg_catalog.=) segment_row.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'segment "%" does not exist', name USING ERRCODE = 'P0002',
            HINT = 'contact_identity.segments lists the segments; create_segment makes one.';
    END IF;
    PERFORM contact_identity.require_account(segment.account_id, segment_row.level);
    RETURN segment;
END
$$;
COMMENT ON FUNCTION contact_identity.segment_row(text, text) IS
    'the segments row of a segment the calling role may use at level; an error when there is none or no grant';

CREATE FUNCTION contact_identity.create_segment(name text, rule jsonb, account_id bigint DEFAULT 0)
RETURNS regclass
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
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
COMMENT ON FUNCTION contact_identity.create_segment(text, jsonb, bigint) IS
    'stores a segment rule and creates its view contact_identity_segments.<name>, always current; returns the view';

CREATE FUNCTION contact_identity.replace_segment(name text, rule jsonb)
RETURNS regclass
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    segment contact_identity.segments := contact_identity.segment_row(name, 'admin');
BEGIN
    IF rule IS NULL THEN
        RAISE EXCEPTION 'rule must not be null' USING ERRCODE = '22004';
    END IF;
    EXECUTE 'CREATE OR REPLACE ' OPERATOR(pg_catalog.||) contact_identity.segment_view_sql(name, rule, segment.account_id);
    UPDATE contact_identity.segments s SET rule = replace_segment.rule, updated_at = pg_catalog.now()
    WHERE s.name OPERATOR(pg_catalog.=) replace_segment.name;
    RETURN pg_catalog.format('contact_identity_segments.%I', name)::regclass;
END
$$;
COMMENT ON FUNCTION contact_identity.replace_segment(text, jsonb) IS
    'gives a segment a new rule; its view keeps its name, so what depends on it keeps working';

CREATE FUNCTION contact_identity.drop_segment(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM contact_identity.segment_row(name, 'admin');
    EXECUTE pg_catalog.format('DROP VIEW contact_identity_segments.%I', name);
    DELETE FROM contact_identity.segments s WHERE s.name OPERATOR(pg_catalog.=) drop_segment.name;
END
$$;
COMMENT ON FUNCTION contact_identity.drop_segment(text) IS
    'drops a segment and its view (an error while other views depend on it)';

CREATE FUNCTION contact_identity.segment_members(name text)
RETURNS SETOF contact_identity.contacts
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM contact_identity.segment_row(name, 'reader');
    RETURN QUERY EXECUTE pg_catalog.format('SELECT * FROM contact_identity_segments.%I', name);
END
$$;
COMMENT ON FUNCTION contact_identity.segment_members(text) IS 'the contacts in a segment now';

CREATE FUNCTION contact_identity.segment_count(name text)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM contact_identity.segment_row(name, 'reader');
    EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM contact_identity_segments.%I', name) INTO n;
    RETURN n;
END
$$;
COMMENT ON FUNCTION contact_identity.segment_count(text) IS 'how many contacts are in a segment now';

-- Exports ------------------------------------------------------------------------

-- What a warehouse reads: one row per contact, merged tombstones and deleted
-- contacts included (merged_into and deleted_at say so).
CREATE VIEW contact_identity.contacts_export AS
SELECT c.contact_id, c.account_id, c.external_id, c.email, c.phone, c.first_name, c.last_name,
       COALESCE((SELECT pg_catalog.jsonb_object_agg(x.type, x.values_held)
                 FROM (SELECT i.type, pg_catalog.jsonb_agg(i.value ORDER BY i.attached_at, i.value) AS values_held
                       FROM contact_identity.identifiers i
                       JOIN contact_identity.identifier_types t ON t.name OPERATOR(pg_catalog.=) i.type
                       WHERE i.account_id OPERATOR(pg_catalog.=) c.account_id
                         AND i.contact_id OPERATOR(pg_catalog.=) c.contact_id
                         AND t.class OPERATOR(pg_catalog.<>) 'external'
                       GROUP BY i.type) x), '{}'::jsonb) AS identifiers,
       c.attributes, c.created_at, c.updated_at, c.deleted_at, c.merged_into
FROM contact_identity.contacts c;
COMMENT ON VIEW contact_identity.contacts_export IS
    'one row per contact for warehouse exports: primary values, every identifier as {"type": [values]} (external IDs aside), attributes, timestamps, merged_into';

-- Changes since a time: updated_at moves on every change of a profile or of
-- its identifiers, deletes and merges included.
CREATE INDEX contacts_updated_idx ON contact_identity.contacts (account_id, updated_at);
COMMENT ON INDEX contact_identity.contacts_updated_idx IS 'export_changes: the contacts changed since a time';
CREATE INDEX identity_log_purged_idx ON contact_identity.identity_log (account_id, logged_at)
    WHERE action OPERATOR(pg_catalog.=) 'purged';
COMMENT ON INDEX contact_identity.identity_log_purged_idx IS 'export_changes: the purges since a time';

CREATE FUNCTION contact_identity.export_changes(since timestamptz, account_id bigint DEFAULT 0)
RETURNS TABLE (change text, contact_id bigint, external_id text, email text, phone text, first_name text,
               last_name text, identifiers jsonb, attributes jsonb, created_at timestamptz, updated_at timestamptz,
               deleted_at timestamptz, merged_into bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF since IS NULL THEN
        RAISE EXCEPTION 'since must not be null' USING ERRCODE = '22004',
            HINT = 'Pass ''-infinity'' for every contact.';
    END IF;
    PERFORM contact_identity.require_account(export_changes.account_id, 'reader');
    RETURN QUERY
    SELECT CASE WHEN x.merged_into IS NOT NULL THEN 'merged'
                WHEN x.deleted_at IS NOT NULL THEN 'deleted' ELSE 'upserted' END,
           x.contact_id, x.external_id, x.email, x.phone, x.first_name, x.last_name, x.identifiers, x.attributes,
           x.created_at, x.updated_at, x.deleted_at, x.merged_into
    FROM contact_identity.contacts_export x
    WHERE x.account_id OPERATOR(pg_catalog.=) export_changes.account_id
      AND x.updated_at OPERATOR(pg_catalog.>) export_changes.since
    UNION ALL
    SELECT 'purged', l.contact_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, l.logged_at, NULL, NULL
    FROM contact_identity.identity_log l
    WHERE l.account_id OPERATOR(pg_catalog.=) export_changes.account_id
      AND l.action OPERATOR(pg_catalog.=) 'purged'
      AND l.logged_at OPERATOR(pg_catalog.>) export_changes.since
    ORDER BY 11, 2;
END
$$;
COMMENT ON FUNCTION contact_identity.export_changes(timestamptz, bigint) IS
    'contacts changed after since (upserted, deleted, merged), and purged ones, oldest change first: an incremental export';

CREATE FUNCTION contact_identity.create_export_publication(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
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
COMMENT ON FUNCTION contact_identity.create_export_publication(text) IS
    'creates a logical-replication publication of contacts and identifiers, for a subscriber that has the extension installed';

-- Privileges and accounts ------------------------------------------------------------

-- Which accounts a role may use, and how. Read only by the functions below.
CREATE TABLE contact_identity.account_grants (
    role       name NOT NULL,
    account_id bigint NOT NULL CHECK (account_id OPERATOR(pg_catalog.>=) 0),
    level      text NOT NULL CHECK (level OPERATOR(pg_catalog.=) ANY (ARRAY['reader', 'writer', 'admin'])),
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (role, account_id)
);
CREATE INDEX account_grants_account_idx ON contact_identity.account_grants (account_id);
COMMENT ON TABLE contact_identity.account_grants IS
    'the accounts each role may use: reader (read), writer (read and write), admin (also merge, unmerge, purge, segments, grants); members of the role have its grants';
COMMENT ON INDEX contact_identity.account_grants_account_idx IS 'the grants on one account, for every check';
SELECT pg_catalog.pg_extension_config_dump('contact_identity.account_grants', '');

CREATE FUNCTION contact_identity.calling_role()
RETURNS oid
AS 'MODULE_PATHNAME', 'ci_calling_role'
LANGUAGE C STABLE;
COMMENT ON FUNCTION contact_identity.calling_role() IS
    'the role a call is made for: the current role outside every SECURITY DEFINER function, not the owner it runs as';

CREATE FUNCTION contact_identity.require_account(account_id bigint, level text)
RETURNS void
AS 'MODULE_PATHNAME', 'ci_require_account'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION contact_identity.require_account(bigint, text) IS
    'raises 42501 unless the calling role is a superuser or has a grant of level (or more) on the account';

-- The accounts the calling role may read, for the row-level security
-- policies (a sub-select there runs once per query).
CREATE FUNCTION contact_identity.readable_accounts()
RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(pg_catalog.array_agg(DISTINCT g.account_id), '{}')
    FROM contact_identity.account_grants g
    JOIN pg_catalog.pg_roles r ON r.rolname OPERATOR(pg_catalog.=) g.role
    WHERE pg_catalog.pg_has_role(contact_identity.calling_role(), r.oid, 'MEMBER')
$$;
COMMENT ON FUNCTION contact_identity.readable_accounts() IS
    'the accounts the calling role has any grant on: what row-level security lets it read';

CREATE FUNCTION contact_identity.grant_account(role name, account_id bigint, level text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
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
COMMENT ON FUNCTION contact_identity.grant_account(name, bigint, text) IS
    'lets a role (and its members) use an account at a level: reader, writer or admin; for superusers and the account''s admins';

CREATE FUNCTION contact_identity.revoke_account(role name, account_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM contact_identity.require_account(revoke_account.account_id, 'admin');
    DELETE FROM contact_identity.account_grants g
    WHERE g.role OPERATOR(pg_catalog.=) revoke_account.role AND g.account_id OPERATOR(pg_catalog.=) revoke_account.account_id;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION contact_identity.revoke_account(name, bigint) IS
    'takes a role''s grant on an account away; false when it had none';

-- The functions of 0.1.0 and 0.2.0 that read by account get the same check
-- as the C ones: first of all, before they read anything.
DROP FUNCTION contact_identity.get_contact(bigint, bigint);
CREATE FUNCTION contact_identity.get_contact(contact_id bigint, account_id bigint DEFAULT 0)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT contact_identity.require_account(get_contact.account_id, 'reader');
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
                   WHERE i.account_id OPERATOR(pg_catalog.=) c.account_id
                     AND i.contact_id OPERATOR(pg_catalog.=) c.contact_id
                     AND t.class OPERATOR(pg_catalog.<>) 'external'), '[]'::jsonb),
               'fields', c.attributes,
               'createdAt', c.created_at,
               'updatedAt', c.updated_at,
               'deletedAt', c.deleted_at,
               'mergedInto', c.merged_into)
    FROM contact_identity.contacts c
    WHERE c.account_id OPERATOR(pg_catalog.=) get_contact.account_id
      AND c.contact_id OPERATOR(pg_catalog.=) get_contact.contact_id
$$;
COMMENT ON FUNCTION contact_identity.get_contact(bigint, bigint) IS
    'the profile in the API''s shape (contactId, externalCustomerId, firstName, lastName, channels, fields); NULL when unknown';

DROP FUNCTION contact_identity.contact_events(bigint, timestamptz, integer, bigint);
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
    IF max_rows IS NULL THEN
        RAISE EXCEPTION 'max_rows must not be null' USING ERRCODE = '22004', HINT = 'Pass a number of rows of 1 or more.';
    END IF;
    IF max_rows OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'invalid max_rows %', max_rows USING ERRCODE = '22023', HINT = 'Pass a number of rows of 1 or more.';
    END IF;
    PERFORM contact_identity.require_account(contact_events.account_id, 'reader');
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

-- The functions that read or write the tables run as the extension's owner;
-- each checks the calling role's grant on the account first. The C
-- functions and run_import check too (run_import, which commits, cannot be
-- SECURITY DEFINER: it switches to the owner between commits itself).
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::pg_catalog.regprocedure FROM pg_catalog.pg_proc p
             WHERE p.pronamespace OPERATOR(pg_catalog.=) 'contact_identity'::pg_catalog.regnamespace
               AND p.prokind OPERATOR(pg_catalog.=) 'f'
               AND p.proname OPERATOR(pg_catalog.<>) ALL (ARRAY['normalize_email', 'normalize_phone', 'email_mailbox',
                   'merge_attributes', 'calling_role', 'create_export_publication', 'segment_check_name',
                   'unmerged_identifiers'])
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SECURITY DEFINER', f);
    END LOOP;
END
$$;

-- Three roles, made when missing (roles belong to the cluster, not to the
-- database or the extension): what a role may call. Which accounts it may
-- use is in account_grants.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'contact_identity_reader') THEN
        CREATE ROLE contact_identity_reader NOLOGIN;
        COMMENT ON ROLE contact_identity_reader IS
            'contact_identity: resolve, get, explain, events, segments and exports of the accounts granted';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'contact_identity_writer') THEN
        CREATE ROLE contact_identity_writer NOLOGIN;
        COMMENT ON ROLE contact_identity_writer IS
            'contact_identity: reader, plus upsert, assign, delete, import and track_event';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'contact_identity_admin') THEN
        CREATE ROLE contact_identity_admin NOLOGIN;
        COMMENT ON ROLE contact_identity_admin IS
            'contact_identity: writer, plus merge, unmerge, purge, identifier types, blocked values, segments and account grants';
    END IF;
END
$$;
GRANT contact_identity_reader TO contact_identity_writer;
GRANT contact_identity_writer TO contact_identity_admin;

-- Nothing for PUBLIC.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::pg_catalog.regprocedure FROM pg_catalog.pg_proc p
             WHERE p.pronamespace OPERATOR(pg_catalog.=) 'contact_identity'::pg_catalog.regnamespace
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', f);
    END LOOP;
END
$$;
REVOKE ALL ON SCHEMA contact_identity, contact_identity_segments FROM PUBLIC;

GRANT USAGE ON SCHEMA contact_identity, contact_identity_segments TO contact_identity_reader;
GRANT EXECUTE ON FUNCTION
    contact_identity.resolve_contact(text, text, text, jsonb, bigint, boolean),
    contact_identity.get_contact(bigint, bigint),
    contact_identity.explain_contact(bigint, bigint),
    contact_identity.contact_events(bigint, timestamptz, integer, bigint),
    contact_identity.segment_members(text),
    contact_identity.segment_count(text),
    contact_identity.export_changes(timestamptz, bigint),
    contact_identity.normalize_email(text),
    contact_identity.normalize_phone(text, text),
    contact_identity.email_mailbox(text),
    contact_identity.calling_role(),
    contact_identity.readable_accounts()
    TO contact_identity_reader;
GRANT EXECUTE ON FUNCTION
    contact_identity.upsert_contact(text, text, text, jsonb, text, text, jsonb, bigint, bigint, text, boolean),
    contact_identity.assign_external_id(bigint, text, bigint),
    contact_identity.delete_contact(bigint, bigint),
    contact_identity.import_contacts(regclass, text, boolean, boolean, bigint),
    contact_identity.import_contacts_json(jsonb, text, boolean, boolean, bigint),
    contact_identity.track_event(text, jsonb, text, text, text, jsonb, timestamptz, bigint)
    TO contact_identity_writer;
GRANT EXECUTE ON PROCEDURE
    contact_identity.run_import(regclass, text, integer, boolean, boolean, bigint, bigint)
    TO contact_identity_writer;
GRANT EXECUTE ON FUNCTION
    contact_identity.merge_contacts(bigint, bigint, boolean, bigint),
    contact_identity.unmerge_contact(bigint, bigint),
    contact_identity.purge_contact(bigint, bigint),
    contact_identity.create_segment(text, jsonb, bigint),
    contact_identity.replace_segment(text, jsonb),
    contact_identity.drop_segment(text),
    contact_identity.grant_account(name, bigint, text),
    contact_identity.revoke_account(name, bigint)
    TO contact_identity_admin;

-- Readers read the views, which run as the reader (security_invoker), and
-- through them the tables, where row-level security shows the accounts
-- granted. Nobody but the owner writes these tables: only the functions do.
ALTER VIEW contact_identity.contacts_without_external_id SET (security_invoker = true);
ALTER VIEW contact_identity.contacts_anonymous SET (security_invoker = true);
ALTER VIEW contact_identity.contacts_deleted SET (security_invoker = true);
ALTER VIEW contact_identity.possible_duplicates SET (security_invoker = true);
ALTER VIEW contact_identity.contacts_export SET (security_invoker = true);
GRANT SELECT ON contact_identity.contacts_without_external_id, contact_identity.contacts_anonymous,
    contact_identity.contacts_deleted, contact_identity.possible_duplicates, contact_identity.contacts_export,
    contact_identity.contacts, contact_identity.identifiers, contact_identity.identity_log, contact_identity.events,
    contact_identity.event_keys, contact_identity.imports, contact_identity.import_errors, contact_identity.segments,
    contact_identity.identifier_types, contact_identity.blocked_values
    TO contact_identity_reader;
-- Identifier types and blocked values are the database's configuration,
-- with no account: admins change them directly.
GRANT INSERT, UPDATE, DELETE ON contact_identity.identifier_types, contact_identity.blocked_values
    TO contact_identity_admin;
GRANT USAGE ON SEQUENCE contact_identity.blocked_values_blocked_id_seq TO contact_identity_admin;

-- Row-level security on every table with an account: a role reads the
-- accounts it has a grant on (account_grants itself is read by no role).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['contacts', 'identifiers', 'identity_log', 'events', 'event_keys', 'imports',
                             'import_errors', 'segments', 'account_grants'] LOOP
        EXECUTE pg_catalog.format('ALTER TABLE contact_identity.%I ENABLE ROW LEVEL SECURITY', t);
        CONTINUE WHEN t OPERATOR(pg_catalog.=) 'account_grants';
        EXECUTE pg_catalog.format(
            'CREATE POLICY granted_accounts ON contact_identity.%I FOR SELECT USING (account_id'
            ' OPERATOR(pg_catalog.=) ANY ((SELECT contact_identity.readable_accounts())::pg_catalog.int8[]))', t);
        EXECUTE pg_catalog.format(
            'COMMENT ON POLICY granted_accounts ON contact_identity.%I IS %L', t,
            'a role reads the accounts it has a grant on');
    END LOOP;
END
$$;
