// contacts.js: the contact_identity calls of an application, as prepared
// statements. Each query config has a `name`, so pg prepares its text once per
// connection and afterwards sends only the values. Every call names its
// arguments (`account_id => $1`): the SQL reads the same as the API
// reference, and an argument added to the function later cannot shift the
// others.
'use strict';

// The statements, by name. Casts say each parameter's type, so that nothing
// depends on how PostgreSQL would guess the type of an untyped parameter.
const statements = {
  upsert: `SELECT contact_id, external_id, action, matched_by
             FROM contact_identity.upsert_contact(
                    account_id  => $1::bigint,
                    external_id => $2::text,
                    email       => $3::text,
                    phone       => $4::text,
                    identifiers => $5::jsonb,
                    first_name  => $6::text,
                    attributes  => $7::jsonb)`,
  resolve: `SELECT contact_id, matched_by
              FROM contact_identity.resolve_contact(
                     account_id  => $1::bigint,
                     external_id => $2::text,
                     email       => $3::text,
                     phone       => $4::text,
                     identifiers => $5::jsonb)`,
  getContact: `SELECT contact_identity.get_contact(account_id => $1::bigint, contact_id => $2::bigint) AS contact`,
  trackEvent: `SELECT contact_identity.track_event(
                        account_id  => $1::bigint,
                        event_type  => $2::text,
                        payload     => $3::jsonb,
                        external_id => $4::text,
                        identifiers => $5::jsonb) AS event_id`,
  events: `SELECT event_type, payload
             FROM contact_identity.contact_events(account_id => $1::bigint, contact_id => $2::bigint)
            ORDER BY event_id`,
};

// run: executes the prepared statement `name` with `values` on `db` (a pg
// Pool or a Client taken from it for a transaction).
function run(db, name, values) {
  return db.query({ name, text: statements[name], values });
}

// json: a value for a jsonb parameter, or NULL. pg would turn a JavaScript
// array into a PostgreSQL array, so JSON is always sent as text.
function json(value) {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

// upsertContact: finds the person the request describes and creates, updates,
// restores or merges their profile. Fields left out are sent as NULL, which
// leaves what the profile holds unchanged. Returns
// { contact_id, external_id, action, matched_by }; contact_id is a bigint,
// which pg returns as a string (a JavaScript number would lose digits past 2^53).
async function upsertContact(db, accountId, f) {
  const { rows } = await run(db, 'upsert', [accountId, f.externalId ?? null, f.email ?? null, f.phone ?? null,
    json(f.identifiers), f.firstName ?? null, json(f.attributes)]);
  return rows[0];
}

// resolveContact: the contact the keys find, without writing anything; null when none does.
async function resolveContact(db, accountId, f) {
  const { rows } = await run(db, 'resolve', [accountId, f.externalId ?? null, f.email ?? null,
    f.phone ?? null, json(f.identifiers)]);
  return rows[0] ?? null;
}

// getContact: the profile in the API's shape (pg parses the jsonb), or null.
async function getContact(db, accountId, contactId) {
  const { rows } = await run(db, 'getContact', [accountId, contactId]);
  return rows[0].contact;
}

// trackEvent: records what a person did; never creates a profile.
async function trackEvent(db, accountId, eventType, payload, keys) {
  const { rows } = await run(db, 'trackEvent', [accountId, eventType, json(payload),
    keys.externalId ?? null, json(keys.identifiers)]);
  return rows[0].event_id;
}

// contactEvents: the events of a contact, oldest first.
async function contactEvents(db, accountId, contactId) {
  const { rows } = await run(db, 'events', [accountId, contactId]);
  return rows;
}

module.exports = { upsertContact, resolveContact, getContact, trackEvent, contactEvents };
