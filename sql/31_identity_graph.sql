-- explain_contact with a format (0.7.0): a contact's identity graph in
-- Graphviz DOT and Mermaid. Times are masked (T): they are the test's now().
CREATE EXTENSION contact_identity;
SET client_min_messages = warning;
SELECT contact_identity.set_account_region(0, 'UA');
CREATE FUNCTION graph(contact_id bigint, format text, account_id bigint DEFAULT 0) RETURNS SETOF text
LANGUAGE sql AS $$
    SELECT regexp_split_to_table(regexp_replace(contact_identity.explain_contact(contact_id, account_id, format),
                                                '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [^ "\\<]+', 'T', 'g'), E'\n')
$$;

-- The overload leaves the calls of explain_contact as they were: one or
-- two arguments are the history in words, a third is the format.
SELECT pg_get_function_identity_arguments(p.oid) AS arguments, pg_get_function_result(p.oid) AS returns
FROM pg_proc p WHERE p.oid::regproc::text = 'contact_identity.explain_contact' ORDER BY 1;
SELECT contact_id FROM contact_identity.upsert_contact(identifiers => '{"mobile_push": "tok-1"}');
SELECT count(*) AS words FROM contact_identity.explain_contact(1);
SELECT count(*) AS words FROM contact_identity.explain_contact(1, 0);
SELECT count(*) AS words FROM contact_identity.explain_contact(contact_id => 1, account_id => 0);
SELECT pg_typeof(contact_identity.explain_contact(1, 0, format => 'dot')) AS graph,
       pg_typeof(contact_identity.explain_contact(1, 0, 'mermaid')) AS graph,
       contact_identity.explain_contact(1, 0, 'DOT') = contact_identity.explain_contact(1, 0, 'dot') AS any_case;

-- The seed's mobile case, then the person's story: an email replaced, the
-- device passed to someone else, a visitor's history, a merge and its
-- unmerge with events.
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-17', email => 'ann@x.io',
                                                       phone => '050 123 4567', identifiers => '{"mobile_push": "tok-1"}');
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-17', email => 'ann@new.io');
SELECT contact_id FROM contact_identity.upsert_contact(external_id => 'u-18', identifiers => '{"mobile_push": "tok-1"}');
SELECT contact_identity.track_event('page_view', identifiers => '{"cookie": "ck-1"}') IS NOT NULL AS tracked;
SELECT contact_identity.track_event('page_view', identifiers => '{"cookie": "ck-1"}') IS NOT NULL AS tracked;
SELECT contact_id FROM contact_identity.upsert_contact(phone => '+380 67 111 2233', identifiers => '{"cookie": "ck-1"}');
SELECT contact_identity.track_event('order', phone => '+380 67 111 2233') AS order_event;
SELECT contact_identity.merge_contacts(1, 3) AS winner;
SELECT graph AS "contact 1 merged 3: dot" FROM graph(1, 'dot');
SELECT graph AS "contact 3 merged into 1: mermaid" FROM graph(3, 'mermaid');
SELECT (contact_identity.unmerge_contact(3))->'events' AS events_back;
SELECT graph AS "contact 1 after the unmerge: dot" FROM graph(1, 'dot');
SELECT graph AS "contact 3 after the unmerge: mermaid" FROM graph(3, 'mermaid');
-- The contact that took the token sees where it came from.
SELECT graph AS "contact 2: mermaid" FROM graph(2, 'mermaid');
-- The same graph every time.
SELECT contact_identity.explain_contact(1, 0, 'dot') = contact_identity.explain_contact(1, 0, 'dot') AS stable;

-- Labels are escaped: quotes, backslashes, # < > & ` and line breaks.
SELECT contact_id FROM contact_identity.upsert_contact(
    external_id => 'odd "1" \n #2 <b>&amp;` x', identifiers => '{"telegram": "a\\\"b"}');
SELECT graph AS "escaped: dot" FROM graph(4, 'dot');
SELECT graph AS "escaped: mermaid" FROM graph(4, 'mermaid');
SELECT contact_identity.dot_quote(E'a"b\\c\nd\r\ne\tf&amp;') AS dot,
       contact_identity.mermaid_quote(E'a"b\\c\nd#1;<i>&`\te') AS mermaid;

-- A deleted contact is drawn dashed.
SELECT contact_identity.delete_contact(2) IS NOT NULL AS deleted;
SELECT graph AS "contact 2 deleted: dot" FROM graph(2, 'dot') WHERE graph LIKE '  c2 [%';

-- Error paths: the format is checked before the account, the account
-- before the contact.
SELECT contact_identity.explain_contact(1, 0, 'svg');
SELECT contact_identity.explain_contact(1, 0, 'text');
SELECT contact_identity.explain_contact(1, 0, NULL);
SELECT contact_identity.explain_contact(NULL, 0, 'dot');
SELECT contact_identity.explain_contact(404, 0, 'dot');
SELECT contact_identity.explain_contact(1, 5, 'dot');
SELECT contact_identity.explain_contact(1, NULL, 'dot');
SELECT contact_identity.explain_contact(5, format => 'dot');

-- Access: a reader of account 0 draws it, a reader of another account
-- gets 42501, as from explain_contact(contact_id, account_id); a role
-- without contact_identity_reader may not call it.
CREATE ROLE regress_ci_graph_r0 LOGIN;
CREATE ROLE regress_ci_graph_r9 LOGIN;
CREATE ROLE regress_ci_graph_none LOGIN;
GRANT contact_identity_reader TO regress_ci_graph_r0, regress_ci_graph_r9;
GRANT USAGE ON SCHEMA public, contact_identity TO regress_ci_graph_none;
SELECT contact_identity.grant_account('regress_ci_graph_r0', 0, 'reader');
SELECT contact_identity.grant_account('regress_ci_graph_r9', 9, 'reader');
SET ROLE regress_ci_graph_r0;
SELECT contact_identity.explain_contact(1, 0, 'dot') LIKE 'digraph "contact 1" {%' AS drawn;
SET ROLE regress_ci_graph_r9;
SELECT contact_identity.explain_contact(1, 0, 'dot');
SELECT * FROM contact_identity.explain_contact(1, 0);
SET ROLE regress_ci_graph_none;
SELECT contact_identity.explain_contact(1, 0, 'dot');
RESET ROLE;
SELECT has_function_privilege('public', 'contact_identity.explain_contact(bigint, bigint, text)', 'EXECUTE') AS public_may,
       has_function_privilege('contact_identity_reader', 'contact_identity.explain_contact(bigint, bigint, text)', 'EXECUTE') AS reader_may,
       has_function_privilege('contact_identity_reader', 'contact_identity.identity_graph(bigint, bigint)', 'EXECUTE') AS reader_may_helper;
SELECT contact_identity.revoke_account('regress_ci_graph_r0', 0), contact_identity.revoke_account('regress_ci_graph_r9', 9);
REVOKE USAGE ON SCHEMA public, contact_identity FROM regress_ci_graph_none;
DROP ROLE regress_ci_graph_r0, regress_ci_graph_r9, regress_ci_graph_none;

-- verify(): every invariant holds.
SELECT * FROM contact_identity.verify();
DROP FUNCTION graph(bigint, text, bigint);
DROP EXTENSION contact_identity;
