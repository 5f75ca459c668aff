-- bench/baseline_plpgsql.sql: the benchmark baseline, "what a competent DBA
-- would write instead of installing contact_identity". It is a plain
-- PL/pgSQL version of the core identity rules, in its own schema
-- bench_plpgsql. It is not part of the extension and nothing installs it.
--
--   psql -X -v ON_ERROR_STOP=1 -d DB -f bench/baseline_plpgsql.sql
--
-- You can run it again: it drops and recreates the schema. It ends with a
-- self-check (a DO block of ASSERTs) and then leaves the tables empty.
--
-- Covered (see docs/identity-rules.md):
--   rule 1  simple normalization: email lower(btrim()), phone keeps its digits
--           and a leading +, other identifiers btrim(); a basic shape check
--           (22023) and no libphonenumber, libidn2 or blocked values;
--   rule 2  search order: external ID, then email, then phone, then the other
--           identifiers (by type name, then array order);
--   rule 3  an unknown external ID is given to a contact without one; a
--           contact with a different external ID is 23505;
--   rule 4  a contact reached only through a changeable identifier (any type
--           other than external_id/email/phone) is the match only if its
--           external ID, email and phone do not contradict the request.
--           Otherwise the search goes on and the identifier moves;
--   rule 6  no merges. The highest-priority match wins. Another contact
--           holding a permanent key (email, phone) is 23505, and a changeable
--           key it holds moves. A new email or phone replaces the winner's
--           (the old one is detached);
--   rule 7  transaction-level advisory locks on every key, taken in the order
--           of the lock numbers (no deadlock between two calls), and the unique
--           constraints as the last line of defence. Two calls that reach one
--           contact through different keys are not serialized by these locks:
--           the contact's UPDATE re-checks its guard on the latest row version
--           (an external ID given meanwhile is 23505), and replacing an email
--           or phone locks the contact row first (changed meanwhile: 40001,
--           retry).
-- Left out: accounts, contact_id, dedupe_on, restore_deleted, cookies
-- that create no contact, max_per_contact, events, merges, purge. A JSON null
-- in attributes is stored as a null, not a removed key.
--
-- Cost of the advisory locks: each key takes one entry in the shared lock
-- table until commit. A single transaction that upserts thousands of new
-- keys needs max_locks_per_transaction raised, or a COMMIT every ~1,000
-- calls. The extension uses row locks and has no such limit.

SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench_plpgsql CASCADE;
CREATE SCHEMA bench_plpgsql;

CREATE TABLE bench_plpgsql.contacts (
    contact_id  bigserial PRIMARY KEY,
    external_id text UNIQUE,
    email       text,
    phone       text,
    first_name  text,
    last_name   text,
    attributes  jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);

-- Every identifier except the external ID (which is contacts.external_id):
-- email, phone, push tokens, cookies... One holder per value.
CREATE TABLE bench_plpgsql.identifiers (
    type       text NOT NULL,
    value      text NOT NULL,
    contact_id bigint NOT NULL REFERENCES bench_plpgsql.contacts,
    PRIMARY KEY (type, value)
);
CREATE INDEX identifiers_contact_idx ON bench_plpgsql.identifiers (contact_id);

-- One row per decision that changed something, like contact_identity.identity_log.
CREATE TABLE bench_plpgsql.log (
    log_id     bigserial PRIMARY KEY,
    logged_at  timestamptz NOT NULL DEFAULT now(),
    contact_id bigint,
    action     text NOT NULL,
    detail     jsonb
);
CREATE INDEX log_contact_idx ON bench_plpgsql.log (contact_id, log_id);

