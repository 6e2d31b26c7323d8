type Read<C> = { ok: true; value: C } | { ok: false; error: string };

/** Where a registry's CLI credentials may come from: the two environment variables and how each is read. */
export interface CredentialSources<C> {
  /** Names a file holding `user:password` (read when --auth-file is not given). */
  fileEnv: string;
  /** Holds `user:password` itself (when neither --auth-file nor `fileEnv` is given). */
  valueEnv: string;
  readFile(file: string, env: NodeJS.ProcessEnv): Read<C>;
  parse(text: string): Read<C>;
}

/**
 * The credentials a CLI command was given in place of proxymgr.yml's: `--auth-file`, else
 * the file `fileEnv` names, else `valueEnv`; undefined when none (proxymgr.yml's apply).
 * The same order for ZooKeeper and etcd; errors name the flag or variable.
 */
export function credentialsFromCli<C>(src: CredentialSources<C>, flags: { authFile?: string }, env: NodeJS.ProcessEnv): { ok: true; value?: C } | { ok: false; error: string } {
  const file = flags.authFile ?? (env[src.fileEnv] || undefined);
  if (file !== undefined) {
    const r = src.readFile(file, env);
    return r.ok ? r : { ok: false, error: `${flags.authFile !== undefined ? '--auth-file' : src.fileEnv}: ${r.error}` };
  }
  const value = env[src.valueEnv];
  if (value) {
    const r = src.parse(value);
    return r.ok ? r : { ok: false, error: `${src.valueEnv} ${r.error}` };
  }
  return { ok: true };
}

/** Whether the command line or environment brings credentials (then proxymgr.yml's are not read at all). */
export function hasCredentialsFromCli(src: CredentialSources<unknown>, flags: { authFile?: string }, env: NodeJS.ProcessEnv): boolean {
  return flags.authFile !== undefined || !!env[src.fileEnv] || !!env[src.valueEnv];
}
