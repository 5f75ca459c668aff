-- unmerge_contact: the exact reverse of a merge, automatic or explicit, read
-- from identity_log. The loser gets back the identifiers, events and values
-- it brought; what the winner gained since stays with the winner.
CREATE EXTENSION contact_identity;
SET contact_identity.default_region = 'UA';
SET client_min_messages = warning;

-- An account's whole state, each contact named by its "who" attribute, so
-- that two accounts can be compared row for row. Times are left out: two
-- accounts are built at different moments.
CREATE FUNCTION state(acct bigint) RETURNS TABLE (tbl text, row_text text) LANGUAGE sql AS $$
  WITH who AS (SELECT contact_id, attributes->>'who' AS who FROM contact_identity.contacts WHERE account_id = acct)
  SELECT 'contacts', concat_ws(' | ', c.attributes->>'who', c.external_id, c.email, c.phone, c.first_name,
                               c.last_name, c.attributes::text, 'merged into ' || m.who, 'deleted ' || c.deleted_at)
    FROM contact_identity.contacts c LEFT JOIN who m ON m.contact_id = c.merged_into WHERE c.account_id = acct
  UNION ALL
  SELECT 'identifiers', concat_ws(' | ', i.type, i.value, h.who)
    FROM contact_identity.identifiers i LEFT JOIN who h ON h.contact_id = i.contact_id WHERE i.account_id = acct
  UNION ALL
  SELECT 'events', concat_ws(' | ', h.who, e.event_type, e.payload::text)
    FROM contact_identity.events e LEFT JOIN who h ON h.contact_id = e.contact_id WHERE e.account_id = acct
  UNION ALL
  SELECT 'event_keys', concat_ws(' | ', k.type, k.value, e.payload::text)
    FROM contact_identity.event_keys k JOIN contact_identity.events e USING (account_id, event_id)
   WHERE k.account_id = acct
$$;
-- The rows one account has and the other has not, both ways.
CREATE FUNCTION differences(a bigint, b bigint) RETURNS TABLE (only_in bigint, tbl text, row_text text)
LANGUAGE sql AS $$
  (SELECT a, * FROM state(a) EXCEPT ALL SELECT a, * FROM state(b))
  UNION ALL (SELECT b, * FROM state(b) EXCEPT ALL SELECT b, * FROM state(a))
  ORDER BY 1, 2, 3
$$;

-- The same story twice: in account 1 an admin merges Ann's two profiles and
-- unmerges them after more activity; in account 2 they are never merged.
CREATE PROCEDURE story(acct bigint, merge boolean) LANGUAGE plpgsql AS $$
DECLARE ann bigint; work bigint;
BEGIN
  -- Ann browses, then registers; her cookie history joins her profile.
  PERFORM contact_identity.track_event('page_view', '{"url": "/a"}', identifiers => '{"cookie": "ck-ann"}',
                                       account_id => acct);
  SELECT contact_id INTO ann FROM contact_identity.upsert_contact(external_id => 'ann-1', email => 'ann@x.io',
      first_name => 'Ann', attributes => '{"who": "ann", "plan": "gold"}', identifiers => '{"cookie": "ck-ann"}',
      account_id => acct);
  -- A form without her external ID made a second profile: work email,
  -- phone, a push token, a name and a city Ann's profile lacks.
  SELECT contact_id INTO work FROM contact_identity.upsert_contact(email => 'ann.work@x.io', phone => '050 111 2233',
      last_name => 'Lee', attributes => '{"who": "ann-work", "city": "Lviv", "plan": "free", "size": 38}',
      identifiers => '{"mobile_push": "tok-w"}', account_id => acct);
  PERFORM contact_identity.track_event('order', '{"total": 10}', email => 'ann.work@x.io', account_id => acct);
  PERFORM contact_identity.upsert_contact(external_id => 'bob-1', attributes => '{"who": "bob"}', account_id => acct);

  IF merge THEN
    PERFORM contact_identity.merge_contacts(ann, work, account_id => acct);
  END IF;

  -- More activity of Ann's profile, by its own keys and new ones: a new
  -- phone (which replaces the one the merge filled in), a city and a last
  -- name of her own (overwriting gaps the merge filled), an order, a second
  -- cookie with anonymous history.
  PERFORM contact_identity.upsert_contact(external_id => 'ann-1', phone => '067 222 3344',
      attributes => '{"vip": true, "city": "Kyiv"}', identifiers => '{"web_push": "wp-1"}', account_id => acct);
  PERFORM contact_identity.track_event('order', '{"total": 20}', external_id => 'ann-1', account_id => acct);
  PERFORM contact_identity.upsert_contact(external_id => 'ann-1', last_name => 'Kovalenko', account_id => acct);
  PERFORM contact_identity.track_event('page_view', '{"url": "/b"}', identifiers => '{"cookie": "ck-2"}',
                                       account_id => acct);
  PERFORM contact_identity.upsert_contact(external_id => 'ann-1', identifiers => '{"cookie": "ck-2"}',
                                          account_id => acct);
  -- A visitor nobody knows, and Bob.
  PERFORM contact_identity.track_event('page_view', '{"url": "/c"}', identifiers => '{"cookie": "ck-x"}',
                                       account_id => acct);
  PERFORM contact_identity.upsert_contact(external_id => 'bob-1', email => 'bob@x.io', account_id => acct);
