// check.js: the walk-through's checks. Each one throws when a result is not
// what the case expects, so `npm start` exits non-zero and a test can fail.
'use strict';

let passed = 0;

// expect: throws `what` unless `condition` holds.
function expect(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
  passed += 1;
}

// canonical: `value` as JSON with every object's keys sorted, so that two
// objects compare equal whatever order their keys came in (jsonb orders them
// its own way).
function canonical(value) {
  return JSON.stringify(value, (key, v) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
    : v));
}

// expectEqual: throws unless `actual` is `expected`, compared by value.
function expectEqual(actual, expected, what) {
  const a = canonical(actual);
  const e = canonical(expected);
  expect(a === e, `${what}: expected ${e}, got ${a}`);
}

// expectError: awaits `promise`, which must fail with SQLSTATE `code`;
// returns the error so that the caller can read its detail and hint.
async function expectError(promise, code, what) {
  try {
    await promise;
  } catch (err) {
    expect(err.code === code, `${what}: expected SQLSTATE ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  throw new Error(`check failed: ${what}: expected SQLSTATE ${code}, the call succeeded`);
}

// checksPassed: how many checks have held so far.
function checksPassed() {
  return passed;
}

module.exports = { expect, expectEqual, expectError, checksPassed };
