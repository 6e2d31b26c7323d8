// proxymgr dashboard: plain DOM, no framework, no build step.
// Every URL is relative ('events', 'api/...'), so the page works behind a reverse proxy
// under a path prefix. Text goes in with textContent only: service names, messages and
// addresses come from outside and are never parsed as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'proxymgr.token';
  const FEED_MAX = 100;
  const CHART_W = 300;
  const CHART_H = 48;
  const STATES = ['ready', 'drain', 'maint'];

  const $ = (id) => document.getElementById(id);
  const cards = new Map(); // service name -> card parts
  let history = {}; // service name -> [[epoch ms, sessions/s], ...]
  let historyPoints = 300;

  function h(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    node.append(...children);
    return node;
  }

  function svg(tag, attrs = {}) {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }

  const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : '');
  const ago = (iso) => {
    if (!iso) return 'never';
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 90) return `${s} s ago`;
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    return `${Math.round(s / 3600)} h ago`;
  };
  const health = (s) => (!s.ok ? 'error' : s.warnings.length ? 'degraded' : 'ok');

  // ---- the live stream ----------------------------------------------------

  function connect() {
    const es = new EventSource('events');
    es.addEventListener('open', () => setConnection('live'));
    es.addEventListener('error', () => setConnection(es.readyState === EventSource.CLOSED ? 'lost' : 'connecting'));
    es.addEventListener('hello', (e) => {
      const d = JSON.parse(e.data);
      history = d.history || {};
      historyPoints = Math.ceil(600000 / d.intervalMs);
      $('feed').replaceChildren();
      for (const entry of d.feed) addFeed(entry);
    });
    es.addEventListener('state', (e) => render(JSON.parse(e.data)));
    es.addEventListener('log', (e) => addFeed(JSON.parse(e.data)));
  }

  function setConnection(state) {
    const c = $('connection');
    c.dataset.state = state;
    c.textContent = state === 'live' ? 'live' : state === 'lost' ? 'connection lost' : 'reconnecting';
  }

  // ---- services -----------------------------------------------------------

  function render(state) {
    const counts = { ok: 0, degraded: 0, error: 0 };
    for (const s of state.services) counts[health(s)]++;
    $('summary').textContent =
      `${state.services.length} services: ${counts.ok} ok, ${counts.degraded} degraded, ${counts.error} in error · ${state.reloads} reloads`;
    $('problems').replaceChildren(...state.problems.map((p) => h('p', { text: `Agent: ${p}` })));

    const seen = new Set();
    let previous = null;
    for (const s of state.services) {
      seen.add(s.name);
      if (s.rate) {
        const series = (history[s.name] ||= []);
        if (!series.length || series[series.length - 1][0] < s.rate[0]) series.push(s.rate);
        if (series.length > historyPoints) series.splice(0, series.length - historyPoints);
      }
      const card = cards.get(s.name) || createCard(s.name);
      updateCard(card, s);
      // Keep the cards in the order the agent sends (by name) without re-inserting focused ones.
      const expected = previous ? previous.nextSibling : $('services').firstChild;
      if (expected !== card.root) $('services').insertBefore(card.root, expected);
      previous = card.root;
    }
    for (const [name, card] of cards) {
      if (!seen.has(name)) {
        card.root.remove();
        cards.delete(name);
      }
    }
  }

  function createCard(name) {
    const id = `svc-${cards.size}-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const card = {
      name,
      badge: h('span', { class: 'badge' }),
      facts: h('dl', { class: 'facts' }),
      problems: h('ul', { class: 'service-problems' }),
      warnings: h('ul', { class: 'service-warnings' }),
      line: svg('polyline', { points: '' }),
      rate: h('span', { class: 'rate' }),
      rows: new Map(),
      tbody: h('tbody'),
    };
    const chart = svg('svg', { viewBox: `0 0 ${CHART_W} ${CHART_H}`, preserveAspectRatio: 'none', role: 'img' });
    chart.append(card.line);
    card.chart = chart;
    card.root = h(
      'article',
      { class: 'service', 'aria-labelledby': `${id}-title`, 'data-service': name },
      h('div', { class: 'service-head' }, h('h3', { id: `${id}-title`, text: name }), card.badge),
      card.facts,
      card.problems,
      card.warnings,
      h('div', { class: 'chart' }, chart, card.rate),
      h(
        'table',
        {},
        h('caption', { class: 'visually-hidden', text: `Servers of ${name}` }),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...[
              ['Server'],
              ['State'],
              ['HAProxy'],
              ['Weight', 'num'],
              ['Sessions', 'num'],
              ['Rate/s', 'num'],
              ['Errors', 'num'],
              ['Set state'],
            ].map(([t, cls]) => h('th', { scope: 'col', ...(cls && { class: cls }), text: t })),
          ),
        ),
        card.tbody,
      ),
    );
    cards.set(name, card);
    return card;
  }

  function updateCard(card, s) {
    const hl = health(s);
    card.badge.dataset.health = hl;
    card.badge.textContent = hl;
    const facts = [
      ['port', s.port ?? '—'],
      ['source', `${s.type ?? '—'} (${s.origin})`],
      ['servers', String(s.servers.length)],
      ['last change', ago(s.lastChange)],
      ['last error', s.lastError ? `${ago(s.lastError.at)}: ${s.lastError.message}` : 'none'],
    ];
    card.facts.replaceChildren(...facts.map(([k, v]) => h('div', {}, h('dt', { text: k }), h('dd', { text: String(v) }))));
    card.problems.replaceChildren(...s.problems.map((p) => h('li', { text: p })));
    card.warnings.replaceChildren(...s.warnings.map((p) => h('li', { text: p })));
    drawChart(card, history[s.name] || []);

    const seen = new Set();
    let previous = null;
    for (const srv of s.servers) {
      seen.add(srv.name);
      const row = card.rows.get(srv.name) || createRow(card, s.name, srv.name);
      updateRow(row, srv);
      const expected = previous ? previous.nextSibling : card.tbody.firstChild;
      if (expected !== row.tr) card.tbody.insertBefore(row.tr, expected);
      previous = row.tr;
    }
    for (const [name, row] of card.rows) {
      if (!seen.has(name)) {
        row.tr.remove();
        card.rows.delete(name);
      }
    }
  }

  function drawChart(card, series) {
    const now = Date.now();
    // Ten minutes once there is that much; until then the data there is fills the chart (a minute at least).
    const span = Math.min(600000, Math.max(60000, series.length ? now - series[0][0] : 0));
    const max = Math.max(1, ...series.map((p) => p[1]));
    const points = series
      .filter((p) => p[0] >= now - span)
      .map((p) => `${(((p[0] - (now - span)) / span) * CHART_W).toFixed(1)},${(CHART_H - 2 - (p[1] / max) * (CHART_H - 4)).toFixed(1)}`);
    card.line.setAttribute('points', points.join(' '));
    const last = series.length ? series[series.length - 1][1] : 0;
    const peak = series.length ? Math.max(...series.map((p) => p[1])) : 0;
    const windowLabel = span >= 120000 ? `${Math.round(span / 60000)} min` : `${Math.round(span / 1000)} s`;
    card.rate.textContent = `${last}/s now, peak ${peak}/s (last ${windowLabel})`;
    card.chart.setAttribute('aria-label', `Sessions per second of ${card.name} over the last ${windowLabel}: now ${last}, peak ${peak}`);
  }

  function createRow(card, service, server) {
    const cells = {
      name: h('th', { scope: 'row', text: server }),
      state: h('td'),
      haproxy: h('td'),
      weight: h('td', { class: 'num' }),
      sessions: h('td', { class: 'num' }),
      rate: h('td', { class: 'num' }),
      errors: h('td', { class: 'num' }),
    };
    const buttons = STATES.map((st) =>
      h('button', {
        type: 'button',
        'aria-label': `${st[0].toUpperCase()}${st.slice(1)} ${server} in ${service}`,
        'data-state': st,
        text: st[0].toUpperCase() + st.slice(1),
        onclick: () => setServerState(service, server, st),
      }),
    );
    const tr = h('tr', { 'data-server': server }, ...Object.values(cells), h('td', {}, h('div', { class: 'actions', role: 'group', 'aria-label': `State of ${server}` }, ...buttons)));
    const row = { tr, cells, buttons };
    card.rows.set(server, row);
    return row;
  }

  function updateRow(row, srv) {
    const { cells } = row;
    cells.state.textContent = srv.state + (srv.override && srv.override.state ? ' (operator)' : '');
    cells.state.dataset.state = srv.state;
    const live = srv.haproxy;
    cells.haproxy.textContent = live ? live.status : 'not in HAProxy yet';
    cells.weight.textContent = String(srv.weight) + (srv.override && srv.override.weight !== undefined ? ' (operator)' : '');
    cells.sessions.textContent = live ? String(live.sessions_current) : '—';
    cells.rate.textContent = live && live.rate !== undefined ? String(live.rate) : '—';
    cells.errors.textContent = live ? String(live.connection_errors + live.response_errors) : '—';
    for (const b of row.buttons) b.setAttribute('aria-pressed', String(b.dataset.state === srv.state));
  }

  // ---- actions ------------------------------------------------------------

  function askToken() {
    const dialog = $('token-dialog');
    const input = $('token-input');
    input.value = '';
    return new Promise((resolve) => {
      dialog.addEventListener(
        'close',
        () => {
          if (dialog.returnValue === 'ok' && input.value) {
            sessionStorage.setItem(TOKEN_KEY, input.value);
            updateTokenButton();
            resolve(input.value);
          } else resolve(null);
        },
        { once: true },
      );
      dialog.returnValue = '';
      dialog.showModal();
      input.focus();
    });
  }

  function updateTokenButton() {
    $('token-button').textContent = sessionStorage.getItem(TOKEN_KEY) ? 'Change API token' : 'Set API token';
  }

  function notice(text) {
    const n = $('notice');
    n.textContent = text;
    n.hidden = false;
    clearTimeout(notice.timer);
    notice.timer = setTimeout(() => (n.hidden = true), 5000);
  }

  async function setServerState(service, server, st) {
    for (let attempt = 0; attempt < 2; attempt++) {
      const token = sessionStorage.getItem(TOKEN_KEY) || (await askToken());
      if (!token) return;
      const url = `api/services/${encodeURIComponent(service)}/servers/${encodeURIComponent(server)}/state`;
      let res;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ state: st }),
        });
      } catch (err) {
        return notice(`${server}: request failed (${err.message})`);
      }
      if (res.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        updateTokenButton();
        notice('The agent refused the token; enter it again.');
        continue;
      }
      const body = await res.json().catch(() => ({}));
      if (!res.ok) return notice(`${server}: ${body.error || res.statusText}`);
      return notice(`${server} in ${service}: ${st}`);
    }
  }

  // ---- the feed -----------------------------------------------------------

  const LEVELS = { 30: 'info', 40: 'warn', 50: 'error', 60: 'error' };

  function detail(e) {
    if (e.event === 'reload' || e.event === 'start') return `reason: ${e.reason}${e.ms !== undefined ? ` · ${e.ms} ms` : ''}`;
    if (e.event === 'plan' || e.event === 'drift_repaired') {
      const parts = (e.changes || []).map((c) =>
        [c.service, c.added && `+${c.added.join(' +')}`, c.removed && `-${c.removed.join(' -')}`, c.changed && `~${c.changed.length}`].filter(Boolean).join(' '),
      );
      return `${parts.join('; ')} · ${e.runtime_cmds} runtime command(s), no reload`;
    }
    if (e.error) return String(e.error);
    if (e.errors) return e.errors.join('; ');
    return '';
  }

  function addFeed(e) {
    const li = h(
      'li',
      { 'data-level': LEVELS[e.level] || 'info', 'data-event': e.event },
      h('time', { datetime: e.time, text: clock(e.time) }),
      h('span', { class: 'event', text: e.event }),
      h('span', { text: `${e.service ? `${e.service}: ` : ''}${e.msg}` }),
      h('span', { class: 'detail', text: detail(e) }),
    );
    const feed = $('feed');
    feed.prepend(li);
    while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
  }

  // ---- start --------------------------------------------------------------

  $('token-button').addEventListener('click', () => askToken());
  updateTokenButton();
  // The charts slide with the clock between samples.
  setInterval(() => {
    for (const card of cards.values()) drawChart(card, history[card.name] || []);
  }, 5000);
  connect();
})();
