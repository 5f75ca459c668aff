-- contact_identity 0.6.0 -> 0.7.0: the identity graph of a person (issue 16).
\echo Use "ALTER EXTENSION contact_identity UPDATE TO '0.7.0'" to load this file. \quit

-- ==== The identity graph ====
-- explain_contact(contact_id, account_id, format => 'dot' or 'mermaid')
-- draws what explain_contact(contact_id, account_id) tells in words: the
-- contact, the contacts merged into it (or it into), unmerged from it and
-- those an identifier moved to or from, its identifiers with when they
-- came and went, and the events that moved with a merge, an unmerge or a
-- signup (docs/identity-graph.md). It is an overload with a third argument
-- that has no default, so that explain_contact(5) and explain_contact(5, 7)
-- still find the two-argument function alone.
--
-- The reads are three plain queries of one account (the log steps, the
-- identifiers held, the contacts named), each one table, so that Citus
-- routes each to the account's shard; the graph is then built from their
-- results alone.

-- A text as a DOT quoted string: quotes and backslashes escaped, & as
-- &amp; (Graphviz reads HTML entities in labels), line breaks as \n (a
-- centred line), other control characters as spaces.
CREATE FUNCTION contact_identity.dot_quote(value text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT '"' OPERATOR(pg_catalog.||)
           pg_catalog.regexp_replace(
               pg_catalog.replace(
                   pg_catalog.replace(
                       pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(value, '&', '&amp;'),
                                                             E'\\', E'\\\\'), '"', E'\\"'),
                       E'\r\n', E'\n'),
                   E'\n', E'\\n'),
               '[[:cntrl:]]', ' ', 'g')
           OPERATOR(pg_catalog.||) '"'
$$;
COMMENT ON FUNCTION contact_identity.dot_quote(text) IS
    'a text as a Graphviz DOT quoted string: quotes and backslashes escaped, & as &amp;, line breaks as \n, other control characters as spaces';

-- A text as a Mermaid quoted label: the characters Mermaid reads inside
-- quotes (" # < > & `) as its entity codes, line breaks as <br/>, other
-- control characters as spaces. An entity code needs its # escaped first.
CREATE FUNCTION contact_identity.mermaid_quote(value text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT '"' OPERATOR(pg_catalog.||)
           pg_catalog.replace(
               pg_catalog.regexp_replace(
                   pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
                   pg_catalog.replace(pg_catalog.replace(value, '#', '#35;'), '"', '#quot;'), '&', '#amp;'),
                   '<', '#lt;'), '>', '#gt;'), '`', '#96;'), E'\r\n', E'\n'),
                   '[\x01-\x09\x0b-\x1f\x7f]', ' ', 'g'),
               E'\n', '<br/>')
           OPERATOR(pg_catalog.||) '"'
$$;
COMMENT ON FUNCTION contact_identity.mermaid_quote(text) IS
    'a text as a Mermaid quoted label: " # < > & ` as entity codes, line breaks as <br/>, other control characters as spaces';

