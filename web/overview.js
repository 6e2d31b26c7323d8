// The overview table: one row per service, built once and updated in place. Filtering
// toggles `hidden`, sorting moves only rows that are out of place, and a stats event
// touches only the cells whose numbers changed, so 1,000 services stay cheap to follow.
// It is an ARIA table of grid rows rather than a <table>: rows can then skip layout while
// off screen (content-visibility), which a table's rows cannot, and showing 1,000 rows
// again after a search costs the rows on screen only.
import { $, ago, h, num, setText } from './dom.js';
import { addSourceOption, showSummary } from './summary.js';

const HEALTH_RANK = { error: 0, degraded: 1, ok: 2 };
/** Rows whose visibility changes in the frame of a filter change; the rest follow in the next task. */
const FIRST_SCREEN_ROWS = 60;
/** key, header, class, first direction, the row's value to sort by. */
export const COLUMNS = [
  ['name', 'Service', '', 'asc', (r) => r.name],
  ['health', 'Health', '', 'asc', (r) => HEALTH_RANK[r.data.health] ?? 3],
  ['servers', 'Servers up', 'num', 'desc', (r) => (r.stats ? r.stats[0] : -1)],
  ['rate', 'Req/s', 'num', 'desc', (r) => (r.stats ? r.stats[1] : -1)],
  ['sessions', 'Sessions', 'num', 'desc', (r) => (r.stats ? r.stats[2] : -1)],
  ['errors', 'Errors', 'num', 'desc', (r) => (r.stats ? r.stats[3] : -1)],
  ['change', 'Last change', '', 'desc', (r) => (r.data.last_change ? Date.parse(r.data.last_change) : 0)],
  ['type', 'Source', '', 'asc', (r) => r.data.type ?? ''],
  ['port', 'Port', 'num', 'asc', (r) => r.data.port ?? -1],
];
const BY_KEY = new Map(COLUMNS.map((c) => [c[0], c]));
const NUMBER_KEYS = new Set(['servers', 'rate', 'sessions', 'errors']);
export const sourceOf = (data) => data.type ?? 'none';
const cell = (cls) => h('div', { role: 'cell', class: cls });

export class Overview {
  /** `panels.open(name, data)` returns {row, id, update(data), close()}; `onChange()` after filter/sort/expand changes. */
  constructor(state, panels, onChange) {
    this.state = state;
    this.panels = panels;
    this.onChange = onChange;
    this.rows = new Map();
    this.order = [];
    this.tbody = $('service-rows');
    this.sortQueued = false;
    this.reloads = 0;
    this.problems = [];
    this.sources = new Set();
    this.headers = new Map();
    this.buildHeader();
    setInterval(() => this.refreshTimes(), 15000);
  }

  buildHeader() {
    const head = $('service-head');
    for (const [key, label, cls, first] of COLUMNS) {
      const button = h('button', { type: 'button', class: 'sort', text: label, onclick: () => {
        const dir = this.state.sort === key ? (this.state.dir === 'asc' ? 'desc' : 'asc') : first;
        this.setSort(key, dir);
      } });
      const th = h('div', { role: 'columnheader', class: cls || undefined }, button);
      this.headers.set(key, th);
      head.append(th);
    }
    this.markSort();
  }

