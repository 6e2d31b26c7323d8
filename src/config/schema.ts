import { z } from 'zod';
import { isIP } from 'node:net';
import { configText, nameserver } from '../model/fields';
import { canonicalHost } from '../model/server';
import { parseAcl } from '../zk/acl';
import { ensembleName, zkConnectString, znodePath } from '../zk/fields';
import { clusterName, etcdEndpoints, etcdPrefix } from '../etcd/fields';

/** A path that is written into haproxy.cfg: no whitespace, so it needs no quoting. */
const cfgPath = configText.min(1).regex(/^\S+$/, 'must not contain whitespace');

// A bare number is milliseconds, as in HAProxy itself.
const duration = z.preprocess(
  (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? `${v}ms` : v),
  z.string('must be an HAProxy time such as 500ms, 30s or 5m').regex(/^\d+(us|ms|s|m|h|d)?$/, 'must be an HAProxy time such as 500ms, 30s or 5m'),
);

const ms = (def: number, max: number) => z.int('must be an integer (milliseconds)').min(0).max(max).default(def);

export const DEFAULT_GLOBAL = ['maxconn 4096'];
export const DEFAULT_DEFAULTS = [
  'mode tcp',
  'balance roundrobin',
  'maxconn 2000',
  'retries 3',
  'option redispatch',
  'timeout connect 5s',
  'timeout client 1m',
  'timeout server 1m',
];

const haproxy = z.strictObject({
  /** The HAProxy binary: a bare name is looked up on PATH, anything with a slash is a path. */
  path: z.string().min(1).default('haproxy'),
  config_path: cfgPath.default('/etc/haproxy/haproxy.cfg'),
  // sun_path holds 108 bytes; leave room for HAProxy's temporary ".<pid>.tmp" suffix.
  socket_path: cfgPath.max(90, 'must be at most 90 characters (unix socket path limit)').default('/run/proxymgr/admin.sock'),
  /** IPv4 or IPv6 (`::1`, `::` for every address); rendered `[v6]:port`. One spelling, so a respelling is no settings change. */
  bind_address: z
    .string()
    .refine((a) => isIP(a) !== 0, 'must be an IP address')
    // A zone id (fe80::1%eth0) names an interface of this host only; not worth a special case.
    .refine((a) => !a.includes('%'), 'must not have a zone id (%...)')
    .transform(canonicalHost)
    .default('127.0.0.1'),
  template_dir: z.string().min(1).optional(),
  global: z.array(configText).default(DEFAULT_GLOBAL),
  defaults: z.array(configText).default(DEFAULT_DEFAULTS),
  hard_stop_after: duration.default('5m'),
  /** The account HAProxy drops to after binding (global user/group); default when run as root: haproxy, else nobody. false keeps root. */
  user: z.union([z.literal(false), z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a user name')]).optional(),
  group: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a group name').optional(),
  /** Where server states (weights, maint, health) are saved across reloads; default: beside config_path. */
  state_file: cfgPath.optional(),
  /** Where operators' server overrides (API state and weight) are kept across agent restarts; default: overrides.json beside socket_path. */
  overrides_file: cfgPath.optional(),
  /** IP:port of a `frontend` serving HAProxy's own Prometheus exporter at /metrics; unset: none. */
  prometheus_listen: z.string().regex(/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):\d{1,5}$/, 'must be IP:port').optional(),
  /** How long a new HAProxy process may take to answer on its admin socket. */
  ready_timeout_ms: ms(10_000, 600_000),
  /** How long HAProxy gets to finish connections on agent shutdown before SIGKILL. */
  stop_timeout_ms: ms(10_000, 600_000),
  /** How long HAProxy may leave its admin socket unanswered (wedged, stopped) before a new process replaces it. */
  unresponsive_replace_ms: ms(10_000, 3_600_000),
});

const reload = z.strictObject({
  /** A reload waits for this much quiet after the last change... */
  quiet_ms: ms(100, 60_000),
  /** ...but never longer than this after the first one, so churn cannot starve it. */
  max_wait_ms: ms(1_000, 600_000),
  /** Minimum time between the starts of two reloads... */
  min_interval_ms: ms(1_000, 600_000),
  /** ...plus up to this much at random, so a fleet of sidecars does not reload in step. */
  jitter_ms: ms(250, 600_000),
});

const runtime = z.strictObject({
  /** false: every change, servers included, goes through a reload (the ProxyMgr way; the benchmark's baseline). */
  enabled: z.boolean().default(true),
  /** A removed server drains this long (no new connections, persistent ones still served) before it is deleted; 0 puts it in maint at once. */
  drain_ms: ms(0, 3_600_000),
  /** How often HAProxy's servers are compared with the desired ones and repaired. 0 turns it off. */
  drift_interval_ms: ms(30_000, 3_600_000),
  /** Timeout of one runtime API exchange. */
  timeout_ms: ms(5_000, 600_000),
  /**
   * How often the servers of `sticky_offline` services are read (one `show stat` per such
   * backend, none when there is no such service) to catch a server its check marks down.
   * Keep it below `rise` x `inter` of those services, so a server cannot come back in between.
   */
  sticky_offline_interval_ms: z.int('must be an integer (milliseconds)').min(100).max(60_000).default(1_000),
});

const fileServiceConfig = z.strictObject({
  type: z.literal('file'),
  /** A directory: each NAME.json, NAME.yaml or NAME.yml in it is one service. */
  path: z.string().min(1),
});

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

/** ZooKeeper credentials: `user:password` from an environment variable or a file, never written here. */
const zkAuth = z
  .strictObject({
    scheme: z.literal('digest', 'must be digest'),
    credentials_env: envName.optional(),
    /** Relative to proxymgr.yml; surrounding whitespace (the trailing newline) ignored. */
    credentials_file: z.string().min(1).optional(),
  })
  .refine((a) => (a.credentials_env === undefined) !== (a.credentials_file === undefined), 'needs exactly one of credentials_env, credentials_file');

/** The ACL of the znodes proxymgr creates (`service put`, the API's writes, `register`), parents included. */
const zkAcl = z.string().superRefine((spec, ctx) => {
  const parsed = parseAcl(spec);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.error });
});

