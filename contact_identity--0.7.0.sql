-- contact_identity--0.7.0.sql: the full install script of contact_identity 0.7.0.
-- Every object lives in schema contact_identity (created from the control file)
-- or, for segment views, contact_identity_segments.
--
-- CREATE EXTENSION contact_identity runs this file alone. An install of an
-- earlier version reaches the same schema through the update scripts
-- (contact_identity--0.1.0.sql, then contact_identity--0.1.0--0.2.0.sql ...
-- contact_identity--0.6.0--0.7.0.sql); test/scripts/fresh_vs_updated.sh
-- proves both give the same objects, definitions and privileges. Each object
-- appears here once, in its 0.7.0 definition; the update scripts keep the
-- history of how it got there.

\echo Use "CREATE EXTENSION contact_identity" to load this file. \quit

-- Roles ------------------------------------------------------------------

-- Three roles, made when missing (roles belong to the cluster, not to the
-- database or the extension): what a role may call. Which accounts it may
-- use is in account_grants.
--
-- A role of one of these names made before the extension was installed, by
-- whoever could create roles, would give its members the rights of every
-- account granted to it. An install refuses a role it did not make, unless
-- an administrator opts in. A role made by contact_identity carries its
-- comment and none of the attributes it never gives; that is how a second
-- database of the cluster recognizes the roles the first one made.
DO $$
DECLARE
    r record;
    adopt boolean := pg_catalog.current_setting('contact_identity.adopt_existing_roles', true)
                     OPERATOR(pg_catalog.=) ANY (ARRAY['on', 'true', 'yes', '1']);
    comments text[] := ARRAY[
        'contact_identity: resolve, get, explain, events, segments and exports of the accounts granted',
        'contact_identity: reader, plus upsert, assign, delete, import and track_event',
        'contact_identity: writer, plus merge, unmerge, purge, identifier types, blocked values, segments and account grants'];
BEGIN
    FOR r IN SELECT a.rolname, k.comment,
                    pg_catalog.shobj_description(a.oid, 'pg_authid') AS description,
                    a.rolcanlogin OR a.rolsuper OR a.rolcreaterole OR a.rolcreatedb OR a.rolreplication
                        OR a.rolbypassrls AS has_attributes
             FROM pg_catalog.pg_authid a
             JOIN ROWS FROM (pg_catalog.unnest(ARRAY['contact_identity_reader', 'contact_identity_writer',
                                                     'contact_identity_admin']),
                             pg_catalog.unnest(comments)) AS k(rolname, comment)
                  ON k.rolname OPERATOR(pg_catalog.=) a.rolname
             -- Made before this transaction, so not by this install.
             WHERE pg_catalog.age(a.xmin) OPERATOR(pg_catalog.<>) 0
    LOOP
        CONTINUE WHEN r.description IS NOT DISTINCT FROM r.comment AND NOT r.has_attributes;
        IF NOT adopt THEN
            RAISE EXCEPTION 'role "%" already exists and was not made by contact_identity', r.rolname
                USING ERRCODE = '42710',
                DETAIL = 'Its members would get the rights of every account granted to it'
                         OPERATOR(pg_catalog.||) CASE WHEN r.has_attributes
                             THEN ', and it has attributes contact_identity never gives (LOGIN, SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS).'
                             ELSE '.' END,
                HINT = 'Drop or rename the role, or, if it was made for contact_identity, run SET contact_identity.adopt_existing_roles = on before CREATE EXTENSION.';
        END IF;
        RAISE WARNING 'adopting the existing role "%" (contact_identity.adopt_existing_roles is on)', r.rolname;
        EXECUTE pg_catalog.format('COMMENT ON ROLE %I IS %L', r.rolname, r.comment);
    END LOOP;
END
$$;

-- The missing ones, made now; a writer is a reader, an admin a writer.
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

COMMENT ON SCHEMA contact_identity IS
    'contact_identity: one profile per person; its tables, views and functions';

-- Identifier types -------------------------------------------------------

CREATE TABLE contact_identity.identifier_types (
    name            text PRIMARY KEY
                    CHECK (name OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,62}$'
                           AND name OPERATOR(pg_catalog.<>) 'contact_id'),
    class           text NOT NULL
                    CHECK (class OPERATOR(pg_catalog.=) ANY (ARRAY['external', 'permanent', 'changeable'])),
    priority        integer NOT NULL,
    normalizer      text NOT NULL DEFAULT 'text'
                    CHECK (normalizer OPERATOR(pg_catalog.=) ANY (ARRAY['external_id', 'email', 'phone', 'text', 'lower'])),
    creates_contact boolean NOT NULL DEFAULT true,
    builtin         boolean NOT NULL DEFAULT false,
    description     text,
    max_per_contact integer,
    CONSTRAINT identifier_types_one_external_id
        CHECK ((name OPERATOR(pg_catalog.=) 'external_id') OPERATOR(pg_catalog.=) (class OPERATOR(pg_catalog.=) 'external')
               AND (name OPERATOR(pg_catalog.=) 'external_id') OPERATOR(pg_catalog.=) (normalizer OPERATOR(pg_catalog.=) 'external_id')),
    CONSTRAINT identifier_types_max_per_contact_check
        CHECK (max_per_contact IS NULL
               OR (max_per_contact OPERATOR(pg_catalog.>) 0 AND class OPERATOR(pg_catalog.=) 'changeable'))
);
COMMENT ON TABLE contact_identity.identifier_types IS
    'kinds of identifier a contact can hold; searched external ID first, then permanent, then changeable types, each by priority';
COMMENT ON COLUMN contact_identity.identifier_types.class IS
    'external (only external_id), permanent (conditionally permanent: email, phone, ...) or changeable (tokens, cookies)';
COMMENT ON COLUMN contact_identity.identifier_types.priority IS
    'search order within the class, lower first';
COMMENT ON COLUMN contact_identity.identifier_types.normalizer IS
    'how values are normalized: email, phone (E.164), text (trimmed), lower (trimmed, lower-cased); external_id for external IDs';
COMMENT ON COLUMN contact_identity.identifier_types.creates_contact IS
    'false when a request carrying only this type must not create a profile (web cookies)';
COMMENT ON COLUMN contact_identity.identifier_types.builtin IS
    'shipped with the extension; pg_dump keeps only rows added by the database''s users';
COMMENT ON COLUMN contact_identity.identifier_types.max_per_contact IS
    'how many identifiers of this type one contact keeps; past it the longest known (first_seen_at) is detached and logged; NULL: no limit (permanent types have none)';
COMMENT ON COLUMN contact_identity.identifier_types.name IS 'the type''s name, as written in the identifiers argument (email, phone, mobile_push, ...)';
COMMENT ON COLUMN contact_identity.identifier_types.description IS 'what the type is, for people';
COMMENT ON CONSTRAINT identifier_types_one_external_id ON contact_identity.identifier_types IS
    'external_id is the one type of class external, normalized as an external ID';
COMMENT ON CONSTRAINT identifier_types_max_per_contact_check ON contact_identity.identifier_types IS
    'limits are positive and only for changeable types: a merged contact keeps every email and phone';

INSERT INTO contact_identity.identifier_types
    (name, class, priority, normalizer, creates_contact, builtin, description, max_per_contact) VALUES
    ('external_id', 'external',   0,  'external_id', true, true, 'the application''s own ID for the person', NULL),
    ('email',       'permanent',  10, 'email', true,  true, 'email address', NULL),
    ('phone',       'permanent',  20, 'phone', true,  true, 'phone number in E.164 form', NULL),
    ('mobile_push', 'changeable', 10, 'text',  true,  true, 'mobile app push token', 10),
    ('web_push',    'changeable', 20, 'text',  true,  true, 'browser push subscription', 10),
    ('telegram',    'changeable', 30, 'text',  true,  true, 'Telegram chat ID', NULL),
    ('cookie',      'changeable', 40, 'text',  false, true, 'web tracking cookie; alone it creates no profile', 50);
SELECT pg_catalog.pg_extension_config_dump('contact_identity.identifier_types', 'WHERE NOT builtin');

-- Contacts ---------------------------------------------------------------

-- No foreign keys between the extension's tables (here, merged_into): they
-- cost a check per row written, made pg_restore -j load rows before those
-- they point at (and fail), and a table with one cannot be distributed on
-- its own. The write path keeps the same invariants, and verify() proves
-- them.
CREATE TABLE contact_identity.contacts (
    account_id  bigint NOT NULL DEFAULT 0 CHECK (account_id OPERATOR(pg_catalog.>=) 0),
    contact_id  bigint GENERATED BY DEFAULT AS IDENTITY,
    external_id text,
    email       text,
    phone       text,
    first_name  text,
    last_name   text,
    attributes  jsonb NOT NULL DEFAULT '{}'
                CHECK (pg_catalog.jsonb_typeof(attributes) OPERATOR(pg_catalog.=) 'object'),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at  timestamptz,
    merged_into bigint,
    PRIMARY KEY (account_id, contact_id),
    CONSTRAINT contacts_tombstone_holds_nothing CHECK (merged_into IS NULL
        OR (external_id IS NULL AND email IS NULL AND phone IS NULL)),
    CONSTRAINT contacts_not_merged_into_itself CHECK (merged_into OPERATOR(pg_catalog.<>) contact_id)
);
CREATE UNIQUE INDEX contacts_external_id_key
    ON contact_identity.contacts (account_id, external_id);
-- Finding the tombstones merged into a contact.
CREATE INDEX contacts_merged_into_idx ON contact_identity.contacts (account_id, merged_into)
    WHERE merged_into IS NOT NULL;
CREATE INDEX contacts_without_external_id_idx ON contact_identity.contacts (account_id, contact_id)
    WHERE external_id IS NULL AND deleted_at IS NULL AND merged_into IS NULL;
-- Changes since a time (export_changes): updated_at moves on every change of a
-- profile or of its identifiers, deletes and merges included.
CREATE INDEX contacts_updated_idx ON contact_identity.contacts (account_id, updated_at);
COMMENT ON TABLE contact_identity.contacts IS
    'one profile per person; deleted ones keep their identifiers, merged ones are tombstones pointing at the winner';
COMMENT ON COLUMN contact_identity.contacts.account_id IS 'tenant; every key and join leads with it';
COMMENT ON COLUMN contact_identity.contacts.external_id IS
    'the application''s own ID for the person: unique per account, never changed once set; also held in identifiers';
COMMENT ON COLUMN contact_identity.contacts.email IS 'primary email, normalized; also held in identifiers';
COMMENT ON COLUMN contact_identity.contacts.phone IS
    'primary phone: E.164, with ";ext=" and the extension when it has one; also held in identifiers';
COMMENT ON COLUMN contact_identity.contacts.attributes IS 'custom fields, a JSON object';
COMMENT ON COLUMN contact_identity.contacts.deleted_at IS 'set by delete_contact; cleared when the contact is restored';
COMMENT ON COLUMN contact_identity.contacts.merged_into IS 'the contact this one was merged into; a tombstone holds no identifier';
COMMENT ON COLUMN contact_identity.contacts.contact_id IS 'the contact''s number within its account, from contacts_contact_id_seq';
COMMENT ON COLUMN contact_identity.contacts.first_name IS 'the first name, as last written';
COMMENT ON COLUMN contact_identity.contacts.last_name IS 'the last name, as last written';
COMMENT ON COLUMN contact_identity.contacts.created_at IS 'when the contact was created';
COMMENT ON COLUMN contact_identity.contacts.updated_at IS 'when the contact last changed: a write, a merge, a delete or a restore';
COMMENT ON INDEX contact_identity.contacts_external_id_key IS 'one contact per external ID and account';
COMMENT ON INDEX contact_identity.contacts_merged_into_idx IS
    'the contacts merged into a contact, for purge_contact and verify';
COMMENT ON INDEX contact_identity.contacts_without_external_id_idx IS
    'the members of contacts_without_external_id: a count is an index-only scan';
COMMENT ON INDEX contact_identity.contacts_updated_idx IS 'export_changes: the contacts changed since a time';
COMMENT ON CONSTRAINT contacts_tombstone_holds_nothing ON contact_identity.contacts IS
    'a merged contact gives up its external ID, email and phone to the winner';
COMMENT ON CONSTRAINT contacts_not_merged_into_itself ON contact_identity.contacts IS
    'merges always point at another contact';
SELECT pg_catalog.pg_extension_config_dump('contact_identity.contacts', '');
SELECT pg_catalog.pg_extension_config_dump('contact_identity.contacts_contact_id_seq', '');

-- Identifiers ------------------------------------------------------------

CREATE TABLE contact_identity.identifiers (
    account_id    bigint NOT NULL,
    type          text NOT NULL,
    value         text NOT NULL,
    contact_id    bigint,
    first_seen_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    attached_at   timestamptz,
    PRIMARY KEY (account_id, type, value)
);
CREATE INDEX identifiers_contact_idx ON contact_identity.identifiers (account_id, contact_id)
    WHERE contact_id IS NOT NULL;