END $$;
CALL story(1, true);
CALL story(2, false);
RESET client_min_messages;

-- Merged, the two accounts differ (the comparison sees differences).
SELECT only_in, tbl, count(*) FROM differences(1, 2) GROUP BY 1, 2 ORDER BY 1, 2;
SELECT contact_id, merged_into FROM contact_identity.contacts WHERE account_id = 1 AND merged_into IS NOT NULL;

-- Unmerged, account 1 is account 2: no difference left.
SELECT r->'winner' AS winner, r->'identifiers' AS identifiers, r->'given_back' AS given_back, r->'stayed' AS stayed,
       r->'events' AS events
FROM contact_identity.unmerge_contact(2, account_id => 1) AS r;
SELECT * FROM differences(1, 2);
-- The work profile has its values back; Ann's keeps what she did since.
SELECT attributes->>'who' AS who, external_id, email, phone, first_name, last_name, attributes
FROM contact_identity.contacts WHERE account_id = 1 ORDER BY contact_id;
-- Each key finds its own profile again.
SELECT contact_id, matched_by FROM contact_identity.resolve_contact(email => 'ann.work@x.io', account_id => 1);
SELECT contact_id, matched_by FROM contact_identity.resolve_contact(identifiers => '{"mobile_push": "tok-w"}',
                                                                  account_id => 1);
SELECT contact_id, matched_by FROM contact_identity.resolve_contact(phone => '067 222 3344', account_id => 1);
SELECT event_type, payload FROM contact_identity.contact_events(2, account_id => 1);

-- explain_contact tells both sides.
SELECT what FROM contact_identity.explain_contact(2, account_id => 1) WHERE detail->>'action' LIKE '%merged';
SELECT what FROM contact_identity.explain_contact(1, account_id => 1) WHERE detail->>'action' LIKE '%merged';

-- Merge and unmerge at once: every row is as before, times included
-- (updated_at aside). An automatic merge first: an upsert whose external ID
-- and push token find two profiles.
CREATE FUNCTION snapshot(acct bigint) RETURNS TABLE (tbl text, r jsonb) LANGUAGE sql AS $$
  SELECT 'contact', to_jsonb(c) - 'updated_at' FROM contact_identity.contacts c WHERE c.account_id = acct
  UNION ALL SELECT 'identifier', to_jsonb(i) FROM contact_identity.identifiers i WHERE i.account_id = acct
$$;
CREATE TABLE before_state (tbl text, r jsonb);
CREATE FUNCTION changed_since_before(acct bigint) RETURNS TABLE (side text, tbl text, r jsonb) LANGUAGE sql AS $$
  SELECT * FROM ((SELECT 'now', * FROM snapshot(acct) EXCEPT ALL SELECT 'now', * FROM before_state)
                 UNION ALL (SELECT 'before', * FROM before_state EXCEPT ALL SELECT 'before', * FROM snapshot(acct))) d
  ORDER BY 1, 2, 3::text
$$;
SELECT contact_id AS cara FROM contact_identity.upsert_contact(external_id => 'cara-1', email => 'cara@x.io',
    attributes => '{"who": "cara"}', account_id => 3) \gset
SELECT contact_id AS cara_app FROM contact_identity.upsert_contact(phone => '063 333 4455', first_name => 'Cara',
    attributes => '{"who": "cara-app", "lang": "uk"}', identifiers => '{"mobile_push": "tok-c"}', account_id => 3) \gset
