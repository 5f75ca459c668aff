-- Dynamic segments: create_segment stores a rule and makes a view in schema
-- contact_identity_segments; the rule language, its errors, and input that
-- tries to get SQL through.
CREATE EXTENSION contact_identity;
SET contact_identity.default_region = 'UA';
SET client_min_messages = warning;
SELECT contact_id AS olena FROM contact_identity.upsert_contact(external_id => 'u-1', email => 'olena@x.io',
    phone => '050 123 4567', first_name => 'Olena', last_name => 'Koval',
    attributes => '{"city": "Kyiv", "age": 34, "vip": true, "address": {"zip": "01001"}}',
    identifiers => '{"mobile_push": "tok-1"}') \gset
SELECT contact_id AS petro FROM contact_identity.upsert_contact(external_id => 'u-2', email => 'petro@y.org',
    first_name => 'Petro', attributes => '{"city": "Lviv", "age": "unknown"}') \gset
SELECT contact_id AS anon FROM contact_identity.upsert_contact(identifiers => '{"mobile_push": "tok-2"}') \gset
SELECT contact_id AS ivan FROM contact_identity.upsert_contact(email => 'ivan@x.io', first_name => 'Ivan',
    attributes => '{"city": "kyiv", "age": 19}') \gset
SELECT contact_identity.track_event('order', '{"total": 10}', external_id => 'u-1') > 0 AS ordered;
SELECT contact_identity.track_event('order', '{"total": 20}', external_id => 'u-1') > 0 AS ordered;
SELECT contact_identity.track_event('order', '{"total": 5}', external_id => 'u-2',
    occurred_at => now() - interval '90 days') > 0 AS ordered;
-- Another account's Kyiv contact is never in this account's segments.
SELECT (contact_identity.upsert_contact(email => 'other@x.io', attributes => '{"city": "Kyiv"}', account_id => 3)).action;
RESET client_min_messages;

-- A segment is a view, always current.
SELECT contact_identity.create_segment('kyiv', '{"field": "attributes.city", "op": "eq", "value": "Kyiv"}');
SELECT contact_id, first_name FROM contact_identity_segments.kyiv ORDER BY contact_id;
SELECT contact_identity.segment_count('kyiv');
SELECT contact_id FROM contact_identity.segment_members('kyiv');
SELECT (contact_identity.upsert_contact(email => 'new@x.io', attributes => '{"city": "Kyiv"}')).action;
SELECT contact_identity.segment_count('kyiv');
SELECT name, account_id, rule FROM contact_identity.segments;

-- Each family of the rule language: how many contacts, and which.
CREATE FUNCTION try_rule(rule jsonb) RETURNS TABLE (members text) LANGUAGE plpgsql AS $$
BEGIN
  PERFORM contact_identity.create_segment('try', rule);
  RETURN QUERY SELECT string_agg(coalesce(first_name, 'contact ' || contact_id), ', ' ORDER BY contact_id)
               FROM contact_identity_segments.try;
  PERFORM contact_identity.drop_segment('try');
END $$;
SELECT r AS rule, try_rule(r::jsonb) AS members FROM (VALUES
  ('{"field": "external_id", "op": "is_empty"}'),
  ('{"field": "external_id", "op": "is_not_empty"}'),
  ('{"field": "email", "op": "eq", "value": "olena@x.io"}'),
  ('{"field": "first_name", "op": "ne", "value": "Olena"}'),
  ('{"field": "email", "op": "contains", "value": "X.IO"}'),
  ('{"field": "email", "op": "starts_with", "value": "pet"}'),
  ('{"field": "email", "op": "matches", "value": "^[a-o].*@x\\.io$"}'),
  ('{"field": "first_name", "op": "in", "value": ["Petro", "Ivan"]}'),
  ('{"field": "first_name", "op": "between", "value": ["O", "Q"]}'),
  ('{"field": "phone", "op": "is_not_empty"}'),
  ('{"field": "created_at", "op": "within_last", "value": "1 day"}'),
  ('{"field": "created_at", "op": "lt", "value": "2000-01-01"}'),
  ('{"field": "deleted", "op": "eq", "value": false}'),
  ('{"field": "attributes.city", "op": "contains", "value": "kyiv"}'),
  ('{"field": "attributes.age", "op": "gte", "value": 30}'),
  ('{"field": "attributes.age", "op": "between", "value": [18, 30]}'),
  ('{"field": "attributes.vip", "op": "eq", "value": true}'),
  ('{"field": "attributes.address.zip", "op": "eq", "value": "01001"}'),
  ('{"field": "attributes.city", "op": "is_empty"}'),
  ('{"has_identifier": "mobile_push"}'),
  ('{"event": "order"}'),
  ('{"event": "order", "within": "30 days"}'),
  ('{"event": "order", "at_least": 2}'),
  ('{"all": [{"field": "attributes.city", "op": "eq", "value": "Kyiv"}, {"has_identifier": "mobile_push"}]}'),
  ('{"any": [{"field": "first_name", "op": "eq", "value": "Ivan"}, {"event": "order", "within": "30 days"}]}'),
  ('{"not": {"any": [{"field": "external_id", "op": "is_empty"}, {"field": "attributes.age", "op": "lt", "value": 30}]}}')
) AS t(r);

