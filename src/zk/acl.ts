import { isIP } from 'node:net';

/**
 * One ACL entry as ZooKeeper stores it. `auth` with an empty id is ZooKeeper's "the
 * identities the creating session authenticated with" (spelled `creator` here): the server
 * replaces it with those identities when the znode is created.
 */
export interface AclEntry {
  scheme: 'world' | 'auth' | 'digest' | 'ip';
  id: string;
  /** ZooKeeper's permission bits: READ 1, WRITE 2, CREATE 4, DELETE 8, ADMIN 16. */
  perms: number;
}

// zkCli's letters, in the order zkCli prints them.
const LETTERS: Array<[string, number]> = [
  ['c', 4],
  ['d', 8],
  ['r', 1],
  ['w', 2],
  ['a', 16],
];
const ALL = 31;
const WORDS: Record<string, number> = { all: ALL, read: 1 };

/** A digest id's hash: base64 of a SHA-1 (20 bytes), what `proxymgr zk-digest` prints. */
const DIGEST_HASH = /^[A-Za-z0-9+/]{27}=$/;
const DIGEST_USER = /^[^:,\s]+$/;

export const ACL_SYNTAX =
  'comma-separated entries: world:anyone:PERMS, creator:PERMS (alias auth::PERMS), digest:USER:HASH:PERMS, ip:ADDR[/BITS]:PERMS; PERMS is all, read or letters of cdrwa';

/** The ACL for znodes proxymgr creates when none is configured: the writer may do everything and everyone may read, once it has credentials to be "the writer"; before that, what it always was. */
export function defaultAcl(authenticated: boolean): AclEntry[] {
  return authenticated
    ? [
        { scheme: 'auth', id: '', perms: ALL },
        { scheme: 'world', id: 'anyone', perms: 1 },
      ]
    : [{ scheme: 'world', id: 'anyone', perms: ALL }];
}

function parsePerms(text: string): number | undefined {
  if (Object.hasOwn(WORDS, text)) return WORDS[text];
  if (!/^[cdrwa]{1,5}$/.test(text)) return undefined;
  let perms = 0;
  for (const ch of text) {
    const bit = LETTERS.find(([l]) => l === ch)![1];
    if (perms & bit) return undefined;
    perms |= bit;
  }
  return perms;
}

export function formatPerms(perms: number): string {
  return LETTERS.filter(([, bit]) => perms & bit).map(([l]) => l).join('');
}

function ipProblem(id: string): string | undefined {
  const [addr, bits, ...rest] = id.split('/');
  const family = isIP(addr);
  if (!family || rest.length) return 'must be an IP address with an optional /BITS';
  if (bits === undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `/BITS must be 0..${max}`;
  return undefined;
}

/**
 * Parses an ACL spec (`digest:platform:HASH:all,world:anyone:read`, `creator:all`). Errors
 * name the entry by position and scheme, never by its text: a password typed where a hash
 * belongs must not reach a log line.
 */
export function parseAcl(spec: string): { ok: true; acl: AclEntry[] } | { ok: false; error: string } {
  const parts = spec.split(',');
  const acl: AclEntry[] = [];
  for (let i = 0; i < parts.length; i++) {
    const fail = (why: string) => ({ ok: false as const, error: `ACL entry ${i + 1}${scheme ? ` (${scheme})` : ''}: ${why}` });
    const part = parts[i].trim();
    const fields = part.split(':');
    const scheme = /^[a-z0-9]+$/.test(fields[0]) ? fields[0] : '';
    if (!part) return fail('empty');
    if (fields.length < 2) return fail(`expected SCHEME:ID:PERMS (${ACL_SYNTAX})`);
    const perms = parsePerms(fields[fields.length - 1]);
    if (perms === undefined) return fail('PERMS must be all, read or letters of cdrwa, each at most once');
    const id = fields.slice(1, -1).join(':');
    let entry: AclEntry;
    switch (scheme) {
      case 'world':
        if (id !== 'anyone') return fail('the only world id is anyone (world:anyone:PERMS)');
        entry = { scheme, id, perms };
        break;
      case 'creator':
      case 'auth':
        if (id !== '' || (scheme === 'auth' && fields.length !== 3)) return fail('takes no id (creator:PERMS or auth::PERMS)');
        entry = { scheme: 'auth', id: '', perms };
        break;
      case 'digest': {
        const [user, hash, ...more] = fields.slice(1, -1);
        if (user === undefined || !DIGEST_USER.test(user)) return fail('expected digest:USER:HASH:PERMS');
        // Never a password here: proxymgr.yml and command lines are not secret.
        if (hash === undefined || more.length || !DIGEST_HASH.test(hash)) return fail('expected digest:USER:HASH:PERMS, HASH being the 28-character base64 id `proxymgr zk-digest` prints (never a password)');
        entry = { scheme, id: `${user}:${hash}`, perms };
        break;
      }
      case 'ip': {
        const problem = ipProblem(id);
        if (problem) return fail(`ip:ADDR[/BITS]:PERMS: ${problem}`);
        entry = { scheme, id, perms };
        break;
      }
      default:
        return fail(`unknown scheme (${ACL_SYNTAX})`);
    }
    if (acl.some((e) => e.scheme === entry.scheme && e.id === entry.id)) return fail('names the same identity as an earlier entry');
    acl.push(entry);
  }
  return { ok: true, acl };
}

/** The spec of an ACL, canonical: zkCli's letters, `creator` for the creator's identities. */
export function formatAcl(acl: readonly AclEntry[]): string {
  return acl.map((e) => (e.scheme === 'auth' ? `creator:${formatPerms(e.perms)}` : `${e.scheme}:${e.id}:${formatPerms(e.perms)}`)).join(',');
}

/** True when creating with this ACL needs an authenticated session (ZooKeeper answers INVALID_ACL otherwise). */
export function needsCredentials(acl: readonly AclEntry[]): boolean {
  return acl.some((e) => e.scheme === 'auth');
}
