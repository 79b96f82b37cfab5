// N y-websocket providers in one room; the first types M characters, one update each, as fast
// as the provider takes them; prints how long until every provider holds all M (convergence).
// Usage: node yjs_clients.mjs WS_BASE ROOM N M [key=value params...]
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';

const [base, room, n, m, ...pairs] = process.argv.slice(2);
const clients = Number(n);
const inserts = Number(m);
const params = Object.fromEntries(pairs.map((p) => p.split('=')));
const TIMEOUT_MS = 300000;

function provider() {
  const doc = new Y.Doc();
  const p = new WebsocketProvider(base, room, doc, { WebSocketPolyfill: WebSocket, params, disableBc: true });
  return { doc, p, text: doc.getText('t') };
}

function synced(peer) {
  return new Promise((resolve) => {
    if (peer.p.synced) resolve();
    else peer.p.on('sync', (ok) => ok && resolve());
  });
}

const peers = Array.from({ length: clients }, provider);
await Promise.all(peers.map(synced));
const done = new Array(clients).fill(0);
const started = performance.now();
await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('did not converge in time')), TIMEOUT_MS);
  let remaining = clients - 1;
  peers.slice(1).forEach((peer, index) => {
    peer.text.observe(() => {
      if (!done[index + 1] && peer.text.length === inserts) {
        done[index + 1] = performance.now() - started;
        remaining -= 1;
        if (remaining === 0) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
  });
  (async () => {
    const writer = peers[0].text;
    for (let i = 0; i < inserts; i += 1) {
      writer.insert(writer.length, 'x');
      if (i % 50 === 49) await new Promise((r) => setImmediate(r)); // let the socket send
    }
  })();
});
const times = done.slice(1).sort((a, b) => a - b);
console.log(
  JSON.stringify({
    clients,
    inserts,
    converge_ms: times[times.length - 1],
    first_ms: times[0],
    median_ms: times[Math.floor(times.length / 2)],
  }),
);
for (const peer of peers) peer.p.destroy();
process.exit(0);
