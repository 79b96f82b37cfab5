// sse.html's transport, with no library: EventSource down (GET /realtime/v1/sse) and fetch up
// (POST /realtime/v1/sse/{session} for presence and token updates, /rest/v1 for messages).
// EventSource resumes from the last event id by itself; we resubscribe only when it gives up.
'use strict';

(() => {
  const HISTORY = 200;
  const AUTH_KEY = 'performer-chat-sse-auth';
  const REFRESH_MARGIN_S = 60;
  let auth = JSON.parse(sessionStorage.getItem(AUTH_KEY) || 'null');
  let source = null;
  let sessionKey = null;
  let lastEventId = null;
  let presence = {}; // key -> [meta, ...], kept from presence_state and presence_diff
  let refreshTimer = null;

  async function api(method, path, body, token) {
    const response = await fetch(`${Chat.apiUrl}${path}`, {
      method,
      headers: {
        apikey: Chat.anonKey,
        Authorization: `Bearer ${token || Chat.anonKey}`,
        'Content-Type': 'application/json',
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const reason = data && (data.message || data.msg || data.error_description || data.error);
      throw new Error(`${response.status} ${reason || response.statusText}`);
    }
    return data;
  }

  // Refresh a minute before expiry, or a quarter of the lifetime for short-lived tokens.
  const margin = (session) => Math.min(REFRESH_MARGIN_S, session.expires_in / 4);

  function keep(session) {
    auth = session;
    sessionStorage.setItem(AUTH_KEY, JSON.stringify(session));
    scheduleRefresh();
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    const due = (auth.expires_at - margin(auth)) * 1000 - Date.now();
    refreshTimer = setTimeout(
      () => refresh().catch((error) => Chat.status(`token refresh failed: ${error.message}`, 'error')),
      Math.max(due, 1000),
    );
  }

  // An anonymous sign-in (GoTrue: POST /auth/v1/signup with no email), refreshed before expiry.
  async function accessToken() {
    if (auth && auth.expires_at - margin(auth) > Date.now() / 1000) {
      scheduleRefresh(); // after a reload, the stored session's timer is gone
      return auth.access_token;
    }
    if (auth) {
      try {
        return await refresh();
      } catch (error) {
        console.warn('refresh failed, signing in again', error);
      }
    }
    keep(await api('POST', '/auth/v1/signup', {}));
    return auth.access_token;
  }

  async function refresh() {
    keep(await api('POST', '/auth/v1/token?grant_type=refresh_token', { refresh_token: auth.refresh_token }));
    if (sessionKey) await push('access_token', { access_token: auth.access_token });
    return auth.access_token;
  }

  function push(event, payload) {
    return api('POST', `/realtime/v1/sse/${sessionKey}`, { event, payload });
  }

  async function loadHistory() {
    const query = new URLSearchParams({
      select: 'id,room,name,body,transport,created_at',
      room: `eq.${Chat.room}`,
      order: 'id.desc',
      limit: String(HISTORY),
    });
    return api('GET', `/rest/v1/chat_messages?${query}`);
  }

  function showPresence() {
    Chat.setPresence(Chat.presenceEntries(presence));
  }

  function applyDiff({ joins, leaves }) {
    for (const [key, { metas }] of Object.entries(joins)) {
      const refs = new Set(metas.map((meta) => meta.phx_ref));
      presence[key] = [...(presence[key] || []).filter((meta) => !refs.has(meta.phx_ref)), ...metas];
    }
    for (const [key, { metas }] of Object.entries(leaves)) {
      const refs = new Set(metas.map((meta) => meta.phx_ref));
      const left = (presence[key] || []).filter((meta) => !refs.has(meta.phx_ref));
      if (left.length) presence[key] = left;
      else delete presence[key];
    }
  }

  async function join(name) {
    const token = await accessToken();
    const config = {
      // enabled: as supabase-js asks when it has presence listeners (else no presence_state).
      presence: { key: Chat.tabId, enabled: true },
      postgres_changes: [
        { event: 'INSERT', schema: 'public', table: 'chat_messages', filter: `room=eq.${Chat.room}` },
      ],
    };
    const query = new URLSearchParams({
      channel: `chat-${Chat.room}`,
      config: JSON.stringify(config),
      token,
      apikey: Chat.anonKey,
    });
    // After a give-up (below), resume where the last stream stopped: nothing missed.
    if (lastEventId) query.set('last_event_id', lastEventId);
    source = new EventSource(`${Chat.apiUrl}/realtime/v1/sse?${query}`);
    const on = (event, handle) =>
      source.addEventListener(event, (message) => {
        if (message.lastEventId) lastEventId = message.lastEventId;
        handle(message.data ? JSON.parse(message.data) : null);
      });

    on('session', (data) => {
      // Every (re)connection is a new session: presence starts over and we track again.
      sessionKey = data.session;
      presence = {};
      push('presence', { event: 'track', payload: { name, transport: 'sse' } }).catch((error) =>
        Chat.status(`presence failed: ${error.message}`, 'error'),
      );
      Chat.status('connected over SSE', 'connected');
    });
    on('postgres_changes', (data) => Chat.addMessages([data.payload.data.record]));
    on('presence_state', (data) => {
      presence = {};
      applyDiff({ joins: data.payload, leaves: {} });
      showPresence();
    });
    on('presence_diff', (data) => {
      applyDiff(data.payload);
      showPresence();
    });
    on('system', (data) => {
      if (data && data.payload && data.payload.status === 'error') Chat.status(data.payload.message, 'error');
    });
    // The server closed the channel (e.g. its token expired before a refresh reached it).
    on('phx_close', () => resubscribe(name));
    source.addEventListener('error', (event) => {
      if (event.data) {
        Chat.status(`closed by the server: ${JSON.parse(event.data).reason}`, 'error');
      }
      // The browser retries by itself with Last-Event-ID unless it gave up (e.g. a 401).
      if (source.readyState === EventSource.CLOSED) resubscribe(name);
      else Chat.status('reconnecting', 'connecting');
    });
  }

  function resubscribe(name) {
    Chat.status('reconnecting', 'connecting');
    source.close();
    sessionKey = null;
    setTimeout(() => join(name).catch((error) => Chat.status(error.message, 'error')), 1000);
  }

  async function send(row) {
    await api('POST', '/rest/v1/chat_messages', row, await accessToken());
  }

  // Leave at once when the tab goes (the server would notice the dropped stream anyway).
  window.addEventListener('pagehide', () => source && source.close());

  Chat.start({ name: 'sse', label: 'Server-Sent Events (EventSource)', loadHistory, join, send });
})();
