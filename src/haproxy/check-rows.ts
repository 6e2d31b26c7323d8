import type { CheckReading } from '../plan/sticky-offline';

/** One server row of `show stat`: its name and the health-check fields sticky_offline reads. */
export interface CheckRow extends CheckReading {
  server: string;
}

const WANTED = ['svname', 'status', 'chkfail', 'chkdown', 'check_status', 'last_chk', 'check_desc'] as const;

/**
 * The server rows of a `show stat <backend> 4 -1` reply, reduced to their check fields.
 * Pure. A row has about 100 columns; only the wanted ones are cut out (walking to each
 * comma), so reading 100 backends of 20 servers every second does not make 130,000
 * strings a second of columns nobody reads.
 */
export function parseCheckRows(text: string): CheckRow[] {
  const h = text.indexOf('# ');
  if (h < 0) return [];
  let eol = text.indexOf('\n', h);
  if (eol < 0) eol = text.length;
  const names = text.slice(h + 2, eol).split(',');
  const at = WANTED.map((w) => names.indexOf(w));
  if (at.some((i) => i < 0)) return [];
  const last = Math.max(...at);
  const slot = new Int8Array(last + 1).fill(-1);
  at.forEach((col, k) => (slot[col] = k));
  const field: string[] = new Array<string>(WANTED.length);
  const out: CheckRow[] = [];
  let pos = eol + 1;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const line = pos;
    pos = end + 1;
    if (end === line || text.charCodeAt(line) === 35 /* # */) continue;
    field.fill('');
    let start = line;
    let col = 0;
    for (; col <= last && start <= end; col++) {
      let comma = text.indexOf(',', start);
      if (comma < 0 || comma > end) comma = end;
      if (slot[col] >= 0) field[slot[col]] = text.slice(start, comma);
      start = comma + 1;
    }
    if (col <= last) continue;
    const [server, status, chkfail, chkdown, checkStatus, lastChk, checkDesc] = field;
    out.push({ server, status, chkfail: Number(chkfail) || 0, chkdown: Number(chkdown) || 0, checkStatus, checkText: lastChk || checkDesc });
  }
  return out;
}