-- A moment in a label: to the second, in the session's time zone.
CREATE FUNCTION contact_identity.graph_time(at timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(pg_catalog.to_char(at, 'YYYY-MM-DD HH24:MI:SS TZ'), 'unknown time')
$$;
COMMENT ON FUNCTION contact_identity.graph_time(timestamptz) IS
    'a moment as the identity graph labels it: to the second, in the session''s time zone';

-- The graph of a contact as rows: nodes (kind node: id, shape contact,
-- identifier or events, label) then edges (kind edge: id the source,
-- target, label), in the order they are drawn; dashed marks what is gone
-- (an identifier no longer held, an unmerge, a deleted or merged contact).
-- Runs as its caller: explain_contact has checked the grant and that the
-- contact exists, and calls it as the extension's owner.
CREATE FUNCTION contact_identity.identity_graph(contact_id bigint, account_id bigint)
RETURNS TABLE (kind text, id text, target text, shape text, label text, dashed boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me constant bigint := identity_graph.contact_id;
    acct constant bigint := identity_graph.account_id;
    steps jsonb;
    held jsonb;
    others jsonb;
    self jsonb;
    named bigint[];
BEGIN
    -- The steps explain_contact reads, oldest first.
    SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'n', l.log_id OPERATOR(pg_catalog.*) 1000 OPERATOR(pg_catalog.+) s.step, 'log_id', l.log_id,
               'at', l.logged_at, 'contact_id', s.contact_id, 'action', s.action,
               'matched_by', s.matched_by, 'type', s.identifier_type, 'value', s.identifier_value,
               'other', s.other_contact_id, 'detail', s.detail) ORDER BY l.log_id, s.step), '[]'::jsonb)
      INTO steps
    FROM contact_identity.identity_log l
    CROSS JOIN LATERAL contact_identity.log_steps(ROW(l.*)::contact_identity.identity_log) s
    WHERE l.account_id OPERATOR(pg_catalog.=) acct
      AND (l.contact_id OPERATOR(pg_catalog.=) me
           OR (l.other_contact_id OPERATOR(pg_catalog.=) me
               AND l.action OPERATOR(pg_catalog.=) ANY (ARRAY['merged', 'merged_into', 'unmerged', 'identifier_moved'])))
      AND (s.contact_id OPERATOR(pg_catalog.=) me
           OR (s.other_contact_id OPERATOR(pg_catalog.=) me
               AND s.action OPERATOR(pg_catalog.=) ANY (ARRAY['merged', 'unmerged', 'identifier_moved'])));

    -- The identifiers it holds now.
    SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'type', i.type, 'value', i.value, 'attached_at', i.attached_at, 'first_seen_at', i.first_seen_at)
               ORDER BY i.type, i.value), '[]'::jsonb)
      INTO held
    FROM contact_identity.identifiers i
    WHERE i.account_id OPERATOR(pg_catalog.=) acct AND i.contact_id OPERATOR(pg_catalog.=) me;

    -- The contact itself and the others its steps name (worked out first:
    -- the query of contacts is then one table and a list of IDs).
    named := ARRAY(SELECT (e OPERATOR(pg_catalog.->>) 'contact_id')::pg_catalog.int8
                   FROM pg_catalog.jsonb_array_elements(steps) e
                   UNION SELECT (e OPERATOR(pg_catalog.->>) 'other')::pg_catalog.int8
                   FROM pg_catalog.jsonb_array_elements(steps) e
                   UNION SELECT me);
    SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'contact_id', c.contact_id, 'external_id', c.external_id, 'merged_into', c.merged_into,
               'deleted_at', c.deleted_at) ORDER BY c.contact_id), '[]'::jsonb)
      INTO others
    FROM contact_identity.contacts c
    WHERE c.account_id OPERATOR(pg_catalog.=) acct
      AND c.contact_id OPERATOR(pg_catalog.=) ANY (named);
    SELECT e INTO self FROM pg_catalog.jsonb_array_elements(others) e
    WHERE (e OPERATOR(pg_catalog.->>) 'contact_id')::pg_catalog.int8 OPERATOR(pg_catalog.=) me;

    RETURN QUERY
    WITH s AS (
        SELECT x.*
        FROM pg_catalog.jsonb_to_recordset(steps) AS x(n bigint, log_id bigint, at timestamptz, contact_id bigint,
                                                      action text, matched_by text, type text, value text,
                                                      other bigint, detail jsonb)
    ),
    -- What a merge or an unmerge carried: identifiers and events.
    carried AS (
        SELECT s.*,
               CASE WHEN pg_catalog.jsonb_typeof(s.detail OPERATOR(pg_catalog.->) 'identifiers') OPERATOR(pg_catalog.=) 'array'
                    THEN s.detail OPERATOR(pg_catalog.->) 'identifiers' ELSE '[]'::jsonb END AS ids,
               COALESCE((s.detail OPERATOR(pg_catalog.->>) 'events')::pg_catalog.int8,
                        pg_catalog.jsonb_array_length(CASE WHEN pg_catalog.jsonb_typeof(s.detail OPERATOR(pg_catalog.->) 'event_ids')
                                                                OPERATOR(pg_catalog.=) 'array'
                                                           THEN s.detail OPERATOR(pg_catalog.->) 'event_ids' END), 0) AS events,
               -- an unmerge gives back the events of the merge it undoes
               COALESCE((SELECT m.detail OPERATOR(pg_catalog.->) 'event_ids'
                         FROM s AS m
                         WHERE m.log_id OPERATOR(pg_catalog.=) CASE WHEN s.action OPERATOR(pg_catalog.=) 'unmerged'
                                   THEN (s.detail OPERATOR(pg_catalog.->>) 'merge_log_id')::pg_catalog.int8 ELSE s.log_id END
                           AND m.action OPERATOR(pg_catalog.=) 'merged'
                           AND pg_catalog.jsonb_typeof(m.detail OPERATOR(pg_catalog.->) 'event_ids') OPERATOR(pg_catalog.=) 'array'
                         ORDER BY m.n LIMIT 1), '[]'::jsonb) AS event_ids,
               -- the contact that gave: the loser of a merge, the winner
               -- of an unmerge; the step's contact is the one that got
               s.other AS giver, s.contact_id AS taker
        FROM s WHERE s.action OPERATOR(pg_catalog.=) ANY (ARRAY['merged', 'unmerged'])
    ),
    -- Every time one of its identifiers came (came) or went (not came).
    happened AS (
        SELECT s.type, s.value, s.n, s.at, true AS came,
               'attached' OPERATOR(pg_catalog.||) COALESCE(', matched by ' OPERATOR(pg_catalog.||) s.matched_by, '') AS how,
               NULL::pg_catalog.int8 AS other
        FROM s WHERE s.action OPERATOR(pg_catalog.=) 'identifier_attached' AND s.contact_id OPERATOR(pg_catalog.=) me
        UNION ALL
        SELECT s.type, s.value, s.n, s.at, true,
               CASE WHEN s.other IS NULL THEN 'assigned'
                    ELSE pg_catalog.format('assigned, taken from contact %s', s.other) END, s.other
        FROM s WHERE s.action OPERATOR(pg_catalog.=) 'external_id_assigned' AND s.contact_id OPERATOR(pg_catalog.=) me
        UNION ALL
        SELECT s.type, s.value, s.n, s.at, false,
               'detached' OPERATOR(pg_catalog.||) COALESCE(' (' OPERATOR(pg_catalog.||) (s.detail OPERATOR(pg_catalog.->>) 'reason')
                                                           OPERATOR(pg_catalog.||) ')', ''), NULL
        FROM s WHERE s.action OPERATOR(pg_catalog.=) 'identifier_detached' AND s.contact_id OPERATOR(pg_catalog.=) me
        UNION ALL
        SELECT s.type, s.value, s.n, s.at, true, pg_catalog.format('moved here from contact %s', s.other), s.other
        FROM s WHERE s.action OPERATOR(pg_catalog.=) 'identifier_moved' AND s.contact_id OPERATOR(pg_catalog.=) me
        UNION ALL
        SELECT s.type, s.value, s.n, s.at, false, pg_catalog.format('moved to contact %s', s.contact_id), s.contact_id
        FROM s WHERE s.action OPERATOR(pg_catalog.=) 'identifier_moved' AND s.other OPERATOR(pg_catalog.=) me
        UNION ALL
        SELECT i OPERATOR(pg_catalog.->>) 'type', i OPERATOR(pg_catalog.->>) 'value', c.n, c.at,
               c.taker OPERATOR(pg_catalog.=) me,
               CASE WHEN c.action OPERATOR(pg_catalog.=) 'merged' AND c.taker OPERATOR(pg_catalog.=) me
                      THEN pg_catalog.format('came with the merge of contact %s', c.giver)
                    WHEN c.action OPERATOR(pg_catalog.=) 'merged'
                      THEN pg_catalog.format('went with the merge into contact %s', c.taker)
                    WHEN c.taker OPERATOR(pg_catalog.=) me
                      THEN pg_catalog.format('came back, unmerged from contact %s', c.giver)
                    ELSE pg_catalog.format('went back to contact %s, unmerged', c.taker) END,
               NULL
        FROM carried c CROSS JOIN LATERAL pg_catalog.jsonb_array_elements(c.ids) AS i
    ),
    -- Its identifiers, then and now, in the order they first appear.
    identifier AS (
        SELECT k.type, k.value, h.attached_at, h.first_seen_at, (h.type IS NOT NULL) AS is_held,
               'i' OPERATOR(pg_catalog.||) pg_catalog.row_number() OVER (ORDER BY k.first_n NULLS LAST, k.type, k.value) AS node,
               pg_catalog.row_number() OVER (ORDER BY k.first_n NULLS LAST, k.type, k.value) AS ord
        FROM (SELECT u.type, u.value, pg_catalog.min(u.n) AS first_n
              FROM (SELECT happened.type, happened.value, happened.n FROM happened
                    UNION ALL
                    SELECT e OPERATOR(pg_catalog.->>) 'type', e OPERATOR(pg_catalog.->>) 'value', NULL
                    FROM pg_catalog.jsonb_array_elements(held) e) AS u
              WHERE u.type IS NOT NULL AND u.value IS NOT NULL
              GROUP BY u.type, u.value) AS k
        LEFT JOIN pg_catalog.jsonb_to_recordset(held) AS h(type text, value text, attached_at timestamptz,
                                                            first_seen_at timestamptz)
          ON h.type OPERATOR(pg_catalog.=) k.type AND h.value OPERATOR(pg_catalog.=) k.value
    ),
    -- Events carried by a merge or an unmerge, or a visitor's history a
    -- profile took in: one node each.
    moved_events AS (
        SELECT 'e' OPERATOR(pg_catalog.||) pg_catalog.row_number() OVER (ORDER BY m.n) AS node, m.*
        FROM (SELECT c.n, c.at, c.giver, c.taker, c.action, c.events, c.event_ids, NULL::jsonb AS by_ids
              FROM carried c WHERE c.events OPERATOR(pg_catalog.>) 0
              UNION ALL
              SELECT s.n, s.at, NULL, s.contact_id, s.action,
                     COALESCE((s.detail OPERATOR(pg_catalog.->>) 'events')::pg_catalog.int8, 0), '[]'::jsonb,
                     CASE WHEN pg_catalog.jsonb_typeof(s.detail OPERATOR(pg_catalog.->) 'identifiers') OPERATOR(pg_catalog.=) 'array'
                          THEN s.detail OPERATOR(pg_catalog.->) 'identifiers' ELSE '[]'::jsonb END
              FROM s WHERE s.action OPERATOR(pg_catalog.=) 'events_attached' AND s.contact_id OPERATOR(pg_catalog.=) me) AS m
    ),
    -- The other contacts: merged, unmerged, or on the other side of a move.
    other_contact AS (
        SELECT DISTINCT o.cid
        FROM (SELECT CASE WHEN s.contact_id OPERATOR(pg_catalog.=) me THEN s.other ELSE s.contact_id END AS cid
              FROM s WHERE s.action OPERATOR(pg_catalog.=) ANY (ARRAY['merged', 'unmerged', 'identifier_moved'])
              UNION ALL
              SELECT h.other FROM happened h) AS o
        WHERE o.cid IS NOT NULL AND o.cid OPERATOR(pg_catalog.<>) me
    ),
    graph AS (
        -- The contact.
        SELECT 1 AS part, 0::pg_catalog.int8 AS ord, 'node' AS kind, 'c' OPERATOR(pg_catalog.||) me AS id,
               NULL::text AS target, 'contact' AS shape,
               pg_catalog.concat_ws(E'\n',
                   pg_catalog.format('contact %s', me),
                   'external ID ' OPERATOR(pg_catalog.||) (self OPERATOR(pg_catalog.->>) 'external_id'),
                   (SELECT pg_catalog.string_agg(pg_catalog.format('%s %s',
                               CASE s.action WHEN 'created' THEN 'created' WHEN 'deleted' THEN 'deleted'
                                             WHEN 'restored' THEN 'restored' ELSE 'purged' END,
                               contact_identity.graph_time(s.at)), E'\n' ORDER BY s.n)
                    FROM s WHERE s.contact_id OPERATOR(pg_catalog.=) me
                      AND s.action OPERATOR(pg_catalog.=) ANY (ARRAY['created', 'deleted', 'restored', 'purged'])),
                   CASE WHEN self OPERATOR(pg_catalog.->>) 'merged_into' IS NOT NULL
                          THEN pg_catalog.format('now merged into contact %s', self OPERATOR(pg_catalog.->>) 'merged_into')
                        WHEN self OPERATOR(pg_catalog.->>) 'deleted_at' IS NOT NULL THEN 'now deleted'
                        ELSE 'live' END) AS label,
               (self OPERATOR(pg_catalog.->>) 'merged_into' IS NOT NULL
                OR self OPERATOR(pg_catalog.->>) 'deleted_at' IS NOT NULL) AS dashed
        UNION ALL
        SELECT 2, o.cid, 'node', 'c' OPERATOR(pg_catalog.||) o.cid, NULL, 'contact',
               pg_catalog.concat_ws(E'\n', pg_catalog.format('contact %s', o.cid),
                   'external ID ' OPERATOR(pg_catalog.||) (e OPERATOR(pg_catalog.->>) 'external_id'),
                   CASE WHEN e OPERATOR(pg_catalog.->>) 'merged_into' IS NOT NULL
                          THEN pg_catalog.format('now merged into contact %s', e OPERATOR(pg_catalog.->>) 'merged_into')
                        WHEN e OPERATOR(pg_catalog.->>) 'deleted_at' IS NOT NULL THEN 'now deleted'
                        WHEN e IS NULL THEN 'purged' END),
               e IS NULL OR e OPERATOR(pg_catalog.->>) 'merged_into' IS NOT NULL
                 OR e OPERATOR(pg_catalog.->>) 'deleted_at' IS NOT NULL
        FROM other_contact o
        LEFT JOIN pg_catalog.jsonb_array_elements(others) e
          ON (e OPERATOR(pg_catalog.->>) 'contact_id')::pg_catalog.int8 OPERATOR(pg_catalog.=) o.cid
        UNION ALL
        SELECT 3, i.ord, 'node', i.node, NULL, 'identifier',
               pg_catalog.concat_ws(E'\n', pg_catalog.format('%s: %s', i.type, i.value),
                   -- seen before it was attached: a visitor's cookie, say
                   CASE WHEN i.first_seen_at OPERATOR(pg_catalog.<) i.attached_at
                        THEN 'first seen ' OPERATOR(pg_catalog.||) contact_identity.graph_time(i.first_seen_at) END,
                   CASE WHEN i.is_held THEN 'held now' ELSE 'gone' END),
               NOT i.is_held
        FROM identifier i
        UNION ALL
        SELECT 4, m.n, 'node', m.node, NULL, 'events',
               pg_catalog.concat_ws(E'\n', pg_catalog.format('%s event(s)', m.events),
                   (SELECT 'IDs ' OPERATOR(pg_catalog.||) pg_catalog.string_agg(v.v, ', ' ORDER BY v.ord)
                           OPERATOR(pg_catalog.||) CASE WHEN pg_catalog.jsonb_array_length(m.event_ids) OPERATOR(pg_catalog.>) 10
                                                        THEN ', ...' ELSE '' END
                    FROM pg_catalog.jsonb_array_elements_text(m.event_ids) WITH ORDINALITY AS v(v, ord)
                    WHERE v.ord OPERATOR(pg_catalog.<=) 10)),
               false
        FROM moved_events m
        UNION ALL
        -- Merges and unmerges, oldest first.
        SELECT 5, c.n, 'edge', 'c' OPERATOR(pg_catalog.||) c.giver, 'c' OPERATOR(pg_catalog.||) c.taker, NULL,
               pg_catalog.concat_ws(E'\n',
                   CASE WHEN c.action OPERATOR(pg_catalog.=) 'merged'
                        THEN 'merged' OPERATOR(pg_catalog.||)
                             CASE WHEN (c.detail OPERATOR(pg_catalog.->>) 'explicit')::boolean THEN ' by merge_contacts' ELSE '' END
                        ELSE 'unmerged, gave back' END,
                   contact_identity.graph_time(c.at),
                   pg_catalog.format('%s identifier(s), %s event(s)', pg_catalog.jsonb_array_length(c.ids), c.events)),
               c.action OPERATOR(pg_catalog.=) 'unmerged'
        FROM carried c WHERE c.giver IS NOT NULL AND c.taker IS NOT NULL
        UNION ALL
        -- Each identifier: when it came and went.
        SELECT 6, i.ord, 'edge', 'c' OPERATOR(pg_catalog.||) me, i.node, NULL,
               COALESCE((SELECT pg_catalog.string_agg(pg_catalog.format('%s %s', contact_identity.graph_time(h.at), h.how),
                                                      E'\n' ORDER BY h.n)
                         FROM happened h
                         WHERE h.type OPERATOR(pg_catalog.=) i.type AND h.value OPERATOR(pg_catalog.=) i.value),
                        'held since ' OPERATOR(pg_catalog.||) contact_identity.graph_time(i.attached_at)),
               NOT i.is_held
        FROM identifier i
        UNION ALL
        -- An identifier moved between it and another contact.
        SELECT 7, h.n, 'edge',
               CASE WHEN h.came THEN 'c' OPERATOR(pg_catalog.||) h.other ELSE i.node END,
               CASE WHEN h.came THEN i.node ELSE 'c' OPERATOR(pg_catalog.||) h.other END, NULL,
               'moved ' OPERATOR(pg_catalog.||) contact_identity.graph_time(h.at),
               true
        FROM happened h
        JOIN identifier i ON i.type OPERATOR(pg_catalog.=) h.type AND i.value OPERATOR(pg_catalog.=) h.value
        WHERE h.other IS NOT NULL
        UNION ALL
        -- Events: from the contact (or the identifiers) they left to the
        -- contact that got them.
        SELECT 8, m.n OPERATOR(pg_catalog.*) 10, 'edge', 'c' OPERATOR(pg_catalog.||) m.giver, m.node, NULL, NULL, true
        FROM moved_events m WHERE m.giver IS NOT NULL
        UNION ALL
        SELECT 8, m.n OPERATOR(pg_catalog.*) 10 OPERATOR(pg_catalog.+) i.ord, 'edge', i.node, m.node, NULL, 'anonymous history', true
        FROM moved_events m
        CROSS JOIN LATERAL pg_catalog.jsonb_array_elements(m.by_ids) AS b
        JOIN identifier i ON i.type OPERATOR(pg_catalog.=) (b OPERATOR(pg_catalog.->>) 'type')
                         AND i.value OPERATOR(pg_catalog.=) (b OPERATOR(pg_catalog.->>) 'value')
        UNION ALL
        SELECT 8, m.n OPERATOR(pg_catalog.*) 10 OPERATOR(pg_catalog.+) 9, 'edge', m.node, 'c' OPERATOR(pg_catalog.||) m.taker, NULL,
               pg_catalog.format(E'%s\n%s',
                   CASE m.action WHEN 'merged' THEN 'moved with the merge'
                                 WHEN 'unmerged' THEN 'went back with the unmerge'
                                 ELSE 'attached' END,
                   contact_identity.graph_time(m.at)),
               false
        FROM moved_events m WHERE m.taker IS NOT NULL
    )
    SELECT g.kind, g.id, g.target, g.shape, g.label, g.dashed
    FROM graph g
    ORDER BY g.part, g.ord, g.id, g.target;
