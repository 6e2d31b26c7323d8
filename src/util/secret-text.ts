import { readFileSync } from 'node:fs';

/** Where a secret comes from: an environment variable or a file, never proxymgr.yml itself. */
export interface SecretSource {
  credentials_env?: string;
  credentials_file?: string;
}

/**
 * Reads the text a `credentials_env` or `credentials_file` names (a relative file against
 * `baseDir`). `where` says where it looked, for messages; errors never hold what was found.
 */
export function readSecretText(spec: SecretSource, baseDir: string, env: NodeJS.ProcessEnv): { ok: true; text: string; where: string } | { ok: false; error: string } {
  if (spec.credentials_env !== undefined) {
    const where = `environment variable ${spec.credentials_env}`;
    const text = env[spec.credentials_env];
    if (text === undefined || text.trim() === '') return { ok: false, error: `${where} is not set or empty` };
    return { ok: true, text, where };
  }
  if (spec.credentials_file !== undefined) {
    const file = spec.credentials_file.startsWith('/') ? spec.credentials_file : `${baseDir}/${spec.credentials_file}`;
    const where = `file ${file}`;
    try {
      return { ok: true, text: readFileSync(file, 'utf8'), where };
    } catch (err) {
      return { ok: false, error: `cannot read ${where} (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
    }
  }
  return { ok: false, error: 'needs credentials_env or credentials_file' };
}
