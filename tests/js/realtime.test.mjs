// supabase-js Realtime (vsn 2.0.0: JSON arrays plus binary broadcast frames) against a node
// started with tests/realtime_api/migrations; run by tests/realtime_api/test_js_client.py.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';

import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

import { PASSWORD, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY, SUPABASE_URL, uniqueEmail } from './client.mjs';

const WAIT_MS = 15000;
const opened = [];

// Node 20 has no global WebSocket: apps pass the `ws` package, as here.
function realtimeClient(key = SUPABASE_ANON_KEY) {
  const made = createClient(SUPABASE_URL, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket },
  });
  opened.push(made);
  return made;
}

after(async () => {
  for (const made of opened) await made.removeAllChannels();
  // realtime-js 2.119's disconnect() leaves a 10 s timer behind that keeps Node alive after
  // the socket closed; end the process once the results are out instead of waiting for it.
  setTimeout(() => process.exit(0), 200).unref();
});

function topic() {
  return `js-${randomUUID().slice(0, 10)}`;
}

function subscribed(channel) {
  return new Promise((resolve, reject) => {
    channel.subscribe((status, error) => {
      if (status === 'SUBSCRIBED') resolve(channel);
      else if (status !== 'CLOSED') reject(new Error(`${status}: ${error?.message}`));
    });
  });
}

async function until(condition, what) {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('broadcast between two clients, with self and ack', async () => {
  const name = topic();
  const a = realtimeClient();
  const b = realtimeClient();
  const gotA = [];
  const gotB = [];
  const chB = b.channel(name).on('broadcast', { event: 'ping' }, (m) => gotB.push(m));
  await subscribed(chB);
  const chA = a
    .channel(name, { config: { broadcast: { self: true, ack: true } } })
    .on('broadcast', { event: 'ping' }, (m) => gotA.push(m));
  await subscribed(chA);
  const status = await chA.send({ type: 'broadcast', event: 'ping', payload: { n: 1, text: 'héllo ✓' } });
  assert.equal(status, 'ok');
  await until(() => gotA.length === 1 && gotB.length === 1, 'both copies');
  assert.deepEqual(gotB[0].payload, { n: 1, text: 'héllo ✓' });
  assert.equal(gotB[0].event, 'ping');
  await chB.send({ type: 'broadcast', event: 'ping', payload: { n: 2 } });
  await until(() => gotA.length === 2, "b's message at a");
  await chA.send({ type: 'broadcast', event: 'ping', payload: { n: 3 } });
  await until(() => gotB.length === 2, "a's second message at b");
  assert.deepEqual(gotB.map((m) => m.payload.n), [1, 3]); // b (self: false) never got its own
});

test('httpSend reaches subscribers', async () => {
  const name = topic();
  const a = realtimeClient();
  const got = [];
  const ch = a.channel(name).on('broadcast', { event: 'rest' }, (m) => got.push(m));
  await subscribed(ch);
  const sender = realtimeClient().channel(name);
  const result = await sender.httpSend('rest', { via: 'http' });
  assert.equal(result.success, true, JSON.stringify(result));
  await until(() => got.length === 1, 'the HTTP broadcast');
  assert.deepEqual(got[0].payload, { via: 'http' });
});

test('presence join, update and leave', async () => {
  const name = topic();
  const a = realtimeClient();
  const b = realtimeClient();
  const joins = [];
  const leaves = [];
  const chA = a
    .channel(name, { config: { presence: { key: 'ann' } } })
    .on('presence', { event: 'join' }, ({ key }) => joins.push(key))
    .on('presence', { event: 'leave' }, ({ key }) => leaves.push(key))
    .on('presence', { event: 'sync' }, () => {});
  await subscribed(chA);
  const chB = b.channel(name, { config: { presence: { key: 'ben' } } }).on('presence', { event: 'sync' }, () => {});
  await subscribed(chB);
  assert.equal(await chB.track({ mood: 'calm' }), 'ok');
  await until(() => chA.presenceState().ben?.[0]?.mood === 'calm', 'ben tracked');
  await chB.track({ mood: 'busy' });
  await until(() => chA.presenceState().ben?.[0]?.mood === 'busy', 'ben updated');
  assert.equal(chA.presenceState().ben.length, 1);
  await chB.untrack();
  await until(() => !chA.presenceState().ben, 'ben gone');
  assert.ok(joins.includes('ben') && leaves.includes('ben'));
});

test('postgres_changes: filters, event types, typed records', async () => {
  const run = randomUUID().slice(0, 8);
  const a = realtimeClient();
  const filtered = [];
  const todos = [];
  const ch = a
    .channel(topic())
    .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'messages', filter: 'priority=in.(2,3)' }, (p) =>
      filtered.push(p),
    )
    .on('postgres_changes', { event: '*', schema: 'public', table: 'todos' }, (p) => todos.push(p));
  await subscribed(ch);
  const writer = realtimeClient(SUPABASE_SERVICE_ROLE_KEY);
  const rows = [1, 2, 3].map((priority) => ({ title: run, message: `a message for ${run}`, priority, tags: ['x', 'y'] }));
  const inserted = await writer.from('messages').insert(rows).select();
  assert.equal(inserted.error, null);
  await until(() => filtered.length === 2, 'the two matching messages');
  assert.deepEqual(filtered.map((p) => p.new.priority), [2, 3]);
  assert.deepEqual(filtered[0].new.tags, ['x', 'y']);
  assert.equal(filtered[0].eventType, 'INSERT');

  const { data } = await writer.from('todos').insert({ description: run }).select();
  await writer.from('todos').update({ is_completed: true }).eq('id', data[0].id);
  await writer.from('todos').delete().eq('id', data[0].id);
  await until(() => todos.length === 3, 'insert, update and delete');
  assert.deepEqual(todos.map((p) => p.eventType), ['INSERT', 'UPDATE', 'DELETE']);
  assert.equal(todos[1].new.is_completed, true);
  assert.equal(todos[1].old.is_completed, false);
  assert.equal(todos[2].old.id, data[0].id);
});

test("a policy hides other users' rows", async () => {
  const [alice, bob] = [realtimeClient(), realtimeClient()];
  for (const who of [alice, bob]) {
    const { error } = await who.auth.signUp({ email: uniqueEmail('rt'), password: PASSWORD });
    assert.equal(error, null);
  }
  const { data: session } = await alice.auth.getSession();
  alice.realtime.setAuth(session.session.access_token);
  const seen = [];
  const ch = alice.channel(topic()).on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'notes' }, (p) =>
    seen.push(p.new.body),
  );
  await subscribed(ch);
  assert.equal((await bob.from('notes').insert({ body: 'bob only' })).error, null);
  assert.equal((await alice.from('notes').insert({ body: 'alice only' })).error, null);
  await until(() => seen.length >= 1, "alice's note");
  assert.deepEqual(seen, ['alice only']);
});