COMMENT ON TABLE contact_identity.identifiers IS
    'every identifier a contact holds, its external ID included; the primary key makes each (account, type, value) belong to one contact at most, and writers lock these rows to serialize on a key';
COMMENT ON COLUMN contact_identity.identifiers.value IS 'normalized value';
COMMENT ON COLUMN contact_identity.identifiers.contact_id IS
    'the holder; NULL for an identifier seen without a profile (a visitor''s cookie), kept until a profile claims it, or claimed by a write still in progress';
COMMENT ON COLUMN contact_identity.identifiers.attached_at IS 'when the current holder got it';
COMMENT ON COLUMN contact_identity.identifiers.account_id IS 'the account of the identifier';
COMMENT ON COLUMN contact_identity.identifiers.type IS 'the identifier type (identifier_types.name)';
COMMENT ON COLUMN contact_identity.identifiers.first_seen_at IS 'when the value was first attached to a contact in this account';
COMMENT ON INDEX contact_identity.identifiers_contact_idx IS
    'a contact''s identifiers; partial, so that lookups of holder-less keys go through the primary key';
SELECT pg_catalog.pg_extension_config_dump('contact_identity.identifiers', '');

-- Blocked values ---------------------------------------------------------

CREATE TABLE contact_identity.blocked_values (
    blocked_id      integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    identifier_type text,
    value           text NOT NULL
                    CHECK (NOT is_pattern OR ('' OPERATOR(pg_catalog.~) value) IS NOT NULL),
    is_pattern      boolean NOT NULL DEFAULT false,
    reason          text,
    builtin         boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX blocked_values_key ON contact_identity.blocked_values
    (COALESCE(identifier_type, ''), pg_catalog.lower(value), is_pattern);
COMMENT ON TABLE contact_identity.blocked_values IS
    'junk identifiers never used for matching or stored: exact values (case-insensitive) or case-insensitive regular expressions';
COMMENT ON COLUMN contact_identity.blocked_values.identifier_type IS
    'the type it applies to (an identifier type or external_id); NULL for every type';
COMMENT ON COLUMN contact_identity.blocked_values.value IS
    'compared with the value as sent (trimmed) and as normalized';
COMMENT ON COLUMN contact_identity.blocked_values.builtin IS
    'shipped with the extension; pg_dump keeps only rows added by the database''s users';
COMMENT ON COLUMN contact_identity.blocked_values.blocked_id IS 'the row''s number; blocked values are checked in this order';
COMMENT ON COLUMN contact_identity.blocked_values.is_pattern IS 'whether value is a regular expression (~*) rather than a value compared after lower()';
COMMENT ON COLUMN contact_identity.blocked_values.reason IS 'why the value is blocked, shown in the NOTICE of a dropped identifier';
COMMENT ON INDEX contact_identity.blocked_values_key IS 'each blocked value once per type';

INSERT INTO contact_identity.blocked_values (identifier_type, value, is_pattern, reason, builtin)
SELECT NULL, v, false, 'placeholder for a missing value', true
FROM pg_catalog.unnest(ARRAY['null', 'undefined', 'none', 'nil', 'nan', 'n/a', 'na', '-', '0',
                             'unknown', '(null)', '[object object]', 'false', 'true']) AS v;
INSERT INTO contact_identity.blocked_values (identifier_type, value, is_pattern, reason, builtin)
SELECT 'email', v, false, 'well-known test address', true
FROM pg_catalog.unnest(ARRAY['test@test.com', 'test@example.com', 'example@example.com',
                             'email@example.com', 'user@example.com', 'email@email.com',
                             'noemail@noemail.com', 'no@email.com', 'none@none.com',
                             'null@null.com', 'a@a.com', 'test@gmail.com']) AS v;
-- Every phone of every write is matched against the blocked patterns. A
-- back-reference sends PostgreSQL's regex engine down its backtracking
-- path: ^\+[0-9]{1,3}([0-9])\1{6,}$ cost about 3.5 us a phone, the
-- alternation of "one digit repeated" below, which accepts exactly the same
-- strings, about 0.9 us (200,000 phones: 694 against 176 ms).
INSERT INTO contact_identity.blocked_values (identifier_type, value, is_pattern, reason, builtin) VALUES
    ('email', '^(null|none|undefined|nobody|noemail|no-email|noreply|no-reply|donotreply)@', true,
     'placeholder mailbox', true),
    ('phone', '^\+[0-9]{1,3}0{6,}$', true, 'all-zero phone number', true),
    ('phone', '^\+[0-9]{1,3}(0{7,}|1{7,}|2{7,}|3{7,}|4{7,}|5{7,}|6{7,}|7{7,}|8{7,}|9{7,})$', true, 'one digit repeated', true),
    ('phone', '^\+[0-9]{1,3}(0?123456789|1234567890?)$', true, 'digits in sequence', true);
SELECT pg_catalog.pg_extension_config_dump('contact_identity.blocked_values', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('contact_identity.blocked_values_blocked_id_seq', '');

-- Identity log -----------------------------------------------------------

-- From 0.5.0 a call writes one row for each contact it changes: the
-- winner's row says what happened to it (created, restored, merged,
-- updated, identifiers_changed) and lists in its detail the identifiers
-- attached, moved in or detached, the anonymous events attached and the
-- external ID assigned; a merged contact gets a merged_into row with what
-- it brought; a contact that lost a token to another gets an
-- identifiers_changed row naming the receiver. Rows written before keep
-- their shape (one step each, with identifier_type and identifier_value);
-- identity_log_steps shows both kinds one step per row.
CREATE TABLE contact_identity.identity_log (
    account_id       bigint NOT NULL,
    log_id           bigint GENERATED ALWAYS AS IDENTITY,
    logged_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    contact_id       bigint,
    action           text NOT NULL,
    matched_by       text,
    identifier_type  text,
    identifier_value text,
    other_contact_id bigint,
    detail           jsonb,
    PRIMARY KEY (account_id, log_id),
    CONSTRAINT identity_log_action_check CHECK (action OPERATOR(pg_catalog.=) ANY (ARRAY[
        'created', 'updated', 'restored', 'deleted', 'merged', 'merged_into', 'unmerged',
        'identifiers_changed', 'remembered', 'purged',
        -- the steps of rows written before 0.5.0
        'external_id_assigned', 'identifier_attached', 'identifier_detached',
        'identifier_moved', 'identifier_remembered', 'events_attached']))
);
CREATE INDEX identity_log_contact_idx ON contact_identity.identity_log (account_id, contact_id, log_id);
CREATE INDEX identity_log_other_idx ON contact_identity.identity_log (account_id, other_contact_id, log_id)
    WHERE other_contact_id IS NOT NULL;
CREATE INDEX identity_log_purged_idx ON contact_identity.identity_log (account_id, logged_at)
    WHERE action OPERATOR(pg_catalog.=) 'purged';
COMMENT ON TABLE contact_identity.identity_log IS
    'append-only record of every identity decision, one row per decision and contact changed, so any profile can be explained';
COMMENT ON COLUMN contact_identity.identity_log.action IS
    'what happened to the contact: created, updated, restored, merged (it took others in), merged_into, unmerged, identifiers_changed, deleted, purged, remembered (no contact); rows before 0.5.0 also external_id_assigned, identifier_attached, identifier_detached, identifier_moved, identifier_remembered, events_attached';
COMMENT ON COLUMN contact_identity.identity_log.matched_by IS 'the key that found the contact: external_id, contact_id, email, phone or an identifier type';
COMMENT ON COLUMN contact_identity.identity_log.other_contact_id IS
    'merged_into and unmerged: the winner; identifiers_changed: the contact that took the identifiers; rows before 0.5.0: merged, the contact merged in, identifier_moved, the previous holder';
COMMENT ON COLUMN contact_identity.identity_log.detail IS
    'what the decision did and knew, as JSON: attached, moved, moved_to, detached, remembered (lists of {type, value, ...}), events_attached, external_id, merged, and for merged_into what the contact brought';
COMMENT ON COLUMN contact_identity.identity_log.identifier_type IS
    'rows before 0.5.0: the identifier concerned (later rows list identifiers in detail)';
COMMENT ON COLUMN contact_identity.identity_log.identifier_value IS
    'rows before 0.5.0: the identifier concerned (later rows list identifiers in detail)';
COMMENT ON COLUMN contact_identity.identity_log.account_id IS 'the account of the decision';
COMMENT ON COLUMN contact_identity.identity_log.log_id IS 'the row''s number, from identity_log_log_id_seq: the order of the decisions';
COMMENT ON COLUMN contact_identity.identity_log.logged_at IS 'when the decision was written (its transactions start)';
COMMENT ON COLUMN contact_identity.identity_log.contact_id IS 'the contact the decision left the request on; NULL once purged';
COMMENT ON INDEX contact_identity.identity_log_contact_idx IS 'a contact''s history in order';
COMMENT ON INDEX contact_identity.identity_log_other_idx IS
    'log rows naming a contact as the other side (merged into, identifier moved away), for explain_contact';
COMMENT ON INDEX contact_identity.identity_log_purged_idx IS 'export_changes: the purges since a time';
COMMENT ON CONSTRAINT identity_log_action_check ON contact_identity.identity_log IS 'the actions the log knows';
SELECT pg_catalog.pg_extension_config_dump('contact_identity.identity_log', '');
SELECT pg_catalog.pg_extension_config_dump('contact_identity.identity_log_log_id_seq', '');

-- Events and anonymous history -------------------------------------------

CREATE TABLE contact_identity.events (
    account_id  bigint NOT NULL CHECK (account_id OPERATOR(pg_catalog.>=) 0),
    event_id    bigint GENERATED ALWAYS AS IDENTITY,
    event_type  text NOT NULL CHECK (event_type OPERATOR(pg_catalog.<>) ''),
    payload     jsonb NOT NULL DEFAULT '{}'
                CHECK (pg_catalog.jsonb_typeof(payload) OPERATOR(pg_catalog.=) 'object'),
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    contact_id  bigint,
    PRIMARY KEY (account_id, event_id)
);
CREATE INDEX events_contact_idx ON contact_identity.events (account_id, contact_id, occurred_at, event_id)
    WHERE contact_id IS NOT NULL;
COMMENT ON TABLE contact_identity.events IS
    'what a person did (an order, a page view); an event nobody is known for yet is anonymous history, attached when one of its identifiers is linked to a contact';
COMMENT ON COLUMN contact_identity.events.contact_id IS
    'the contact it belongs to; NULL while anonymous (its identifiers are in event_keys)';
COMMENT ON COLUMN contact_identity.events.occurred_at IS 'when it happened, as the caller says';
COMMENT ON COLUMN contact_identity.events.recorded_at IS 'when track_event stored it';
COMMENT ON COLUMN contact_identity.events.account_id IS 'the account the event belongs to';
COMMENT ON COLUMN contact_identity.events.event_id IS 'the event''s number, from events_event_id_seq';
COMMENT ON COLUMN contact_identity.events.event_type IS 'what happened, as the application names it (order, page_view, ...)';
COMMENT ON COLUMN contact_identity.events.payload IS 'the event''s data, a JSON object';
COMMENT ON INDEX contact_identity.events_contact_idx IS 'a contact''s events in time order';
SELECT pg_catalog.pg_extension_config_dump('contact_identity.events', '');
SELECT pg_catalog.pg_extension_config_dump('contact_identity.events_event_id_seq', '');

CREATE TABLE contact_identity.event_keys (
    account_id bigint NOT NULL,
    type       text NOT NULL,
    value      text NOT NULL,
    event_id   bigint NOT NULL,
    PRIMARY KEY (account_id, type, value, event_id)
);
COMMENT ON TABLE contact_identity.event_keys IS
    'the normalized identifiers an anonymous event carries; removed when the event is attached to a contact';
COMMENT ON COLUMN contact_identity.event_keys.account_id IS 'the account of the event';
COMMENT ON COLUMN contact_identity.event_keys.type IS 'the identifier type, as in identifiers';
COMMENT ON COLUMN contact_identity.event_keys.value IS 'the identifier''s normalized value';
COMMENT ON COLUMN contact_identity.event_keys.event_id IS 'the anonymous event that carries it';
SELECT pg_catalog.pg_extension_config_dump('contact_identity.event_keys', '');

-- Imports ----------------------------------------------------------------

CREATE TABLE contact_identity.imports (
    account_id          bigint NOT NULL,
    import_id           bigint GENERATED ALWAYS AS IDENTITY,
    source              text NOT NULL,
    dedupe_on           text NOT NULL,
    batch_size          integer NOT NULL CHECK (batch_size OPERATOR(pg_catalog.>) 0),
    restore_deleted     boolean NOT NULL,
    clear_nulls         boolean NOT NULL,
    status              text NOT NULL DEFAULT 'running',
    rows_total          bigint,
    rows_done           bigint NOT NULL DEFAULT 0,
    created             bigint NOT NULL DEFAULT 0,
    updated             bigint NOT NULL DEFAULT 0,
    restored            bigint NOT NULL DEFAULT 0,
    merged              bigint NOT NULL DEFAULT 0,
    skipped             bigint NOT NULL DEFAULT 0,
    failed              bigint NOT NULL DEFAULT 0,
    last_row_number     text,
    last_ctid           text,
    started_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    finished_at         timestamptz,
    -- An error that is no row's (a read-only transaction, a lock or
    -- statement timeout, a deadlock, a serialization failure, running out
    -- of memory, a cancel) rolls back run_import's batch and fails the
    -- call; the import stays running, to be resumed, and its row says why.
    last_error_sqlstate text,
    last_error_message  text,
    last_error_at       timestamptz,
    PRIMARY KEY (account_id, import_id),
    CONSTRAINT imports_status_check
        CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['running', 'done', 'cancelled']))
);
COMMENT ON TABLE contact_identity.imports IS
    'one row per run_import: its options and its progress, committed with every batch so another session can watch it';