/** TLS to ZooKeeper's secureClientPort (docs/zookeeper-tls.md); files relative to proxymgr.yml. */
const zkTls = z
  .strictObject({
    /** PEM CA(s) the server certificate must chain to (replaces the system CAs). */
    ca_file: z.string().min(1),
    /** PEM client certificate and key, for ssl.clientAuth=need: both or neither. */
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
    /** The name the server certificate must carry, when it is not the connect-string host. */
    servername: z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, 'must be a host name').optional(),
  })
  .refine((t) => (t.cert_file === undefined) === (t.key_file === undefined), 'cert_file and key_file go together');

const zkEnsemble = z.strictObject({
  /** host:port[,host:port...][/chroot] */
  servers: zkConnectString,
  auth: zkAuth.optional(),
  tls: zkTls.optional(),
  acl: zkAcl.optional(),
});

const zookeeper = z.strictObject({
  /** Named ensembles: the service-config source and watcher blobs name one instead of repeating servers and credentials. */
  ensembles: z.record(ensembleName, zkEnsemble).default({}),
});

const zookeeperServiceConfig = z.strictObject({
  type: z.literal('zookeeper'),
  /** The connection string, host:port[,host:port...][/chroot]; or name an ensemble. */
  servers: zkConnectString.optional(),
  ensemble: ensembleName.optional(),
  /** A znode whose children are the services. */
  path: znodePath,
  /** With `servers` only (an ensemble has its own). */
  auth: zkAuth.optional(),
  tls: zkTls.optional(),
  acl: zkAcl.optional(),
});

/** etcd credentials: `user:password` from an environment variable or a file, never written here. */
const etcdAuth = z
  .strictObject({
    credentials_env: envName.optional(),
    /** Relative to proxymgr.yml; surrounding whitespace (the trailing newline) ignored. */
    credentials_file: z.string().min(1).optional(),
  })
  .refine((a) => (a.credentials_env === undefined) !== (a.credentials_file === undefined), 'needs exactly one of credentials_env, credentials_file');

/** TLS to etcd's client URLs (docs/etcd.md); files relative to proxymgr.yml. Endpoints without a scheme become https://. */
const etcdTls = z
  .strictObject({
    /** PEM CA(s) the members' certificates must chain to. */
    ca_file: z.string().min(1),
    /** PEM client certificate and key, for --client-cert-auth: both or neither. */
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
  })
  .refine((t) => (t.cert_file === undefined) === (t.key_file === undefined), 'cert_file and key_file go together');

const etcdCluster = z.strictObject({
  /** host:port, http://host:port or https://host:port; a list or one comma-separated string. */
  endpoints: etcdEndpoints,
  auth: etcdAuth.optional(),
  tls: etcdTls.optional(),
});

const etcd = z.strictObject({
  /** Named clusters: the service-config source and watcher blobs name one instead of repeating endpoints and credentials. */
  clusters: z.record(clusterName, etcdCluster).default({}),
});

const etcdServiceConfig = z.strictObject({
  type: z.literal('etcd'),
  /** The endpoints; or name a cluster. */
  endpoints: etcdEndpoints.optional(),
  cluster: clusterName.optional(),
  /** Each key under `prefix/` is a service named after the key's last segment, its value the blob (JSON). */
  prefix: etcdPrefix,
  /** With `endpoints` only (a cluster has its own). */
  auth: etcdAuth.optional(),
  tls: etcdTls.optional(),
});

