import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Config } from '../config/load';
import type { Logger } from '../log';

/** read: nothing mutating; operate: server state and weight; admin: operate + services. */
export type Role = 'read' | 'operate' | 'admin';

const RANK: Record<Role, number> = { read: 0, operate: 1, admin: 2 };

export function roleAllows(has: Role, need: Role): boolean {
  return RANK[has] >= RANK[need];
}

export interface ApiToken {
  name: string;
  secret: string;
  role: Role;
}

const MIN_LENGTH = 16;
const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The bearer tokens the API accepts. Never logs or returns a secret. */
export class TokenSet {
  private readonly entries: Array<{ name: string; role: Role; digest: Buffer }>;

  constructor(tokens: readonly ApiToken[]) {
    this.entries = tokens.map((t) => ({ name: t.name, role: t.role, digest: digest(t.secret) }));
  }

  get size(): number {
    return this.entries.length;
  }

  names(): string[] {
    return this.entries.map((e) => `${e.name} (${e.role})`);
  }

  /**
   * The token an `Authorization: Bearer ...` header carries, if any. Every known token is
   * compared, in constant time on equal-length digests, so timings say nothing about which
   * token or how much of it matched.
   */
  identify(authorization: string | undefined): { name: string; role: Role } | undefined {
    const m = /^Bearer (.+)$/.exec(authorization ?? '');
    if (!m) return undefined;
    const given = digest(m[1]);
    let found: { name: string; role: Role } | undefined;
    for (const e of this.entries) {
      if (timingSafeEqual(given, e.digest) && !found) found = { name: e.name, role: e.role };
    }
    return found;
  }
}

/**
 * The tokens `api` names: `token`/`token_env` as `default` (role admin), and each of `tokens`
 * read from its environment variable or file (relative to proxymgr.yml). A token that cannot
 * be read, is shorter than 16 characters or repeats another's value is left out (fail closed)
 * and reported by name; a problem never carries a token's value.
 */
export function resolveApiTokens(config: Config, env: NodeJS.ProcessEnv = process.env): { tokens: ApiToken[]; problems: string[] } {
  const api = config.api;
  const tokens: ApiToken[] = [];
  const problems: string[] = [];
  if (!api) return { tokens, problems };
  const add = (name: string, secret: string | undefined, role: Role, where: string): void => {
    let problem: string | undefined;
    if (secret === undefined || secret === '') problem = `${where} is not set or empty`;
    else if (secret.length < MIN_LENGTH) problem = `${where} holds fewer than ${MIN_LENGTH} characters`;
    else if (tokens.some((t) => t.name === name)) problem = 'the name is taken';
    else if (tokens.some((t) => t.secret === secret)) problem = 'same value as another token';
    if (problem !== undefined || secret === undefined) problems.push(`api token ${name}: ${problem}; token left out`);
    else tokens.push({ name, secret, role });
  };
  if (api.token !== undefined) add('default', api.token, 'admin', 'api.token');
  else if (api.token_env !== undefined) add('default', env[api.token_env], 'admin', `environment variable ${api.token_env}`);
  for (const t of api.tokens ?? []) {
    if (t.token_env !== undefined) {
      add(t.name, env[t.token_env], t.role, `environment variable ${t.token_env}`);
    } else if (t.token_file !== undefined) {
      const file = isAbsolute(t.token_file) ? t.token_file : resolve(dirname(config.file), t.token_file);
      let secret: string | undefined;
      try {
        secret = readFileSync(file, 'utf8').trim();
      } catch (err) {
        problems.push(`api token ${t.name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); token left out`);
        continue;
      }
      add(t.name, secret, t.role, `file ${file}`);
    }
  }
  return { tokens, problems };
}

/** `resolveApiTokens`, with its problems logged (warn) and a warning when no token is left. */
export function apiTokens(config: Config, log: Logger, env: NodeJS.ProcessEnv = process.env): TokenSet {
  const { tokens, problems } = resolveApiTokens(config, env);
  for (const p of problems) log.warn({ event: 'api_token_problem', problem: p }, p);
  if (!tokens.length) log.warn({ event: 'api_no_token' }, 'api: no token configured; mutating calls are refused');
  return new TokenSet(tokens);
}