COMMENT ON COLUMN contact_identity.imports.source IS 'the source table, schema-qualified';
COMMENT ON COLUMN contact_identity.imports.status IS
    'running (also after a crash, a cancel or an error that ended its call: CALL run_import(..., import_id => N) resumes it; import_progress says whether a session runs it), done, or cancelled (by cancel_import; never resumed)';
COMMENT ON COLUMN contact_identity.imports.rows_done IS 'source rows applied or reported so far, all committed';
COMMENT ON COLUMN contact_identity.imports.skipped IS
    'rows that changed no profile: the match was deleted and restore_deleted off, or the row carried only a cookie';
COMMENT ON COLUMN contact_identity.imports.last_row_number IS
    'the row_number column of the last committed row (as text), NULL without such a column';
COMMENT ON COLUMN contact_identity.imports.last_ctid IS 'the physical position of the last committed row; resuming reads after it';
COMMENT ON COLUMN contact_identity.imports.last_error_sqlstate IS
    'the SQLSTATE of the last error that ended a run_import call of this import (no row''s: a timeout, a cancel, a deadlock, ...); its batch rolled back. NULL when none did';
COMMENT ON COLUMN contact_identity.imports.last_error_message IS 'the message of that error';
COMMENT ON COLUMN contact_identity.imports.last_error_at IS 'when that error ended the call';
COMMENT ON COLUMN contact_identity.imports.finished_at IS 'when the import ended: done, or cancelled';
COMMENT ON COLUMN contact_identity.imports.account_id IS 'the account the import writes to';
COMMENT ON COLUMN contact_identity.imports.import_id IS 'the import''s number, from imports_import_id_seq';
COMMENT ON COLUMN contact_identity.imports.dedupe_on IS 'the key that finds a row''s contact: external_id, email or phone';
COMMENT ON COLUMN contact_identity.imports.batch_size IS 'source rows per committed batch';
COMMENT ON COLUMN contact_identity.imports.restore_deleted IS 'whether a row that matches a deleted contact restores it';
COMMENT ON COLUMN contact_identity.imports.clear_nulls IS 'whether a NULL column clears the stored value (else it keeps it)';
COMMENT ON COLUMN contact_identity.imports.rows_total IS 'the source''s row count when the import started, NULL when not counted';
COMMENT ON COLUMN contact_identity.imports.created IS 'rows that created a contact';
COMMENT ON COLUMN contact_identity.imports.updated IS 'rows that updated a contact';
COMMENT ON COLUMN contact_identity.imports.restored IS 'rows that restored a deleted contact';
COMMENT ON COLUMN contact_identity.imports.merged IS 'rows that merged contacts';
COMMENT ON COLUMN contact_identity.imports.failed IS 'rows refused, each in import_errors';
COMMENT ON COLUMN contact_identity.imports.started_at IS 'when the import started';
COMMENT ON CONSTRAINT imports_status_check ON contact_identity.imports IS 'an import is running, done or cancelled';
SELECT pg_catalog.pg_extension_config_dump('contact_identity.imports', '');
SELECT pg_catalog.pg_extension_config_dump('contact_identity.imports_import_id_seq', '');

CREATE TABLE contact_identity.import_errors (
    account_id bigint NOT NULL,
    import_id  bigint NOT NULL,
    row_number bigint NOT NULL,
    sqlstate   text NOT NULL,
    message    text NOT NULL,
    row_data   jsonb,
    PRIMARY KEY (account_id, import_id, row_number)
);
COMMENT ON TABLE contact_identity.import_errors IS
    'every row run_import could not apply: its SQLSTATE, a message naming the column and value, and the row itself';
COMMENT ON COLUMN contact_identity.import_errors.row_data IS 'the source row as JSON (values as text)';
COMMENT ON COLUMN contact_identity.import_errors.account_id IS 'the account of the import';
COMMENT ON COLUMN contact_identity.import_errors.import_id IS 'the import (imports.import_id)';
COMMENT ON COLUMN contact_identity.import_errors.row_number IS 'the source row: its row_number column, else its position in the source';
COMMENT ON COLUMN contact_identity.import_errors.sqlstate IS 'the SQLSTATE that refused the row (22xxx, 23xxx, or the rules'' own)';
COMMENT ON COLUMN contact_identity.import_errors.message IS 'the error, naming the column and the value';
SELECT pg_catalog.pg_extension_config_dump('contact_identity.import_errors', '');

-- Purge key --------------------------------------------------------------

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
COMMENT ON COLUMN contact_identity.secrets.singleton IS 'always true: the table has one row';
SELECT pg_catalog.pg_extension_config_dump('contact_identity.secrets', '');

-- Accounts: grants and settings ------------------------------------------

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
COMMENT ON COLUMN contact_identity.account_grants.role IS 'the role (with its members) the grant is for';
COMMENT ON COLUMN contact_identity.account_grants.account_id IS 'the account the role may use';
COMMENT ON COLUMN contact_identity.account_grants.level IS 'reader, writer or admin; each includes the ones before';
COMMENT ON COLUMN contact_identity.account_grants.granted_at IS 'when the grant was made or last changed';
COMMENT ON INDEX contact_identity.account_grants_account_idx IS 'the grants on one account, for every check';
SELECT pg_catalog.pg_extension_config_dump('contact_identity.account_grants', '');

