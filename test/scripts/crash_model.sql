-- test/scripts/crash_model.sql: what test/scripts/crash.sh checks a crashed
-- server against. Its clients log every call; replay() rebuilds from the
-- acknowledged ones what account 0 must hold, in_doubt() marks what the
-- calls in flight at the crash may or may not have changed, and
-- differences() lists every other row where the database disagrees.
-- Each client of each round has keys of its own (r2c3-u5, r2c3-u5@x.io,
-- r2c3-t1), so one client's calls are a total order for everything they
-- touch. Every contact has an external ID, so a token held by another user
-- moves and nothing is merged but by merge_contacts.
SET client_min_messages = warning;
CREATE SCHEMA crash_model;

-- Every call: 'sent' before it went out, then 'ack' (its commit was
-- acknowledged; res is what it returned) or 'err' (an error, or nothing to
-- do: no effect). A 'sent' with neither was in flight at the crash.
CREATE TABLE crash_model.calls (
  round int, client int, seq int, kind text, op text, args jsonb, res jsonb,
  PRIMARY KEY (round, client, seq, kind));

-- The model. owner is the client ('r2c3'); unsure marks what a call in
-- flight may have changed.
CREATE TABLE crash_model.contacts (
  contact_id bigint PRIMARY KEY, owner text NOT NULL, state text NOT NULL CHECK (state IN ('live', 'merged', 'purged')),
  merged_into bigint, first_name text, moved_events bigint[] NOT NULL DEFAULT '{}',
  unsure boolean NOT NULL DEFAULT false);
CREATE TABLE crash_model.keys (
  type text, value text, owner text NOT NULL, holder bigint, unsure boolean NOT NULL DEFAULT false,
  PRIMARY KEY (type, value));
CREATE INDEX ON crash_model.keys (holder);
CREATE TABLE crash_model.events (
  event_id bigint PRIMARY KEY, owner text NOT NULL, contact_id bigint, state text NOT NULL,
  unsure boolean NOT NULL DEFAULT false);
CREATE INDEX ON crash_model.events (contact_id);
-- Acknowledged answers the model cannot explain (a bug of the model or of
-- the extension, before any crash).
CREATE TABLE crash_model.divergences (round int, client int, seq int, what text);

-- The contact holding a key in the model (NULL: nobody).
CREATE FUNCTION crash_model.holder(t text, v text) RETURNS bigint LANGUAGE sql AS $$
  SELECT k.holder FROM crash_model.keys k WHERE k.type = t AND k.value = v
$$;

-- Key (t, v) of client o is held by h from now on (NULL: gone).
CREATE FUNCTION crash_model.hold(o text, t text, v text, h bigint) RETURNS void LANGUAGE sql AS $$
  INSERT INTO crash_model.keys (type, value, owner, holder) VALUES (t, v, o, h)
  ON CONFLICT (type, value) DO UPDATE SET holder = h
$$;

-- Key (t, v) of client o may or may not have changed.
CREATE FUNCTION crash_model.doubt(o text, t text, v text) RETURNS void LANGUAGE sql AS $$
  INSERT INTO crash_model.keys (type, value, owner, unsure) VALUES (t, v, o, true)
  ON CONFLICT (type, value) DO UPDATE SET unsure = true
$$;

-- The contact and, transitively, every contact merged into it: whom a purge erases.
CREATE FUNCTION crash_model.person(n bigint) RETURNS bigint[] LANGUAGE sql AS $$
  WITH RECURSIVE p AS (SELECT n AS id
                       UNION SELECT c.contact_id FROM crash_model.contacts c JOIN p ON c.merged_into = p.id
                             WHERE c.state = 'merged')
  SELECT array_agg(id) FROM p
$$;

CREATE FUNCTION crash_model.diverged(k crash_model.calls, what text) RETURNS void LANGUAGE sql AS $$
  INSERT INTO crash_model.divergences VALUES (k.round, k.client, k.seq, k.op || ' ' || k.args || ': ' || what)
$$;

