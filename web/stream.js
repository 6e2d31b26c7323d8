// The agent's event stream (docs/dashboard.md): `hello`, a `snapshot`, then deltas.
// The stream id from `hello` names this tab for `watch`; a reconnect gets a new id, a
// fresh snapshot, and the expanded services are watched again.
import { $ } from './dom.js';

const MAX_WATCHED = 50;
/** EventSource retries by itself after a cut, but gives up for good on an error status (a proxy's 502 while the agent restarts). */
const REOPEN_MS = 3000;
const EVENTS = ['services', 'stats', 'servers', 'server-stats', 'tick', 'log'];

export function connect(handlers) {
  let streamId = null;
  let watched = [];
  let sentWatch = '';

  function open() {
    const es = new EventSource('events');
    es.addEventListener('open', () => setConnection('live'));
    es.addEventListener('error', () => {
      if (es.readyState !== EventSource.CLOSED) return setConnection('connecting');
      setConnection('lost');
      streamId = null;
      setTimeout(open, REOPEN_MS);
    });
    const on = (name, fn) => es.addEventListener(name, (e) => fn(JSON.parse(e.data)));
    on('hello', (d) => {
      streamId = d.stream;
      // A new stream watches nothing until told.
      sentWatch = JSON.stringify({ services: [] });
      handlers.hello(d);
    });
    on('snapshot', (d) => {
      handlers.snapshot(d);
      // After the snapshot, so the rows its `servers` fill are there.
      postWatch();
    });
    for (const name of EVENTS) on(name, (d) => handlers[name](d));
  }

  async function postWatch() {
    if (!streamId) return;
    const body = JSON.stringify({ services: watched });
    if (body === sentWatch) return;
    sentWatch = body;
    try {
      const res = await fetch(`events/${encodeURIComponent(streamId)}/watch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      // 404: the stream has just gone; the reconnect's snapshot watches again.
      if (!res.ok && res.status !== 404) handlers.notice(`Could not follow the expanded services (${res.status})`);
    } catch {
      sentWatch = '';
    }
  }

  open();
  return {
    /** Which services this tab has expanded (the agent sends their servers). */
    watch(names) {
      if (names.length > MAX_WATCHED) handlers.notice(`Only the first ${MAX_WATCHED} expanded services are followed live.`);
      watched = names.slice(0, MAX_WATCHED);
      postWatch();
    },
  };
}

function setConnection(state) {
  const c = $('connection');
  c.dataset.state = state;
  c.textContent = state === 'live' ? 'live' : state === 'lost' ? 'connection lost' : 'reconnecting';
}
