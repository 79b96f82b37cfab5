// The chat UI both demo pages share. A transport (ws.js: supabase-js over WebSocket, sse.js:
// EventSource + fetch) calls Chat.start({ transport, loadHistory, join, send }) and feeds
// messages and presence back through Chat.addMessages and Chat.setPresence.
'use strict';

const Chat = (() => {
  const config = window.PERFORMER_DEMO;
  const apiUrl = config.apiUrl || `${location.protocol}//${location.hostname}:${config.apiPort}`;
  // ?room=NAME; a name goes into a channel name and a filter (room=eq.NAME), so keep it plain.
  const asked = new URLSearchParams(location.search).get('room') || '';
  const room = /^[A-Za-z0-9_-]{1,64}$/.test(asked) ? asked : 'lobby';
  // One presence key per tab, kept across reloads of that tab (sessionStorage is per tab).
  const tabId = sessionStorage.getItem('chat-tab') || crypto.randomUUID();
  sessionStorage.setItem('chat-tab', tabId);
  const messages = new Map(); // id -> row; a message seen twice (history and live) shows once
  const $ = (id) => document.getElementById(id);

  function element(tag, attributes = {}, text = '') {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    node.textContent = text;
    return node;
  }

  function layout(transport) {
    document.title = `Performer chat: ${room} over ${transport.label}`;
    document.body.innerHTML = `
      <header>
        <h1></h1>
        <a href="index.html">change transport</a>
        <span id="status" data-state="idle">not joined</span>
      </header>
      <main>
        <section class="log">
          <ol id="messages" aria-live="polite"></ol>
          <form id="send-form" hidden>
            <input id="message" maxlength="2000" autocomplete="off" placeholder="Say something" required>
            <button id="send">Send</button>
          </form>
          <form id="join-form">
            <input id="name" maxlength="40" autocomplete="nickname" placeholder="Your name" required>
            <button id="join">Join</button>
          </form>
        </section>
        <aside>
          <h2>Online</h2>
          <ul id="presence"></ul>
        </aside>
      </main>`;
    document.querySelector('h1').textContent = `#${room} over ${transport.label}`;
  }

  function status(text, state) {
    const node = $('status');
    node.textContent = text;
    node.dataset.state = state;
  }

  function addMessages(rows) {
    for (const row of rows) messages.set(Number(row.id), row);
    const list = $('messages');
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.replaceChildren(
      ...[...messages.keys()]
        .sort((a, b) => a - b)
        .map((id) => {
          const row = messages.get(id);
          const item = element('li', { 'data-id': String(id), 'data-transport': row.transport });
          const when = new Date(row.created_at);
          item.append(
            element('time', {}, Number.isNaN(when.getTime()) ? '' : when.toLocaleTimeString()),
            element('b', { class: 'who' }, row.name),
            element('span', { class: 'body' }, row.body),
            element('small', { class: 'via' }, row.transport),
          );
          return item;
        }),
    );
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  // entries: [{ key, name, transport }], one per presence meta.
  function setPresence(entries) {
    const sorted = [...entries].sort((a, b) => a.name.localeCompare(b.name));
    $('presence').replaceChildren(
      ...sorted.map((entry) => {
        const item = element('li', { 'data-key': entry.key, 'data-transport': entry.transport });
        item.append(
          element('span', { class: 'who' }, entry.name),
          element('small', { class: 'via' }, entry.key === tabId ? `${entry.transport}, you` : entry.transport),
        );
        return item;
      }),
    );
  }

  // A presence state ({key: [meta, ...]} or {key: {metas: [...]}}) as presence list entries.
  function presenceEntries(state) {
    const entries = [];
    for (const [key, value] of Object.entries(state)) {
      for (const meta of Array.isArray(value) ? value : value.metas) {
        entries.push({ key, name: String(meta.name || '?'), transport: String(meta.transport || '') });
      }
    }
    return entries;
  }

  function failed(what, error) {
    console.error(what, error);
    status(`${what}: ${error && error.message ? error.message : error}`, 'error');
  }

  async function start(transport) {
    layout(transport);
    let name = null;

    async function join(chosen) {
      name = chosen;
      sessionStorage.setItem('chat-name', name);
      $('join-form').hidden = true;
      $('send-form').hidden = false;
      status('connecting', 'connecting');
      try {
        await transport.join(name);
      } catch (error) {
        failed('could not join', error);
      }
      $('message').focus();
    }

    $('join-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const chosen = $('name').value.trim();
      if (chosen) join(chosen);
    });
    $('send-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const body = $('message').value.trim();
      if (!body) return;
      $('send').disabled = true;
      try {
        await transport.send({ room, name, body, transport: transport.name });
        $('message').value = '';
      } catch (error) {
        failed('not sent', error);
      } finally {
        $('send').disabled = false;
        $('message').focus();
      }
    });

    try {
      addMessages(await transport.loadHistory());
    } catch (error) {
      failed('could not load the history', error);
    }
    const remembered = sessionStorage.getItem('chat-name');
    if (remembered) join(remembered);
    else $('name').focus();
  }

  return { apiUrl, anonKey: config.anonKey, room, tabId, start, status, addMessages, setPresence, presenceEntries };
})();