END
$$;
COMMENT ON FUNCTION contact_identity.identity_graph(bigint, bigint) IS
    'the identity graph of a contact as rows, in drawing order: nodes (the contact, the contacts merged, unmerged or on the other side of a move, its identifiers, the events that moved) then edges; called by explain_contact with a format, which checks the grant first';

-- The graph in Graphviz DOT.
CREATE FUNCTION contact_identity.identity_graph_dot(contact_id bigint, account_id bigint)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format(E'digraph %s {\n'
                             '  graph [rankdir=LR, fontname="Helvetica"];\n'
                             '  node [fontname="Helvetica", fontsize=10];\n'
                             '  edge [fontname="Helvetica", fontsize=9];\n'
                             '%s}\n',
                             contact_identity.dot_quote(pg_catalog.format('contact %s', contact_id)),
                             COALESCE(pg_catalog.string_agg(
                                 '  ' OPERATOR(pg_catalog.||) g.id
                                 OPERATOR(pg_catalog.||) COALESCE(' -> ' OPERATOR(pg_catalog.||) g.target, '')
                                 OPERATOR(pg_catalog.||) ' [' OPERATOR(pg_catalog.||) pg_catalog.concat_ws(', ',
                                     CASE g.shape WHEN 'contact' THEN 'shape=box'
                                                  WHEN 'identifier' THEN 'shape=ellipse'
                                                  WHEN 'events' THEN 'shape=note' END,
                                     CASE WHEN g.id OPERATOR(pg_catalog.=) ('c' OPERATOR(pg_catalog.||) contact_id)
                                               AND g.target IS NULL THEN 'penwidth=2' END,
                                     CASE WHEN g.dashed THEN 'style=dashed' END,
                                     'label=' OPERATOR(pg_catalog.||) contact_identity.dot_quote(COALESCE(g.label, '')))
                                 OPERATOR(pg_catalog.||) E'];\n', ''), ''))
    FROM contact_identity.identity_graph(contact_id, account_id) AS g
