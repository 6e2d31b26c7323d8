import { createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { readSecretText, type SecretSource } from '../util/secret-text';

// Per process: keys made from it say nothing outside it.
const KEY_SALT = randomBytes(16);

/**
 * An etcd user and password (`user:password` in the file or variable). The password is in
 * a private field, and every way of printing the object shows the user only.
 */
export class EtcdCredentials {
  readonly #password: string;

  private constructor(
    readonly user: string,
    password: string,
  ) {
    this.#password = password;
  }

  /** Parses `user:password` (surrounding whitespace ignored). The error never holds the text. */
  static parse(text: string): { ok: true; value: EtcdCredentials } | { ok: false; error: string } {
    const s = text.trim();
    const i = s.indexOf(':');
    if (i <= 0 || i === s.length - 1) return { ok: false, error: 'must hold user:password (one line)' };
    if (/[\r\n]/.test(s)) return { ok: false, error: 'must hold user:password on one line' };
    return { ok: true, value: new EtcdCredentials(s.slice(0, i), s.slice(i + 1)) };
  }

  /** What the client library authenticates with. */
  clientAuth(): { username: string; password: string } {
    return { username: this.user, password: this.#password };
  }

  /** Tells identities apart (client sharing, SIGHUP) without keeping or showing the password. */
  key(): string {
    return createHash('sha256').update(KEY_SALT).update(`${this.user}\0${this.#password}`, 'utf8').digest('hex');
  }

  toString(): string {
    return `etcd user ${JSON.stringify(this.user)}`;
  }

  toJSON(): Record<string, string> {
    return { user: this.user };
  }

  [inspect.custom](): string {
    return `EtcdCredentials(${this.toString()})`;
  }
}

/** Reads the credentials an `auth` block names. Problems name where it looked, never what it found. */
export function readEtcdCredentials(spec: SecretSource, baseDir: string, env: NodeJS.ProcessEnv): { ok: true; value: EtcdCredentials } | { ok: false; error: string } {
  const read = readSecretText(spec, baseDir, env);
  if (!read.ok) return read;
  const parsed = EtcdCredentials.parse(read.text);
  return parsed.ok ? parsed : { ok: false, error: `${read.where} ${parsed.error}` };
}