const serviceConfig = z.discriminatedUnion('type', [fileServiceConfig, zookeeperServiceConfig, etcdServiceConfig], {
  error: (iss) => (iss.code === 'invalid_union' ? 'type must be one of: file, zookeeper, etcd' : undefined),
});

const dns = z.strictObject({
  /** Default resolvers for `dns` watchers that name none (IP[:port]); unset: the system's. */
  nameservers: z.array(nameserver).max(8).optional(),
});

/** PEM files, relative to proxymgr.yml; read and checked at load and on every SIGHUP (src/api/tls.ts). */
const apiTls = z.strictObject({
  /** The server certificate, optionally followed by its chain. */
  cert_file: z.string().min(1),
  /** Its private key (not encrypted). */
  key_file: z.string().min(1),
  /** CA(s) that sign the clients' certificates: set, every connection must present one (mutual TLS). */
  client_ca_file: z.string().min(1).optional(),
});

const api = z.strictObject({
  /** host:port; loopback by default so that nothing outside the host can reach it. */
  listen: z.string().regex(/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]|localhost):\d{1,5}$/, 'must be IP:port').default('127.0.0.1:8787'),
  /** Bearer token for mutating calls; or name an environment variable with token_env. Without either they are refused. */
  token: z.string().min(16, 'must be at least 16 characters').optional(),
  token_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(),
  /** Named tokens, each with a role: read (nothing mutating), operate (server state and weight), admin (operate + services). */
  tokens: z
    .array(
      z
        .strictObject({
          name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, _ . -'),
          token_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
          token_file: z.string().min(1).optional(),
          role: z.enum(['read', 'operate', 'admin']),
        })
        .refine((t) => (t.token_env === undefined) !== (t.token_file === undefined), 'needs exactly one of token_env, token_file'),
    )
    .refine((ts) => new Set(ts.map((t) => t.name)).size === ts.length, 'token names must be unique')
    .optional(),
  /** While a dashboard tab is open, how often the backends' counters (and expanded services' servers) are read. */
  stats_interval_ms: z.int().min(100).max(60_000).default(2_000),
  /** At most this many servers keep a history (7.6 KiB each); the longest idle gives its history up first. */
  history_max_servers: z.int().min(0).max(1_000_000).default(4_000),
  /** HTTPS only (TLS 1.2 or later); with client_ca_file, clients must also present a certificate that CA signed. */
  tls: apiTls.optional(),
});

/** A service name, or a pattern with `*` for any run of characters. */
const servicePattern = z.string().regex(/^[A-Za-z0-9_.*-]+$/, 'must be a service name or a pattern with *');

const status = z.strictObject({
  /** A watcher's source (ZooKeeper, DNS, a file) may be unreadable this long before its service counts as in error. */
  source_grace_ms: ms(30_000, 86_400_000),
  /** Named groups of services for `/status?view=NAME`. */
  views: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'view names: letters, digits, _ . -'), z.array(servicePattern).min(1)).default({}),
});

const statsd = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.int().min(1).max(65535).default(8125),
  /** Prepended to every metric name. */
  prefix: z.string().regex(/^[A-Za-z0-9_.-]*$/).default('proxymgr.'),
  /** How often the gauges (services, servers) are sent. */
  interval_ms: ms(10_000, 3_600_000),
});

export const configSchema = z.strictObject({
  dns: dns.default({}),
  /** The HTTP API: /status, /metrics, /api/services. Off unless configured. */
  api: api.optional(),
  /** The /api/services JSON, rewritten atomically every interval_ms, so a crashed agent leaves its last view behind. */
  snapshot: z.strictObject({ path: z.string().min(1), interval_ms: z.int().min(100).max(3_600_000).default(5_000) }).optional(),
  status: status.default(() => status.parse({})),
  /** Optional: counters and timings pushed to a statsd daemon as well. */
  statsd: statsd.optional(),
  haproxy: haproxy.default(() => haproxy.parse({})),
  reload: reload.default(() => reload.parse({})),
  runtime: runtime.default(() => runtime.parse({})),
  service_config: serviceConfig,
  /** ZooKeeper ensembles named once, with their credentials and the ACL of what proxymgr creates. */
  zookeeper: zookeeper.default(() => zookeeper.parse({})),
  /** etcd clusters named once, with their credentials and TLS. */
  etcd: etcd.default(() => etcd.parse({})),
  log: z
    .strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') })
    .default({ level: 'info' }),
});

export type RawConfig = z.infer<typeof configSchema>;
