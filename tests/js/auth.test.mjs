// supabase-js 2.119.0 against a running Performer node: sign-up, sign-in, refresh, get-user,
// sign-out and getClaims (ES256 verified through the JWKS with WebCrypto).
//
// Run by tests/auth/test_js_client.py, which starts the node and passes SUPABASE_URL,
// SUPABASE_ANON_KEY and SUPABASE_SERVICE_ROLE_KEY.
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { describe, test } from 'node:test';

import { AuthWeakPasswordError, isAuthApiError } from '@supabase/supabase-js';

import {
  client,
  PASSWORD,
  SUPABASE_SERVICE_ROLE_KEY,
  SUPABASE_URL,
  uniqueEmail,
} from './client.mjs';

function decodePart(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

async function signedUp(prefix) {
  const supabase = client();
  const email = uniqueEmail(prefix);
  const { data, error } = await supabase.auth.signUp({ email, password: PASSWORD });
  assert.equal(error, null);
  return { supabase, email, session: data.session };
}

function assertApiError(error, status, code, message) {
  assert.ok(isAuthApiError(error), `expected an AuthApiError, got ${error}`);
  assert.equal(error.status, status);
  assert.equal(error.code, code);
  if (message !== undefined) assert.equal(error.message, message);
}

describe('signUp', () => {
  test('answers a session with the user', async () => {
    const supabase = client();
    const email = uniqueEmail('js-signup');
    const { data, error } = await supabase.auth.signUp({
      email,
      password: PASSWORD,
      options: { data: { name: 'Ada' } },
    });
    assert.equal(error, null);
    assert.ok(data.session.access_token && data.session.refresh_token);
    assert.equal(data.session.expires_in, 3600);
    assert.equal(data.user.email, email);
    assert.deepEqual(data.user.user_metadata, { name: 'Ada' });
    assert.deepEqual(data.user.app_metadata, { provider: 'email', providers: ['email'] });
    assert.equal(data.user.identities[0].identity_data.email, email);
    const header = decodePart(data.session.access_token.split('.')[0]);
    assert.equal(header.alg, 'ES256');
    assert.ok(header.kid);
    const { data: current } = await supabase.auth.getSession();
    assert.equal(current.session.access_token, data.session.access_token);
  });

  test('refuses a weak password with its reasons', async () => {
    const { error } = await client().auth.signUp({ email: uniqueEmail('js-weak'), password: '1' });
    assert.ok(error instanceof AuthWeakPasswordError, `got ${error}`);
    assert.equal(error.status, 422);
    assert.deepEqual(error.reasons, ['length']);
  });

  test('refuses an address already registered', async () => {
    const { email } = await signedUp('js-twice');
    const { error } = await client().auth.signUp({ email, password: PASSWORD });
    assertApiError(error, 422, 'user_already_exists', 'User already registered');
  });

  test('signs in anonymously', async () => {
    const { data, error } = await client().auth.signInAnonymously();
    assert.equal(error, null);
    assert.equal(data.user.is_anonymous, true);
    assert.equal(decodePart(data.session.access_token.split('.')[1]).is_anonymous, true);
  });
});

describe('signInWithPassword', () => {
  test('opens a new session', async () => {
    const { email, session: first } = await signedUp('js-signin');
    const supabase = client();
    const { data, error } = await supabase.auth.signInWithPassword({ email, password: PASSWORD });
    assert.equal(error, null);
    assert.equal(data.user.email, email);
    const claims = decodePart(data.session.access_token.split('.')[1]);
    assert.equal(claims.role, 'authenticated');
    assert.equal(claims.aal, 'aal1');
    assert.notEqual(claims.session_id, decodePart(first.access_token.split('.')[1]).session_id);
  });

  test('refuses bad credentials without retrying', async () => {
    const { email } = await signedUp('js-bad');
    const { data, error } = await client().auth.signInWithPassword({
      email,
      password: 'wrong-password',
    });
    assert.equal(data.session, null);
    assertApiError(error, 400, 'invalid_credentials', 'Invalid login credentials');
  });
});

describe('refreshSession', () => {
  test('rotates the refresh token', async () => {
    const { supabase, session } = await signedUp('js-refresh');
    const { data, error } = await supabase.auth.refreshSession();
    assert.equal(error, null);
    assert.ok(data.session.refresh_token);
    assert.notEqual(data.session.refresh_token, session.refresh_token);
    const { data: again, error: againError } = await supabase.auth.refreshSession();
    assert.equal(againError, null);
    assert.notEqual(again.session.refresh_token, data.session.refresh_token);
  });

  test('refuses an unknown refresh token', async () => {
    const { error } = await client().auth.refreshSession({ refresh_token: 'not-a-token' });
    assertApiError(
      error,
      400,
      'refresh_token_not_found',
      'Invalid Refresh Token: Refresh Token Not Found',
    );
  });
});

describe('getUser', () => {
  test('returns the signed-in user', async () => {
    const { supabase, email, session } = await signedUp('js-getuser');
    const { data, error } = await supabase.auth.getUser();
    assert.equal(error, null);
    assert.equal(data.user.email, email);
    assert.equal(data.user.id, session.user.id);
    const byToken = await client().auth.getUser(session.access_token);
    assert.equal(byToken.data.user.id, session.user.id);
  });

  test('refuses a garbage token', async () => {
    const { data, error } = await client().auth.getUser('not.a.jwt');
    assert.equal(data.user, null);
    assertApiError(error, 403, 'bad_jwt');
  });

  test('updateUser merges user data', async () => {
    const { supabase } = await signedUp('js-update');
    await supabase.auth.updateUser({ data: { a: 1 } });
    const { data, error } = await supabase.auth.updateUser({ data: { b: 2 } });
    assert.equal(error, null);
    assert.deepEqual(data.user.user_metadata, { a: 1, b: 2 });
  });
});

describe('signOut', () => {
  test('ends the session everywhere', async () => {
    const { supabase, email, session } = await signedUp('js-signout');
    const other = client();
    const { data: otherSignIn } = await other.auth.signInWithPassword({ email, password: PASSWORD });
    const { error } = await supabase.auth.signOut();
    assert.equal(error, null);
    assert.equal((await supabase.auth.getSession()).data.session, null);
    for (const token of [session.refresh_token, otherSignIn.session.refresh_token]) {
      const refreshed = await client().auth.refreshSession({ refresh_token: token });
      assertApiError(refreshed.error, 400, 'refresh_token_not_found');
    }
    const stale = await client().auth.getUser(session.access_token);
    assert.equal(stale.data.user, null);
    // supabase-js maps session_not_found to AuthSessionMissingError.
    assert.ok(
      stale.error.code === 'session_not_found' || stale.error.name === 'AuthSessionMissingError',
      `${stale.error}`,
    );
  });

  test('local scope keeps the other sessions', async () => {
    const { supabase, email, session } = await signedUp('js-local');
    const other = client();
    const { data: otherSignIn } = await other.auth.signInWithPassword({ email, password: PASSWORD });
    assert.equal((await supabase.auth.signOut({ scope: 'local' })).error, null);
    const mine = await client().auth.refreshSession({ refresh_token: session.refresh_token });
    assertApiError(mine.error, 400, 'refresh_token_not_found');
    const theirs = await client().auth.refreshSession({
      refresh_token: otherSignIn.session.refresh_token,
    });
    assert.equal(theirs.error, null);
  });
});

describe('getClaims', () => {
  test('verifies the ES256 token through the JWKS', async () => {
    const { supabase, email } = await signedUp('js-claims');
    const { data, error } = await supabase.auth.getClaims();
    assert.equal(error, null);
    assert.equal(data.claims.email, email);
    assert.equal(data.claims.role, 'authenticated');
    assert.equal(data.header.alg, 'ES256');
    assert.ok(data.header.kid);
  });

  test('refuses a token signed by another key', async () => {
    const { supabase, session } = await signedUp('js-forged');
    const [headerPart, payloadPart] = session.access_token.split('.');
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
    ]);
    const signature = await webcrypto.subtle.sign(
      { name: 'ECDSA', hash: 'SHA-256' },
      keys.privateKey,
      Buffer.from(`${headerPart}.${payloadPart}`),
    );
    const forged = `${headerPart}.${payloadPart}.${Buffer.from(signature).toString('base64url')}`;
    const { data, error } = await supabase.auth.getClaims(forged);
    assert.equal(data, null);
    assert.ok(error, 'a forged signature must not verify');
  });
});

describe('admin', () => {
  test('listUsers reads the paging headers', async () => {
    const admin = client(SUPABASE_SERVICE_ROLE_KEY).auth.admin;
    for (let i = 0; i < 3; i += 1) {
      const { error } = await admin.createUser({
        email: uniqueEmail('js-admin'),
        password: PASSWORD,
        email_confirm: true,
      });
      assert.equal(error, null);
    }
    const { data, error } = await admin.listUsers({ page: 1, perPage: 2 });
    assert.equal(error, null);
    assert.equal(data.users.length, 2);
    assert.ok(data.total >= 3, `total ${data.total}`);
    assert.equal(data.nextPage, 2);
    assert.ok(data.lastPage >= 2);
  });

  test('is refused to the anon key', async () => {
    const { error } = await client().auth.admin.listUsers();
    assertApiError(error, 403, 'not_admin', 'User not allowed');
  });
});
