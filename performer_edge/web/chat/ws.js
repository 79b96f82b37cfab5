// ws.html's transport: the official supabase-js (served from /vendor, no CDN) over WebSocket.
// History through /rest/v1, new messages through postgres_changes, who is online through presence.
'use strict';

(() => {
  const HISTORY = 200;
  const client = window.supabase.createClient(Chat.apiUrl, Chat.anonKey, {
    // Per tab: each tab is its own (anonymous) user, kept across reloads of that tab.
    auth: { storage: window.sessionStorage, storageKey: 'performer-chat-ws-auth' },
  });
  const table = () => client.from('chat_messages');

  async function loadHistory() {
    const { data, error } = await table()
      .select('id, room, name, body, transport, created_at')
      .eq('room', Chat.room)
      .order('id', { ascending: false })
      .limit(HISTORY);
    if (error) throw new Error(error.message);
    return data;
  }

  async function join(name) {
    const { data } = await client.auth.getSession();
    if (!data.session) {
      // Posting needs a signed-in user (the insert policy checks user_id = auth.uid()).
      const { error } = await client.auth.signInAnonymously();
      if (error) throw new Error(error.message);
    }
    const channel = client.channel(`chat-${Chat.room}`, {
      config: { presence: { key: Chat.tabId } },
    });
    channel
      .on(
        'postgres_changes',
        { event: 'INSERT', schema: 'public', table: 'chat_messages', filter: `room=eq.${Chat.room}` },
        (change) => Chat.addMessages([change.new]),
      )
      .on('presence', { event: 'sync' }, () => {
        Chat.setPresence(Chat.presenceEntries(channel.presenceState()));
      })
      .subscribe(async (state, error) => {
        if (state === 'SUBSCRIBED') {
          await channel.track({ name, transport: 'ws' });
          Chat.status('connected over WebSocket', 'connected');
        } else if (state === 'CLOSED') {
          Chat.status('disconnected', 'closed');
        } else {
          // CHANNEL_ERROR or TIMED_OUT: supabase-js rejoins by itself.
          Chat.status(`reconnecting (${error ? error.message : state})`, 'connecting');
        }
      });
  }

  async function send(row) {
    const { error } = await table().insert(row);
    if (error) throw new Error(error.message);
  }

  Chat.start({ name: 'ws', label: 'WebSocket (supabase-js)', loadHistory, join, send });
})();
