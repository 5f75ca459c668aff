// main.js: contact_identity from a Node.js application, as a walk-through
// that checks itself. The seed's two use cases (a mobile app: push token,
// then signup, then logins; a website: a cookie, then a subscription, then
// logins), then the three errors an application handles: 23505 (the value
// belongs to another contact), 22023 (bad input) and 42501 (no grant on the
// account). Connects with the standard PG* environment variables, as the
// role setup.sql prepared. Exits non-zero when any result is not the
// expected one.
'use strict';

const crypto = require('node:crypto');
const { Pool } = require('pg');
const ci = require('./contacts');
const { expect, expectEqual, expectError, checksPassed } = require('./check');

const SHOP = 42;          // the account setup.sql granted to the application role
const OTHER_SHOP = 43;    // an account it has no grant on

// Every run uses new values, so the walk-through can be run again in the same
// database and still start from people nobody knows.
const tag = crypto.randomBytes(4).toString('hex');
const localPhone = `050 ${crypto.randomInt(100, 1000)} ${crypto.randomInt(1000, 10000)}`;

// say: one line of the walk-through.
function say(text = '') {
  console.log(text);
}

// show: a result row, indented under the step that produced it.
function show(label, value) {
  console.log(`      ${label}: ${value === undefined ? '(none)' : JSON.stringify(value)}`);
}

// httpStatus: what an API in front of contact_identity answers for an error,
// by its SQLSTATE; anything else is the server's fault.
function httpStatus(err) {
  return { 23505: 409, 22023: 400, 42501: 403 }[err.code] ?? 500;
}

// showError: the fields of a PostgreSQL error an application reads.
function showError(err) {
  show('err.code', err.code);
  show('err.message', err.message);
  show('err.detail', err.detail);
  show('err.hint', err.hint);
  show('HTTP status the API answers', httpStatus(err));
}

// inTransaction: runs `work` on one connection between BEGIN and COMMIT, and
// rolls back when it throws. contact_identity writes in the caller's
// transaction, so a failed call leaves nothing of the signup behind.
async function inTransaction(pool, work) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

// signUp: a website signup, as one transaction: the form's "signup" event
// (kept under the visitor's cookie) and the profile, which takes that event.
// Returns the upsert_contact row.
function signUp(pool, f) {
  return inTransaction(pool, async (client) => {
    await ci.trackEvent(client, SHOP, 'signup', { form: 'newsletter' }, { identifiers: { cookie: f.cookie } });
    return ci.upsertContact(client, SHOP, { externalId: f.externalId, email: f.email, identifiers: { cookie: f.cookie } });
  });
}

// checkRole: the walk-through needs the application's role; a superuser may
// use every account, so the 42501 case could not happen.
async function checkRole(pool) {
  const { rows } = await pool.query(
    `SELECT current_user AS role, r.rolsuper AS superuser, e.extversion AS version
       FROM pg_catalog.pg_roles r LEFT JOIN pg_catalog.pg_extension e ON e.extname = 'contact_identity'
      WHERE r.rolname = current_user`);
  const { role, superuser, version } = rows[0];
  if (!version) throw new Error('contact_identity is not installed in this database: run setup.sql first');
  if (superuser) {
    throw new Error(`connected as superuser "${role}": connect as the application's role ` +
      '(PGUSER=shop_app after setup.sql), which has a grant on account 42 only');
  }
  say(`Connected as role "${role}", contact_identity ${version}, account ${SHOP}, run ${tag}.`);
}

// mobileApp: use case 1. The app sends its push token first; the signup
// brings the external ID, email and phone; later logins send the external ID.
async function mobileApp(pool) {
  say('\n=== Use case 1: the mobile app ===');
  const token = `tok-android-${tag}`;
  const externalId = `app-user-${tag}`;

  say('1.1 The app is installed and sends its push token alone: a profile is created.');
  const install = await ci.upsertContact(pool, SHOP, { identifiers: { mobile_push: token } });
  show('upsert_contact', install);
  expectEqual([install.action, install.matched_by], ['created', null], 'install creates a profile');

  say('1.2 The person signs up: the external ID, email, phone (local format, the');
  say('    account\'s region UA applies), name and the same token. The token finds');
  say('    the profile of 1.1, which gets the rest.');
  const signup = await ci.upsertContact(pool, SHOP, {
    externalId, email: `Olena.${tag}@Example.com`, phone: localPhone,
    identifiers: { mobile_push: token }, firstName: 'Olena', attributes: { app_version: '2.3.0' },
  });
  show('upsert_contact', signup);
  expectEqual([signup.contact_id, signup.action, signup.matched_by], [install.contact_id, 'updated', 'mobile_push'],
    'signup updates the profile the token found');

  say('1.3 A later login sends the external ID: it finds the same profile.');
  const login = await ci.upsertContact(pool, SHOP, { externalId, attributes: { last_login: '2024-05-01' } });
  show('upsert_contact', login);
  expectEqual([login.contact_id, login.action, login.matched_by], [install.contact_id, 'updated', 'external_id'],
    'login finds the profile by external ID');

  const profile = await ci.getContact(pool, SHOP, install.contact_id);
  show('get_contact', { externalCustomerId: profile.externalCustomerId, channels: profile.channels, fields: profile.fields });
  expectEqual(profile.externalCustomerId, externalId, 'the profile has the external ID');
  const phone = `+380${localPhone.replace(/\D/g, '').slice(1)}`;
  expectEqual(profile.channels.map((c) => c.value).sort(), [`olena.${tag}@example.com`, phone, token].sort(),
    'the profile holds the normalized email and phone and the token');
  expectEqual(profile.fields, { app_version: '2.3.0', last_login: '2024-05-01' }, 'the attributes are merged');
  return { contactId: install.contact_id, email: `olena.${tag}@example.com` };
}