-- A phone written without a country code is read in a region. The session
-- setting contact_identity.default_region does not survive a connection
-- pooler in transaction mode (the next transaction may run in another
-- session, with another client's setting), so the region of an account is
-- kept with the account, and the setting is only the fallback for accounts
-- without one (set it per database or role, not per session).

CREATE FUNCTION contact_identity.is_region(region text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ci_is_region'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION contact_identity.is_region(text) IS
    'whether libphonenumber knows a region code (ISO 3166, upper case, such as UA or US)';

CREATE TABLE contact_identity.account_settings (
    account_id     bigint PRIMARY KEY,
    default_region text NOT NULL CHECK (default_region OPERATOR(pg_catalog.=) pg_catalog.upper(default_region)
                                        AND contact_identity.is_region(default_region)),
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE contact_identity.account_settings IS
    'per-account settings, kept in every backend''s memory until they change; set with set_account_region';
COMMENT ON COLUMN contact_identity.account_settings.account_id IS 'the account the settings are for';
COMMENT ON COLUMN contact_identity.account_settings.default_region IS
    'the region of the account''s phones written without a country code; before contact_identity.default_region';
COMMENT ON COLUMN contact_identity.account_settings.updated_at IS 'when the settings last changed';
SELECT pg_catalog.pg_extension_config_dump('contact_identity.account_settings', '');

-- Segments (tables) ------------------------------------------------------

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
COMMENT ON COLUMN contact_identity.segments.account_id IS 'the account whose contacts the segment selects';
COMMENT ON COLUMN contact_identity.segments.created_at IS 'when create_segment made it';
COMMENT ON COLUMN contact_identity.segments.updated_at IS 'when replace_segment last changed its rule';
SELECT pg_catalog.pg_extension_config_dump('contact_identity.segments', '');

-- Access checks ----------------------------------------------------------

-- The functions that read or write the tables run as the extension's owner
-- (SECURITY DEFINER, each with search_path pinned), for the same reason:
-- they read or write the tables, which no other role may write, after
-- checking the calling role's grant on the account. docs/security.md lists
-- them (test/scripts/definers.sh). The C functions and run_import check too
-- (run_import, which commits, cannot be SECURITY DEFINER: it switches to
-- the owner between commits itself).

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
-- policies (a sub-select there runs once per query). In C, reading the
-- grants from this node's copy of account_grants and keeping them for the
-- statement: on a Citus cluster the policies call it for every row (Citus
-- refuses the InitPlan form), inside the query Citus runs on a shard, where
-- reading the distributed reference table through Citus would be a nested
-- distributed query, which Citus refuses.
CREATE FUNCTION contact_identity.readable_accounts()
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'ci_readable_accounts'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION contact_identity.readable_accounts() IS
    'the accounts the calling role has any grant on: what row-level security lets it read';

-- Citus allows only immutable functions in an upsert's DO UPDATE on its
-- tables: grant_account takes the time first.
CREATE FUNCTION contact_identity.grant_account(role name, account_id bigint, level text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    granted timestamptz := pg_catalog.now();
BEGIN
    PERFORM contact_identity.require_writable('grant_account');
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
    INSERT INTO contact_identity.account_grants (role, account_id, level, granted_at)
    VALUES (grant_account.role, grant_account.account_id, grant_account.level, granted)
    ON CONFLICT ON CONSTRAINT account_grants_pkey DO UPDATE SET level = EXCLUDED.level, granted_at = EXCLUDED.granted_at;
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
    PERFORM contact_identity.require_writable('revoke_account');
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

-- Writes refused on a standby or in a read-only transaction: every function
-- that writes refuses first, with 25006 naming it, instead of failing deep
-- inside (a row lock, a temporary table, an INSERT) with the internal SQL as
-- CONTEXT. The C functions check in C (src/pg/writable.h); the PL/pgSQL ones
-- call require_writable first. resolve_contact, a read, runs on a standby.
CREATE FUNCTION contact_identity.require_writable(function_name text)
RETURNS void
AS 'MODULE_PATHNAME', 'ci_require_writable'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION contact_identity.require_writable(text) IS
    'raises 25006 naming contact_identity.<function_name> when the transaction cannot write (a standby, or READ ONLY); the first call of every PL/pgSQL function that writes';

CREATE FUNCTION contact_identity.set_account_region(account_id bigint, region text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    code text := pg_catalog.upper(pg_catalog.btrim(region));
BEGIN
    PERFORM contact_identity.require_writable('set_account_region');
    IF account_id IS NULL THEN
        RAISE EXCEPTION 'account_id must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM contact_identity.require_account(set_account_region.account_id, 'admin');
    IF code IS NULL OR code OPERATOR(pg_catalog.=) '' THEN
        DELETE FROM contact_identity.account_settings s
        WHERE s.account_id OPERATOR(pg_catalog.=) set_account_region.account_id;
        RETURN NULL;
    END IF;
    IF NOT contact_identity.is_region(code) THEN
        RAISE EXCEPTION 'invalid region "%"', pg_catalog.left(region, 100)
            USING ERRCODE = '22023',
            DETAIL = 'libphonenumber knows no region of that code.',
            HINT = 'Use an ISO 3166 code such as ''UA'' or ''US'', or NULL to use contact_identity.default_region.';
    END IF;
    INSERT INTO contact_identity.account_settings AS s (account_id, default_region)
    VALUES (set_account_region.account_id, code)
    ON CONFLICT ON CONSTRAINT account_settings_pkey
    DO UPDATE SET default_region = EXCLUDED.default_region, updated_at = EXCLUDED.updated_at;
    RETURN code;
END
$$;
COMMENT ON FUNCTION contact_identity.set_account_region(bigint, text) IS
    'sets the region of an account''s phones written without a country code (NULL: back to contact_identity.default_region); returns it; for admins';


-- Normalizers ------------------------------------------------------------

CREATE FUNCTION contact_identity.merge_attributes(current jsonb, changes jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'ci_merge_attributes'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION contact_identity.merge_attributes(jsonb, jsonb) IS
    'the attributes after an update: changes overwrite, a JSON null removes the key, NULL changes nothing';

CREATE FUNCTION contact_identity.normalize_email(email text)
RETURNS text
AS 'MODULE_PATHNAME', 'ci_normalize_email'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION contact_identity.normalize_email(text) IS
    'the email as contact_identity stores it: trimmed, lower-cased, IDN domain in ASCII; an error when invalid';

CREATE FUNCTION contact_identity.normalize_phone(phone text, region text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'ci_normalize_phone'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION contact_identity.normalize_phone(text, text) IS
    'the phone as contact_identity stores it (E.164, with ";ext=" and the extension when it has one); numbers without country code are read in region, else contact_identity.default_region';

CREATE FUNCTION contact_identity.email_mailbox(email text)
RETURNS text
AS 'MODULE_PATHNAME', 'ci_email_mailbox'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION contact_identity.email_mailbox(text) IS
    'the mailbox a stored email delivers to: the +tag dropped, and for Gmail the dots, with the domain gmail.com';

-- What this library's normalizer makes of a stored value (normalized), or
-- why it refuses it (refused); never raises for a bad value.
CREATE FUNCTION contact_identity.identifier_normal_form(type text, normalizer text, value text,
    OUT normalized text, OUT refused text)
RETURNS record
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ci_identifier_normal_form';
COMMENT ON FUNCTION contact_identity.identifier_normal_form(text, text, text) IS
    'the stored form this library''s normalizer gives a value of an identifier type, or the error refusing it; for unnormalized_identifiers';


-- Profiles: resolve, write, read, merge, purge ---------------------------

CREATE TYPE contact_identity.upsert_result AS (
    contact_id  bigint,
    external_id text,
    action      text,
    matched_by  text
);
COMMENT ON TYPE contact_identity.upsert_result IS
    'what a write did: the contact, its external ID, created/updated/restored/merged/remembered, and the key that decided';

CREATE FUNCTION contact_identity.resolve_contact(
    external_id text DEFAULT NULL,
    email text DEFAULT NULL,
    phone text DEFAULT NULL,
    identifiers jsonb DEFAULT NULL,
    account_id bigint DEFAULT 0,
    include_deleted boolean DEFAULT false)
RETURNS TABLE (contact_id bigint, matched_by text)
AS 'MODULE_PATHNAME', 'ci_resolve_contact'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET jit = off;
COMMENT ON FUNCTION contact_identity.resolve_contact(text, text, text, jsonb, bigint, boolean) IS
    'read-only priority search (external ID, email, phone, other types): the contact and the key that found it, or no row';

CREATE FUNCTION contact_identity.upsert_contact(
    external_id text DEFAULT NULL,
    email text DEFAULT NULL,
    phone text DEFAULT NULL,
    identifiers jsonb DEFAULT NULL,
    first_name text DEFAULT NULL,
    last_name text DEFAULT NULL,
    attributes jsonb DEFAULT NULL,
    contact_id bigint DEFAULT NULL,
    account_id bigint DEFAULT 0,
    dedupe_on text DEFAULT NULL,
    restore_deleted boolean DEFAULT true)
RETURNS contact_identity.upsert_result
AS 'MODULE_PATHNAME', 'ci_upsert_contact'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET jit = off;
COMMENT ON FUNCTION contact_identity.upsert_contact(text, text, text, jsonb, text, text, jsonb, bigint, bigint, text, boolean) IS
    'finds the person by the identity rules and creates, updates, restores or merges their profile; dedupe_on restricts the search to one key as an import does';

CREATE FUNCTION contact_identity.assign_external_id(
    contact_id bigint,
    external_id text,
    account_id bigint DEFAULT 0)
RETURNS contact_identity.upsert_result
AS 'MODULE_PATHNAME', 'ci_assign_external_id'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET jit = off;
COMMENT ON FUNCTION contact_identity.assign_external_id(bigint, text, bigint) IS
    'gives a contact its external ID; an error when another contact holds it or the contact has another one';

CREATE FUNCTION contact_identity.delete_contact(contact_id bigint, account_id bigint DEFAULT 0)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ci_delete_contact'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET jit = off;
COMMENT ON FUNCTION contact_identity.delete_contact(bigint, bigint) IS
    'soft delete: the contact keeps its identifiers and is restored by a later upsert; false when already deleted';

-- get_contact is PL/pgSQL: an SQL function's statements are planned with
-- their parameters unknown, which Citus cannot route; PL/pgSQL plans them
-- with the values (and on one server keeps its plan across calls, which an
-- SQL function does not).
CREATE FUNCTION contact_identity.get_contact(contact_id bigint, account_id bigint DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM contact_identity.require_account(get_contact.account_id, 'reader');
    RETURN (
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
                       WHERE i.account_id OPERATOR(pg_catalog.=) get_contact.account_id
                         AND i.contact_id OPERATOR(pg_catalog.=) get_contact.contact_id
                         AND t.class OPERATOR(pg_catalog.<>) 'external'), '[]'::jsonb),
                   'fields', c.attributes,
                   'createdAt', c.created_at,
                   'updatedAt', c.updated_at,
                   'deletedAt', c.deleted_at,
                   'mergedInto', c.merged_into)
        FROM contact_identity.contacts c
        WHERE c.account_id OPERATOR(pg_catalog.=) get_contact.account_id
          AND c.contact_id OPERATOR(pg_catalog.=) get_contact.contact_id);
END
$$;
COMMENT ON FUNCTION contact_identity.get_contact(bigint, bigint) IS
    'the profile in the API''s shape (contactId, externalCustomerId, firstName, lastName, channels, fields); NULL when unknown';

CREATE FUNCTION contact_identity.merge_contacts(winner bigint, loser bigint, force boolean DEFAULT false,
                                                account_id bigint DEFAULT 0)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ci_merge_contacts'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET jit = off;
COMMENT ON FUNCTION contact_identity.merge_contacts(bigint, bigint, boolean, bigint) IS
    'merges two profiles an admin knows are one person into the winner, whose contact ID it returns; refused when both have an external ID unless force';

CREATE FUNCTION contact_identity.unmerge_contact(loser bigint, account_id bigint DEFAULT 0)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'ci_unmerge_contact'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET jit = off;
COMMENT ON FUNCTION contact_identity.unmerge_contact(bigint, bigint) IS
    'reverses the merge of a contact, automatic or explicit, from identity_log: it gets back the identifiers, events and values it brought, the winner keeps what it gained since; returns what went back';

CREATE FUNCTION contact_identity.purge_contact(contact_id bigint, account_id bigint DEFAULT 0)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'ci_purge_contact'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET jit = off;
COMMENT ON FUNCTION contact_identity.purge_contact(bigint, bigint) IS
    'erases a person: the contact and the contacts merged into it, their identifiers (free again), events and failed import rows; identity_log keeps keyed hashes in place of their values; returns what was erased';


-- Bulk import ------------------------------------------------------------

CREATE FUNCTION contact_identity.import_contacts(
    source regclass,
    dedupe_on text DEFAULT 'external_id',
    restore_deleted boolean DEFAULT false,
    clear_nulls boolean DEFAULT false,
    account_id bigint DEFAULT 0)
RETURNS TABLE (row_number bigint, contact_id bigint, action text, matched_by text,
               error_code text, error_message text)
AS 'MODULE_PATHNAME', 'ci_import_contacts'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET jit = off;
COMMENT ON FUNCTION contact_identity.import_contacts(regclass, text, boolean, boolean, bigint) IS
    'loads a table of contacts in one transaction, each row as upsert_contact with dedupe_on would; a bad row is reported in its result row, never fatal';

CREATE PROCEDURE contact_identity.run_import(
    source regclass,
    dedupe_on text DEFAULT 'external_id',
    batch_size integer DEFAULT 10000,
    restore_deleted boolean DEFAULT false,
    clear_nulls boolean DEFAULT false,
    account_id bigint DEFAULT 0,
    INOUT import_id bigint DEFAULT NULL)
AS 'MODULE_PATHNAME', 'ci_run_import'
LANGUAGE C;
COMMENT ON PROCEDURE contact_identity.run_import(regclass, text, integer, boolean, boolean, bigint, bigint) IS
    'loads a table of contacts, committing after every batch; progress in imports, failed rows in import_errors; with import_id it resumes after the last committed batch';

CREATE FUNCTION contact_identity.import_contacts_json(
    contacts jsonb,
    dedupe_on text DEFAULT 'external_id',
    restore_deleted boolean DEFAULT false,
    clear_nulls boolean DEFAULT false,
    account_id bigint DEFAULT 0)
RETURNS TABLE (row_number bigint, contact_id bigint, action text, matched_by text,
               error_code text, error_message text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM contact_identity.require_writable('import_contacts_json');
    IF contacts IS NULL OR pg_catalog.jsonb_typeof(contacts) OPERATOR(pg_catalog.<>) 'array' THEN
        RAISE EXCEPTION 'contacts must be a JSON array'
            USING ERRCODE = '22023',
                  DETAIL = pg_catalog.format('It is %s.', COALESCE('a JSON ' OPERATOR(pg_catalog.||)
                                                                    pg_catalog.jsonb_typeof(contacts), 'NULL')),
                  HINT = 'Pass an array of contacts in the shape get_contact returns.';
    END IF;
    -- The API shape as import columns; JSON that cannot be mapped fails its
    -- own row through the _contact_identity_error column.
    IF pg_catalog.to_regclass('pg_temp.contact_identity_json_source') IS NOT NULL THEN
        DROP TABLE pg_temp.contact_identity_json_source;
    END IF;
    CREATE TEMP TABLE contact_identity_json_source ON COMMIT DROP AS
    SELECT e.ord AS row_number,
           CASE WHEN pg_catalog.jsonb_typeof(e.c) OPERATOR(pg_catalog.=) 'object'
                THEN e.c OPERATOR(pg_catalog.->>) 'externalCustomerId' END AS external_id,
           e.c OPERATOR(pg_catalog.->>) 'contactId' AS contact_id,
           e.c OPERATOR(pg_catalog.->>) 'firstName' AS first_name,
           e.c OPERATOR(pg_catalog.->>) 'lastName' AS last_name,
           CASE WHEN pg_catalog.jsonb_typeof(e.c OPERATOR(pg_catalog.->) 'fields') OPERATOR(pg_catalog.=) 'object'
                THEN e.c OPERATOR(pg_catalog.->) 'fields' END AS attributes,
           (SELECT pg_catalog.jsonb_object_agg(ch.type, ch.vals)
              FROM (SELECT x OPERATOR(pg_catalog.->>) 'type' AS type,
                           pg_catalog.jsonb_agg(x OPERATOR(pg_catalog.->) 'value') AS vals
                      FROM pg_catalog.jsonb_array_elements(
                               CASE WHEN pg_catalog.jsonb_typeof(e.c OPERATOR(pg_catalog.->) 'channels')
                                         OPERATOR(pg_catalog.=) 'array'
                                    THEN e.c OPERATOR(pg_catalog.->) 'channels' ELSE '[]' END) AS x
                     WHERE pg_catalog.jsonb_typeof(x OPERATOR(pg_catalog.->) 'type') OPERATOR(pg_catalog.=) 'string'
                     GROUP BY 1) AS ch) AS identifiers,
           CASE WHEN pg_catalog.jsonb_typeof(e.c) OPERATOR(pg_catalog.<>) 'object'
                THEN pg_catalog.format('a contact must be a JSON object, not %s', pg_catalog.jsonb_typeof(e.c))
                WHEN pg_catalog.jsonb_typeof(e.c OPERATOR(pg_catalog.->) 'channels')
                     OPERATOR(pg_catalog.<>) ALL (ARRAY['array', 'null'])
                THEN 'channels must be an array of {"type": ..., "value": ...}'
                WHEN EXISTS (SELECT FROM pg_catalog.jsonb_array_elements(
                                 CASE WHEN pg_catalog.jsonb_typeof(e.c OPERATOR(pg_catalog.->) 'channels')
                                           OPERATOR(pg_catalog.=) 'array'
                                      THEN e.c OPERATOR(pg_catalog.->) 'channels' ELSE '[]' END) AS x
                             WHERE pg_catalog.jsonb_typeof(x OPERATOR(pg_catalog.->) 'type')
                                   IS DISTINCT FROM 'string')
                THEN 'each channel must be {"type": ..., "value": ...} with a type name'
                WHEN pg_catalog.jsonb_typeof(e.c OPERATOR(pg_catalog.->) 'fields')
                     OPERATOR(pg_catalog.<>) ALL (ARRAY['object', 'null'])
                THEN 'fields must be a JSON object'
           END AS _contact_identity_error
    FROM pg_catalog.jsonb_array_elements(contacts) WITH ORDINALITY AS e(c, ord);
    RETURN QUERY SELECT * FROM contact_identity.import_contacts(
        'pg_temp.contact_identity_json_source'::pg_catalog.regclass,
        import_contacts_json.dedupe_on, import_contacts_json.restore_deleted,
        import_contacts_json.clear_nulls, import_contacts_json.account_id);
    DROP TABLE pg_temp.contact_identity_json_source;
END
$$;
COMMENT ON FUNCTION contact_identity.import_contacts_json(jsonb, text, boolean, boolean, bigint) IS
    'import_contacts for a JSON array of contacts in the shape get_contact returns (externalCustomerId, channels, firstName, fields, ...)';

-- run_import holds an advisory lock on its import while its call runs
-- (src/pg/import_lock.h): who holds it is whether a session runs it.
CREATE FUNCTION contact_identity.import_session_pid(import_id bigint)
RETURNS integer
AS 'MODULE_PATHNAME', 'ci_import_session_pid'
LANGUAGE C VOLATILE STRICT
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION contact_identity.import_session_pid(bigint) IS
    'the backend whose CALL run_import runs the import now (it holds the import''s advisory lock), or NULL';

-- import_progress: the session that runs an import is looked up where
-- the view is read, on the imports rows as read (OFFSET 0): Citus sends no
-- volatile function to the workers, and a run_import from the coordinator
-- holds its lock there.
CREATE VIEW contact_identity.import_progress WITH (security_invoker = true) AS
SELECT i.account_id, i.import_id, i.source,
       CASE WHEN i.status OPERATOR(pg_catalog.=) 'running' AND s.pid IS NULL THEN 'interrupted'
            ELSE i.status END AS status,
       s.pid AS session_pid,
       i.rows_total, i.rows_done, i.created, i.updated, i.restored, i.merged, i.skipped, i.failed,
       i.started_at, i.finished_at, i.last_error_sqlstate, i.last_error_message, i.last_error_at
FROM (SELECT * FROM contact_identity.imports OFFSET 0) AS i
LEFT JOIN LATERAL (SELECT contact_identity.import_session_pid(i.import_id) AS pid
                   WHERE i.status OPERATOR(pg_catalog.=) 'running') AS s ON true;
COMMENT ON VIEW contact_identity.import_progress IS
    'the imports with their live status: running while a session runs the import, interrupted when none does (resume it, or cancel_import), done or cancelled';

CREATE FUNCTION contact_identity.cancel_import(import_id bigint, account_id bigint DEFAULT 0)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ci_cancel_import'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION contact_identity.cancel_import(bigint, bigint) IS
    'ends a run_import import whose session is gone: cancelled, never resumed, its committed batches stay; 55006 while a session runs it; false when it was cancelled already';

-- import_contacts on the coordinator for an account whose shards are on a
-- worker sends the source's rows there in batches (src/pg/import_forward.cpp):
-- each batch, JSON with the source's columns and row numbers, becomes a
-- temporary table on the worker, imported there by import_contacts. Not
-- SECURITY DEFINER: the caller imports as itself, with its own grant.
CREATE FUNCTION contact_identity.import_forwarded(
    rows jsonb,
    column_names text[],
    column_types text[],
    dedupe_on text,
    restore_deleted boolean,
    clear_nulls boolean,
    account_id bigint)
RETURNS TABLE (row_number bigint, contact_id bigint, action text, matched_by text,
               error_code text, error_message text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    definition text;
BEGIN
    -- Names quoted and types read as types: nothing of the text is SQL.
    SELECT pg_catalog.string_agg(pg_catalog.format('%I %s', c.name, c.type::pg_catalog.regtype), ', ' ORDER BY c.ord)
      INTO definition
      FROM ROWS FROM (pg_catalog.unnest(column_names), pg_catalog.unnest(column_types)) WITH ORDINALITY AS c(name, type, ord);
    IF NOT 'row_number' OPERATOR(pg_catalog.=) ANY (column_names) THEN
        definition := COALESCE(definition OPERATOR(pg_catalog.||) ', ', '') OPERATOR(pg_catalog.||) 'row_number bigint';
    END IF;
    IF pg_catalog.to_regclass('pg_temp.contact_identity_forwarded') IS NOT NULL THEN
        DROP TABLE pg_temp.contact_identity_forwarded;
    END IF;
    EXECUTE pg_catalog.format('CREATE TEMP TABLE contact_identity_forwarded ON COMMIT DROP AS'
                              ' SELECT * FROM pg_catalog.jsonb_to_recordset($1) AS x(%s)', definition)
      USING rows;
    RETURN QUERY SELECT * FROM contact_identity.import_contacts(
        'pg_temp.contact_identity_forwarded'::pg_catalog.regclass, import_forwarded.dedupe_on,
        import_forwarded.restore_deleted, import_forwarded.clear_nulls, import_forwarded.account_id);
    DROP TABLE pg_temp.contact_identity_forwarded;
END
$$;
COMMENT ON FUNCTION contact_identity.import_forwarded(jsonb, text[], text[], text, boolean, boolean, bigint) IS
    'one batch of an import_contacts the coordinator sends to the account''s worker (Citus); not for direct use';


-- Events -----------------------------------------------------------------

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
LANGUAGE C VOLATILE SECURITY DEFINER
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
LANGUAGE plpgsql STABLE SECURITY DEFINER
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


-- Explaining a profile ---------------------------------------------------

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

-- identity_log_steps: log_steps of a whole row, built from the columns
-- (Citus sends a whole row to a shard with the shard's row type).
CREATE VIEW contact_identity.identity_log_steps WITH (security_invoker = true) AS
SELECT l.account_id, l.log_id, s.step, l.logged_at, s.contact_id, s.action, s.matched_by, s.identifier_type,
       s.identifier_value, s.other_contact_id, s.detail
FROM contact_identity.identity_log l
CROSS JOIN LATERAL contact_identity.log_steps(ROW(l.*)::contact_identity.identity_log) s
WHERE NOT s.mirrored;
COMMENT ON VIEW contact_identity.identity_log_steps IS
    'identity_log one step per row (created, identifier_attached, identifier_moved, merged, ...), rows of every version alike, in order by log_id and step';

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

-- explain_contact reads the steps of every row that concerns the contact:
-- its own, and those that name it as the other side of a merge, an unmerge
-- or a move (rows before 0.5.0). It passes log_steps the row built from the
-- columns, an identity_log on every node: Citus sends a whole-row reference
-- to the shard as the shard's row type, which log_steps does not take.
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
    CROSS JOIN LATERAL contact_identity.log_steps(ROW(l.*)::contact_identity.identity_log) s
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


-- The identity graph -----------------------------------------------------

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


-- Citus: tables, nodes and accounts --------------------------------------

-- One call, contact_identity.distribute(), on a Citus coordinator with
-- workers: every per-account table is distributed by account_id and
-- co-located with contacts, so that one account's rows sit in one shard
-- group on one worker; the configuration and access tables become
-- reference tables (a copy on every node); every per-account C function is
-- delegated to the worker that holds its account, where the library works
-- on that account's local shards directly (docs/scale-out.md). Nothing here
-- runs, and nothing costs, on a server without Citus.


-- The tables distributed by account_id, in the order they are distributed
-- (contacts first: the others are co-located with it).
CREATE FUNCTION contact_identity.distributed_tables()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY['contacts', 'identifiers', 'events', 'event_keys', 'identity_log', 'imports', 'import_errors']
$$;
COMMENT ON FUNCTION contact_identity.distributed_tables() IS
    'the tables distribute() shards by account_id, co-located with contacts';

-- The tables every node keeps a whole copy of.
CREATE FUNCTION contact_identity.reference_tables()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY['identifier_types', 'blocked_values', 'account_settings', 'account_grants', 'secrets', 'segments']
$$;
COMMENT ON FUNCTION contact_identity.reference_tables() IS
    'the tables distribute() makes Citus reference tables (a copy on every node)';

CREATE FUNCTION contact_identity.is_distributed()
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    distributed boolean;
BEGIN
    -- pg_dist_partition exists only with Citus; read it by name so that
    -- this function works without it.
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p'
            ' WHERE p.logicalrelid OPERATOR(pg_catalog.=) ''contact_identity.contacts''::pg_catalog.regclass)'
       INTO distributed;
    RETURN distributed;
END
$$;
COMMENT ON FUNCTION contact_identity.is_distributed() IS
    'whether distribute() has sharded the tables with Citus';

-- Per-node ID ranges: each node's sequences of the per-account tables
-- hand out IDs from a range of 2^40 of their own, so that IDs stay unique
-- across the cluster without asking another node. The worker in node group
-- g takes range g - 1 (starting above the IDs the tables had before they
-- were distributed, `floors`); the coordinator (group 0) takes the last
-- range under 2^53, so IDs stay exact in JSON and JavaScript. Run on every
-- node by distribute(); a node whose ranges are set keeps them.
CREATE FUNCTION contact_identity.claim_id_ranges(floors jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    node_group integer;
    range_index bigint;
    low bigint;
    high bigint;
    seq text;
    claimed text := '';
    current_high bigint;
    start_at bigint;
BEGIN
    EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO node_group;
    range_index := CASE WHEN node_group OPERATOR(pg_catalog.=) 0 THEN 8191 ELSE node_group OPERATOR(pg_catalog.-) 1 END;
    IF range_index OPERATOR(pg_catalog.>) 8191 THEN
        RAISE EXCEPTION 'node group % has no ID range', node_group USING ERRCODE = '54000',
            DETAIL = 'contact_identity gives each node group up to 8190 a range of 2^40 IDs under 2^53.';
    END IF;
    low := range_index OPERATOR(pg_catalog.*) 1099511627776 OPERATOR(pg_catalog.+) 1;
    high := low OPERATOR(pg_catalog.+) 1099511627775;
    FOREACH seq IN ARRAY ARRAY['contacts_contact_id_seq', 'events_event_id_seq', 'identity_log_log_id_seq',
                               'imports_import_id_seq'] LOOP
        SELECT s.seqmax INTO current_high FROM pg_catalog.pg_sequence s
         WHERE s.seqrelid OPERATOR(pg_catalog.=) pg_catalog.format('contact_identity.%I', seq)::pg_catalog.regclass;
        CONTINUE WHEN current_high OPERATOR(pg_catalog.=) high;
        start_at := GREATEST(low, COALESCE((floors OPERATOR(pg_catalog.->>) seq)::pg_catalog.int8, 0)
                                             OPERATOR(pg_catalog.+) 1);
        EXECUTE pg_catalog.format('ALTER SEQUENCE contact_identity.%I MINVALUE %s MAXVALUE %s START WITH %s RESTART WITH %s',
                                  seq, low, high, low, start_at);
        claimed := claimed OPERATOR(pg_catalog.||) seq OPERATOR(pg_catalog.||) ' ';
    END LOOP;
    RETURN pg_catalog.format('group %s: [%s, %s] %s', node_group, low, high, claimed);
END
$$;
COMMENT ON FUNCTION contact_identity.claim_id_ranges(jsonb) IS
    'gives this node''s sequences of the per-account tables their range of IDs (distribute() runs it on every node)';

-- verify(), unnormalized_identifiers() and possible_duplicates_of() read
-- several tables of an account together, in statements Citus cannot plan
-- across shards. Each runs its statement account by account on the node
-- that holds the account, with the account's shards named there
-- (local_sql), through a function Citus delegates (*_on_node); on one
-- server it runs once over everything. The statements take their scope as
-- parameters ($1 the account, $2 the accounts the caller may check). verify's and unnormalized_identifiers'
-- rows come back as JSON, so that one function (rows_by_account) goes over
-- the accounts for both; possible_duplicates_of, which returns many rows,
-- has a loop of its own with typed rows.


CREATE FUNCTION contact_identity.local_sql(sql text, account_id bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'ci_local_sql'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION contact_identity.local_sql(text, bigint) IS
    'a statement with the account''s local shards named in place of the tables when they are distributed with Citus '
    '(0A000 on a node without them); the statement itself otherwise';

-- The accounts that have rows (of `scope`, when given), in order: what a
-- check of every account goes over, one account at a time.
CREATE FUNCTION contact_identity.accounts_with_rows(scope bigint[])
RETURNS SETOF bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT a.id FROM (SELECT c.account_id AS id FROM contact_identity.contacts c GROUP BY c.account_id
                      UNION SELECT i.account_id FROM contact_identity.identifiers i GROUP BY i.account_id
                      UNION SELECT e.account_id FROM contact_identity.events e GROUP BY e.account_id
                      UNION SELECT k.account_id FROM contact_identity.event_keys k GROUP BY k.account_id
                      UNION SELECT r.account_id FROM contact_identity.import_errors r GROUP BY r.account_id) a
    WHERE scope IS NULL OR a.id OPERATOR(pg_catalog.=) ANY (scope)
    ORDER BY a.id;
END
$$;
COMMENT ON FUNCTION contact_identity.accounts_with_rows(bigint[]) IS
    'the accounts that have rows in the per-account tables (those of scope, when given), in order';

CREATE FUNCTION contact_identity.rows_by_account(on_node regprocedure, account_id bigint, scope bigint[])
RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    one bigint;
    call text := pg_catalog.format('SELECT * FROM %s($1, $2)', on_node::pg_catalog.oid::pg_catalog.regproc);
BEGIN
    -- One statement per account, a function call alone: Citus delegates it
    -- (EXECUTE plans it with the values, so the account is a constant).
    IF rows_by_account.account_id IS NOT NULL OR NOT contact_identity.is_distributed() THEN
        RETURN QUERY EXECUTE call USING rows_by_account.account_id, scope;
        RETURN;
    END IF;
    FOR one IN SELECT a.id FROM contact_identity.accounts_with_rows(scope) AS a(id) LOOP
        RETURN QUERY EXECUTE call USING one, scope;
    END LOOP;
END
$$;
COMMENT ON FUNCTION contact_identity.rows_by_account(regprocedure, bigint, bigint[]) IS
    'the rows of an *_on_node function for one account, or for every account (of scope) one by one on its node when distributed';


-- Built-in segments and possible duplicates ------------------------------

-- The seed's "Fields -> External ID -> is empty" segment, counted from its
-- partial index.
CREATE VIEW contact_identity.contacts_without_external_id WITH (security_invoker = true) AS
SELECT c.* FROM contact_identity.contacts c
WHERE c.external_id IS NULL AND c.deleted_at IS NULL AND c.merged_into IS NULL;
COMMENT ON VIEW contact_identity.contacts_without_external_id IS
    'every live contact without an external ID, new ones included as they arrive';

CREATE VIEW contact_identity.contacts_anonymous WITH (security_invoker = true) AS
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

CREATE VIEW contact_identity.contacts_deleted WITH (security_invoker = true) AS
SELECT c.* FROM contact_identity.contacts c
WHERE c.deleted_at IS NOT NULL AND c.merged_into IS NULL;
COMMENT ON VIEW contact_identity.contacts_deleted IS
    'deleted contacts (not merged ones): they keep their identifiers, and a request with restore_deleted brings them back';

-- Pairs of live contacts that are probably one person though no key joins
-- them, for a person to review and merge; a pair once unmerged is one an
-- admin has already told apart, and is not proposed again.
--
-- After a restore, before ANALYZE, the planner takes every table for a few
-- rows (deleted_at IS NULL AND merged_into IS NULL alone gives 1 of
-- 100,000) and nested-loops the sets against themselves: a view of plain
-- joins (0.5.0) ran past 10 minutes on 132,000 contacts. The pairs come from groups
-- (a mailbox, or a name and birth date, shared by more than one live
-- contact: a hash or a sort whatever the estimates), the two contacts of a
-- phone given up are looked up by their key, and nested loops are off for
-- the rest (a misestimated hash join costs a few extra batches, a
-- misestimated nested loop the product of both sides). 100,000 restored
-- contacts, no ANALYZE: about 2 s (test/scripts/restore_duplicates.sh).

-- possible_duplicates_of reads with the caller's rights (row-level
-- security); so do the functions it goes through.
CREATE FUNCTION contact_identity.possible_duplicates_on_node(account_id bigint, scope bigint[])
RETURNS TABLE (pair_account_id bigint, pair_contact_id bigint, pair_other_contact_id bigint, pair_reason text,
               pair_detail jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET enable_nestloop = off
SET jit = off
AS $$
BEGIN
    RETURN QUERY EXECUTE contact_identity.local_sql($sql$
WITH mailbox_groups AS (
    SELECT i.account_id, contact_identity.email_mailbox(i.value) AS mailbox,
           pg_catalog.array_agg(i.contact_id ORDER BY i.contact_id, i.value) AS contact_ids,
           pg_catalog.array_agg(i.value ORDER BY i.contact_id, i.value) AS emails
    FROM contact_identity.identifiers i
    JOIN contact_identity.contacts c ON c.account_id OPERATOR(pg_catalog.=) i.account_id
                                    AND c.contact_id OPERATOR(pg_catalog.=) i.contact_id
    WHERE i.type OPERATOR(pg_catalog.=) 'email' AND c.deleted_at IS NULL AND c.merged_into IS NULL
      AND ($1::pg_catalog.int8 IS NULL OR i.account_id OPERATOR(pg_catalog.=) $1::pg_catalog.int8)
    GROUP BY 1, 2
    HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1),
name_groups AS (
    SELECT c.account_id,
           pg_catalog.array_agg(c.contact_id ORDER BY c.contact_id) AS contact_ids,
           pg_catalog.array_agg(c.first_name ORDER BY c.contact_id) AS first_names,
           pg_catalog.array_agg(c.last_name ORDER BY c.contact_id) AS last_names,
           c.attributes OPERATOR(pg_catalog.->>) 'birth_date' AS birth_date
    FROM contact_identity.contacts c
    WHERE c.deleted_at IS NULL AND c.merged_into IS NULL
      AND ($1::pg_catalog.int8 IS NULL OR c.account_id OPERATOR(pg_catalog.=) $1::pg_catalog.int8)
    GROUP BY c.account_id, pg_catalog.lower(c.first_name), pg_catalog.lower(c.last_name),
             c.attributes OPERATOR(pg_catalog.->>) 'birth_date'
    HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1
       AND pg_catalog.lower(c.first_name) IS NOT NULL AND pg_catalog.lower(c.last_name) IS NOT NULL
       AND c.attributes OPERATOR(pg_catalog.->>) 'birth_date' IS NOT NULL),
detached_phones AS MATERIALIZED (
    SELECT l.account_id, s.contact_id, s.identifier_value AS phone
    FROM contact_identity.identity_log l
    -- A whole row of a shard has the shard's row type: log_steps takes the
    -- table's (its name quoted so that local_sql leaves it as it is).
    CROSS JOIN LATERAL contact_identity.log_steps(ROW(l.*)::contact_identity."identity_log") s
    WHERE (l.action OPERATOR(pg_catalog.=) 'identifier_detached' OR l.detail OPERATOR(pg_catalog.?) 'detached')
      AND s.action OPERATOR(pg_catalog.=) 'identifier_detached' AND s.identifier_type OPERATOR(pg_catalog.=) 'phone'
      AND ($1::pg_catalog.int8 IS NULL OR l.account_id OPERATOR(pg_catalog.=) $1::pg_catalog.int8)),
pairs AS (
    SELECT g.account_id, g.contact_ids[a] AS contact_id, g.contact_ids[b] AS other_contact_id, 'same_mailbox' AS reason,
           pg_catalog.jsonb_build_object('email', g.emails[a], 'other_email', g.emails[b], 'mailbox', g.mailbox) AS detail
    FROM mailbox_groups g
    CROSS JOIN LATERAL pg_catalog.generate_series(1, pg_catalog.cardinality(g.contact_ids)) a
    CROSS JOIN LATERAL pg_catalog.generate_series(a OPERATOR(pg_catalog.+) 1, pg_catalog.cardinality(g.contact_ids)) b
    WHERE g.contact_ids[b] OPERATOR(pg_catalog.>) g.contact_ids[a]
    UNION ALL
    SELECT DISTINCT d.account_id, LEAST(d.contact_id, i.contact_id), GREATEST(d.contact_id, i.contact_id),
           'same_phone', pg_catalog.jsonb_build_object('phone', i.value)
    FROM detached_phones d
    JOIN contact_identity.identifiers i ON i.account_id OPERATOR(pg_catalog.=) d.account_id
                                       AND i.type OPERATOR(pg_catalog.=) 'phone'
                                       AND i.value OPERATOR(pg_catalog.=) d.phone
    WHERE i.contact_id OPERATOR(pg_catalog.<>) d.contact_id
      -- Both live, each looked up by its key: joins of both contacts would
      -- share account_id, and a planner without statistics joins them on
      -- it alone.
      AND (SELECT c.deleted_at IS NULL AND c.merged_into IS NULL FROM contact_identity.contacts c
           WHERE c.account_id OPERATOR(pg_catalog.=) d.account_id AND c.contact_id OPERATOR(pg_catalog.=) d.contact_id)
      AND (SELECT c.deleted_at IS NULL AND c.merged_into IS NULL FROM contact_identity.contacts c
           WHERE c.account_id OPERATOR(pg_catalog.=) i.account_id AND c.contact_id OPERATOR(pg_catalog.=) i.contact_id)
    UNION ALL
    SELECT g.account_id, g.contact_ids[a], g.contact_ids[b], 'same_name_and_birth_date',
           pg_catalog.jsonb_build_object('first_name', g.first_names[a], 'last_name', g.last_names[a],
                                         'birth_date', g.birth_date)
    FROM name_groups g
    CROSS JOIN LATERAL pg_catalog.generate_series(1, pg_catalog.cardinality(g.contact_ids)) a
    CROSS JOIN LATERAL pg_catalog.generate_series(a OPERATOR(pg_catalog.+) 1, pg_catalog.cardinality(g.contact_ids)) b),
unmerged AS (
    SELECT u.account_id, LEAST(u.contact_id, u.other_contact_id) AS contact_id,
           GREATEST(u.contact_id, u.other_contact_id) AS other_contact_id
    FROM contact_identity.identity_log u
    WHERE u.action OPERATOR(pg_catalog.=) 'unmerged'
      AND ($1::pg_catalog.int8 IS NULL OR u.account_id OPERATOR(pg_catalog.=) $1::pg_catalog.int8))
SELECT p.account_id, p.contact_id, p.other_contact_id, p.reason, p.detail
FROM pairs p
WHERE NOT EXISTS (SELECT FROM unmerged u
                  WHERE u.account_id OPERATOR(pg_catalog.=) p.account_id
                    AND u.contact_id OPERATOR(pg_catalog.=) p.contact_id
                    AND u.other_contact_id OPERATOR(pg_catalog.=) p.other_contact_id)
$sql$, possible_duplicates_on_node.account_id)
        USING possible_duplicates_on_node.account_id, scope;
END
$$;
COMMENT ON FUNCTION contact_identity.possible_duplicates_on_node(bigint, bigint[]) IS
    'possible_duplicates_of() of one account (NULL: all) on the node that holds it';

-- Its own loop over the accounts, with typed rows: a pair as JSON and back
-- cost a single server about 40% more (possible_duplicates returns many
-- rows; verify() and unnormalized_identifiers() none when all is well).
CREATE FUNCTION contact_identity.possible_duplicates_rows(for_account bigint)
RETURNS TABLE (pair_account_id bigint, pair_contact_id bigint, pair_other_contact_id bigint, pair_reason text,
               pair_detail jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    one bigint;
BEGIN
    -- Each account's call a statement of its own, which Citus delegates.
    IF for_account IS NOT NULL OR NOT contact_identity.is_distributed() THEN
        RETURN QUERY EXECUTE 'SELECT * FROM contact_identity.possible_duplicates_on_node($1, NULL)' USING for_account;
        RETURN;
    END IF;
    FOR one IN SELECT a.id FROM contact_identity.accounts_with_rows(NULL) AS a(id) LOOP
        RETURN QUERY EXECUTE 'SELECT * FROM contact_identity.possible_duplicates_on_node($1, NULL)' USING one;
    END LOOP;
END
$$;
COMMENT ON FUNCTION contact_identity.possible_duplicates_rows(bigint) IS
    'the pairs of possible_duplicates_of: of one account, or on a Citus cluster of every account one by one on its node';

CREATE FUNCTION contact_identity.possible_duplicates_of(account_id bigint)
RETURNS TABLE (account_id bigint, contact_id bigint, other_contact_id bigint, reason text, detail jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET enable_nestloop = off
SET jit = off
AS $$
    SELECT * FROM contact_identity.possible_duplicates_rows(possible_duplicates_of.account_id)
$$;
COMMENT ON FUNCTION contact_identity.possible_duplicates_of(bigint) IS
    'the pairs of possible_duplicates of one account (NULL: every account the caller reads), planned safely without statistics';

CREATE VIEW contact_identity.possible_duplicates WITH (security_invoker = true) AS
SELECT d.account_id, d.contact_id, d.other_contact_id, d.reason, d.detail
FROM contact_identity.possible_duplicates_of(NULL) d;
COMMENT ON VIEW contact_identity.possible_duplicates IS
    'pairs of live contacts that are probably one person though no key joins them (same_mailbox, same_phone, same_name_and_birth_date), for review and merge_contacts; pairs once unmerged are left out';


-- Segments ---------------------------------------------------------------

CREATE FUNCTION contact_identity.segment_rule_sql(rule jsonb)
RETURNS text
AS 'MODULE_PATHNAME', 'ci_segment_rule_sql'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION contact_identity.segment_rule_sql(jsonb) IS
    'the SQL condition a segment rule compiles to, over a row c of contacts; an error naming the JSON path of an invalid rule';

-- The definition of a segment's view.
CREATE FUNCTION contact_identity.segment_view_sql(name text, rule jsonb, account_id bigint)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
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
LANGUAGE plpgsql STABLE SECURITY DEFINER
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
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM contact_identity.require_writable('create_segment');
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
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    segment contact_identity.segments;
BEGIN
    PERFORM contact_identity.require_writable('replace_segment');
    segment := contact_identity.segment_row(name, 'admin');
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
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM contact_identity.require_writable('drop_segment');
    PERFORM contact_identity.segment_row(name, 'admin');
    EXECUTE pg_catalog.format('DROP VIEW contact_identity_segments.%I', name);
    DELETE FROM contact_identity.segments s WHERE s.name OPERATOR(pg_catalog.=) drop_segment.name;
END
$$;
COMMENT ON FUNCTION contact_identity.drop_segment(text) IS
    'drops a segment and its view (an error while other views depend on it)';

CREATE FUNCTION contact_identity.segment_members(name text)
RETURNS SETOF contact_identity.contacts
LANGUAGE plpgsql STABLE SECURITY DEFINER
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
LANGUAGE plpgsql STABLE SECURITY DEFINER
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


-- Exports ----------------------------------------------------------------

-- What a warehouse reads: one row per contact, merged tombstones and deleted
-- contacts included (merged_into and deleted_at say so).
CREATE VIEW contact_identity.contacts_export WITH (security_invoker = true) AS
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

CREATE FUNCTION contact_identity.export_changes(since timestamptz, account_id bigint DEFAULT 0)
RETURNS TABLE (change text, contact_id bigint, external_id text, email text, phone text, first_name text,
               last_name text, identifiers jsonb, attributes jsonb, created_at timestamptz, updated_at timestamptz,
               deleted_at timestamptz, merged_into bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
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
    PERFORM contact_identity.require_writable('create_export_publication');
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


-- verify() and unnormalized_identifiers() --------------------------------

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

CREATE FUNCTION contact_identity.verify_on_node(account_id bigint, scope bigint[])
RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY EXECUTE 'SELECT pg_catalog.to_jsonb(r) FROM (' OPERATOR(pg_catalog.||)
        contact_identity.local_sql($sql$
    WITH scope AS MATERIALIZED (SELECT $2::pg_catalog.int8[] AS accounts),
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
$sql$, verify_on_node.account_id) OPERATOR(pg_catalog.||) ') AS r(account_id, contact_id, problem, detail)'
        USING verify_on_node.account_id, scope;
END
$$;
COMMENT ON FUNCTION contact_identity.verify_on_node(bigint, bigint[]) IS
    'verify()''s checks of one account (NULL: all) on the node that holds it, each problem as JSON';

-- Like amcheck: no row means healthy. Each row names the account, the
-- contact (when there is one) and the invariant broken, with the facts.
CREATE FUNCTION contact_identity.verify(account_id bigint DEFAULT NULL)
RETURNS TABLE (account_id bigint, contact_id bigint, problem text, detail text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    -- verify_scope checks the caller's grant before anything is read.
    SELECT x.account_id, x.contact_id, x.problem, x.detail
    FROM contact_identity.rows_by_account('contact_identity.verify_on_node(bigint, bigint[])', verify.account_id,
                                          contact_identity.verify_scope(verify.account_id)) AS j(r)
    CROSS JOIN LATERAL pg_catalog.jsonb_to_record(j.r) AS x(account_id bigint, contact_id bigint, problem text, detail text)
    ORDER BY 1, 2, 3, 4
$$;
COMMENT ON FUNCTION contact_identity.verify(bigint) IS
    'checks every invariant contact_identity keeps (holders exist and are not merged, primary values held, merge chains end, limits, events and anonymous history, creation logged, import errors) in one account or all you administer; no row means healthy';

-- From 0.5.2 an email's local part is stored in NFC and lower case (ICU),
-- and control and format characters (Cf: bidi controls, zero-width
-- characters, the soft hyphen...) are refused in every identifier; a "lower"
-- type's values are NFC and lower case too (docs/identity-rules.md,
-- "Unicode in identifiers"). Rows stored before are not rewritten by the
-- update to 0.5.2: a changed key is a decision (it can join two contacts, or
-- free a value) and goes through the write path and its log.
-- unnormalized_identifiers() lists the stored values that are now looked up
-- differently, or refused, with what to do about each.


CREATE FUNCTION contact_identity.unnormalized_on_node(account_id bigint, scope bigint[])
RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY EXECUTE 'SELECT pg_catalog.to_jsonb(r) FROM (' OPERATOR(pg_catalog.||)
        contact_identity.local_sql($sql$
    WITH scope AS MATERIALIZED (SELECT $2::pg_catalog.int8[] AS accounts),
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
$sql$, unnormalized_on_node.account_id) OPERATOR(pg_catalog.||)
        ') AS r(account_id, contact_id, type, value, normalized, problem, detail)'
        USING unnormalized_on_node.account_id, scope;
END
$$;
COMMENT ON FUNCTION contact_identity.unnormalized_on_node(bigint, bigint[]) IS
    'unnormalized_identifiers() of one account (NULL: all) on the node that holds it, each row as JSON';

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
    -- verify_scope checks the caller's grant before anything is read.
    SELECT x.account_id, x.contact_id, x.type, x.value, x.normalized, x.problem, x.detail
    FROM contact_identity.rows_by_account('contact_identity.unnormalized_on_node(bigint, bigint[])',
                                          unnormalized_identifiers.account_id,
                                          contact_identity.verify_scope(unnormalized_identifiers.account_id)) AS j(r)
    CROSS JOIN LATERAL pg_catalog.jsonb_to_record(j.r)
        AS x(account_id bigint, contact_id bigint, type text, value text, normalized text, problem text, detail text)
    ORDER BY 1, 2, 3, 4
$$;
COMMENT ON FUNCTION contact_identity.unnormalized_identifiers(bigint) IS
    'stored identifiers (from before 0.5.2) that requests no longer find as stored: not_normalized (nobody holds the normal form), normalized_held (another holds it) or refused (a format character); no row means none';


-- Configuration triggers -------------------------------------------------

-- The library keeps identifier_types, blocked_values and account_settings in
-- each backend's memory instead of reading them on every call; these
-- triggers tell every backend when one of them changes. ENABLE ALWAYS: also
-- when a logical replication subscriber (session_replication_role =
-- replica) applies the change.
CREATE FUNCTION contact_identity.config_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'ci_config_changed'
LANGUAGE C;
COMMENT ON FUNCTION contact_identity.config_changed() IS
    'statement trigger of identifier_types and blocked_values: every backend reads them again once the change commits';

-- An identifier type still in use can be neither deleted nor renamed, as
-- when identifiers referenced it. On a Citus cluster the trigger fires on
-- every node's copy of identifier_types (identifier_types_<shard>), where a
-- query of the distributed identifiers is refused; each node then checks
-- the identifiers of its own shards, which together are all of them.
CREATE FUNCTION contact_identity.identifier_type_in_use()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    held bigint := 0;
    n bigint;
    shard text;
    on_shard boolean := TG_TABLE_NAME OPERATOR(pg_catalog.<>) 'identifier_types';
    type_name text;  -- NULL for a TRUNCATE: any identifier counts
BEGIN
    IF TG_OP OPERATOR(pg_catalog.<>) 'TRUNCATE' THEN
        IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' AND OLD.name OPERATOR(pg_catalog.=) NEW.name THEN
            RETURN NEW;
        END IF;
        type_name := OLD.name;
    END IF;
    IF NOT on_shard THEN
        SELECT pg_catalog.count(*) INTO held FROM contact_identity.identifiers i
        WHERE type_name IS NULL OR i.type OPERATOR(pg_catalog.=) type_name;
    ELSE
        FOR shard IN EXECUTE
            'SELECT pg_catalog.format(''contact_identity.%I'', ''identifiers_'' OPERATOR(pg_catalog.||) s.shardid)'
            ' FROM pg_catalog.pg_dist_shard s JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid'
            ' WHERE s.logicalrelid OPERATOR(pg_catalog.=) ''contact_identity.identifiers''::pg_catalog.regclass'
            ' AND p.groupid OPERATOR(pg_catalog.=) (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g)'
        LOOP
            EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s i'
                                      ' WHERE $1 IS NULL OR i.type OPERATOR(pg_catalog.=) $1', shard)
               INTO n USING type_name;
            held := held OPERATOR(pg_catalog.+) n;
        END LOOP;
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'TRUNCATE' THEN
        IF held OPERATOR(pg_catalog.>) 0 THEN
            RAISE EXCEPTION 'cannot truncate contact_identity.identifier_types: identifiers use its types'
                USING ERRCODE = '23503',
                      HINT = 'Delete the identifiers first, or delete only the types nobody uses.';
        END IF;
        RETURN NULL;
    END IF;
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

CREATE TRIGGER identifier_types_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON contact_identity.identifier_types
    FOR EACH STATEMENT EXECUTE FUNCTION contact_identity.config_changed();
COMMENT ON TRIGGER identifier_types_changed ON contact_identity.identifier_types IS
    'tells every backend to read the identifier types again';
ALTER TABLE contact_identity.identifier_types ENABLE ALWAYS TRIGGER identifier_types_changed;
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
CREATE TRIGGER blocked_values_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON contact_identity.blocked_values
    FOR EACH STATEMENT EXECUTE FUNCTION contact_identity.config_changed();
COMMENT ON TRIGGER blocked_values_changed ON contact_identity.blocked_values IS
    'tells every backend to read the blocked values again';
ALTER TABLE contact_identity.blocked_values ENABLE ALWAYS TRIGGER blocked_values_changed;
CREATE TRIGGER account_settings_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON contact_identity.account_settings
    FOR EACH STATEMENT EXECUTE FUNCTION contact_identity.config_changed();
COMMENT ON TRIGGER account_settings_changed ON contact_identity.account_settings IS
    'tells every backend to read the account settings again';
ALTER TABLE contact_identity.account_settings ENABLE ALWAYS TRIGGER account_settings_changed;

-- Distribution with Citus ------------------------------------------------

-- The per-account functions delegated to the worker that holds the
-- account (Citus's create_distributed_function): the C functions, which
-- work there on the account's local shards, and the PL/pgSQL ones whose
-- statements Citus routes there.
CREATE FUNCTION contact_identity.delegated_functions()
RETURNS regprocedure[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY[
        'contact_identity.resolve_contact(text,text,text,jsonb,bigint,boolean)',
        'contact_identity.upsert_contact(text,text,text,jsonb,text,text,jsonb,bigint,bigint,text,boolean)',
        'contact_identity.assign_external_id(bigint,text,bigint)',
        'contact_identity.delete_contact(bigint,bigint)',
        'contact_identity.merge_contacts(bigint,bigint,boolean,bigint)',
        'contact_identity.track_event(text,jsonb,text,text,text,jsonb,timestamp with time zone,bigint)',
        'contact_identity.purge_contact(bigint,bigint)',
        'contact_identity.unmerge_contact(bigint,bigint)',
        'contact_identity.import_contacts_json(jsonb,text,boolean,boolean,bigint)',
        'contact_identity.cancel_import(bigint,bigint)',
        'contact_identity.import_forwarded(jsonb,text[],text[],text,boolean,boolean,bigint)',
        'contact_identity.verify_on_node(bigint,bigint[])',
        'contact_identity.unnormalized_on_node(bigint,bigint[])',
        'contact_identity.possible_duplicates_on_node(bigint,bigint[])'
    ]::pg_catalog.regprocedure[]
$$;
COMMENT ON FUNCTION contact_identity.delegated_functions() IS
    'the per-account functions distribute() delegates to the worker that holds the account';

CREATE FUNCTION contact_identity.distribute()
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
DECLARE
    workers bigint;
    coordinator boolean;
    t text;
    f pg_catalog.regprocedure;
    floors jsonb;
    done_tables integer := 0;
    done_functions integer := 0;
    failed text;
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
        RAISE EXCEPTION 'permission denied for contact_identity.distribute()' USING ERRCODE = '42501',
            DETAIL = 'Distributing the tables changes every node of the cluster.',
            HINT = 'Run it as a superuser.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
        RAISE EXCEPTION 'contact_identity.distribute() needs the citus extension' USING ERRCODE = '55000',
            DETAIL = pg_catalog.format('Database %s has no extension citus.', pg_catalog.current_database()),
            HINT = 'Add citus to shared_preload_libraries on every node, run CREATE EXTENSION citus, '
                   'and add the workers with citus_add_node.';
    END IF;
    EXECUTE 'SELECT pg_catalog.citus_is_coordinator()' INTO coordinator;
    IF NOT coordinator THEN
        RAISE EXCEPTION 'contact_identity.distribute() runs on the coordinator' USING ERRCODE = '55000',
            DETAIL = 'This node is a Citus worker.',
            HINT = 'Connect to the coordinator.';
    END IF;
    EXECUTE 'SELECT pg_catalog.count(*) FROM pg_catalog.pg_dist_node n'
            ' WHERE n.noderole OPERATOR(pg_catalog.=) ''primary'' AND n.groupid OPERATOR(pg_catalog.<>) 0'
            ' AND n.isactive AND n.shouldhaveshards'
       INTO workers;
    IF workers OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'contact_identity.distribute() needs worker nodes' USING ERRCODE = '55000',
            DETAIL = 'The Citus cluster has no active worker that takes shards.',
            HINT = 'Add workers with SELECT citus_add_node(host, port), then run distribute() again.';
    END IF;

    -- The key of purge_contact's hashes is made now, on the coordinator:
    -- made by a purge on a worker, it would be a write to every node.
    INSERT INTO contact_identity.secrets (hmac_key)
    SELECT pg_catalog.decode(pg_catalog.md5(pg_catalog.random()::text) OPERATOR(pg_catalog.||)
                             pg_catalog.md5(pg_catalog.clock_timestamp()::text), 'hex')
     WHERE NOT EXISTS (SELECT FROM contact_identity.secrets);

    -- The configuration triggers (statement triggers that tell each
    -- backend to read the tables again) are meant to fire on every node's
    -- copy: Citus puts them on the shards only when asked.
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);

    -- Citus accepts no subquery in a policy: the InitPlan form, which reads
    -- the grants once per statement, becomes a per-row call.
    FOREACH t IN ARRAY contact_identity.distributed_tables() OPERATOR(pg_catalog.||) contact_identity.reference_tables() LOOP
        IF EXISTS (SELECT FROM pg_catalog.pg_policy p
                    WHERE p.polrelid OPERATOR(pg_catalog.=) pg_catalog.format('contact_identity.%I', t)::pg_catalog.regclass
                      AND p.polname OPERATOR(pg_catalog.=) 'granted_accounts'
                      AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) OPERATOR(pg_catalog.~) 'SELECT') THEN
            EXECUTE pg_catalog.format('DROP POLICY granted_accounts ON contact_identity.%I', t);
            EXECUTE pg_catalog.format('CREATE POLICY granted_accounts ON contact_identity.%I FOR SELECT'
                                      ' USING (account_id OPERATOR(pg_catalog.=) ANY (contact_identity.readable_accounts()))', t);
            EXECUTE pg_catalog.format('COMMENT ON POLICY granted_accounts ON contact_identity.%I IS %L', t,
                                      'a role reads the accounts it has a grant on');
        END IF;
    END LOOP;

    FOREACH t IN ARRAY contact_identity.reference_tables() LOOP
        CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
                               WHERE p.logicalrelid OPERATOR(pg_catalog.=) pg_catalog.format('contact_identity.%I', t)::pg_catalog.regclass);
        PERFORM pg_catalog.create_reference_table(pg_catalog.format('contact_identity.%I', t)::pg_catalog.regclass);
        -- The few rows the coordinator's table held stay there, unread: its
        -- truncate trigger refuses to empty identifier_types.
        done_tables := done_tables OPERATOR(pg_catalog.+) 1;
    END LOOP;

    -- The IDs the tables hold before they are distributed: the first
    -- worker's range starts above them. Once distributed, the coordinator's
    -- sequences are in its own range and say nothing about the workers'.
    floors := '{}';
    IF NOT contact_identity.is_distributed() THEN
        SELECT pg_catalog.jsonb_object_agg(q.name, q.last_id) INTO floors FROM (
            SELECT 'contacts_contact_id_seq' AS name, CASE WHEN s.is_called THEN s.last_value ELSE 0 END AS last_id
              FROM contact_identity.contacts_contact_id_seq s
            UNION ALL SELECT 'events_event_id_seq', CASE WHEN s.is_called THEN s.last_value ELSE 0 END
              FROM contact_identity.events_event_id_seq s
            UNION ALL SELECT 'identity_log_log_id_seq', CASE WHEN s.is_called THEN s.last_value ELSE 0 END
              FROM contact_identity.identity_log_log_id_seq s
            UNION ALL SELECT 'imports_import_id_seq', CASE WHEN s.is_called THEN s.last_value ELSE 0 END
              FROM contact_identity.imports_import_id_seq s) q;
    END IF;

    FOREACH t IN ARRAY contact_identity.distributed_tables() LOOP
        CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
                               WHERE p.logicalrelid OPERATOR(pg_catalog.=) pg_catalog.format('contact_identity.%I', t)::pg_catalog.regclass);
        PERFORM pg_catalog.create_distributed_table(
            pg_catalog.format('contact_identity.%I', t)::pg_catalog.regclass, 'account_id',
            colocate_with => CASE WHEN t OPERATOR(pg_catalog.=) 'contacts' THEN 'none' ELSE 'contact_identity.contacts' END);
        -- The coordinator's own copy of the rows, no longer read.
        PERFORM pg_catalog.truncate_local_data_after_distributing_table(pg_catalog.format('contact_identity.%I', t)::pg_catalog.regclass);
        done_tables := done_tables OPERATOR(pg_catalog.+) 1;
    END LOOP;

    EXECUTE 'SELECT pg_catalog.string_agg(pg_catalog.format(''node %s: %s'', r.nodeid, r.result), ''; '')'
            ' FROM pg_catalog.run_command_on_all_nodes($1) r WHERE NOT r.success'
       INTO failed USING pg_catalog.format('SELECT contact_identity.claim_id_ranges(%L)', floors);
    IF failed IS NOT NULL THEN
        RAISE EXCEPTION 'contact_identity.distribute() could not set the ID ranges of every node' USING ERRCODE = '55000',
            DETAIL = failed, HINT = 'Fix what the nodes report, then run distribute() again.';
    END IF;

    FOREACH f IN ARRAY contact_identity.delegated_functions() LOOP
        PERFORM pg_catalog.create_distributed_function(f, distribution_arg_name => 'account_id',
                                                       colocate_with => 'contact_identity.contacts',
                                                       force_delegation => true);
        done_functions := done_functions OPERATOR(pg_catalog.+) 1;
    END LOOP;

    RETURN pg_catalog.format('%s tables distributed, %s functions delegated, on %s workers',
                             done_tables, done_functions, workers);
END
$$;
COMMENT ON FUNCTION contact_identity.distribute() IS
    'shards the per-account tables by account_id with Citus, makes the configuration reference tables and '
    'delegates the per-account functions (a superuser, on the coordinator; run again after adding workers)';


-- Privileges -------------------------------------------------------------

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

-- What each role may call (the helpers that only run inside these, as the
-- owner, are granted to nobody). Which accounts it may use is in
-- account_grants.
GRANT USAGE ON SCHEMA contact_identity, contact_identity_segments TO contact_identity_reader;
GRANT EXECUTE ON FUNCTION
    contact_identity.resolve_contact(text, text, text, jsonb, bigint, boolean),
    contact_identity.get_contact(bigint, bigint),
    contact_identity.explain_contact(bigint, bigint),
    contact_identity.explain_contact(bigint, bigint, text),
    contact_identity.contact_events(bigint, timestamptz, integer, bigint),
    contact_identity.segment_members(text),
    contact_identity.segment_count(text),
    contact_identity.export_changes(timestamptz, bigint),
    contact_identity.normalize_email(text),
    contact_identity.normalize_phone(text, text),
    contact_identity.email_mailbox(text),
    contact_identity.is_region(text),
    contact_identity.calling_role(),
    contact_identity.readable_accounts(),
    contact_identity.log_steps(contact_identity.identity_log),
    contact_identity.log_row_is_decision(contact_identity.identity_log),
    contact_identity.import_session_pid(bigint),
    contact_identity.possible_duplicates_of(bigint),
    contact_identity.possible_duplicates_rows(bigint),
    contact_identity.possible_duplicates_on_node(bigint, bigint[]),
    contact_identity.is_distributed(),
    contact_identity.local_sql(text, bigint),
    contact_identity.accounts_with_rows(bigint[]),
    contact_identity.rows_by_account(regprocedure, bigint, bigint[])
    TO contact_identity_reader;
GRANT EXECUTE ON FUNCTION
    contact_identity.upsert_contact(text, text, text, jsonb, text, text, jsonb, bigint, bigint, text, boolean),
    contact_identity.assign_external_id(bigint, text, bigint),
    contact_identity.delete_contact(bigint, bigint),
    contact_identity.import_contacts(regclass, text, boolean, boolean, bigint),
    contact_identity.import_contacts_json(jsonb, text, boolean, boolean, bigint),
    contact_identity.import_forwarded(jsonb, text[], text[], text, boolean, boolean, bigint),
    contact_identity.cancel_import(bigint, bigint),
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
    contact_identity.revoke_account(name, bigint),
    contact_identity.set_account_region(bigint, text),
    contact_identity.verify(bigint),
    contact_identity.unnormalized_identifiers(bigint)
    TO contact_identity_admin;

-- Readers read the views, which run as the reader (security_invoker), and
-- through them the tables, where row-level security shows the accounts
-- granted. Nobody but the owner writes these tables: only the functions do.
GRANT SELECT ON contact_identity.contacts_without_external_id, contact_identity.contacts_anonymous,
    contact_identity.contacts_deleted, contact_identity.possible_duplicates, contact_identity.contacts_export,
    contact_identity.identity_log_steps, contact_identity.import_progress,
    contact_identity.contacts, contact_identity.identifiers, contact_identity.identity_log, contact_identity.events,
    contact_identity.event_keys, contact_identity.imports, contact_identity.import_errors, contact_identity.segments,
    contact_identity.identifier_types, contact_identity.blocked_values, contact_identity.account_settings
    TO contact_identity_reader;
-- Identifier types and blocked values are the database's configuration,
-- with no account: admins change them directly.
GRANT INSERT, UPDATE, DELETE ON contact_identity.identifier_types, contact_identity.blocked_values
    TO contact_identity_admin;
GRANT USAGE ON SEQUENCE contact_identity.blocked_values_blocked_id_seq TO contact_identity_admin;

-- Row-level security -----------------------------------------------------

-- On every table with an account: a role reads the accounts it has a grant
-- on (account_grants itself is read by no role). distribute() turns the
-- sub-select, which reads the grants once per statement, into a per-row
-- call, as Citus accepts no subquery in a policy.
ALTER TABLE contact_identity.contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY granted_accounts ON contact_identity.contacts FOR SELECT
    USING (account_id OPERATOR(pg_catalog.=) ANY ((SELECT contact_identity.readable_accounts())::pg_catalog.int8[]));
COMMENT ON POLICY granted_accounts ON contact_identity.contacts IS 'a role reads the accounts it has a grant on';
ALTER TABLE contact_identity.identifiers ENABLE ROW LEVEL SECURITY;
CREATE POLICY granted_accounts ON contact_identity.identifiers FOR SELECT
    USING (account_id OPERATOR(pg_catalog.=) ANY ((SELECT contact_identity.readable_accounts())::pg_catalog.int8[]));
COMMENT ON POLICY granted_accounts ON contact_identity.identifiers IS 'a role reads the accounts it has a grant on';
ALTER TABLE contact_identity.identity_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY granted_accounts ON contact_identity.identity_log FOR SELECT
    USING (account_id OPERATOR(pg_catalog.=) ANY ((SELECT contact_identity.readable_accounts())::pg_catalog.int8[]));
COMMENT ON POLICY granted_accounts ON contact_identity.identity_log IS 'a role reads the accounts it has a grant on';
ALTER TABLE contact_identity.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY granted_accounts ON contact_identity.events FOR SELECT
    USING (account_id OPERATOR(pg_catalog.=) ANY ((SELECT contact_identity.readable_accounts())::pg_catalog.int8[]));
COMMENT ON POLICY granted_accounts ON contact_identity.events IS 'a role reads the accounts it has a grant on';
ALTER TABLE contact_identity.event_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY granted_accounts ON contact_identity.event_keys FOR SELECT
    USING (account_id OPERATOR(pg_catalog.=) ANY ((SELECT contact_identity.readable_accounts())::pg_catalog.int8[]));
COMMENT ON POLICY granted_accounts ON contact_identity.event_keys IS 'a role reads the accounts it has a grant on';
ALTER TABLE contact_identity.imports ENABLE ROW LEVEL SECURITY;
CREATE POLICY granted_accounts ON contact_identity.imports FOR SELECT
    USING (account_id OPERATOR(pg_catalog.=) ANY ((SELECT contact_identity.readable_accounts())::pg_catalog.int8[]));
COMMENT ON POLICY granted_accounts ON contact_identity.imports IS 'a role reads the accounts it has a grant on';
ALTER TABLE contact_identity.import_errors ENABLE ROW LEVEL SECURITY;
CREATE POLICY granted_accounts ON contact_identity.import_errors FOR SELECT
    USING (account_id OPERATOR(pg_catalog.=) ANY ((SELECT contact_identity.readable_accounts())::pg_catalog.int8[]));
COMMENT ON POLICY granted_accounts ON contact_identity.import_errors IS 'a role reads the accounts it has a grant on';
ALTER TABLE contact_identity.segments ENABLE ROW LEVEL SECURITY;
CREATE POLICY granted_accounts ON contact_identity.segments FOR SELECT
    USING (account_id OPERATOR(pg_catalog.=) ANY ((SELECT contact_identity.readable_accounts())::pg_catalog.int8[]));
COMMENT ON POLICY granted_accounts ON contact_identity.segments IS 'a role reads the accounts it has a grant on';
ALTER TABLE contact_identity.account_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY granted_accounts ON contact_identity.account_settings FOR SELECT
    USING (account_id OPERATOR(pg_catalog.=) ANY ((SELECT contact_identity.readable_accounts())::pg_catalog.int8[]));
COMMENT ON POLICY granted_accounts ON contact_identity.account_settings IS 'a role reads the accounts it has a grant on';
ALTER TABLE contact_identity.account_grants ENABLE ROW LEVEL SECURITY;
