-- test/citus/per_call.sql: one call of each delegated function in account
-- :acct, each alone in its statement and between two readings of every
-- node's counters (test/citus/counters.sh LABEL PHASE, run through \! with
-- $CITUS_COUNTERS_SH; \! does not expand psql variables, so the labels
-- are fixed). test/scripts/citus.sh compares the readings.
\set ON_ERROR_STOP 1
-- Warm-up, not counted: this session's connection to the worker, and that
-- backend's caches of the configuration (read once from the reference tables).
SELECT * FROM contact_identity.resolve_contact(email => 'warm-up@measure.example', account_id => :acct) \g /dev/null

\! "$CITUS_COUNTERS_SH" 'upsert_contact, a signup' before
SELECT * FROM contact_identity.upsert_contact(email => 'one@measure.example', identifiers => '{"mobile_push": "m-1"}',
    account_id => :acct) \gset one_
\! "$CITUS_COUNTERS_SH" 'upsert_contact, a signup' after

\! "$CITUS_COUNTERS_SH" 'upsert_contact, a login that changes nothing' before
SELECT * FROM contact_identity.upsert_contact(email => 'one@measure.example', account_id => :acct) \g /dev/null
\! "$CITUS_COUNTERS_SH" 'upsert_contact, a login that changes nothing' after

\! "$CITUS_COUNTERS_SH" 'upsert_contact, an update' before
SELECT * FROM contact_identity.upsert_contact(email => 'one@measure.example', first_name => 'One', account_id => :acct) \g /dev/null
\! "$CITUS_COUNTERS_SH" 'upsert_contact, an update' after

\! "$CITUS_COUNTERS_SH" 'resolve_contact' before
SELECT * FROM contact_identity.resolve_contact(identifiers => '{"mobile_push": "m-1"}', account_id => :acct) \g /dev/null
\! "$CITUS_COUNTERS_SH" 'resolve_contact' after

\! "$CITUS_COUNTERS_SH" 'track_event' before
SELECT contact_identity.track_event('visit', '{"page": 1}', email => 'one@measure.example', account_id => :acct) \g /dev/null
\! "$CITUS_COUNTERS_SH" 'track_event' after

\! "$CITUS_COUNTERS_SH" 'assign_external_id' before
SELECT * FROM contact_identity.assign_external_id(:one_contact_id, 'measure-one', :acct) \g /dev/null
\! "$CITUS_COUNTERS_SH" 'assign_external_id' after

SELECT * FROM contact_identity.upsert_contact(email => 'two@measure.example', account_id => :acct) \gset two_
\! "$CITUS_COUNTERS_SH" 'merge_contacts' before
SELECT contact_identity.merge_contacts(:one_contact_id, :two_contact_id, account_id => :acct) \g /dev/null
\! "$CITUS_COUNTERS_SH" 'merge_contacts' after

\! "$CITUS_COUNTERS_SH" 'unmerge_contact' before
SELECT contact_identity.unmerge_contact(:two_contact_id, :acct) \g /dev/null
\! "$CITUS_COUNTERS_SH" 'unmerge_contact' after

\! "$CITUS_COUNTERS_SH" 'delete_contact' before
SELECT contact_identity.delete_contact(:two_contact_id, :acct) \g /dev/null
\! "$CITUS_COUNTERS_SH" 'delete_contact' after

\! "$CITUS_COUNTERS_SH" 'import_contacts_json, two rows' before
SELECT * FROM contact_identity.import_contacts_json(
    '[{"channels": [{"type": "email", "value": "three@measure.example"}]},
      {"channels": [{"type": "email", "value": "one@measure.example"}], "lastName": "Imported"}]',
    dedupe_on => 'email', account_id => :acct) \g /dev/null
\! "$CITUS_COUNTERS_SH" 'import_contacts_json, two rows' after

\! "$CITUS_COUNTERS_SH" 'purge_contact' before
SELECT contact_identity.purge_contact(:two_contact_id, :acct) \g /dev/null
\! "$CITUS_COUNTERS_SH" 'purge_contact' after