-- Applies the acknowledged calls of round r to the model, each client's in order.
CREATE FUNCTION crash_model.replay(r int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  k crash_model.calls;
  o text;
  n bigint;
  a bigint;
  b bigint;
  held bigint;
  cnt bigint;
  e jsonb;
  ids bigint[];
BEGIN
  FOR k IN SELECT * FROM crash_model.calls c WHERE c.round = r AND c.kind = 'ack' ORDER BY c.client, c.seq LOOP
    o := format('r%sc%s', k.round, k.client);
    CASE k.op
    WHEN 'signup', 'login' THEN
      -- The external ID's holder, or a new contact when nobody holds it.
      n := (k.res->>'contact_id')::bigint;
      held := crash_model.holder('external_id', k.args->>'x');
      IF held IS DISTINCT FROM n AND (held IS NOT NULL OR k.res->>'action' <> 'created'
                                      OR EXISTS (SELECT FROM crash_model.contacts c WHERE c.contact_id = n)) THEN
        PERFORM crash_model.diverged(k, format('returned %s, the model says %s holds the external ID', k.res, held));
      END IF;
      INSERT INTO crash_model.contacts (contact_id, owner, state) VALUES (n, o, 'live') ON CONFLICT DO NOTHING;
      UPDATE crash_model.contacts c SET first_name = k.args->>'name' WHERE c.contact_id = n;
      PERFORM crash_model.hold(o, 'external_id', k.args->>'x', n);
      IF k.args ? 'e' THEN
        PERFORM crash_model.hold(o, 'email', k.args->>'e', n);
      END IF;
      PERFORM crash_model.hold(o, 'mobile_push', k.args->>'t', n);
    WHEN 'event' THEN
      n := (k.res->>'contact_id')::bigint;
      IF crash_model.holder('external_id', k.args->>'x') IS DISTINCT FROM n THEN
        PERFORM crash_model.diverged(k, format('went to contact %s, not the external ID''s holder', n));
      END IF;
      INSERT INTO crash_model.events VALUES ((k.res->>'event_id')::bigint, o, n, 'live');
    WHEN 'merge' THEN
      -- Every key and event of the loser goes to the winner.
      a := (k.res->>'winner')::bigint;
      b := (k.res->>'loser')::bigint;
      IF (k.res->>'merged')::bigint IS DISTINCT FROM a OR a = b
         OR (SELECT count(*) FROM crash_model.contacts c WHERE c.contact_id IN (a, b) AND c.state = 'live') <> 2 THEN
        PERFORM crash_model.diverged(k, format('returned %s, the model has no such live pair', k.res));
      END IF;
      ids := ARRAY(SELECT v.event_id FROM crash_model.events v WHERE v.contact_id = b AND v.state = 'live');
      UPDATE crash_model.events v SET contact_id = a WHERE v.event_id = ANY (ids);
      UPDATE crash_model.keys SET holder = a WHERE holder = b;
      UPDATE crash_model.contacts c SET state = 'merged', merged_into = a, moved_events = ids WHERE c.contact_id = b;
    WHEN 'unmerge' THEN
      -- What the winner gave back, as the call said; the loser's events by ID.
      b := (k.res->>'contact_id')::bigint;
      a := (k.res->>'winner')::bigint;
      IF NOT EXISTS (SELECT FROM crash_model.contacts c WHERE c.contact_id = b AND c.state = 'merged' AND c.merged_into = a) THEN
        PERFORM crash_model.diverged(k, format('contact %s is not merged into %s in the model', b, a));
      END IF;
      FOR e IN SELECT * FROM jsonb_array_elements(k.res->'identifiers') LOOP
        IF crash_model.holder(e->>'type', e->>'value') IS DISTINCT FROM a THEN
          PERFORM crash_model.diverged(k, format('took %s back, which the model says contact %s did not hold', e, a));
        END IF;
        PERFORM crash_model.hold(o, e->>'type', e->>'value', b);
      END LOOP;
      FOR e IN SELECT * FROM jsonb_array_elements(k.res->'given_back') LOOP
        IF crash_model.holder(e->>'type', e->>'value') IS NOT NULL THEN
          PERFORM crash_model.diverged(k, format('gave back %s, which the model says is held', e));
        END IF;
        PERFORM crash_model.hold(o, e->>'type', e->>'value', (e->>'contact_id')::bigint);
      END LOOP;
      FOR e IN SELECT * FROM jsonb_array_elements(k.res->'stayed') LOOP
        IF crash_model.holder(e->>'type', e->>'value') IS DISTINCT FROM (e->>'contact_id')::bigint THEN
          PERFORM crash_model.diverged(k, format('left %s, the model says another holds it', e));
        END IF;
      END LOOP;
      UPDATE crash_model.events v SET contact_id = b
      WHERE v.event_id = ANY ((SELECT c.moved_events FROM crash_model.contacts c WHERE c.contact_id = b)::bigint[])
        AND v.contact_id = a AND v.state = 'live';
      GET DIAGNOSTICS cnt = ROW_COUNT;
      IF cnt <> (k.res->>'events')::bigint THEN
        PERFORM crash_model.diverged(k, format('moved %s events back, the model %s', k.res->>'events', cnt));
      END IF;
      UPDATE crash_model.contacts c SET state = 'live', merged_into = NULL WHERE c.contact_id = b;
    WHEN 'purge' THEN
      n := (k.res->>'contact_id')::bigint;
      ids := crash_model.person(n);
      IF NOT EXISTS (SELECT FROM crash_model.contacts c WHERE c.contact_id = n AND c.state = 'live')
         OR cardinality(ids) <> (k.res->'purged'->>'contacts')::int THEN
        PERFORM crash_model.diverged(k, format('returned %s, the model has the live contacts %s', k.res, ids));
      END IF;
      UPDATE crash_model.contacts c SET state = 'purged' WHERE c.contact_id = ANY (ids);
      UPDATE crash_model.keys SET holder = NULL WHERE holder = ANY (ids);
      UPDATE crash_model.events v SET state = 'purged' WHERE v.contact_id = ANY (ids) AND v.state = 'live';
      GET DIAGNOSTICS cnt = ROW_COUNT;
      IF cnt <> (k.res->'purged'->>'events')::bigint THEN
        PERFORM crash_model.diverged(k, format('erased %s events, the model %s', k.res->'purged'->>'events', cnt));
      END IF;
    END CASE;
  END LOOP;
END $$;

-- Marks what the calls of round r in flight at the crash may have changed:
-- their keys, the contacts they name, and those contacts' keys and events.
CREATE FUNCTION crash_model.in_doubt(r int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  k crash_model.calls;
  o text;
  ids bigint[];
  n bigint := 0;
BEGIN
  FOR k IN SELECT * FROM crash_model.calls s WHERE s.round = r AND s.kind = 'sent'
             AND NOT EXISTS (SELECT FROM crash_model.calls d WHERE (d.round, d.client, d.seq) = (s.round, s.client, s.seq)
                             AND d.kind <> 'sent') LOOP
    o := format('r%sc%s', k.round, k.client);
    n := n + 1;
    CASE k.op
    WHEN 'signup', 'login' THEN
      ids := ARRAY[crash_model.holder('external_id', k.args->>'x')];
      PERFORM crash_model.doubt(o, 'external_id', k.args->>'x');
      PERFORM crash_model.doubt(o, 'mobile_push', k.args->>'t');
      IF k.args ? 'e' THEN
        PERFORM crash_model.doubt(o, 'email', k.args->>'e');
      END IF;
    WHEN 'event' THEN
      ids := ARRAY[crash_model.holder('external_id', k.args->>'x')];
    WHEN 'merge' THEN
      ids := ARRAY[crash_model.holder('external_id', k.args->>'x1'), crash_model.holder('external_id', k.args->>'x2')];
    WHEN 'unmerge' THEN
      ids := ARRAY[(k.args->>'b')::bigint, (SELECT c.merged_into FROM crash_model.contacts c
                                            WHERE c.contact_id = (k.args->>'b')::bigint)];
      -- A key free since (a purge) may be given back.
      UPDATE crash_model.keys SET unsure = true WHERE owner = o AND holder IS NULL;
    WHEN 'purge' THEN
      ids := crash_model.person(crash_model.holder('external_id', k.args->>'x'));
    END CASE;
    UPDATE crash_model.contacts c SET unsure = true WHERE c.contact_id = ANY (ids);
    -- A merge, an unmerge or a purge moves or erases every key and event
    -- of the contacts it names; the other calls only their own keys.
    IF k.op IN ('merge', 'unmerge', 'purge') THEN
      UPDATE crash_model.keys SET unsure = true WHERE holder = ANY (ids);
      UPDATE crash_model.events v SET unsure = true WHERE v.contact_id = ANY (ids);
    END IF;
  END LOOP;
  RETURN n;
END $$;

-- Every row of account 0 where the database and the model disagree.
CREATE FUNCTION crash_model.differences() RETURNS SETOF text LANGUAGE sql AS $$
  SELECT format('%s %s of %s: held by %s, the model says %s', k.type, k.value, k.owner,
                coalesce(i.contact_id::text, CASE WHEN i.type IS NULL THEN 'no row' ELSE 'nobody' END),
                coalesce(k.holder::text, 'no row'))
  FROM crash_model.keys k
  LEFT JOIN contact_identity.identifiers i ON i.account_id = 0 AND i.type = k.type AND i.value = k.value
  WHERE NOT k.unsure AND (i.contact_id IS DISTINCT FROM k.holder OR (k.holder IS NULL AND i.type IS NOT NULL))
  UNION ALL
  SELECT format('%s %s held by %s: no acknowledged call put it there', i.type, i.value, i.contact_id)
  FROM contact_identity.identifiers i
  WHERE i.account_id = 0 AND NOT EXISTS (SELECT FROM crash_model.keys k WHERE k.type = i.type AND k.value = i.value)
  UNION ALL
  SELECT format('contact %s of %s: %s, the model says %s', m.contact_id, m.owner,
                CASE WHEN c.contact_id IS NULL THEN 'no row'
                     ELSE format('merged_into %s, first_name %s, deleted_at %s', c.merged_into, c.first_name, c.deleted_at) END,
                CASE WHEN m.state = 'purged' THEN 'purged'
                     ELSE format('merged_into %s, first_name %s', m.merged_into, m.first_name) END)
  FROM crash_model.contacts m
  LEFT JOIN contact_identity.contacts c ON c.account_id = 0 AND c.contact_id = m.contact_id
  WHERE NOT m.unsure
    AND CASE WHEN m.state = 'purged' THEN c.contact_id IS NOT NULL
             ELSE c.contact_id IS NULL OR c.merged_into IS DISTINCT FROM m.merged_into
                  OR c.first_name IS DISTINCT FROM m.first_name OR c.deleted_at IS NOT NULL END
  UNION ALL
  -- A call in flight may have created a contact, with keys in doubt.
  SELECT format('contact %s (external ID %s): no acknowledged call made it', c.contact_id, c.external_id)
  FROM contact_identity.contacts c
  WHERE c.account_id = 0 AND NOT EXISTS (SELECT FROM crash_model.contacts m WHERE m.contact_id = c.contact_id)
    AND NOT EXISTS (SELECT FROM contact_identity.identifiers i JOIN crash_model.keys k USING (type, value)
                    WHERE i.account_id = 0 AND i.contact_id = c.contact_id AND k.unsure)
  UNION ALL
  SELECT format('event %s of %s: %s, the model says %s', m.event_id, m.owner,
                coalesce('on contact ' || e.contact_id, CASE WHEN e.event_id IS NULL THEN 'no row' ELSE 'anonymous' END),
                CASE WHEN m.state = 'purged' THEN 'purged' ELSE 'on contact ' || m.contact_id END)
  FROM crash_model.events m
  LEFT JOIN contact_identity.events e ON e.account_id = 0 AND e.event_id = m.event_id
  WHERE NOT m.unsure
    AND CASE WHEN m.state = 'purged' THEN e.event_id IS NOT NULL ELSE e.contact_id IS DISTINCT FROM m.contact_id END
  UNION ALL
  -- A call in flight may have tracked an event, on a contact in doubt.
  SELECT format('event %s on contact %s: no acknowledged call tracked it', e.event_id, e.contact_id)
  FROM contact_identity.events e
  WHERE e.account_id = 0 AND NOT EXISTS (SELECT FROM crash_model.events m WHERE m.event_id = e.event_id)
    AND NOT EXISTS (SELECT FROM crash_model.contacts m WHERE m.contact_id = e.contact_id AND m.unsure)
$$;

-- Keys with two holders, and external IDs on two contacts, read from the
-- tables without their unique indexes (a torn index would hide them).
CREATE FUNCTION crash_model.two_holders() RETURNS SETOF text LANGUAGE sql
SET enable_indexscan = off SET enable_bitmapscan = off SET enable_indexonlyscan = off AS $$
  SELECT format('account %s: %s %s has %s rows', account_id, type, value, count(*))
  FROM contact_identity.identifiers GROUP BY account_id, type, value HAVING count(*) > 1
  UNION ALL
  SELECT format('account %s: external ID %s on %s contacts', account_id, external_id, count(*))
  FROM contact_identity.contacts WHERE external_id IS NOT NULL GROUP BY account_id, external_id HAVING count(*) > 1
$$;

-- The profiles of an import's account, as contacts_export shows them,
-- without what two accounts given the same source cannot share (contact IDs
-- and times): the profiles that appear more often in one account than in
-- the other.
CREATE FUNCTION crash_model.import_differences(a bigint, b bigint) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT format('%s times in account %s, %s in %s: %s', count(*) FILTER (WHERE e.account_id = a), a,
                count(*) FILTER (WHERE e.account_id = b), b,
                concat_ws(' ', e.external_id, e.email, e.phone, e.first_name, e.identifiers, e.attributes))
  FROM contact_identity.contacts_export e WHERE e.account_id IN (a, b)
  GROUP BY e.external_id, e.email, e.phone, e.first_name, e.last_name, e.identifiers, e.attributes,
           e.deleted_at IS NULL, e.merged_into IS NULL
  HAVING count(*) FILTER (WHERE e.account_id = a) <> count(*) FILTER (WHERE e.account_id = b)
$$;
