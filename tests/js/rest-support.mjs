// What the supabase-js REST suites share: the seeded book titles
// (tests/js/rest_migrations/001_library.sql) and assertions on a postgrest-js result.
import assert from 'node:assert/strict';

export const EARTHSEA = 'A Wizard of Earthsea';
export const LEFT_HAND = 'The Left Hand of Darkness';
export const KINDRED = 'Kindred';
export const PARABLE = 'Parable of the Sower';
export const BEOWULF = 'Beowulf';

export function titles(...names) {
  return names.map((title) => ({ title }));
}

// A successful answer: no error, the status, and (when given) the data.
export function assertOk(result, status, data) {
  assert.equal(result.error, null, JSON.stringify(result.error));
  assert.equal(result.status, status);
  if (data !== undefined) assert.deepEqual(result.data, data);
}

// An error comes back as a value (postgrest-js never throws by default) in PostgREST's shape:
// code and message strings, details and hint strings or null (§1.4), with the HTTP status.
export function assertError(result, status, code, message) {
  assert.equal(result.status, status, JSON.stringify(result));
  assert.equal(result.data, null);
  assert.equal(result.error.code, code, JSON.stringify(result.error));
  assert.equal(typeof result.error.message, 'string');
  if (message !== undefined) assert.equal(result.error.message, message);
  for (const key of ['details', 'hint']) {
    assert.ok(key in result.error, `error has no ${key}: ${JSON.stringify(result.error)}`);
    const value = result.error[key];
    assert.ok(value === null || typeof value === 'string', `${key} is ${typeof value}`);
  }
}