$$;
COMMENT ON FUNCTION contact_identity.identity_graph_dot(bigint, bigint) IS
    'the identity graph of a contact in Graphviz DOT (explain_contact with format dot)';

-- The graph as a Mermaid flowchart.
CREATE FUNCTION contact_identity.identity_graph_mermaid(contact_id bigint, account_id bigint)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT E'flowchart LR\n'
           OPERATOR(pg_catalog.||) COALESCE(pg_catalog.string_agg(
               '  ' OPERATOR(pg_catalog.||) CASE
                 WHEN g.kind OPERATOR(pg_catalog.=) 'node' THEN g.id OPERATOR(pg_catalog.||) CASE g.shape
                     WHEN 'contact' THEN '[' OPERATOR(pg_catalog.||) contact_identity.mermaid_quote(g.label) OPERATOR(pg_catalog.||) ']'
                     WHEN 'identifier' THEN '([' OPERATOR(pg_catalog.||) contact_identity.mermaid_quote(g.label) OPERATOR(pg_catalog.||) '])'
                     ELSE '[/' OPERATOR(pg_catalog.||) contact_identity.mermaid_quote(g.label) OPERATOR(pg_catalog.||) '/]' END
                 ELSE g.id OPERATOR(pg_catalog.||) CASE WHEN g.dashed THEN ' -.->' ELSE ' -->' END
                      OPERATOR(pg_catalog.||) COALESCE('|' OPERATOR(pg_catalog.||) contact_identity.mermaid_quote(g.label)
                                                        OPERATOR(pg_catalog.||) '| ', ' ')
                      OPERATOR(pg_catalog.||) g.target END
               OPERATOR(pg_catalog.||) E'\n', ''), '')
           OPERATOR(pg_catalog.||) pg_catalog.format(E'  style c%s stroke-width:3px\n', contact_id)
           OPERATOR(pg_catalog.||) COALESCE(E'  classDef gone stroke-dasharray: 5 5\n  class '
               OPERATOR(pg_catalog.||) pg_catalog.string_agg(g.id, ',') FILTER (WHERE g.kind OPERATOR(pg_catalog.=) 'node' AND g.dashed)
               OPERATOR(pg_catalog.||) E' gone\n', '')
    FROM contact_identity.identity_graph(contact_id, account_id) AS g
