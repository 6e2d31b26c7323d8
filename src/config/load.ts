import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import yaml from 'js-yaml';
import { configSchema, type RawConfig } from './schema';
import { formatIssues, PARSE_OPTIONS } from '../model/fields';
import { resolveZk } from '../zk/ensembles';
import type { ZkDirectory } from '../zk/target';
import { resolveEtcd } from '../etcd/clusters';
import type { EtcdDirectory } from '../etcd/target';
import { loadApiTls, type ApiTlsMaterial } from '../api/tls';

/**
 * proxymgr.yml, validated, with every relative path resolved against the file's directory.
 * `zk` holds the ZooKeeper ensembles with their credentials read (they print as names only);
 * `apiTls` the API's certificate and key as read from `api.tls` (it prints as file names only).
 */
export type Config = RawConfig & { file: string; haproxy: RawConfig['haproxy'] & { state_file: string; overrides_file: string }; zk: ZkDirectory; etcdDir: EtcdDirectory; apiTls?: ApiTlsMaterial };

export interface LoadOptions {
  /** Where credentials_env variables are read. */
  env?: NodeJS.ProcessEnv;
  /** False: ZooKeeper credentials are not read (a CLI command that was given its own). */
  zkCredentials?: boolean;
  /** False: etcd credentials are not read (a CLI command that was given its own). */
  etcdCredentials?: boolean;
  /** False: `api.tls`'s files are not read (a command that serves no API, run by someone who may not read the key). */
  apiTls?: boolean;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(file: string, opts: LoadOptions = {}): Config {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read: ${(err as Error).message}`]);
  }
  return parseConfig(text, path, opts);
}

export function parseConfig(text: string, path: string, opts: LoadOptions = {}): Config {
  let raw: unknown;
  try {
    raw = yaml.load(text, { filename: path });
  } catch (err) {
    throw new ConfigError(path, [`invalid YAML: ${(err as Error).message}`]);
  }
  const result = configSchema.safeParse(raw ?? {}, PARSE_OPTIONS);
  if (!result.success) throw new ConfigError(path, formatIssues(result.error.issues));
  const cfg = result.data;
  const base = dirname(path);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const socketPath = abs(cfg.haproxy.socket_path);
  const configPath = abs(cfg.haproxy.config_path);
  const stateFile = cfg.haproxy.state_file === undefined ? join(dirname(configPath), 'server-state') : abs(cfg.haproxy.state_file);
  const overridesFile = cfg.haproxy.overrides_file === undefined ? join(dirname(socketPath), 'overrides.json') : abs(cfg.haproxy.overrides_file);
  const late: string[] = [];
  // Both land in haproxy.cfg, resolved. sun_path holds 108 bytes and HAProxy binds
  // "<path>.<pid>.tmp" first, so leave it room.
  if (Buffer.byteLength(socketPath) > 90) late.push(`haproxy.socket_path: resolves to ${socketPath}, longer than 90 bytes (unix socket limit)`);
  for (const [key, p] of [['haproxy.socket_path', socketPath], ['haproxy.config_path', configPath], ['haproxy.state_file', stateFile], ['haproxy.overrides_file', overridesFile]]) {
    if (/\s/.test(p)) late.push(`${key}: resolves to ${JSON.stringify(p)}, which contains whitespace`);
  }
  // Credentials are read here, so a missing file or variable stops a start or a SIGHUP by name.
  const zk = resolveZk(cfg.zookeeper.ensembles, cfg.service_config, { baseDir: base, env: opts.env ?? process.env, credentials: opts.zkCredentials });
  late.push(...zk.problems);
  const etcd = resolveEtcd(cfg.etcd.clusters, cfg.service_config, { baseDir: base, env: opts.env ?? process.env, credentials: opts.etcdCredentials });
  late.push(...etcd.problems);
  // The API's certificate and key too: a missing file or a key that is not the certificate's stops a start or a SIGHUP (which keeps the served ones).
  const tlsFiles = cfg.api?.tls && {
    cert_file: abs(cfg.api.tls.cert_file),
    key_file: abs(cfg.api.tls.key_file),
    ...(cfg.api.tls.client_ca_file !== undefined && { client_ca_file: abs(cfg.api.tls.client_ca_file) }),
  };
  const apiTls = tlsFiles && opts.apiTls !== false ? loadApiTls(tlsFiles) : undefined;
  late.push(...(apiTls?.problems ?? []));
  if (late.length) throw new ConfigError(path, late);
  return {
    ...cfg,
    file: path,
    haproxy: {
      ...cfg.haproxy,
      path: cfg.haproxy.path.includes('/') ? abs(cfg.haproxy.path) : cfg.haproxy.path,
      config_path: configPath,
      socket_path: socketPath,
      state_file: stateFile,
      overrides_file: overridesFile,
      template_dir: cfg.haproxy.template_dir === undefined ? undefined : abs(cfg.haproxy.template_dir),
    },
    snapshot: cfg.snapshot && { ...cfg.snapshot, path: abs(cfg.snapshot.path) },
    api: cfg.api && { ...cfg.api, tls: tlsFiles },
    apiTls: apiTls?.material,
    service_config: cfg.service_config.type === 'file' ? { ...cfg.service_config, path: abs(cfg.service_config.path) } : cfg.service_config,
    zk: zk.directory,
    etcdDir: etcd.directory,
  };
}
