// Row-level security through supabase-js 2.119.0: two signed-in users and anon each see and
// change only the todos the policies in tests/js/rest_migrations/002_todos.sql give them, by
// select, insert, update, delete, upsert and rpc (supabase-wire.md §1.4: 42501 is 401 for anon,
// 403 for a signed-in user).
//
// Run by tests/rest/test_api_js_client.py (see rest.test.mjs).
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { client, PASSWORD, SUPABASE_SERVICE_ROLE_KEY, uniqueEmail } from './client.mjs';
import { assertError, assertOk } from './rest-support.mjs';

const service = client(SUPABASE_SERVICE_ROLE_KEY);
const anon = client();
const WELCOME = { slug: 'welcome', task: 'Read the manual' };
const RLS_INSERT = 'new row violates row-level security policy for table "todos"';

async function signedUp(prefix) {
  const supabase = client();
  const { data, error } = await supabase.auth.signUp({
    email: uniqueEmail(prefix),
    password: PASSWORD,
  });
  assert.equal(error, null);
  return { supabase, id: data.user.id };
}

function slugs(result) {
  assert.equal(result.error, null, JSON.stringify(result.error));
  return result.data.map((row) => row.slug);
}

async function visible(supabase) {
  return slugs(await supabase.from('todos').select('slug').order('id'));
}

async function taskOf(slug) {
  const { data } = await service.from('todos').select('task, user_id').eq('slug', slug).single();
  return data;
}

describe('row-level security', () => {
  let alice;
  let bob;

  before(async () => {
    [alice, bob] = await Promise.all([signedUp('js-rls-alice'), signedUp('js-rls-bob')]);
    const mine = await alice.supabase.from('todos').insert({ slug: 'a-1', task: 'alice one' });
    assertOk(mine, 201, null);
    const more = await alice.supabase
      .from('todos')
      .insert({ slug: 'a-2', task: 'alice two' })
      .select('slug, user_id');
    assertOk(more, 201, [{ slug: 'a-2', user_id: alice.id }]);
    const bobs = await bob.supabase
      .from('todos')
      .insert({ slug: 'b-1', task: 'bob one' })
      .select('user_id');
    assertOk(bobs, 201, [{ user_id: bob.id }]);
  });

  test('select: a user sees own rows and the public one, anon only the public one', async () => {
    assert.deepEqual(await visible(alice.supabase), ['welcome', 'a-1', 'a-2']);
    assert.deepEqual(await visible(bob.supabase), ['welcome', 'b-1']);
    assert.deepEqual(await visible(anon), ['welcome']);
    const counted = await bob.supabase.from('todos').select('*', { count: 'exact', head: true });
    assertOk(counted, 200, null);
    assert.equal(counted.count, 2);
    assert.deepEqual(await visible(service), ['welcome', 'a-1', 'a-2', 'b-1']);
  });

  test('insert: a row for someone else is 403 42501, any row from anon 401 42501', async () => {
    const forBob = await alice.supabase
      .from('todos')
      .insert({ slug: 'x-1', task: 'forged', user_id: bob.id });
    assertError(forBob, 403, '42501', RLS_INSERT);
    const fromAnon = await anon.from('todos').insert({ slug: 'x-2', task: 'anonymous' });
    assertError(fromAnon, 401, '42501', RLS_INSERT);
    assert.deepEqual(await visible(service), ['welcome', 'a-1', 'a-2', 'b-1']);
  });

  test("update: another user's row and the public row are not targets", async () => {
    const attempts = [
      [alice.supabase, 'b-1'],
      [alice.supabase, 'welcome'],
      [anon, 'welcome'],
    ];
    for (const [supabase, slug] of attempts) {
      const result = await supabase
        .from('todos')
        .update({ task: 'hacked' })
        .eq('slug', slug)
        .select();
      assertOk(result, 200, []);
    }
    assert.equal((await taskOf('b-1')).task, 'bob one');
    assert.equal((await taskOf('welcome')).task, WELCOME.task);
    const own = await alice.supabase
      .from('todos')
      .update({ task: 'alice one!' })
      .eq('slug', 'a-1')
      .select('task');
    assertOk(own, 200, [{ task: 'alice one!' }]);
  });

  test('update: giving a row away fails the check, 403 42501', async () => {
    const given = await alice.supabase.from('todos').update({ user_id: bob.id }).eq('slug', 'a-1');
    assertError(given, 403, '42501', RLS_INSERT);
    assert.equal((await taskOf('a-1')).user_id, alice.id);
  });

  test("delete: another user's row is not a target, one's own is", async () => {
    const others = await bob.supabase.from('todos').delete().eq('slug', 'a-2').select('slug');
    assertOk(others, 200, []);
    const fromAnon = await anon.from('todos').delete().eq('slug', 'welcome').select('slug');
    assertOk(fromAnon, 200, []);
    assert.deepEqual(await visible(service), ['welcome', 'a-1', 'a-2', 'b-1']);
    const own = await alice.supabase.from('todos').delete().eq('slug', 'a-2').select('slug');
    assertOk(own, 200, [{ slug: 'a-2' }]);
    assert.deepEqual(await visible(alice.supabase), ['welcome', 'a-1']);
  });

  test("upsert: merges into one's own row; another user's row is 403, or ignored", async () => {
    const own = await alice.supabase
      .from('todos')
      .upsert({ slug: 'a-1', task: 'alice merged' }, { onConflict: 'slug' })
      .select('slug, task');
    assertOk(own, 200, [{ slug: 'a-1', task: 'alice merged' }]);
    const taken = await bob.supabase
      .from('todos')
      .upsert({ slug: 'a-1', task: 'bob took it' }, { onConflict: 'slug' })
      .select();
    assertError(
      taken,
      403,
      '42501',
      'new row violates row-level security policy (USING expression) for table "todos"',
    );
    const ignored = await bob.supabase
      .from('todos')
      .upsert({ slug: 'a-1', task: 'bob took it' }, { onConflict: 'slug', ignoreDuplicates: true })
      .select();
    assertOk(ignored, 201, []);
    assert.deepEqual(await taskOf('a-1'), { task: 'alice merged', user_id: alice.id });
  });

  test("rpc: functions run with the caller's policies", async () => {
    assert.deepEqual(slugs(await alice.supabase.rpc('visible_todos').select('slug')), [
      'welcome',
      'a-1',
    ]);
    assert.deepEqual(slugs(await anon.rpc('visible_todos', {}, { get: true }).select('slug')), [
      'welcome',
    ]);
    const added = await bob.supabase
      .rpc('add_todo', { what: 'bob by rpc' })
      .select('task, user_id');
    assertOk(added, 200, [{ task: 'bob by rpc', user_id: bob.id }]);
    const counted = await bob.supabase.rpc('visible_todos', {}, { head: true, count: 'exact' });
    assertOk(counted, 200, null);
    assert.equal(counted.count, 3);
    const fromAnon = await anon.rpc('add_todo', { what: 'anonymous' });
    assertError(fromAnon, 401, '42501', RLS_INSERT);
  });
});
