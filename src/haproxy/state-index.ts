import { columnsOf, parseServersState, type ActualServer } from './state-parse';

const NL = 0x0a;
const SP = 0x20;
const HASH = 0x23;

/** Where one backend's server lines sit in a `show servers state` reply, and their digest. */
export interface BackendLines {
  digest: number;
  /** Byte range of its lines, from the first line's start to past the last line's newline. */
  from: number;
  to: number;
}

export interface ServersStateIndex {
  /** The `# be_id ...` header line. */
  header: string;
  backends: Map<string, BackendLines>;
}

/**
 * Indexes a whole `show servers state` reply by backend: a digest per backend, folded from exactly the fields
 * the runtime planner reads (server name, id, address, port, weight, admin state) of every
 * server line in order, and from nothing that moves on its own (time since the last
 * change, check results). Equal digests mean HAProxy runs that backend's servers as it did
 * when the digest was taken, so a drift pass can pass over a backend it already found in
 * line without parsing it or planning it.
 *
 * Walks the bytes: no string per line or field, only one per backend name. Two 32-bit
 * hashes (FNV-1a and a multiplicative one) make 53 bits: a drift that maps to the same
 * digest is a 1 in 2^53 chance per changed backend.
 */
export function indexServersState(bytes: Uint8Array): ServersStateIndex {
  const out = new Map<string, BackendLines>();
  const header = indexOf(bytes, '# be_id', 0);
  if (header < 0) return { header: '', backends: out };
  let eol = bytes.indexOf(NL, header);
  if (eol < 0) eol = bytes.length;
  const headerLine = Buffer.from(bytes.buffer, bytes.byteOffset + header, eol - header).toString('latin1');
  const c = columnsOf(headerLine);
  const wanted = new Uint8Array(c.last + 1);
  for (const k of [c.srv, c.id, c.addr, c.port, c.uw, c.admin]) if (k >= 0) wanted[k] = 1;

  let backend: string | undefined;
  let beFrom = -1;
  let beTo = -1;
  let h1 = 0;
  let h2 = 0;
  let from = 0;
  let to = 0;
  const flush = () => {
    if (backend === undefined) return;
    // HAProxy lists a backend's servers together; if one ever came in two runs, NaN equals nothing, so it is always checked.
    const seen = out.get(backend);
    out.set(backend, seen ? { digest: NaN, from: seen.from, to } : { digest: (h1 >>> 0) * 0x200000 + (h2 >>> 11), from, to });
  };
  let pos = eol + 1;
  while (pos < bytes.length) {
    let end = bytes.indexOf(NL, pos);
    if (end < 0) end = bytes.length;
    const line = pos;
    pos = end + 1;
    if (end === line || bytes[line] === HASH) continue;
    // The backend field's range on this line.
    let field = 0;
    let start = line;
    let lineBeFrom = -1;
    let lineBeTo = -1;
    for (let p = line; p <= end && field <= c.last; p++) {
      if (p < end && bytes[p] !== SP) continue;
      if (field === c.be) {
        lineBeFrom = start;
        lineBeTo = p;
        break;
      }
      field++;
      start = p + 1;
    }
    if (lineBeFrom < 0) continue;
    if (backend === undefined || !sameBytes(bytes, beFrom, beTo, lineBeFrom, lineBeTo)) {
      flush();
      backend = Buffer.from(bytes.buffer, bytes.byteOffset + lineBeFrom, lineBeTo - lineBeFrom).toString('utf8');
      beFrom = lineBeFrom;
      beTo = lineBeTo;
      h1 = 0x811c9dc5;
      h2 = 17;
      from = line;
    }
    to = Math.min(pos, bytes.length);
    // Fold the wanted fields, each followed by a separator so that "ab c" and "a bc" differ.
    field = 0;
    for (let p = line; p <= end && field <= c.last; p++) {
      const b = p < end ? bytes[p] : SP;
      if (b === SP) {
        if (wanted[field]) {
          h1 = Math.imul(h1 ^ SP, 0x01000193);
          h2 = (Math.imul(h2, 31) + SP) | 0;
        }
        field++;
        continue;
      }
      if (wanted[field]) {
        h1 = Math.imul(h1 ^ b, 0x01000193);
        h2 = (Math.imul(h2, 31) + b) | 0;
      }
    }
    // A line cut short (fewer fields than the header) still changes the digest.
    h1 = Math.imul(h1 ^ NL, 0x01000193);
    h2 = (Math.imul(h2, 31) + field) | 0;
  }
  flush();
  return { header: headerLine, backends: out };
}

/** One indexed backend's servers, parsed from its lines alone; undefined when the reply has none. */
export function serversIn(bytes: Uint8Array, index: ServersStateIndex, backend: string): ActualServer[] | undefined {
  const lines = index.backends.get(backend);
  if (!lines) return undefined;
  const body = Buffer.from(bytes.buffer, bytes.byteOffset + lines.from, lines.to - lines.from).toString('utf8');
  return parseServersState(`${index.header}\n${body}`).filter((s) => s.backend === backend);
}

function sameBytes(b: Uint8Array, aFrom: number, aTo: number, bFrom: number, bTo: number): boolean {
  if (aTo - aFrom !== bTo - bFrom) return false;
  for (let i = 0; i < aTo - aFrom; i++) if (b[aFrom + i] !== b[bFrom + i]) return false;
  return true;
}

function indexOf(bytes: Uint8Array, text: string, from: number): number {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(text, from, 'latin1');
}
