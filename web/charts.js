// History charts (docs/dashboard.md, "History over HTTP"): three small SVG line charts
// (requests/s, sessions, errors) over the last hour or 24 hours. A null point is a gap in
// the line: the agent did not know the value then, which is not the same as zero.
import { h, hhmm, num, svg } from './dom.js';

const W = 320;
const H = 96;
const TOP = 14;
const BOTTOM = 16;
const RANGES = {
  hour: { span: 3600e3, tick: 600e3, text: 'last hour' },
  day: { span: 86400e3, tick: 4 * 3600e3, text: 'last 24 hours' },
};
const SERIES = [
  ['rate', 'Requests per second', 'req/s', 'req/s'],
  ['sessions', 'Sessions', 'sessions', 'session'],
  ['errors', 'Errors', 'errors', 'error'],
];

/** 1, 2 or 5 times a power of ten, at least `v`: a y axis people can read. */
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= v);
}

/** Draws one series into `chart` (an <svg>) and returns {now, peak} (null: no point known). */
function draw(chart, series, values, range, [unit, one]) {
  const n = values.length;
  const end = n && series.start !== undefined ? series.start + (n - 1) * series.step_ms : Date.now();
  const from = end - range.span;
  let peak = null;
  let now = null;
  for (const v of values) {
    if (v === null) continue;
    if (peak === null || v > peak) peak = v;
    now = v;
  }
  const top = niceMax(peak ?? 0);
  const x = (t) => ((t - from) / range.span) * W;
  const y = (v) => H - BOTTOM - (v / top) * (H - BOTTOM - TOP);
  let d = '';
  let pen = false;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null) {
      pen = false;
      continue;
    }
    const t = series.start + i * series.step_ms;
    if (t < from) continue;
    const xy = `${x(t).toFixed(1)},${y(v).toFixed(1)}`;
    // A point alone between gaps still shows, as a dot (round caps on a zero-length line).
    const alone = !pen && (i + 1 >= n || values[i + 1] === null);
    d += pen ? `L${xy}` : alone ? `M${xy}h0.01` : `M${xy}`;
    pen = true;
  }
  const parts = [svg('line', { class: 'axis', x1: 0, x2: W, y1: H - BOTTOM, y2: H - BOTTOM })];
  // Ticks on round local times.
  const zone = new Date(end).getTimezoneOffset() * 60e3;
  for (let t = Math.ceil((from - zone) / range.tick) * range.tick + zone; t <= end; t += range.tick) {
    const tx = x(t);
    parts.push(svg('line', { class: 'grid', x1: tx, x2: tx, y1: TOP, y2: H - BOTTOM }));
    const label = svg('text', { class: 'tick', x: Math.min(W - 14, Math.max(14, tx)), y: H - 3, 'text-anchor': 'middle' });
    label.textContent = hhmm(t);
    parts.push(label);
  }
  const max = svg('text', { class: 'max', x: 2, y: 10 });
  max.textContent = `${num(top)} ${top === 1 ? one : unit}`;
  parts.push(max, svg('line', { class: 'grid', x1: 0, x2: W, y1: TOP, y2: TOP }), svg('path', { class: 'line', d }));
  chart.replaceChildren(...parts);
  return { now, peak };
}

/** The three charts of one service or server, and where their data comes from. */
export class HistoryCharts {
  constructor(who) {
    this.who = who;
    this.seq = 0;
    this.reason = h('p', { class: 'reason', hidden: true });
    this.charts = SERIES.map(([key, label, ...units]) => {
      const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'data-series': key, 'aria-label': `${label} of ${who}: loading` });
      const caption = h('figcaption', { text: label });
      return { key, label, units, chart, caption, figure: h('figure', { class: 'chart' }, chart, caption) };
    });
    this.el = h('div', { class: 'charts' }, this.reason, ...this.charts.map((c) => c.figure));
  }

  /** Reads `url` and draws the `range` ('hour' or 'day'); a late answer to an older call is dropped. */
  async load(url, range) {
    const seq = ++this.seq;
    let body;
    try {
      const res = await fetch(url);
      body = await res.json().catch(() => ({}));
      if (!res.ok) body = { kept: false, reason: body.error || `${res.status} ${res.statusText}` };
    } catch (err) {
      body = { kept: false, reason: `could not read the history (${err.message})` };
    }
    if (seq === this.seq) this.render(body, range);
  }

  render(body, rangeKey) {
    const series = body.kept ? body[rangeKey] : null;
    this.reason.hidden = !!series;
    this.reason.textContent = series ? '' : body.reason || 'no history';
    const range = RANGES[rangeKey];
    for (const c of this.charts) {
      c.figure.hidden = !series;
      if (!series) continue;
      const { now, peak } = draw(c.chart, series, series[c.key] ?? [], range, c.units);
      const figures = peak === null ? 'no data yet' : `now ${num(now)}, peak ${num(peak)}`;
      c.chart.setAttribute('aria-label', `${c.label} of ${this.who} over the ${range.text}: ${figures}`);
      c.caption.textContent = `${c.label}: ${figures}`;
    }
  }
}