INSERT INTO before_state SELECT * FROM snapshot(3);
SELECT contact_id = :cara AS cara_wins, action FROM contact_identity.upsert_contact(external_id => 'cara-1',
    identifiers => '{"mobile_push": "tok-c"}', account_id => 3);
SELECT count(*) AS rows_changed_by_merge FROM changed_since_before(3);
SELECT r->'winner' = to_jsonb(:cara) AS from_cara, r->'identifiers' AS identifiers
FROM contact_identity.unmerge_contact(:cara_app, account_id => 3) AS r;
SELECT * FROM changed_since_before(3);

-- One upsert merging two profiles at once (an email-only and a phone-only
-- one): each unmerge gives one back, and after both every row is as before.
SELECT contact_id AS hal FROM contact_identity.upsert_contact(external_id => 'hal-1',
    attributes => '{"who": "hal"}', account_id => 3) \gset
SELECT contact_id AS hal_mail FROM contact_identity.upsert_contact(email => 'hal@x.io',
    attributes => '{"who": "hal-mail", "news": true}', account_id => 3) \gset
SELECT contact_id AS hal_sms FROM contact_identity.upsert_contact(phone => '066 555 6677', first_name => 'Hal',
    attributes => '{"who": "hal-sms"}', account_id => 3) \gset
TRUNCATE before_state;
INSERT INTO before_state SELECT * FROM snapshot(3);
SELECT contact_id = :hal AS hal_wins, action FROM contact_identity.upsert_contact(external_id => 'hal-1',
    email => 'hal@x.io', phone => '066 555 6677', account_id => 3);
SELECT email, phone, first_name, attributes FROM contact_identity.contacts WHERE contact_id = :hal;
SELECT r->'identifiers' AS identifiers FROM contact_identity.unmerge_contact(:hal_mail, account_id => 3) AS r;
SELECT email, phone, first_name, attributes FROM contact_identity.contacts WHERE contact_id = :hal;
SELECT r->'identifiers' AS identifiers FROM contact_identity.unmerge_contact(:hal_sms, account_id => 3) AS r;
SELECT * FROM changed_since_before(3);

-- An explicit merge past a limit: the merge detached the token known the
-- longest, the winner's own; the unmerge gives it back, first seen when it was.
INSERT INTO contact_identity.identifier_types (name, class, priority, max_per_contact)
VALUES ('device', 'changeable', 50, 2);
SELECT contact_id AS dan FROM contact_identity.upsert_contact(external_id => 'dan-1',
    identifiers => '{"device": ["d1", "d2"]}', attributes => '{"who": "dan"}', account_id => 4) \gset
SELECT contact_id AS dan_tv FROM contact_identity.upsert_contact(email => 'dan@x.io',
    identifiers => '{"device": "d3"}', attributes => '{"who": "dan-tv"}', account_id => 4) \gset
UPDATE contact_identity.identifiers SET first_seen_at = first_seen_at - interval '1 day' WHERE value = 'd1';
TRUNCATE before_state;
INSERT INTO before_state SELECT * FROM snapshot(4);
SELECT contact_identity.merge_contacts(:dan, :dan_tv, account_id => 4) = :dan AS merged;
SELECT value, contact_id = :dan AS on_dan FROM contact_identity.identifiers WHERE type = 'device' ORDER BY value;
SELECT r->'given_back' AS given_back FROM contact_identity.unmerge_contact(:dan_tv, account_id => 4) AS r;
SELECT * FROM changed_since_before(4);

-- A forced merge of two external IDs, and a chain: Eve's app profile went
-- into her shop profile, which went into her main one. Unmerge the latest
-- first; the winner gives back the external ID the loser takes.
SELECT contact_id AS eve FROM contact_identity.upsert_contact(email => 'eve@x.io',
    attributes => '{"who": "eve"}', account_id => 5) \gset
SELECT contact_id AS eve_shop FROM contact_identity.upsert_contact(external_id => 'shop-9', email => 'eve@shop.io',
    attributes => '{"who": "eve-shop"}', account_id => 5) \gset
SELECT contact_id AS eve_app FROM contact_identity.upsert_contact(external_id => 'app-3',
    attributes => '{"who": "eve-app"}', account_id => 5) \gset
