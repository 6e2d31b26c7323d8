import { isBrokenCircuitError } from 'cockatiel';
import { EtcdAuthenticationFailedError, EtcdPermissionDeniedError, isRecoverableError } from 'etcd3';
import { briefError } from '../etcd/client';
import { EtcdCredentials, readEtcdCredentials } from '../etcd/credentials';
import { describeEtcdTarget, type EtcdTarget } from '../etcd/target';
import { credentialsFromCli, hasCredentialsFromCli, type CredentialSources } from './cli-credentials';

/** A file holding `user:password` for the CLI commands against etcd (read when --auth-file is not given). */
export const ETCD_AUTH_FILE_ENV = 'PROXYMGR_ETCD_AUTH_FILE';
/** `user:password` itself (when neither --auth-file nor PROXYMGR_ETCD_AUTH_FILE is given). */
export const ETCD_AUTH_ENV = 'PROXYMGR_ETCD_AUTH';

const ETCD_SOURCES: CredentialSources<EtcdCredentials> = {
  fileEnv: ETCD_AUTH_FILE_ENV,
  valueEnv: ETCD_AUTH_ENV,
  readFile: (file, env) => readEtcdCredentials({ credentials_file: file }, process.cwd(), env),
  parse: (text) => EtcdCredentials.parse(text),
};

export interface EtcdCliFlags {
  authFile?: string;
}

/**
 * The credentials an etcd CLI command was given in place of proxymgr.yml's: `--auth-file`,
 * else $PROXYMGR_ETCD_AUTH_FILE, else $PROXYMGR_ETCD_AUTH; undefined when none (then
 * proxymgr.yml's apply). A platform operator writes as themselves, not as the sidecars' reader.
 */
export function etcdCliCredentials(flags: EtcdCliFlags, env: NodeJS.ProcessEnv): { ok: true; value?: EtcdCredentials } | { ok: false; error: string } {
  return credentialsFromCli(ETCD_SOURCES, flags, env);
}

/** The target a CLI command uses: proxymgr.yml's (or bare --etcd endpoints), with the command line's credentials in place of its own. */
export function etcdCliTarget(base: EtcdTarget, flags: EtcdCliFlags, env: NodeJS.ProcessEnv): { ok: true; target: EtcdTarget } | { ok: false; error: string } {
  const creds = etcdCliCredentials(flags, env);
  if (!creds.ok) return creds;
  return { ok: true, target: creds.value ? { ...base, auth: creds.value } : base };
}

/** Whether the command line brings its own etcd credentials, so that proxymgr.yml's need not be read. */
export function hasEtcdCliCredentials(flags: EtcdCliFlags, env: NodeJS.ProcessEnv): boolean {
  return hasCredentialsFromCli(ETCD_SOURCES, flags, env);
}

/**
 * An etcd failure for a CLI message: where (cluster and endpoints), which key, what etcd said,
 * and for a refusal as whom. Never a password: the credentials print as their user only.
 */
export function describeEtcdFailure(err: unknown, target: EtcdTarget, key: string, op: string): string {
  const as = target.auth ? `as ${target.auth.toString()}` : `without credentials (--auth-file, ${ETCD_AUTH_FILE_ENV} or ${ETCD_AUTH_ENV})`;
  let why = briefError(err);
  if (err instanceof EtcdPermissionDeniedError) why = `permission denied: cannot ${op} ${as}`;
  else if (err instanceof EtcdAuthenticationFailedError) why = `authentication failed ${as}: wrong user or password`;
  // The client skips a member for a second after failures in a row: that is etcd unreachable too.
  else if (isBrokenCircuitError(err)) why = 'unreachable (failed just before; tried again shortly)';
  else if (isRecoverableError(err as Error)) why = `unreachable (${why})`;
  return `${describeEtcdTarget(target)} ${key}: ${why}`;
}