-- Normalization. These are inlinable SQL functions, and blank input gives NULL.
CREATE FUNCTION bench_plpgsql.normalize_email(e text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN nullif(lower(btrim(e)), '');

CREATE FUNCTION bench_plpgsql.normalize_phone(p text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN nullif(CASE WHEN btrim(p) LIKE '+%' THEN '+' ELSE '' END || regexp_replace(p, '[^0-9]', '', 'g'), '');

CREATE FUNCTION bench_plpgsql.upsert_contact(
    external_id text DEFAULT NULL, email text DEFAULT NULL, phone text DEFAULT NULL,
    identifiers jsonb DEFAULT NULL, first_name text DEFAULT NULL, last_name text DEFAULT NULL,
    attributes jsonb DEFAULT NULL)
RETURNS TABLE (contact_id bigint, action text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_ext     text  := nullif(upsert_contact.external_id, '');
    v_email   text  := bench_plpgsql.normalize_email(upsert_contact.email);
    v_phone   text  := bench_plpgsql.normalize_phone(upsert_contact.phone);
    v_first   text  := upsert_contact.first_name;
    v_last    text  := upsert_contact.last_name;
    v_attrs   jsonb := upsert_contact.attributes;
    v_types   text[] := '{}';   -- the other identifiers, in search order
    v_values  text[] := '{}';
    v_holders bigint[] := '{}'; -- their holders before this call
    v_bad     text;
    v_h       bigint;
    v_email_h bigint;
    v_phone_h bigint;
    c         bench_plpgsql.contacts;  -- the winner, as read
    h         bench_plpgsql.contacts;  -- a candidate reached by a changeable key
    v_cid     bigint;
    v_matched text;
    v_action  text;
    v_touch   boolean := false;        -- an identifier of the winner changed
    v_got_ext text;
    v_rows    bigint;
    v_att_t   text[] := '{}';          -- identifiers to attach
    v_att_v   text[] := '{}';
    v_log_a   text[] := '{}';          -- log rows, written at the end in one INSERT
    v_log_d   jsonb[] := '{}';
BEGIN
    -- 1. Normalize and check.
    IF upsert_contact.external_id IS NOT NULL AND btrim(upsert_contact.external_id) = '' THEN
        RAISE EXCEPTION 'invalid external ID: empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_email IS NOT NULL AND v_email !~ '^[^@\s]+@[^@\s]+\.[^@\s.]+$' THEN
        RAISE EXCEPTION 'invalid email "%"', upsert_contact.email USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_phone IS NOT NULL AND v_phone !~ '^\+?[0-9]{7,15}$' THEN
        RAISE EXCEPTION 'invalid phone "%"', upsert_contact.phone USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF upsert_contact.identifiers IS NOT NULL THEN
        IF jsonb_typeof(upsert_contact.identifiers) <> 'object' THEN
            RAISE EXCEPTION 'identifiers must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- {"type": "v"} or {"type": ["v1", "v2"]}: one (type, value) pair per value.
        SELECT coalesce(array_agg(e.key ORDER BY e.key, a.n), '{}'),
               coalesce(array_agg(btrim(a.j #>> '{}') ORDER BY e.key, a.n), '{}'),
               min(CASE WHEN e.key IN ('external_id', 'email', 'phone', 'contact_id')
                          OR e.key !~ '^[a-z][a-z0-9_]*$' THEN 'type "' || e.key || '"'
                        WHEN jsonb_typeof(a.j) NOT IN ('string', 'number')
                        THEN e.key || ' value ' || a.j::text END)
          INTO v_types, v_values, v_bad
          FROM jsonb_each(upsert_contact.identifiers) AS e
         CROSS JOIN LATERAL jsonb_array_elements(
                   CASE jsonb_typeof(e.value) WHEN 'array' THEN e.value ELSE jsonb_build_array(e.value) END)
               WITH ORDINALITY AS a(j, n)
         WHERE jsonb_typeof(a.j) <> 'null' AND btrim(a.j #>> '{}') <> '';
        IF v_bad IS NOT NULL THEN
            RAISE EXCEPTION 'invalid identifier: %', v_bad USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF cardinality(v_types) > 1 THEN  -- a value sent twice counts once
            SELECT array_agg(u.t ORDER BY u.n), array_agg(u.v ORDER BY u.n) INTO v_types, v_values
              FROM (SELECT DISTINCT ON (t, v) t, v, n FROM unnest(v_types, v_values) WITH ORDINALITY AS x(t, v, n)
                     ORDER BY t, v, n) AS u;
        END IF;
    END IF;
    IF v_ext IS NULL AND v_email IS NULL AND v_phone IS NULL AND cardinality(v_types) = 0 THEN
        RAISE EXCEPTION 'no identifier: send an external ID, email, phone or identifiers'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- 2. Lock every key until commit. Sorting by the lock number itself
    --    gives one global order, so two calls never deadlock on these locks.
    IF cardinality(v_types) = 0 AND num_nonnulls(v_ext, v_email, v_phone) = 1 THEN  -- one key: no sort
        PERFORM pg_advisory_xact_lock(hashtext(coalesce('external_id:' || v_ext, 'email:' || v_email,
                                                        'phone:' || v_phone)));
    ELSE
        PERFORM pg_advisory_xact_lock(s.h)
           FROM (SELECT DISTINCT hashtext(k) AS h
                   FROM unnest(ARRAY['external_id:' || v_ext, 'email:' || v_email, 'phone:' || v_phone]
                               || ARRAY(SELECT u.t || ':' || u.v FROM unnest(v_types, v_values) AS u(t, v))) AS k
                  WHERE k IS NOT NULL
                  ORDER BY 1) AS s;
    END IF;

    -- 3. Search by priority. Every key's holder is read, because a key held
    --    by a contact other than the winner must move or is an error.
    IF v_ext IS NOT NULL THEN
        SELECT * INTO c FROM bench_plpgsql.contacts AS x WHERE x.external_id = v_ext;
        IF FOUND THEN
            v_cid := c.contact_id;
            v_matched := 'external_id';
        END IF;
    END IF;

    IF v_email IS NOT NULL THEN
        SELECT i.contact_id INTO v_email_h FROM bench_plpgsql.identifiers AS i
         WHERE i.type = 'email' AND i.value = v_email;
        IF v_email_h IS NOT NULL THEN
            IF v_cid IS NULL THEN
                SELECT * INTO c FROM bench_plpgsql.contacts AS x WHERE x.contact_id = v_email_h;
                v_cid := c.contact_id;
                v_matched := 'email';
            ELSIF v_email_h <> v_cid THEN
                RAISE EXCEPTION 'email "%" belongs to another contact', v_email
                    USING ERRCODE = 'unique_violation',
                          DETAIL = format('Contact %s holds it; the request matched contact %s by %s.',
                                          v_email_h, v_cid, v_matched);
            END IF;
        END IF;
    END IF;

    IF v_phone IS NOT NULL THEN
        SELECT i.contact_id INTO v_phone_h FROM bench_plpgsql.identifiers AS i
         WHERE i.type = 'phone' AND i.value = v_phone;
        IF v_phone_h IS NOT NULL THEN
            IF v_cid IS NULL THEN
                SELECT * INTO c FROM bench_plpgsql.contacts AS x WHERE x.contact_id = v_phone_h;
                v_cid := c.contact_id;
                v_matched := 'phone';
            ELSIF v_phone_h <> v_cid THEN
                RAISE EXCEPTION 'phone "%" belongs to another contact', v_phone
                    USING ERRCODE = 'unique_violation',
                          DETAIL = format('Contact %s holds it; the request matched contact %s by %s.',
                                          v_phone_h, v_cid, v_matched);
            END IF;
        END IF;
    END IF;

    FOR n IN 1 .. cardinality(v_types) LOOP
        SELECT i.contact_id INTO v_h FROM bench_plpgsql.identifiers AS i
         WHERE i.type = v_types[n] AND i.value = v_values[n];
        v_holders[n] := v_h;
        IF v_h IS NOT NULL AND v_cid IS NULL THEN
            -- A shared device: the holder is the match only if nothing it
            -- holds contradicts the request.
            SELECT * INTO h FROM bench_plpgsql.contacts AS x WHERE x.contact_id = v_h;
            IF NOT (   (v_ext IS NOT NULL AND h.external_id IS NOT NULL AND h.external_id <> v_ext)
                    OR (v_email IS NOT NULL AND h.email IS NOT NULL AND h.email <> v_email)
                    OR (v_phone IS NOT NULL AND h.phone IS NOT NULL AND h.phone <> v_phone)) THEN
                c := h;
                v_cid := h.contact_id;
                v_matched := v_types[n];
            END IF;
        END IF;
    END LOOP;

    -- Rule 3: external IDs never change.
    IF v_cid IS NOT NULL AND v_ext IS NOT NULL AND c.external_id <> v_ext THEN
        RAISE EXCEPTION '% "%" belongs to a contact with another external ID', v_matched,
                        CASE v_matched WHEN 'email' THEN v_email WHEN 'phone' THEN v_phone END
            USING ERRCODE = 'unique_violation',
                  DETAIL = format('Contact %s has external ID "%s"; the request has external ID "%s".',
                                  v_cid, c.external_id, v_ext);
    END IF;

    -- 4. Apply.
    IF v_cid IS NULL THEN
        INSERT INTO bench_plpgsql.contacts AS x (external_id, email, phone, first_name, last_name, attributes)
        VALUES (v_ext, v_email, v_phone, v_first, v_last, coalesce(v_attrs, '{}'))
        RETURNING x.contact_id INTO v_cid;
        v_action := 'created';
        v_log_a := array_append(v_log_a, 'created');
        v_log_d := array_append(v_log_d, NULL::jsonb);
    ELSE
        v_action := CASE WHEN c.deleted_at IS NULL THEN 'updated' ELSE 'restored' END;
        -- A new email or phone is set, and replaces the winner's (the old one
        -- is detached). Our key locks do not cover the contact's old values,
        -- so lock its row and make sure nobody changed them since we read it.
        IF (v_email IS NOT NULL AND v_email_h IS NULL) OR (v_phone IS NOT NULL AND v_phone_h IS NULL) THEN
            PERFORM FROM bench_plpgsql.contacts AS x
              WHERE x.contact_id = v_cid
                AND x.email IS NOT DISTINCT FROM c.email AND x.phone IS NOT DISTINCT FROM c.phone
                FOR NO KEY UPDATE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'contact % changed its email or phone meanwhile', v_cid
                    USING ERRCODE = 'serialization_failure', HINT = 'Retry the call.';
            END IF;
        END IF;
        IF v_email IS NOT NULL AND v_email_h IS NULL AND c.email IS NOT NULL THEN
            DELETE FROM bench_plpgsql.identifiers AS i
             WHERE i.type = 'email' AND i.value = c.email AND i.contact_id = v_cid;
            v_log_a := array_append(v_log_a, 'identifier_detached');
            v_log_d := array_append(v_log_d, jsonb_build_object('type', 'email', 'value', c.email,
                                                               'reason', 'replaced by the request''s email'));
            v_touch := true;
        END IF;
        IF v_phone IS NOT NULL AND v_phone_h IS NULL AND c.phone IS NOT NULL THEN
            DELETE FROM bench_plpgsql.identifiers AS i
             WHERE i.type = 'phone' AND i.value = c.phone AND i.contact_id = v_cid;
            v_log_a := array_append(v_log_a, 'identifier_detached');
            v_log_d := array_append(v_log_d, jsonb_build_object('type', 'phone', 'value', c.phone,
                                                               'reason', 'replaced by the request''s phone'));
            v_touch := true;
        END IF;
    END IF;

    -- Changeable identifiers held by someone else move here.
    FOR n IN 1 .. cardinality(v_types) LOOP
        IF v_holders[n] IS NOT NULL AND v_holders[n] <> v_cid THEN
            UPDATE bench_plpgsql.identifiers AS i SET contact_id = v_cid
             WHERE i.type = v_types[n] AND i.value = v_values[n] AND i.contact_id = v_holders[n];
            IF FOUND THEN
                v_log_a := array_append(v_log_a, 'identifier_moved');
                v_log_d := array_append(v_log_d, jsonb_build_object('type', v_types[n], 'value', v_values[n],
                                                                   'matched_by', v_matched,
                                                                   'other_contact_id', v_holders[n]));
                v_touch := true;
            END IF;
        ELSIF v_holders[n] IS NULL THEN
            v_att_t := array_append(v_att_t, v_types[n]);
            v_att_v := array_append(v_att_v, v_values[n]);
        END IF;
    END LOOP;

    -- Keys nobody holds are attached, in one statement. Under the key locks
    -- no other call can take them first; ON CONFLICT plus the row count
    -- catch a write that bypassed this function.
    IF v_phone IS NOT NULL AND v_phone_h IS NULL THEN
        v_att_t := array_prepend('phone'::text, v_att_t);
        v_att_v := array_prepend(v_phone, v_att_v);
    END IF;
    IF v_email IS NOT NULL AND v_email_h IS NULL THEN
        v_att_t := array_prepend('email'::text, v_att_t);
        v_att_v := array_prepend(v_email, v_att_v);
    END IF;
    IF cardinality(v_att_t) > 0 THEN
        INSERT INTO bench_plpgsql.identifiers AS i (type, value, contact_id)
        SELECT u.t, u.v, v_cid FROM unnest(v_att_t, v_att_v) AS u(t, v)
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        IF v_rows <> cardinality(v_att_t) THEN  -- only a write that bypassed this function can do that
            RAISE EXCEPTION 'an identifier of contact % was taken by another transaction', v_cid
                USING ERRCODE = 'unique_violation';
        END IF;
        FOR n IN 1 .. cardinality(v_att_t) LOOP
            v_log_a := array_append(v_log_a, 'identifier_attached');
            v_log_d := array_append(v_log_d, jsonb_build_object('type', v_att_t[n], 'value', v_att_v[n],
                                                               'matched_by', v_matched));
        END LOOP;
        v_touch := true;
    END IF;

    -- The winner's row changes only when something differs. The guard is in
    -- the UPDATE itself, so it is checked again on the latest row version.
    IF v_action <> 'created'
       AND (v_touch OR c.deleted_at IS NOT NULL OR (v_ext IS NOT NULL AND c.external_id IS NULL)
            OR v_first IS NOT NULL OR v_last IS NOT NULL OR v_attrs IS NOT NULL) THEN
        UPDATE bench_plpgsql.contacts AS x
           SET external_id = coalesce(x.external_id, v_ext),
               email       = CASE WHEN v_email_h IS NULL THEN coalesce(v_email, x.email) ELSE x.email END,
               phone       = CASE WHEN v_phone_h IS NULL THEN coalesce(v_phone, x.phone) ELSE x.phone END,
               first_name  = coalesce(v_first, x.first_name),
               last_name   = coalesce(v_last, x.last_name),
               attributes  = CASE WHEN v_attrs IS NULL THEN x.attributes ELSE x.attributes || v_attrs END,
               deleted_at  = NULL,
               updated_at  = now()
         WHERE x.contact_id = v_cid
           AND (v_touch
                OR x.deleted_at IS NOT NULL
                OR (v_ext IS NOT NULL AND x.external_id IS NULL)
                OR x.first_name IS DISTINCT FROM coalesce(v_first, x.first_name)
                OR x.last_name IS DISTINCT FROM coalesce(v_last, x.last_name)
                OR (v_attrs IS NOT NULL AND x.attributes IS DISTINCT FROM x.attributes || v_attrs))
        RETURNING x.external_id INTO v_got_ext;
        -- "updated" is logged for a change of names or attributes;
        -- identifier changes have log rows of their own.
        IF FOUND AND (v_action = 'restored'
                      OR v_first IS NOT NULL AND v_first IS DISTINCT FROM c.first_name
                      OR v_last IS NOT NULL AND v_last IS DISTINCT FROM c.last_name
                      OR v_attrs IS NOT NULL AND c.attributes IS DISTINCT FROM c.attributes || v_attrs) THEN
            v_log_a := array_append(v_log_a, v_action);
            v_log_d := array_append(v_log_d, jsonb_build_object('matched_by', v_matched));
        END IF;
        -- A call through another key (not serialized by our locks) may have
        -- given the contact an external ID since we read it. The UPDATE saw
        -- the latest row version: it kept that ID, or its guard skipped the row.
        IF v_ext IS NOT NULL AND c.external_id IS NULL AND v_got_ext IS DISTINCT FROM v_ext THEN
            RAISE EXCEPTION 'contact % was given another external ID meanwhile', v_cid
                USING ERRCODE = 'unique_violation',
                      DETAIL = format('The request has external ID "%s"; external IDs never change.', v_ext);
        END IF;
    END IF;
    IF v_ext IS NOT NULL AND (v_action = 'created' OR c.external_id IS NULL) THEN
        v_log_a := array_append(v_log_a, 'external_id_assigned');
        v_log_d := array_append(v_log_d, jsonb_build_object('value', v_ext, 'matched_by', v_matched));
    END IF;

    IF cardinality(v_log_a) > 0 THEN
        INSERT INTO bench_plpgsql.log (contact_id, action, detail)
        SELECT v_cid, u.a, u.d FROM unnest(v_log_a, v_log_d) WITH ORDINALITY AS u(a, d, n) ORDER BY u.n;
    END IF;

    contact_id := v_cid;
    action := v_action;
    RETURN NEXT;
END
$fn$;

CREATE FUNCTION bench_plpgsql.resolve_contact(
    external_id text DEFAULT NULL, email text DEFAULT NULL, phone text DEFAULT NULL)
RETURNS TABLE (contact_id bigint, matched_by text)
LANGUAGE plpgsql STABLE AS $fn$
#variable_conflict use_column
DECLARE
    v_email   text := bench_plpgsql.normalize_email(resolve_contact.email);
    v_phone   text := bench_plpgsql.normalize_phone(resolve_contact.phone);
    v_id      bigint;
    v_deleted timestamptz;
BEGIN
    -- The first key that finds a contact decides. A deleted contact gives no
    -- row and does not fall through (an upsert with the same keys would
    -- restore it).
    IF resolve_contact.external_id IS NOT NULL THEN
        SELECT x.contact_id, x.deleted_at INTO v_id, v_deleted
          FROM bench_plpgsql.contacts AS x WHERE x.external_id = resolve_contact.external_id;
        IF FOUND THEN
            IF v_deleted IS NULL THEN
                contact_id := v_id; matched_by := 'external_id'; RETURN NEXT;
            END IF;
            RETURN;
        END IF;
    END IF;
    IF v_email IS NOT NULL THEN
        SELECT x.contact_id, x.deleted_at INTO v_id, v_deleted
          FROM bench_plpgsql.identifiers AS i JOIN bench_plpgsql.contacts AS x ON x.contact_id = i.contact_id
         WHERE i.type = 'email' AND i.value = v_email;
        IF FOUND THEN
            IF v_deleted IS NULL THEN
                contact_id := v_id; matched_by := 'email'; RETURN NEXT;
            END IF;
            RETURN;
        END IF;
    END IF;
    IF v_phone IS NOT NULL THEN
        SELECT x.contact_id, x.deleted_at INTO v_id, v_deleted
          FROM bench_plpgsql.identifiers AS i JOIN bench_plpgsql.contacts AS x ON x.contact_id = i.contact_id
         WHERE i.type = 'phone' AND i.value = v_phone;
        IF FOUND AND v_deleted IS NULL THEN
            contact_id := v_id; matched_by := 'phone'; RETURN NEXT;
        END IF;
    END IF;
END
$fn$;

-- Self-check: every rule above once. Runs in one transaction and fails the
-- file (ON_ERROR_STOP) on the first broken promise.
SET client_min_messages = notice;
DO $check$
DECLARE
    r       record;
    ann     bigint;
    bob     bigint;
    v_ctid  tid;
    v_logs  bigint;
    v_state text;
BEGIN
    -- create: normalized values, 3 identifiers, 5 log rows
    SELECT * INTO r FROM bench_plpgsql.upsert_contact(external_id => 'u-1', email => ' Ann@Example.COM ',
        phone => '+38 (050) 123-45-67', identifiers => '{"mobile_push": " tok-A "}', first_name => 'Ann');
    ASSERT r.action = 'created', format('create: %s', r);
    ann := r.contact_id;
    ASSERT (SELECT (email, phone) = ('ann@example.com', '+380501234567') FROM bench_plpgsql.contacts
             WHERE contact_id = ann), 'create: normalized email and phone';
    ASSERT (SELECT array_agg(type || '=' || value ORDER BY type) FROM bench_plpgsql.identifiers WHERE contact_id = ann)
           = '{email=ann@example.com,mobile_push=tok-A,phone=+380501234567}', 'create: identifiers';
    ASSERT (SELECT array_agg(action ORDER BY log_id) FROM bench_plpgsql.log WHERE contact_id = ann)
           = '{created,identifier_attached,identifier_attached,identifier_attached,external_id_assigned}',
           'create: log rows';

    -- login: nothing changed, so no new row version and no log row
    SELECT ctid INTO v_ctid FROM bench_plpgsql.contacts WHERE contact_id = ann;
    SELECT count(*) INTO v_logs FROM bench_plpgsql.log;
    SELECT * INTO r FROM bench_plpgsql.upsert_contact(external_id => 'u-1');
    ASSERT (r.contact_id, r.action) = (ann, 'updated'), format('login: %s', r);
    SELECT * INTO r FROM bench_plpgsql.upsert_contact(external_id => 'u-1', email => 'ANN@example.com',
        phone => '+380 50 123-45-67 ', identifiers => '{"mobile_push": "tok-A"}', first_name => 'Ann');
    ASSERT r.contact_id = ann, format('login with every key: %s', r);
    ASSERT (SELECT ctid FROM bench_plpgsql.contacts WHERE contact_id = ann) = v_ctid, 'login: row not rewritten';
    ASSERT (SELECT count(*) FROM bench_plpgsql.log) = v_logs, 'login: no log row';

    -- update: names and attributes, logged once; the same values again change nothing
    SELECT * INTO r FROM bench_plpgsql.upsert_contact(external_id => 'u-1', last_name => 'Smith',
        attributes => '{"city": "Kyiv"}');
    ASSERT (r.contact_id, r.action) = (ann, 'updated'), format('update: %s', r);
    ASSERT (SELECT (last_name, attributes) = ('Smith', '{"city": "Kyiv"}'::jsonb) FROM bench_plpgsql.contacts
             WHERE contact_id = ann), 'update: values';
    ASSERT (SELECT action FROM bench_plpgsql.log ORDER BY log_id DESC LIMIT 1) = 'updated', 'update: log row';
    SELECT ctid INTO v_ctid FROM bench_plpgsql.contacts WHERE contact_id = ann;
    SELECT count(*) INTO v_logs FROM bench_plpgsql.log;
    PERFORM bench_plpgsql.upsert_contact(email => 'ann@example.com', last_name => 'Smith', attributes => '{"city": "Kyiv"}');
    ASSERT (SELECT ctid FROM bench_plpgsql.contacts WHERE contact_id = ann) = v_ctid, 'same update: row not rewritten';
    ASSERT (SELECT count(*) FROM bench_plpgsql.log) = v_logs, 'same update: no log row';
    PERFORM bench_plpgsql.upsert_contact(email => 'ann@example.com', attributes => '{"plan": "pro"}');
    ASSERT (SELECT attributes FROM bench_plpgsql.contacts WHERE contact_id = ann)
           = '{"city": "Kyiv", "plan": "pro"}', 'attributes merged';

    -- restore: a deleted contact is not resolved; an upsert by its email restores it
    UPDATE bench_plpgsql.contacts SET deleted_at = now() WHERE contact_id = ann;
    ASSERT NOT EXISTS (SELECT FROM bench_plpgsql.resolve_contact(external_id => 'u-1')), 'deleted: not resolved';
    ASSERT NOT EXISTS (SELECT FROM bench_plpgsql.resolve_contact(email => 'ann@example.com', phone => '+380501234567')),
           'deleted: no fall-through to the phone';
    SELECT * INTO r FROM bench_plpgsql.upsert_contact(email => 'ann@example.com');
    ASSERT (r.contact_id, r.action) = (ann, 'restored'), format('restore: %s', r);
    ASSERT (SELECT deleted_at IS NULL FROM bench_plpgsql.contacts WHERE contact_id = ann), 'restore: deleted_at';
    ASSERT (SELECT action FROM bench_plpgsql.log ORDER BY log_id DESC LIMIT 1) = 'restored', 'restore: log row';

    -- token move: another person on Ann's device gets a new profile and the token
    SELECT * INTO r FROM bench_plpgsql.upsert_contact(email => 'bob@x.io', phone => '+380679998877',
        identifiers => '{"mobile_push": "tok-A"}');
    ASSERT r.action = 'created' AND r.contact_id <> ann, format('shared device: %s', r);
    bob := r.contact_id;
    ASSERT (SELECT contact_id FROM bench_plpgsql.identifiers WHERE (type, value) = ('mobile_push', 'tok-A')) = bob,
           'token moved to Bob';
    ASSERT (SELECT detail->>'other_contact_id' FROM bench_plpgsql.log
             WHERE contact_id = bob AND action = 'identifier_moved') = ann::text, 'move: log row names Ann';
    -- the token alone finds its holder; a higher key moves it back
    SELECT * INTO r FROM bench_plpgsql.upsert_contact(identifiers => '{"mobile_push": "tok-A"}');
    ASSERT r.contact_id = bob, format('token alone: %s', r);
    SELECT * INTO r FROM bench_plpgsql.upsert_contact(external_id => 'u-1', identifiers => '{"mobile_push": ["tok-A", "tok-B"]}');
    ASSERT r.contact_id = ann, format('token back: %s', r);
    ASSERT (SELECT count(*) FROM bench_plpgsql.identifiers WHERE contact_id = ann AND type = 'mobile_push') = 2,
           'Ann holds both tokens';
    -- an unknown external ID is given to a contact without one
    SELECT * INTO r FROM bench_plpgsql.upsert_contact(external_id => 'u-2', phone => '+380679998877');
    ASSERT (r.contact_id, r.action) = (bob, 'updated'), format('assign external ID: %s', r);
    ASSERT (SELECT external_id FROM bench_plpgsql.contacts WHERE contact_id = bob) = 'u-2', 'external ID assigned';

    -- errors: another external ID, a permanent key of another contact, no key, bad email
    BEGIN
        PERFORM bench_plpgsql.upsert_contact(external_id => 'u-9', email => 'ann@example.com');
        ASSERT false, 'external-ID conflict: no error';
    EXCEPTION WHEN unique_violation THEN GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE;
    END;
    ASSERT v_state = '23505';
    v_state := NULL;
    BEGIN
        PERFORM bench_plpgsql.upsert_contact(email => 'ann@example.com', phone => '+380679998877');
        ASSERT false, 'phone of another contact: no error';
    EXCEPTION WHEN unique_violation THEN GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE;
    END;
    ASSERT v_state = '23505';
    v_state := NULL;
    BEGIN
        PERFORM bench_plpgsql.upsert_contact(email => '  ', identifiers => '{}');
        ASSERT false, 'no key: no error';
    EXCEPTION WHEN invalid_parameter_value THEN GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE;
    END;
    ASSERT v_state = '22023';
    v_state := NULL;
    BEGIN
        PERFORM bench_plpgsql.upsert_contact(email => 'not-an-email');
        ASSERT false, 'bad email: no error';
    EXCEPTION WHEN invalid_parameter_value THEN GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE;
    END;
    ASSERT v_state = '22023';

    -- a new email replaces the old one, which is then free
    PERFORM bench_plpgsql.upsert_contact(external_id => 'u-1', email => 'ann.new@example.com');
    ASSERT (SELECT email FROM bench_plpgsql.contacts WHERE contact_id = ann) = 'ann.new@example.com', 'email replaced';
    ASSERT NOT EXISTS (SELECT FROM bench_plpgsql.resolve_contact(email => 'ann@example.com')), 'old email freed';

    -- resolve by each key, in priority order
    ASSERT (SELECT (contact_id, matched_by) FROM bench_plpgsql.resolve_contact(external_id => 'u-1'))
           = (ann, 'external_id'::text), 'resolve by external ID';
    ASSERT (SELECT (contact_id, matched_by) FROM bench_plpgsql.resolve_contact(email => ' ANN.new@example.com'))
           = (ann, 'email'::text), 'resolve by email';
    ASSERT (SELECT (contact_id, matched_by) FROM bench_plpgsql.resolve_contact(phone => '+38 050 123 45 67'))
           = (ann, 'phone'::text), 'resolve by phone';
    ASSERT (SELECT (contact_id, matched_by) FROM bench_plpgsql.resolve_contact(external_id => 'u-404',
               email => 'bob@x.io', phone => '+380501234567'))
           = (bob, 'email'::text), 'resolve: an unknown external ID falls to the email, which wins over the phone';
    ASSERT NOT EXISTS (SELECT FROM bench_plpgsql.resolve_contact(email => 'nobody@x.io')), 'resolve: no match';

    -- every value has exactly one holder, and contacts agree with identifiers
    ASSERT NOT EXISTS (SELECT FROM bench_plpgsql.contacts x
                        WHERE (x.email IS NOT NULL AND NOT EXISTS (SELECT FROM bench_plpgsql.identifiers i
                                 WHERE (i.type, i.value, i.contact_id) = ('email', x.email, x.contact_id)))
                           OR (x.phone IS NOT NULL AND NOT EXISTS (SELECT FROM bench_plpgsql.identifiers i
                                 WHERE (i.type, i.value, i.contact_id) = ('phone', x.phone, x.contact_id)))),
           'contacts.email/phone match identifiers';
    RAISE NOTICE 'bench_plpgsql self-check passed: % contacts, % identifiers, % log rows',
        (SELECT count(*) FROM bench_plpgsql.contacts), (SELECT count(*) FROM bench_plpgsql.identifiers),
        (SELECT count(*) FROM bench_plpgsql.log);
END
$check$;

-- Leave an empty baseline.
TRUNCATE bench_plpgsql.log, bench_plpgsql.identifiers, bench_plpgsql.contacts RESTART IDENTITY;
