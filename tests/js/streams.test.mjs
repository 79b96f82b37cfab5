// supabase-js following a stream of the streams API on a realtime channel (vsn 2.0.0:
// the events arrive as binary broadcast frames): `broadcast.stream` in the channel's config.
// Run by tests/streams/test_js_client.py against that folder's node.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';

import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

import { SUPABASE_SERVICE_ROLE_KEY, SUPABASE_URL } from './client.mjs';

const WAIT_MS = 15000;
const made = createClient(SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY, {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  realtime: { transport: WebSocket },
});

after(async () => {
  await made.removeAllChannels();
  // realtime-js leaves a timer behind after disconnect(): end once the results are out.
  setTimeout(() => process.exit(0), 200).unref();
});

async function append(scope, events) {
  const response = await fetch(`${SUPABASE_URL}/performer/v1/streams/${scope}/events`, {
    method: 'POST',
    headers: {
      apikey: SUPABASE_SERVICE_ROLE_KEY,
      Authorization: `Bearer ${SUPABASE_SERVICE_ROLE_KEY}`,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify(events),
  });
  const text = await response.text();
  assert.equal(response.status, 201, text);
  return JSON.parse(text);
}

async function until(condition, what) {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a channel follows a stream from a version: backlog, then live events', async () => {
  const scope = `actor:js-${randomUUID().slice(0, 10)}`;
  await append(scope, [{ op: 'set', value: { items: [] } }, { op: 'append', path: ['items'], value: 'a' }]);
  const got = [];
  const channel = made
    .channel(`follow-${randomUUID().slice(0, 8)}`, { config: { broadcast: { stream: { scope, from: 1 } } } })
    .on('broadcast', { event: 'stream' }, (message) => got.push(message.payload));
  await new Promise((resolve, reject) => {
    channel.subscribe((status, error) => {
      if (status === 'SUBSCRIBED') resolve();
      else if (status !== 'CLOSED') reject(new Error(`${status}: ${error?.message}`));
    });
  });
  await until(() => got.length === 1, 'the backlog');
  await append(scope, { op: 'append', path: ['items'], value: 'b' });
  await until(() => got.length === 2, 'the live event');
  assert.deepEqual(got.map((e) => e.version), [2, 3]);
  assert.deepEqual(got.map((e) => e.data.value), ['a', 'b']);
});
