// The panel under an expanded service's row: its problems, its servers (from the stream's
// `servers` and `server-stats` events for watched services) with the state buttons, and
// its history charts, plus one server's charts on demand.
import { ago, capital, h, hhmm, num, setText } from './dom.js';
import { HistoryCharts } from './charts.js';
import { setServerState } from './actions.js';

const STATES = ['ready', 'drain', 'maint'];
const COLUMNS = [['Server'], ['Wanted'], ['HAProxy'], ['Weight', 'num'], ['Sessions', 'num'], ['Req/s', 'num'], ['Errors', 'num'], ['Set state'], ['History']];
let panels = 0;

const enc = encodeURIComponent;
const rangeName = { hour: 'Last hour', day: '24 hours' };

/** Why sticky_offline holds a server out, with the time in the browser's zone. */
function offlineText(o) {
  const at = Date.parse(o.at);
  const since = Number.isNaN(at) ? '' : ` since ${hhmm(at)}`;
  return `offline${since}: health check failed (${o.check || 'no detail'}); set Ready to bring it back`;
}

export class ServicePanel {
  constructor(name, data, columns) {
    this.name = name;
    this.id = `panel-${++panels}`;
    this.range = 'hour';
    this.rows = new Map();
    this.serverShown = null;
    this.facts = h('p', { class: 'panel-facts' });
    this.problems = h('ul', { class: 'service-problems' });
    this.warnings = h('ul', { class: 'service-warnings' });
    this.rangeButtons = Object.entries(rangeName).map(([key, text]) =>
      h('button', { type: 'button', 'data-range': key, 'aria-pressed': String(key === this.range), text, onclick: () => this.setRange(key) }));
    this.charts = new HistoryCharts(name);
    this.tbody = h('tbody');
    this.loading = h('p', { class: 'muted', text: 'Loading servers…' });
    this.serverTitle = h('h4');
    this.serverCharts = null;
    this.serverBox = h('section', { class: 'server-history', hidden: true }, this.serverTitle);
    const table = h('table', { class: 'servers', hidden: true },
      h('caption', { class: 'visually-hidden', text: `Servers of ${name}` }),
      h('thead', {}, h('tr', {}, ...COLUMNS.map(([t, cls]) => h('th', { scope: 'col', class: cls, text: t })))),
      this.tbody);
    this.table = table;
    this.el = h('div', { class: 'panel', id: this.id, role: 'region', 'aria-label': `Details of ${name}` },
      this.facts, this.problems, this.warnings,
      h('div', { class: 'history' },
        h('div', { class: 'history-head' }, h('h3', { text: `History of ${name}` }),
          h('div', { class: 'range', role: 'group', 'aria-label': `History range of ${name}` }, ...this.rangeButtons)),
        this.charts.el),
      h('h3', { text: `Servers of ${name}` }), this.loading, table, this.serverBox);
    this.row = h('div', { role: 'row', class: 'panel-row', 'data-panel': name }, h('div', { role: 'cell', 'aria-colspan': columns }, this.el));
    this.update(data);
    this.loadHistory();
  }

  update(s) {
    const source = `source: ${s.type ?? '—'} (${s.origin})${s.source_up ? '' : ', source down'}`;
    const err = s.last_error ? ` · last error ${ago(s.last_error.at)}: ${s.last_error.message}` : '';
    setText(this.facts, `${source} · ${s.servers} servers wanted${err}`);
    const list = (ul, items) => {
      if (ul.dataset.text === items.join('\n')) return;
      ul.dataset.text = items.join('\n');
      ul.replaceChildren(...items.map((p) => h('li', { text: p })));
    };
    list(this.problems, s.problems);
    list(this.warnings, s.warnings);
  }

  close() {
    this.closed = true;
  }

  // ---- servers --------------------------------------------------------------

  servers(d) {
    const seen = new Set();
    for (const srv of d.changed) {
      seen.add(srv.name);
      this.updateServer(this.rows.get(srv.name) ?? this.createServer(srv.name), srv);
    }
    const gone = d.full ? [...this.rows.keys()].filter((n) => !seen.has(n)) : d.removed;
    for (const name of gone) {
      this.rows.get(name)?.tr.remove();
      this.rows.delete(name);
      if (this.serverShown === name) this.showServer(null);
    }
    if (d.full || d.changed.length) this.order();
    this.loading.textContent = 'No server should run.';
    this.loading.hidden = this.rows.size > 0;
    this.table.hidden = this.rows.size === 0;
  }

