/**
 * `show stat` (CSV) reduced to the few figures the dashboard uses. Pure: bytes in, rows
 * out. A full reading at 1,000 services x 20 servers is 5 MB with about 100 columns a
 * row; it is read as bytes, the wanted fields are found by walking to their commas, and
 * a row costs three short strings (proxy, server, status), its numbers read from the
 * digits: no 5 MB string, little for the garbage collector.
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
export function parseStatRows(reply: string | Buffer): StatRow[] {
  const buf = typeof reply === 'string' ? Buffer.from(reply, 'utf8') : reply;
  const headerEnd = buf.indexOf(NL);
  if (buf[0] !== HASH || buf[1] !== SPACE || headerEnd < 0) return [];
  const names = buf.toString('latin1', 2, headerEnd).split(',');
  // Field index -> which wanted column it is (or -1), up to the last one wanted.
  const slot: number[] = [];
  let last = -1;
  for (let i = 0; i < names.length; i++) {
    const w = WANTED.indexOf(names[i] as Column);
    slot.push(w);
    if (w >= 0) last = i;
  }
  const from = new Int32Array(WANTED.length);
  const to = new Int32Array(WANTED.length);
  const out: StatRow[] = [];
  const len = buf.length;
  let pos = headerEnd + 1;
  while (pos < len) {
    let end = buf.indexOf(NL, pos);
    if (end < 0) end = len;
    if (end > pos && buf[pos] !== HASH) {
      from.fill(0);
      to.fill(0);
      // Walk the bytes to the last wanted field, noting where each wanted one lies.
      let start = pos;
      for (let i = 0; i <= last && start <= end; i++) {
        let p = start;
        while (p < end && buf[p] !== COMMA) p++;
        const w = slot[i];
        if (w >= 0) {
          from[w] = start;
          to[w] = p;
        }
        start = p + 1;
      }
      const row = toRow(buf, from, to);
      if (row) out.push(row);
    }
    pos = end + 1;
  }
  return out;
}

const [NL, HASH, SPACE, COMMA, ZERO, NINE] = [10, 35, 32, 44, 48, 57];
const at = (c: Column): number => WANTED.indexOf(c);
const I = { px: at('pxname'), sv: at('svname'), scur: at('scur'), stot: at('stot'), econ: at('econ'), eresp: at('eresp'), status: at('status'), act: at('act'), bck: at('bck'), req: at('req_tot'), type: at('type') };

/** A counter's digits as a number, without making a string of them; empty or not a number: 0. */
function num(buf: Buffer, from: Int32Array, to: Int32Array, w: number): number {
  let n = 0;
  for (let p = from[w]; p < to[w]; p++) {
    const c = buf[p];
    if (c < ZERO || c > NINE) return 0;
    n = n * 10 + (c - ZERO);
  }
  return n;
}

function toRow(buf: Buffer, from: Int32Array, to: Int32Array): StatRow | undefined {
  // type: 0 frontend, 1 backend, 2 server, 3 listener.
  const typeAt = from[I.type];
  if (to[I.type] - typeAt !== 1) return undefined;
  const type = buf[typeAt];
  if (type !== 49 /* 1 */ && type !== 50 /* 2 */) return undefined;
  const text = (w: number) => buf.toString('utf8', from[w], to[w]);
  return {
    proxy: text(I.px),
    name: text(I.sv),
    status: text(I.status),
    sessions: num(buf, from, to, I.scur),
    total: to[I.req] > from[I.req] ? num(buf, from, to, I.req) : num(buf, from, to, I.stot),
    errors: num(buf, from, to, I.econ) + num(buf, from, to, I.eresp),
    up: type === 49 ? num(buf, from, to, I.act) + num(buf, from, to, I.bck) : 0,
  };
}