  markSort() {
    for (const [key, th] of this.headers) {
      if (key === this.state.sort) th.setAttribute('aria-sort', this.state.dir === 'asc' ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
  }

  // ---- stream events ------------------------------------------------------

  snapshot(d) {
    const seen = new Set();
    const fresh = [];
    for (const s of d.services) {
      seen.add(s.name);
      const r = this.rows.get(s.name);
      if (r) this.update(r, s, s.stats);
      else fresh.push(this.create(s, s.stats));
    }
    for (const name of [...this.rows.keys()]) if (!seen.has(name)) this.remove(name);
    // A first paint of many rows: one fragment, in order, then one insertion.
    const frag = document.createDocumentFragment();
    for (const r of fresh) frag.append(r.el);
    this.tbody.append(frag);
    this.problems = d.problems;
    this.reloads = d.reloads;
    this.sort();
    for (const name of this.state.open) {
      const r = this.rows.get(name);
      if (r && !r.panel) this.expand(r, true, false);
    }
    this.summary();
  }

  services(d) {
    const fresh = [];
    for (const s of d.changed) {
      const r = this.rows.get(s.name);
      if (r) this.update(r, s, r.stats);
      else fresh.push(this.create(s, null));
    }
    for (const r of fresh) this.tbody.append(r.el);
    for (const name of d.removed) this.remove(name);
    // A service a shared link expanded may appear after the page loaded.
    const opened = fresh.filter((r) => this.state.open.includes(r.name));
    for (const r of opened) this.expand(r, true, false);
    if (opened.length) this.onChange();
    if (d.problems) this.problems = d.problems;
    if (d.reloads !== undefined) this.reloads = d.reloads;
    if (fresh.length || d.removed.length) this.queueSort();
    this.summary();
  }

  stats(d) {
    for (const [name, v] of Object.entries(d.v)) {
      const r = this.rows.get(name);
      if (r) this.setStats(r, v);
    }
  }

  // ---- rows ---------------------------------------------------------------

  create(s, stats) {
    const c = {
      button: h('button', { type: 'button', class: 'expand', 'aria-expanded': 'false', text: s.name, onclick: () => this.toggle(s.name) }),
      badge: h('span', { class: 'badge' }),
      servers: cell('num'),
      rate: cell('num'),
      sessions: cell('num'),
      errors: cell('num'),
      change: cell(),
      type: cell(),
      port: cell('num'),
    };
    const el = h('div', { role: 'row', class: 'ov-row', 'data-service': s.name },
      h('div', { role: 'rowheader' }, c.button), h('div', { role: 'cell' }, c.badge),
      c.servers, c.rate, c.sessions, c.errors, c.change, c.type, c.port);
    const r = { name: s.name, lname: s.name.toLowerCase(), el, c, data: null, stats: null, panel: null, hidden: false };
    this.rows.set(s.name, r);
    this.update(r, s, stats);
    return r;
  }

  update(r, s, stats) {
    const before = this.sortValue(r);
    const old = r.data;
    r.data = s;
    const { c } = r;
    if (!old || old.health !== s.health) {
      c.badge.dataset.health = s.health;
      c.badge.textContent = s.health;
      r.el.dataset.health = s.health;
    }
    // What is wrong, at a glance, without expanding.
    const why = [...s.problems, ...s.warnings].join('\n');
    if (c.badge.title !== why) c.badge.title = why;
    setText(c.change, ago(s.last_change));
    if (s.last_change) c.change.title = s.last_change;
    const source = sourceOf(s);
    setText(c.type, s.type ?? '—');
    if (!this.sources.has(source)) {
      this.sources.add(source);
      addSourceOption(source, this.state.source);
    }
    setText(c.port, s.port === null ? '—' : String(s.port));
    this.setStats(r, stats, true);
    if (r.panel) r.panel.update(s);
    this.filterRow(r);
    if (old && before !== this.sortValue(r)) this.queueSort();
  }

  setStats(r, v, quiet = false) {
    const before = this.sortValue(r);
    r.stats = v;
    const { c } = r;
    setText(c.servers, `${v ? v[0] : '—'}/${r.data.servers}`);
    c.servers.dataset.down = v && v[0] < r.data.servers ? 'true' : 'false';
    setText(c.rate, v ? num(v[1]) : '—');
    setText(c.sessions, v ? num(v[2]) : '—');
    setText(c.errors, v ? num(v[3]) : '—');
    if (!quiet && NUMBER_KEYS.has(this.state.sort) && before !== this.sortValue(r)) this.queueSort();
  }

  remove(name) {
    const r = this.rows.get(name);
    if (!r) return;
    if (r.panel) this.expand(r, false);
    r.el.remove();
    this.rows.delete(name);
    this.order = this.order.filter((x) => x !== r);
  }

  refreshTimes() {
    const now = Date.now();
    for (const r of this.rows.values()) if (!r.hidden) setText(r.c.change, ago(r.data.last_change, now));
  }

  // ---- expanding ----------------------------------------------------------

  toggle(name) {
    const r = this.rows.get(name);
    if (r) this.expand(r, !r.panel);
  }

  expand(r, open, notify = true) {
    if (open === !!r.panel) return;
    if (open) {
      r.panel = this.panels.open(r.name, r.data);
      r.el.after(r.panel.row);
      r.c.button.setAttribute('aria-controls', r.panel.id);
      r.panel.row.hidden = r.hidden;
      if (!this.state.open.includes(r.name)) this.state.open.push(r.name);
    } else {
      r.panel.close();
      r.panel.row.remove();
      r.panel = null;
      this.state.open = this.state.open.filter((n) => n !== r.name);
    }
    r.c.button.setAttribute('aria-expanded', String(open));
    r.el.classList.toggle('open', open);
    if (notify) this.onChange();
  }

  /** Panels open now, whatever the URL asked for that does not exist (yet). */
  expanded() {
    return [...this.rows.values()].filter((r) => r.panel).map((r) => r.name);
  }

  // ---- filter and sort ----------------------------------------------------

  setFilter(changes) {
    Object.assign(this.state, changes);
    this.filterAll();
    this.onChange();
  }

  matches(r) {
    const { q, health, source } = this.state;
    return (!q || r.lname.includes(q.toLowerCase())) && (health === 'all' || r.data.health === health) && (source === 'all' || sourceOf(r.data) === source);
  }

  filterRow(r) {
    const hide = !this.matches(r);
    if (hide === r.hidden) return;
    r.hidden = hide;
    this.showHidden(r);
  }

  /** Puts a row's `hidden` state into the DOM. */
  showHidden(r) {
    r.el.hidden = r.hidden;
    if (r.panel) r.panel.row.hidden = r.hidden;
    if (!r.hidden) setText(r.c.change, ago(r.data.last_change));
  }

  /**
   * Every row filtered at once; the DOM of the first screenful (in display order) changes
   * in this frame, the rest in the next task. Showing 1,000 rows again in one frame costs
   * the browser over 100 ms of style work; the rows below the fold can wait a frame.
   */
  filterAll() {
    clearTimeout(this.filterTimer);
    const later = [];
    let shown = 0;
    // Display order, so the first screenful is the top of the table (a row not yet sorted in goes last).
    const rows = this.order.length === this.rows.size ? this.order : [...this.order, ...[...this.rows.values()].filter((r) => !this.order.includes(r))];
    for (const r of rows) {
      const hide = !this.matches(r);
      const changed = hide !== r.hidden;
      r.hidden = hide;
      if (changed && (hide || shown < FIRST_SCREEN_ROWS)) this.showHidden(r);
      else if (changed) later.push(r);
      if (!hide) shown++;
    }
    if (later.length) this.filterTimer = setTimeout(() => later.forEach((r) => this.showHidden(r)), 0);
    this.summary();
  }

  setSort(key, dir) {
    this.state.sort = BY_KEY.has(key) ? key : 'health';
    this.state.dir = dir;
    this.markSort();
    this.sort();
    this.onChange();
  }

  sortValue(r) {
    return r.data ? (BY_KEY.get(this.state.sort) ?? BY_KEY.get('health'))[4](r) : undefined;
  }

  queueSort() {
    if (this.sortQueued) return;
    this.sortQueued = true;
    requestAnimationFrame(() => {
      this.sortQueued = false;
      this.sort();
    });
  }

  /** Puts rows in order, moving only those out of place; a focused control keeps its focus. */
  sort() {
    const value = (BY_KEY.get(this.state.sort) ?? BY_KEY.get('health'))[4];
    const sign = this.state.dir === 'desc' ? -1 : 1;
    const keyed = [...this.rows.values()].map((r) => [value(r), r]);
    keyed.sort((a, b) => (a[0] < b[0] ? -sign : a[0] > b[0] ? sign : a[1].name < b[1].name ? -1 : a[1].name > b[1].name ? 1 : 0));
    const next = keyed.map((k) => k[1]);
    if (next.length === this.order.length && next.every((r, i) => r === this.order[i])) return;
    const focused = this.tbody.contains(document.activeElement) ? document.activeElement : null;
    let cursor = this.tbody.firstChild;
    for (const r of next) {
      for (const el of r.panel ? [r.el, r.panel.row] : [r.el]) {
        if (cursor === el) cursor = cursor.nextSibling;
        else this.tbody.insertBefore(el, cursor);
      }
    }
    this.order = next;
    if (focused && document.activeElement !== focused) focused.focus({ preventScroll: true });
  }

  summary() {
    showSummary(this.rows.values(), this.rows.size, this.problems, this.reloads);
  }
}
