// What every supabase-js suite in tests/js shares: the node's URL and keys from the environment
// (the pytest runners set them) and a client made the way a Node app makes one.
import { randomUUID } from 'node:crypto';

import { createClient } from '@supabase/supabase-js';

export const { SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY } = process.env;
if (!SUPABASE_URL || !SUPABASE_ANON_KEY || !SUPABASE_SERVICE_ROLE_KEY) {
  throw new Error(
    'set SUPABASE_URL, SUPABASE_ANON_KEY and SUPABASE_SERVICE_ROLE_KEY ' +
      '(tests/auth/test_js_client.py and tests/rest/test_api_js_client.py do)',
  );
}

export const PASSWORD = 'correct-horse-1';

// supabase-js 2.119 looks for a WebSocket class when the client is made; Node 22 has one built
// in, Node 20 does not. These tests never open the realtime socket, so on Node 20 a class that
// refuses to connect stands in (an app would pass the `ws` package here).
class NoWebSocket {
  constructor() {
    throw new Error('these tests open no realtime socket');
  }
}

export function client(key = SUPABASE_ANON_KEY) {
  // Node has no browser storage: keep the session in memory, and no background refresh timer.
  return createClient(SUPABASE_URL, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: globalThis.WebSocket ?? NoWebSocket },
  });
}

export function uniqueEmail(prefix) {
  return `${prefix}-${randomUUID().slice(0, 12)}@example.com`;
}