// website: use case 2. A visitor's cookie is remembered and their page views
// wait under it; the subscription creates the profile, which gets them.
async function website(pool) {
  say('\n=== Use case 2: the website ===');
  const cookie = `ck-${tag}`;
  const externalId = `web-user-${tag}`;

  say('2.1 A visitor who is not logged in browses: the cookie alone is remembered,');
  say('    no profile is created, and the page views wait under the cookie.');
  const visit = await ci.upsertContact(pool, SHOP, { identifiers: { cookie } });
  show('upsert_contact', visit);
  expectEqual([visit.contact_id, visit.action], [null, 'remembered'], 'a cookie alone creates no profile');
  for (const url of ['/bikes', '/helmets']) {
    await ci.trackEvent(pool, SHOP, 'page_view', { url }, { identifiers: { cookie } });
  }

  say('2.2 The visitor subscribes: the external ID, email and cookie create the');
  say('    profile, and the browsing history of 2.1 becomes its own.');
  const subscribe = await ci.upsertContact(pool, SHOP, {
    externalId, email: `petro.${tag}@example.org`, identifiers: { cookie }, firstName: 'Petro',
  });
  show('upsert_contact', subscribe);
  expectEqual(subscribe.action, 'created', 'the subscription creates the profile');
  const history = await ci.contactEvents(pool, SHOP, subscribe.contact_id);
  show('contact_events', history);
  expectEqual(history.map((e) => e.payload.url), ['/bikes', '/helmets'], 'the page views joined the profile');

  say('2.3 Later the cookie alone finds the person, and a login finds them by external ID.');
  const byCookie = await ci.resolveContact(pool, SHOP, { identifiers: { cookie } });
  show('resolve_contact', byCookie);
  expectEqual(byCookie, { contact_id: subscribe.contact_id, matched_by: 'cookie' }, 'the cookie finds the profile');
  const login = await ci.upsertContact(pool, SHOP, { externalId, attributes: { newsletter: true } });
  show('upsert_contact', login);
  expectEqual([login.contact_id, login.action, login.matched_by], [subscribe.contact_id, 'updated', 'external_id'],
    'login finds the profile by external ID');
}

// errors: what the application does with each error contact_identity raises.
async function errors(pool, appUser) {
  say('\n=== Errors an application handles ===');

  say('3.1 Someone signs up on the website with a new external ID and the email of');
  say('    the app user. The signup (a "signup" event, then the profile) is one');
  say('    transaction.');
  const newId = `web-user-${tag}-2`;
  const cookie = `ck-${tag}-2`;
  const conflict = await expectError(signUp(pool, { externalId: newId, email: appUser.email, cookie }),
    '23505', 'a signup with an email another contact holds');
  showError(conflict);
  expect(conflict.detail.startsWith(`Contact ${appUser.contactId} holds email "${appUser.email}"`),
    `the DETAIL names contact ${appUser.contactId}: ${conflict.detail}`);
  expect(Boolean(conflict.hint), 'the error has a HINT');
  say('    The API answers "this email is already registered: log in, or use another');
  say('    email". The person uses another one; the profile has one "signup" event,');
  say('    the retry\'s: the failed attempt\'s transaction was rolled back.');
  const retry = await signUp(pool, { externalId: newId, email: `mallory.${tag}@example.net`, cookie });
  show('upsert_contact', retry);
  expectEqual([retry.external_id, retry.action], [newId, 'created'], 'the retry creates the profile');
  const signups = await ci.contactEvents(pool, SHOP, retry.contact_id);
  show('contact_events', signups);
  expectEqual(signups.map((e) => e.event_type), ['signup'], 'only the committed signup left an event');

  say('3.2 A form sends an email without a domain: the input is refused before');
  say('    anything is written.');
  const bad = await expectError(ci.upsertContact(pool, SHOP, { externalId: `web-user-${tag}-3`, email: 'olena@' }),
    '22023', 'an invalid email');
  showError(bad);
  expect(bad.message.startsWith('invalid email "olena@"'), `the message names the email: ${bad.message}`);
  expect(Boolean(bad.detail), 'the error says what is wrong in its DETAIL');

  say(`3.3 A bug routes a request to account ${OTHER_SHOP}, another shop's, on which this`);
  say('    role has no grant: refused before anything is read.');
  const denied = await expectError(ci.resolveContact(pool, OTHER_SHOP, { email: appUser.email }),
    '42501', 'a call for an account without a grant');
  showError(denied);
  expectEqual(denied.message, `permission denied for account ${OTHER_SHOP}`, 'the message names the account');
  expect(denied.detail.endsWith(`has no reader grant on account ${OTHER_SHOP}.`), `the DETAIL names the missing grant: ${denied.detail}`);
}

// main: runs the walk-through; any failed check or unexpected error exits 1.
async function main() {
  const pool = new Pool({ max: 2 });
  try {
    await checkRole(pool);
    const appUser = await mobileApp(pool);
    await website(pool);
    await errors(pool, appUser);
    say(`\nAll ${checksPassed()} checks passed.`);
  } finally {
    await pool.end();
  }
}

main().catch((err) => {
  console.error(`\nFAILED: ${err.message}`);
  if (err.code) console.error(`  SQLSTATE ${err.code}${err.detail ? `, DETAIL: ${err.detail}` : ''}`);
  process.exitCode = 1;
});
