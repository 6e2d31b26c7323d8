import type { ActualServer } from '../model/actual';

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

/**
 * `show servers state [backend]` (format version 1): a version line, a `#` header,
 * then one line per server. Columns are looked up by the header's names.
 */
export function parseServersState(text: string): ActualServer[] {
  const lines = text.split('\n');
  const headerIdx = lines.findIndex((l) => l.startsWith('# be_id'));
  if (headerIdx < 0) return [];
  const cols = lines[headerIdx].slice(2).split(' ');
  const at = (name: string) => {
    const i = cols.indexOf(name);
    if (i < 0) throw new Error(`show servers state: no column ${name}`);
    return i;
  };
  const c = {
    be: at('be_name'),
    srv: at('srv_name'),
    addr: at('srv_addr'),
    op: at('srv_op_state'),
    admin: at('srv_admin_state'),
    uw: at('srv_uweight'),
    iw: at('srv_iweight'),
    port: at('srv_port'),
  };
  // Only `balance first` services need the id; a header without it leaves it unknown.
  const idCol = cols.indexOf('srv_id');
  // Split no further than the last column read: at 200,000 servers this parse is most of a drift pass.
  const last = Math.max(...Object.values(c), idCol);
  const out: ActualServer[] = [];
  for (let k = headerIdx + 1; k < lines.length; k++) {
    const line = lines[k];
    if (!line.trim() || line.startsWith('#')) continue;
    const f = line.split(' ', last + 1);
    if (f.length <= last) continue;
    const admin = Number(f[c.admin]);
    out.push({
      backend: f[c.be],
      name: f[c.srv],
      ...(idCol >= 0 && { id: Number(f[idCol]) }),
      address: f[c.addr],
      port: Number(f[c.port]),
      weight: Number(f[c.uw]),
      initialWeight: Number(f[c.iw]),
      maint: (admin & MAINT_MASK) !== 0,
      drain: (admin & DRAIN_MASK) !== 0,
      opState: Number(f[c.op]),
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