  serverStats(d) {
    for (const [name, v] of Object.entries(d.v)) {
      const row = this.rows.get(name);
      if (row) this.setServerStats(row, v);
    }
  }

  order() {
    const names = [...this.rows.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    let cursor = this.tbody.firstChild;
    for (const n of names) {
      const tr = this.rows.get(n).tr;
      if (cursor === tr) cursor = cursor.nextSibling;
      else this.tbody.insertBefore(tr, cursor);
    }
  }

  createServer(server) {
    const service = this.name;
    const stateText = h('span');
    const offline = h('div', { class: 'offline-note', hidden: true });
    const cells = {
      state: h('td', {}, stateText, offline), haproxy: h('td'), weight: h('td', { class: 'num' }),
      sessions: h('td', { class: 'num' }), rate: h('td', { class: 'num' }), errors: h('td', { class: 'num' }),
    };
    const buttons = STATES.map((st) => h('button', {
      type: 'button', 'data-state': st, 'aria-label': `${capital(st)} ${server} in ${service}`, 'aria-pressed': 'false', text: capital(st),
      onclick: async () => {
        if (await setServerState(service, server, st)) for (const b of buttons) b.setAttribute('aria-pressed', String(b === buttons[STATES.indexOf(st)]));
      },
    }));
    const history = h('button', { type: 'button', class: 'server-history-button', 'aria-label': `History of ${server} in ${service}`, 'aria-pressed': 'false', text: 'History',
      onclick: () => this.showServer(this.serverShown === server ? null : server) });
    const tr = h('tr', { 'data-server': server }, h('th', { scope: 'row', text: server }), cells.state, cells.haproxy, cells.weight,
      cells.sessions, cells.rate, cells.errors,
      h('td', {}, h('div', { class: 'actions', role: 'group', 'aria-label': `State of ${server}` }, ...buttons)), h('td', {}, history));
    const row = { tr, cells, buttons, history, stateText, offline };
    this.rows.set(server, row);
    return row;
  }

  updateServer(row, srv) {
    const { cells } = row;
    const o = srv.override ?? {};
    const sticky = o.reason === 'sticky_offline';
    setText(row.stateText, srv.state + (sticky ? ' (health check)' : o.state ? ' (operator)' : ''));
    // sticky_offline: the agent holds the server out until someone sets it Ready; say why.
    setText(row.offline, sticky ? offlineText(o) : '');
    row.offline.hidden = !sticky;
    cells.state.dataset.state = srv.state;
    setText(cells.haproxy, srv.haproxy ?? 'not in HAProxy yet');
    cells.haproxy.dataset.haproxy = srv.haproxy === null ? 'none' : srv.haproxy;
    setText(cells.weight, String(srv.weight) + (o.weight !== undefined ? ' (operator)' : ''));
    for (const b of row.buttons) b.setAttribute('aria-pressed', String(b.dataset.state === srv.state));
    if (srv.stats !== undefined) this.setServerStats(row, srv.stats);
  }

  setServerStats(row, v) {
    setText(row.cells.rate, v ? num(v[0]) : '—');
    setText(row.cells.sessions, v ? num(v[1]) : '—');
    setText(row.cells.errors, v ? num(v[2]) : '—');
  }

  // ---- history ----------------------------------------------------------------

  setRange(range) {
    this.range = range;
    for (const b of this.rangeButtons) b.setAttribute('aria-pressed', String(b.dataset.range === range));
    this.loadHistory();
  }

  showServer(server) {
    for (const [name, row] of this.rows) row.history.setAttribute('aria-pressed', String(name === server));
    this.serverShown = server;
    this.serverCharts?.el.remove();
    this.serverCharts = null;
    this.serverBox.hidden = !server;
    if (!server) return;
    this.serverTitle.textContent = `History of ${server} in ${this.name} (${rangeName[this.range].toLowerCase()})`;
    this.serverCharts = new HistoryCharts(`${server} in ${this.name}`);
    this.serverBox.append(this.serverCharts.el);
    this.loadHistory();
  }

  /** Re-reads the histories this panel shows (on expand, on a range change, on each `tick`). */
  loadHistory() {
    if (this.closed) return;
    const base = `api/services/${enc(this.name)}`;
    this.charts.load(`${base}/history`, this.range);
    if (this.serverShown) {
      this.serverTitle.textContent = `History of ${this.serverShown} in ${this.name} (${rangeName[this.range].toLowerCase()})`;
      this.serverCharts.load(`${base}/servers/${enc(this.serverShown)}/history`, this.range);
    }
  }
}