-- replace_segment keeps the view's name and what depends on it.
CREATE VIEW kyiv_names AS SELECT first_name FROM contact_identity_segments.kyiv;
SELECT contact_identity.replace_segment('kyiv', '{"field": "attributes.city", "op": "contains", "value": "kyiv"}');
SELECT first_name FROM kyiv_names ORDER BY 1;
SELECT rule FROM contact_identity.segments WHERE name = 'kyiv';
DROP VIEW kyiv_names;

-- A segment of another account sees only that account.
SELECT contact_identity.create_segment('kyiv in 3', '{"field": "attributes.city", "op": "eq", "value": "Kyiv"}', 3);
SELECT account_id, email FROM contact_identity_segments."kyiv in 3";

-- Hostile names and values are data, never SQL: each segment selects
-- exactly the one contact holding those strings.
SET client_min_messages = warning;
SELECT (contact_identity.upsert_contact(email => 'x@hostile.io',
    first_name => $v$x'); DROP TABLE contact_identity.contacts; --$v$)).action;
SELECT (contact_identity.upsert_contact(email => 'r@hostile.io',
    attributes => jsonb_build_object($k$x' OR 1=1 --$k$, $v$\' OR true --$v$))).action;
SELECT (contact_identity.upsert_contact(email => 'e@hostile.io')).action;
SELECT contact_identity.track_event($e$x'); --$e$, email => 'e@hostile.io') > 0 AS tracked;
RESET client_min_messages;
SELECT contact_identity.create_segment('x"; DROP TABLE contact_identity.contacts; --',
    '{"field": "first_name", "op": "eq", "value": "x''); DROP TABLE contact_identity.contacts; --"}');
SELECT contact_identity.create_segment('Robert''); DROP SCHEMA contact_identity CASCADE;--',
    '{"field": "attributes.x'' OR 1=1 --", "op": "eq", "value": "\\'' OR true --"}');
SELECT contact_identity.create_segment('$$ back\slash $$',
    '{"any": [{"field": "email", "op": "matches", "value": "^''\\)\\|\\|\\(SELECT 1"}, {"event": "x''); --", "within": "1 day"}]}');
SELECT name FROM contact_identity.segments ORDER BY name;
SELECT c.relname, contact_identity.segment_count(c.relname) FROM pg_class c
WHERE c.relnamespace = 'contact_identity_segments'::regnamespace ORDER BY 1;
SELECT count(*) AS contacts_still_there FROM contact_identity.contacts;
-- Whatever standard_conforming_strings says when the view is made: the one
-- contact with exactly that name is in it, and nobody else.
SELECT (contact_identity.upsert_contact(email => 'odd@x.io', first_name => $n$a\' OR true --$n$)).action;
SET standard_conforming_strings = off;
SELECT contact_identity.create_segment('backslash',
    $j${"field": "first_name", "op": "eq", "value": "a\\' OR true --"}$j$);
RESET standard_conforming_strings;
SELECT email, first_name FROM contact_identity_segments.backslash;

-- Errors name the JSON path at fault.
\set SHOW_CONTEXT never
SELECT contact_identity.create_segment('bad', '{"field": "emial", "op": "eq", "value": "x"}');
SELECT contact_identity.create_segment('bad', '{"all": [{"field": "email", "op": "equals", "value": "x"}]}');
SELECT contact_identity.create_segment('bad', '{"all": [{"has_identifier": "mobile_push"}, {"not": {"field": "created_at", "op": "within_last", "value": "soon"}}]}');
SELECT contact_identity.create_segment('bad', '{"any": []}');
SELECT contact_identity.create_segment('bad', '[1, 2]');
SELECT contact_identity.create_segment('bad', '{"field": "email", "op": "matches", "value": "(unclosed"}');
SELECT contact_identity.create_segment('bad', '{"any": [{"event": "order"}, {"has_identifier": "fax"}]}');
SELECT contact_identity.create_segment('bad', '{"field": "deleted", "op": "contains", "value": "x"}');
SELECT contact_identity.create_segment('bad', '{"field": "attributes.age", "op": "gt", "value": {"n": 1}}');
SELECT contact_identity.create_segment('kyiv', '{"field": "email", "op": "is_empty"}');
SELECT contact_identity.create_segment('', '{"field": "email", "op": "is_empty"}');
SELECT contact_identity.create_segment(repeat('n', 64), '{"field": "email", "op": "is_empty"}');
SELECT contact_identity.create_segment(NULL, '{"field": "email", "op": "is_empty"}');
SELECT contact_identity.create_segment('bad', NULL);
SELECT contact_identity.create_segment('bad', '{"field": "email", "op": "is_empty"}', -1);
SELECT contact_identity.replace_segment('nope', '{"field": "email", "op": "is_empty"}');
SELECT contact_identity.replace_segment('kyiv', '{"field": "email"}');
SELECT contact_identity.drop_segment('nope');
SELECT contact_identity.segment_count('nope');
SELECT * FROM contact_identity.segment_members('nope');
SELECT count(*) AS no_bad_segment FROM contact_identity.segments WHERE name = 'bad';

-- drop_segment drops the view too.
SELECT contact_identity.drop_segment('kyiv');
SELECT to_regclass('contact_identity_segments.kyiv') IS NULL AS view_gone, count(*) AS rows_left
FROM contact_identity.segments WHERE name = 'kyiv';

DROP FUNCTION try_rule;
-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP EXTENSION contact_identity CASCADE;