$$;
COMMENT ON FUNCTION contact_identity.identity_graph_mermaid(bigint, bigint) IS
    'the identity graph of a contact as a Mermaid flowchart (explain_contact with format mermaid)';

-- explain_contact with a format: the graph as one text. Checks as the
-- two-argument form does (a reader grant on the account, the contact
-- exists), and the format first, before anything is read.
CREATE FUNCTION contact_identity.explain_contact(contact_id bigint, account_id bigint, format text)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fmt constant text := pg_catalog.lower(explain_contact.format);
BEGIN
    IF explain_contact.contact_id IS NULL THEN
        RAISE EXCEPTION 'contact_id must not be null' USING ERRCODE = '22004';
    END IF;
    IF explain_contact.format IS NULL THEN
        RAISE EXCEPTION 'format must not be null' USING ERRCODE = '22004',
            HINT = 'A format is dot or mermaid; for the history in words call explain_contact(contact_id, account_id).';
    END IF;
    IF NOT fmt OPERATOR(pg_catalog.=) ANY (ARRAY['dot', 'mermaid']) THEN
        RAISE EXCEPTION 'invalid format %', pg_catalog.quote_literal(pg_catalog.left(explain_contact.format, 100))
            USING ERRCODE = '22023',
            HINT = 'A format is dot or mermaid; for the history in words call explain_contact(contact_id, account_id).';
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
    IF fmt OPERATOR(pg_catalog.=) 'dot' THEN
        RETURN contact_identity.identity_graph_dot(explain_contact.contact_id, explain_contact.account_id);
    END IF;
    RETURN contact_identity.identity_graph_mermaid(explain_contact.contact_id, explain_contact.account_id);
END
$$;
COMMENT ON FUNCTION contact_identity.explain_contact(bigint, bigint, text) IS
    'the profile''s identity graph (format dot for Graphviz, mermaid for Mermaid): the contact, the contacts merged into it or unmerged from it, its identifiers with when they came and went, and the events that moved';

-- Privileges: as for explain_contact(bigint, bigint), nothing for PUBLIC,
-- the graph for readers; the helpers run inside it as the owner.
REVOKE ALL ON FUNCTION contact_identity.dot_quote(text), contact_identity.mermaid_quote(text),
    contact_identity.graph_time(timestamptz), contact_identity.identity_graph(bigint, bigint),
    contact_identity.identity_graph_dot(bigint, bigint), contact_identity.identity_graph_mermaid(bigint, bigint),
    contact_identity.explain_contact(bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contact_identity.explain_contact(bigint, bigint, text) TO contact_identity_reader;
