import { parseAcl, needsCredentials } from '../zk/acl';
import { readCredentials, ZkCredentials } from '../zk/auth';
import { withCredentials } from '../zk/ensembles';
import type { ZkTarget } from '../zk/target';
import { credentialsFromCli, hasCredentialsFromCli, type CredentialSources } from './cli-credentials';

/** A file holding `user:password` for the CLI commands (read when --auth-file is not given). */
export const AUTH_FILE_ENV = 'PROXYMGR_ZK_AUTH_FILE';
/** `user:password` itself, for the CLI commands (when neither --auth-file nor PROXYMGR_ZK_AUTH_FILE is given). */
export const AUTH_ENV = 'PROXYMGR_ZK_AUTH';

const ZK_SOURCES: CredentialSources<ZkCredentials> = {
  fileEnv: AUTH_FILE_ENV,
  valueEnv: AUTH_ENV,
  readFile: (file, env) => readCredentials({ scheme: 'digest', credentials_file: file }, process.cwd(), env),
  parse: (text) => ZkCredentials.parse(text),
};

export interface ZkCliFlags {
  authFile?: string;
  acl?: string;
}

/**
 * The credentials a CLI command was given in place of proxymgr.yml's: `--auth-file`, else
 * $PROXYMGR_ZK_AUTH_FILE, else $PROXYMGR_ZK_AUTH; undefined when none (proxymgr.yml's apply).
 * A platform operator's `service put` uses their own identity, not the sidecars' read-only one.
 */
export function cliCredentials(flags: ZkCliFlags, env: NodeJS.ProcessEnv): { ok: true; value?: ZkCredentials } | { ok: false; error: string } {
  return credentialsFromCli(ZK_SOURCES, flags, env);
}

/**
 * The target a CLI command uses: proxymgr.yml's (or a bare --zk), with the credentials and
 * ACL given on the command line in place of its own. Errors name the flag.
 */
export function cliTarget(base: ZkTarget, flags: ZkCliFlags, env: NodeJS.ProcessEnv): { ok: true; target: ZkTarget } | { ok: false; error: string } {
  const creds = cliCredentials(flags, env);
  if (!creds.ok) return creds;
  let target = creds.value ? withCredentials(base, creds.value) : base;
  if (flags.acl !== undefined) {
    const parsed = parseAcl(flags.acl);
    if (!parsed.ok) return { ok: false, error: `--acl: ${parsed.error}` };
    target = { ...target, acl: parsed.acl, aclConfigured: true };
  }
  if (needsCredentials(target.acl) && !target.auth) return { ok: false, error: `--acl: creator needs credentials (--auth-file, ${AUTH_FILE_ENV} or ${AUTH_ENV})` };
  return { ok: true, target };
}

/** Whether the command line brings its own credentials, so that proxymgr.yml's need not be read. */
export function hasCliCredentials(flags: ZkCliFlags, env: NodeJS.ProcessEnv): boolean {
  return hasCredentialsFromCli(ZK_SOURCES, flags, env);
}
