import { createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { readSecretText } from '../util/secret-text';

/** Where a `digest` identity's `user:password` comes from: never proxymgr.yml itself. */
export interface AuthSpec {
  scheme: 'digest';
  credentials_env?: string;
  credentials_file?: string;
}

/** ZooKeeper's digest id of `user:password`: `user:base64(sha1("user:password"))`, what ACLs name. */
export function digestId(userPassword: string): string {
  const user = userPassword.slice(0, userPassword.indexOf(':'));
  return `${user}:${createHash('sha1').update(userPassword, 'utf8').digest('base64')}`;
}

// Per process: session keys made from it say nothing outside it.
const KEY_SALT = randomBytes(16);

/**
 * A digest identity. The secret is in a private field and every way of printing the object
 * (JSON, util.inspect, template strings) shows the scheme and user only, so a log line or an
 * /api answer that carries one by mistake still holds no password.
 */
export class ZkCredentials {
  readonly scheme = 'digest';
  readonly #secret: string;

  private constructor(
    readonly user: string,
    secret: string,
  ) {
    this.#secret = secret;
  }

  /** Parses `user:password` (surrounding whitespace ignored). The error never holds the text. */
  static parse(text: string): { ok: true; value: ZkCredentials } | { ok: false; error: string } {
    const s = text.trim();
    const i = s.indexOf(':');
    if (i <= 0 || i === s.length - 1) return { ok: false, error: 'must hold user:password (one line)' };
    if (/[\r\n]/.test(s)) return { ok: false, error: 'must hold user:password on one line' };
    return { ok: true, value: new ZkCredentials(s.slice(0, i), s) };
  }

  /** What `addAuthInfo` sends. */
  authData(): Buffer {
    return Buffer.from(this.#secret, 'utf8');
  }

  /** `user:HASH`, the id a `digest` ACL entry names. */
  digestId(): string {
    return digestId(this.#secret);
  }

  /** Tells identities apart (session sharing, SIGHUP) without keeping or showing the secret. */
  key(): string {
    return createHash('sha256').update(KEY_SALT).update(this.#secret, 'utf8').digest('hex');
  }

  sameAs(other: ZkCredentials | undefined): boolean {
    return other !== undefined && other.key() === this.key();
  }

  toString(): string {
    return `digest user ${JSON.stringify(this.user)}`;
  }

  toJSON(): Record<string, string> {
    return { scheme: this.scheme, user: this.user };
  }

  [inspect.custom](): string {
    return `ZkCredentials(${this.toString()})`;
  }
}

/**
 * Reads the credentials an `auth` block names: the environment variable or the file
 * (relative to `baseDir`). Problems name where it looked, never what it found.
 */
export function readCredentials(spec: AuthSpec, baseDir: string, env: NodeJS.ProcessEnv): { ok: true; value: ZkCredentials } | { ok: false; error: string } {
  const read = readSecretText(spec, baseDir, env);
  if (!read.ok) return read;
  const parsed = ZkCredentials.parse(read.text);
  return parsed.ok ? parsed : { ok: false, error: `${read.where} ${parsed.error}` };
}
