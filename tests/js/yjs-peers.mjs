// Two y-websocket providers (the stock client) editing one document on a node, run by
// tests/realtime_api/test_yjs.py while a pycrdt client edits the same document. Each provider
// types its marker; provider B drops its connection halfway and reconnects (it must catch up);
// when the text holds every marker (PY comes from Python) it prints the text as JSON and exits.
// Usage: node yjs-peers.mjs WS_BASE DOC APIKEY TOKEN
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';

const [base, doc, apikey, token] = process.argv.slice(2);
const WAIT_MS = 30000;
const MARKERS = ['<A1>', '<A2>', '<B1>', '<B2>', '<PY>'];

function provider() {
  const ydoc = new Y.Doc();
  const p = new WebsocketProvider(base, doc, ydoc, { WebSocketPolyfill: WebSocket, params: { apikey, token } });
  return { ydoc, p, text: ydoc.getText('t') };
}

function synced(peer) {
  return new Promise((resolve) => {
    if (peer.p.synced) resolve();
    else peer.p.once('sync', (isSynced) => isSynced && resolve());
  });
}

async function until(condition, what) {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const a = provider();
const b = provider();
await Promise.all([synced(a), synced(b)]);
a.p.awareness.setLocalStateField('user', { name: 'A' });
a.text.insert(a.text.length, '<A1>');
b.text.insert(0, '<B1>');
await until(() => b.text.toString().includes('<A1>'), 'A1 at B');
b.p.disconnect(); // B misses what follows until it reconnects
a.text.insert(a.text.length, '<A2>');
b.text.insert(b.text.length, '<B2>'); // an offline edit, sent on reconnect
b.p.connect();
await synced(b);
const all = (peer) => MARKERS.every((m) => peer.text.toString().includes(m));
await until(() => all(a) && all(b), 'every marker at A and B');
await until(() => a.text.toString() === b.text.toString(), 'A and B to converge');
await until(() => [...b.p.awareness.getStates().values()].some((s) => s.user?.name === 'A'), "A's awareness at B");
console.log(JSON.stringify({ text: a.text.toString() }));
a.p.destroy();
b.p.destroy();
process.exit(0);
