import type { ActualServer } from '../model/actual';
import { PLACEHOLDER_SERVER } from '../model/server';

export type { ActualServer };

/** Parsers for HAProxy runtime API replies. Pure: text in, records out. */

/** HAProxy 2.6 SRV_ADMF_* bits of `srv_admin_state`. */
export const ADMIN = {
  FMAINT: 0x01, // forced by the CLI
  IMAINT: 0x02, // inherited from a tracked server
  CMAINT: 0x04, // `disabled` in the config
  FDRAIN: 0x08,
  IDRAIN: 0x10,
  RMAINT: 0x20, // DNS resolution failed
  FQDN_SET: 0x40, // FQDN set from the CLI; not a maintenance state
} as const;
// HAProxy's own SRV_ADMF_MAINT: CMAINT only records `disabled` in the config and stays
// set after `state ready`, so it must not count as maintenance.
const MAINT_MASK = ADMIN.FMAINT | ADMIN.IMAINT | ADMIN.RMAINT;
const DRAIN_MASK = ADMIN.FDRAIN | ADMIN.IDRAIN;

/** Column positions of a `show servers state` header, parsed once per distinct header (a drift pass reads 1,000 replies with the same one). */
export interface StateColumns {
  be: number;
  srv: number;
  addr: number;
  op: number;
  admin: number;
  uw: number;
  iw: number;
  port: number;
  /** -1 when the header has no srv_id. */
  id: number;
  last: number;
}
const headers = new Map<string, StateColumns>();

export function columnsOf(header: string): StateColumns {
  const known = headers.get(header);
  if (known) return known;
  const cols = header.slice(2).split(' ');
  const at = (name: string) => {
    const i = cols.indexOf(name);
    if (i < 0) throw new Error(`show servers state: no column ${name}`);
    return i;
  };
  const c = { be: at('be_name'), srv: at('srv_name'), addr: at('srv_addr'), op: at('srv_op_state'), admin: at('srv_admin_state'), uw: at('srv_uweight'), iw: at('srv_iweight'), port: at('srv_port'), id: cols.indexOf('srv_id'), last: 0 };
  c.last = Math.max(c.be, c.srv, c.addr, c.op, c.admin, c.uw, c.iw, c.port, c.id);
  if (headers.size > 16) headers.clear();
  headers.set(header, c);
  return c;
}

/**
 * `show servers state [backend]` (format version 1): a version line, a `#` header,
 * then one line per server. Columns are looked up by the header's names. Each line is
 * walked to its last column read and only the wanted fields are cut out: at 20,000
 * servers a drift pass is mostly this parse and the garbage it leaves.
 */
export function parseServersState(text: string): ActualServer[] {
  const h = text.indexOf('# be_id');
  if (h < 0) return [];
  let eol = text.indexOf('\n', h);
  if (eol < 0) eol = text.length;
  const c = columnsOf(text.slice(h, eol));
  const out: ActualServer[] = [];
  const from = new Int32Array(c.last + 1);
  const to = new Int32Array(c.last + 1);
  let pos = eol + 1;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const line = pos;
    pos = end + 1;
    if (end === line || text.charCodeAt(line) === 35 /* # */) continue;
    let start = line;
    let i = 0;
    for (; i <= c.last && start <= end; i++) {
      let sp = text.indexOf(' ', start);
      if (sp < 0 || sp > end) sp = end;
      from[i] = start;
      to[i] = sp;
      start = sp + 1;
    }
    if (i <= c.last) continue;
    const str = (k: number) => text.slice(from[k], to[k]);
    const int = (k: number) => {
      let n = 0;
      for (let p = from[k]; p < to[k]; p++) {
        const d = text.charCodeAt(p) - 48;
        // Not a plain number (a sign, a dash): what Number makes of it.
        if (d < 0 || d > 9) return Number(str(k));
        n = n * 10 + d;
      }
      return to[k] > from[k] ? n : Number('');
    };
    const name = str(c.srv);
    if (name === PLACEHOLDER_SERVER) continue;
    const admin = int(c.admin);
    out.push({
      backend: str(c.be),
      name,
      ...(c.id >= 0 && { id: int(c.id) }),
      address: str(c.addr),
      port: int(c.port),
      weight: int(c.uw),
      initialWeight: int(c.iw),
      maint: (admin & MAINT_MASK) !== 0,
      drain: (admin & DRAIN_MASK) !== 0,
      opState: int(c.op),
      adminState: admin,
    });
  }
  return out;
}

/** `show info` as key/value pairs. */
export function parseInfo(text: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const idx = line.indexOf(': ');
    if (idx > 0) info[line.slice(0, idx)] = line.slice(idx + 2);
  }
  return info;
}

/**
 * `show stat` CSV: one record per row, keyed by the header's column names; with `only`,
 * just those columns. At 20,000 servers the full record (about 100 columns a row) cost
 * most of an idle agent's CPU when sampled every 2 s.
 */
export function parseStat(text: string, only?: readonly string[]): Array<Record<string, string>> {
  const lines = text.split('\n');
  const header = lines.find((l) => l.startsWith('# '));
  if (!header) return [];
  const all = header.slice(2).split(',');
  const cols = all.map((name, i) => [name, i] as const).filter(([name]) => name && (!only || only.includes(name)));
  // Split no further than the last column wanted.
  const limit = cols.length ? cols[cols.length - 1][1] + 1 : 0;
  const out: Array<Record<string, string>> = [];
  for (const l of lines) {
    if (l.length === 0 || l.startsWith('#')) continue;
    const f = l.split(',', limit);
    const rec: Record<string, string> = {};
    for (const [name, i] of cols) rec[name] = f[i] ?? '';
    out.push(rec);
  }
  return out;
}

/**
 * Splits a reply to `set severity-output number` mode: `[N]: message`, where N is
 * a syslog severity. 0..3 are errors; an empty reply is success.
 */
export function replySeverity(output: string): { severity?: number; message: string } {
  const m = /^\[(\d)\]: ?([\s\S]*)$/.exec(output.trim());
  if (!m) return { message: output.trim() };
  return { severity: Number(m[1]), message: m[2].trim() };
}
