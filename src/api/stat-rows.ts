/**
 * `show stat` (CSV) reduced to the few figures the dashboard uses. Pure: text in, rows
 * out. A full reading at 1,000 services x 20 servers is 5 MB of text with about 100
 * columns a row; the fields are found by walking commas and only the wanted ones are
 * cut out, so a row costs a handful of small strings instead of a hundred.
 */

export interface StatRow {
  /** The proxy (a service's backend). */
  proxy: string;
  /** The server's name, or `BACKEND` for the backend's own row. */
  name: string;
  /** HAProxy's status: UP, DOWN, MAINT, DRAIN, `no check`, ... */
  status: string;
  /** Current sessions. */
  sessions: number;
  /** Requests so far: `req_tot` where HAProxy counts them (HTTP), else sessions (`stot`). */
  total: number;
  /** Connection plus response errors so far. */
  errors: number;
  /** Backend rows: servers usable now (`act` + `bck`); server rows: 0. */
  up: number;
}

const WANTED = ['pxname', 'svname', 'scur', 'stot', 'econ', 'eresp', 'status', 'act', 'bck', 'req_tot', 'type'] as const;
type Column = (typeof WANTED)[number];

/** Rows of a `show stat` reply; backend rows (type 1) and server rows (type 2), others skipped. */
export function parseStatRows(text: string): StatRow[] {
  const headerEnd = text.indexOf('\n');
  if (!text.startsWith('# ') || headerEnd < 0) return [];
  const names = text.slice(2, headerEnd).split(',');
  // Field index -> which wanted column it is (or -1), up to the last one wanted.
  const slot: number[] = [];
  let last = -1;
  for (let i = 0; i < names.length; i++) {
    const w = WANTED.indexOf(names[i] as Column);
    slot.push(w);
    if (w >= 0) last = i;
  }
  const out: StatRow[] = [];
  const f: string[] = new Array<string>(WANTED.length);
  let pos = headerEnd + 1;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    if (end > pos && text.charCodeAt(pos) !== 35 /* # */) {
      f.fill('');
      let start = pos;
      for (let i = 0; i <= last && start <= end; i++) {
        let comma = text.indexOf(',', start);
        if (comma < 0 || comma > end) comma = end;
        if (slot[i] >= 0) f[slot[i]] = text.slice(start, comma);
        start = comma + 1;
      }
      const row = toRow(f);
      if (row) out.push(row);
    }
    pos = end + 1;
  }
  return out;
}

const num = (v: string): number => (v === '' ? 0 : Number(v) || 0);
const at = (c: Column): number => WANTED.indexOf(c);
const I = { px: at('pxname'), sv: at('svname'), scur: at('scur'), stot: at('stot'), econ: at('econ'), eresp: at('eresp'), status: at('status'), act: at('act'), bck: at('bck'), req: at('req_tot'), type: at('type') };

function toRow(f: string[]): StatRow | undefined {
  // type: 0 frontend, 1 backend, 2 server, 3 listener.
  const type = f[I.type];
  if (type !== '1' && type !== '2') return undefined;
  const backend = type === '1';
  return {
    proxy: f[I.px],
    name: f[I.sv],
    status: f[I.status],
    sessions: num(f[I.scur]),
    total: f[I.req] !== '' ? num(f[I.req]) : num(f[I.stot]),
    errors: num(f[I.econ]) + num(f[I.eresp]),
    up: backend ? num(f[I.act]) + num(f[I.bck]) : 0,
  };
}