SELECT contact_identity.merge_contacts(:eve_shop, :eve_app, force => true, account_id => 5) = :eve_shop AS merged;
SELECT contact_identity.merge_contacts(:eve, :eve_shop, account_id => 5) = :eve AS merged;
SELECT external_id, email FROM contact_identity.contacts WHERE contact_id = :eve;
SELECT contact_identity.unmerge_contact(:eve_app, account_id => 5);
SELECT r->'identifiers' AS identifiers FROM contact_identity.unmerge_contact(:eve_shop, account_id => 5) AS r;
SELECT r->'identifiers' AS identifiers FROM contact_identity.unmerge_contact(:eve_app, account_id => 5) AS r;
SELECT attributes->>'who' AS who, external_id, email, merged_into FROM contact_identity.contacts
WHERE account_id = 5 ORDER BY contact_id;
SELECT type, value, contact_id FROM contact_identity.identifiers WHERE account_id = 5 ORDER BY contact_id, type;

-- Merged again after an unmerge: the latest merge is the one undone.
SELECT contact_identity.merge_contacts(:eve, :eve_shop, account_id => 5) = :eve AS merged;
SELECT contact_identity.upsert_contact(external_id => 'shop-9', first_name => 'Eve', account_id => 5) IS NOT NULL AS upserted;
SELECT r->'identifiers' AS identifiers FROM contact_identity.unmerge_contact(:eve_shop, account_id => 5) AS r;
SELECT attributes->>'who' AS who, external_id, email, first_name, merged_into FROM contact_identity.contacts
WHERE account_id = 5 ORDER BY contact_id;

-- An identifier the loser brought that another contact holds now stays
-- there, and the unmerge says so.
SELECT contact_id AS fay FROM contact_identity.upsert_contact(external_id => 'fay-1', attributes => '{"who": "fay"}',
    account_id => 6) \gset
SELECT contact_id AS fay_web FROM contact_identity.upsert_contact(email => 'fay@x.io', identifiers => '{"cookie": "ck-f"}',
    attributes => '{"who": "fay-web"}', account_id => 6) \gset
SELECT contact_identity.merge_contacts(:fay, :fay_web, account_id => 6) = :fay AS merged;
SELECT contact_id AS gus FROM contact_identity.upsert_contact(external_id => 'gus-1', identifiers => '{"cookie": "ck-f"}',
    account_id => 6) \gset
SELECT r->'identifiers' AS identifiers, r->'stayed' AS stayed
FROM contact_identity.unmerge_contact(:fay_web, account_id => 6) AS r;
SELECT type, value, contact_id = :gus AS on_gus FROM contact_identity.identifiers WHERE account_id = 6 AND type = 'cookie';
SELECT what FROM contact_identity.explain_contact(:fay_web, account_id => 6) WHERE detail->>'action' LIKE '%merged';

-- Errors, and their SQLSTATEs.
CREATE FUNCTION sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE; END $$;
SELECT contact_identity.unmerge_contact(NULL);
SELECT contact_identity.unmerge_contact(1, NULL);
SELECT contact_identity.unmerge_contact(1, -1);
SELECT contact_identity.unmerge_contact(999999);
-- A live contact is not the tombstone of a merge.
SELECT contact_identity.unmerge_contact(:fay, account_id => 6);
-- The wrong account.
SELECT contact_identity.unmerge_contact(:fay_web, account_id => 7);
SELECT q, sqlstate_of(q) FROM (VALUES ('SELECT contact_identity.unmerge_contact(NULL)'),
    ('SELECT contact_identity.unmerge_contact(999999)'),
    (format('SELECT contact_identity.unmerge_contact(%s, account_id => 6)', :fay)),
    (format('SELECT contact_identity.unmerge_contact(%s, account_id => 5)', :eve_app))) AS t(q);
-- A merge logged without what unmerge needs (as 0.2.0 logged them).
SELECT contact_identity.merge_contacts(:fay, :fay_web, account_id => 6) = :fay AS merged;
UPDATE contact_identity.identity_log SET detail = detail - 'event_ids' - 'filled'
WHERE account_id = 6 AND action = 'merged_into';
SELECT contact_identity.unmerge_contact(:fay_web, account_id => 6);
SELECT sqlstate_of(format('SELECT contact_identity.unmerge_contact(%s, account_id => 6)', :fay_web));
SELECT merged_into = :fay AS still_merged FROM contact_identity.contacts WHERE contact_id = :fay_web;

DROP PROCEDURE story;
DROP FUNCTION differences, state, changed_since_before, snapshot, sqlstate_of;
DROP TABLE before_state;
-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity;
