import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig } from '../../src/haproxy/config-check';
import type { DesiredService } from '../../src/model/desired';
import { normalizeServers, serverName, type Server } from '../../src/model/server';
import { parseServiceDefinition, type ServiceDefinition, type ServiceParse } from '../../src/model/service';
import { isUnixAddress } from '../../src/model/unix-socket';
import { renderConfig, type RenderSettings } from '../../src/render/render';
import { loadTemplates } from '../../src/render/templates';
import { WATCHER_SCHEMAS } from '../../src/watchers';
import { parseServersFile } from '../../src/watchers/file';
import { decodeInstance } from '../../src/model/instance';
import { TestPki } from '../support/pki';
import { mulberry32 } from '../support/random';
import { HAPROXY } from '../support/haproxy-bin';
import { checkBindCertFiles } from '../../src/agent/bind-cert-files';
import { checkServiceFiles } from '../../src/agent/service-files';

function atTheDoor(r: ServiceParse): ServiceParse {
  if (!r.ok) return r;
  const problems = checkServiceFiles(r.service.files);
  return problems.length ? { ok: false, errors: problems } : r;
}

/**
 * Fuzz (issue 9): thousands of random service blobs, mutations of valid blobs of every
 * watcher type. Validation must never throw; whatever it accepts must render to a
 * config `haproxy -c` accepts, all of them together, except where a blob brings its
 * own free text (listen_options, server_options are HAProxy directives by design):
 * there every `haproxy -c` alert must point at such a service, so the agent can set
 * it aside, and the rest must then pass.
 *
 * FUZZ_SEED=<n> replays a run (the seed is printed), FUZZ_N=<n> sets the number of blobs.
 */
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const N = process.env.FUZZ_N ? Number(process.env.FUZZ_N) : 4000;
const GEN_BUDGET_MS = 8000;
const BATCH = 300;
/**
 * Some HAProxy 2.6 alerts name no [file:line]: an unknown keyword on a server line
 * (`config : unknown keyword '2s'.` after a malformed `inter 2sinter 2s`; `unknown
 * keyword 'checék'; did you mean 'check' maybe ?`). The agent cannot pin those on a
 * service from the message, so it checks each new or changed service alone (the
 * reloader's isolate step) and sets aside those HAProxy refuses alone. The test does
 * the same: such an alert is fine when the services behind it fail alone; counted and
 * printed, not failed.
 */

const rand = mulberry32(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
const chance = (p: number) => rand() < p;

// Option lines HAProxy 2.6 accepts in a listen section / on a server line (mode tcp or http).
const SAFE_LISTEN = ['mode tcp', 'mode http', 'balance roundrobin', 'balance leastconn', 'balance source', 'option redispatch', 'retries 2', 'timeout server 5s', 'timeout connect 2s', 'maxconn 100', 'option tcplog', ''];
const SAFE_SERVER = ['check', 'inter 2s', 'rise 2', 'fall 3', 'maxconn 50', 'slowstart 10s', 'check inter 1s', ''];

const ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const NASTY = ['\n', '\r', '\t', '\u0000', '\u001b', '\u007f', '\u000b', '#', '"', "'", '\\', ' ', ':', '[', ']', '{', '}', '$', '%', '/', '.', '-', '_', 'é', '😀', '\u202e', '\u00a0', '\u2028', '\ufeff', '*', ',', ';', '\\n'];
function randomString(): string {
  const len = pick([0, 1, 2, 5, 10, 30, 100, 300, 4096, 4097]);
  let s = '';
  for (let i = 0; i < Math.min(len, 400); i++) s += chance(0.3) ? pick(NASTY) : ALPHA[int(ALPHA.length)];
  if (len > 400) s = s.padEnd(len, pick(['a', ' ', '#']));
  return s;
}
const EXTREME = [0, -0, 1, -1, 255, 256, 257, 65535, 65536, 1e10, 1e308, -1e308, 0.5, 1.000001, 2 ** 31, 2 ** 53 + 2, Number.NaN, Infinity, -Infinity, 100, 86_400_000, 86_400_001];
function randomLeaf(): unknown {
  switch (int(7)) {
    case 0: return randomString();
    case 1: return pick(EXTREME);
    case 2: return pick([true, false, null, undefined]);
    case 3: return [];
    case 4: return {};
    case 5: return Array.from({ length: int(4) }, randomLeaf);
    default: return randomGarbage(2);
  }
}
function randomGarbage(depth: number): unknown {
  if (depth <= 0 || chance(0.4)) return randomLeaf();
  if (chance(0.5)) return Array.from({ length: int(4) }, () => randomGarbage(depth - 1));
  const o: Record<string, unknown> = {};
  for (let i = 0; i < int(4); i++) o[pick([randomString(), 'port', 'type', '__proto__', 'constructor', 'weight', 'address'])] = randomGarbage(depth - 1);
  return o;
}

// Valid pieces.
const label = () => Array.from({ length: 1 + int(8) }, () => pick([...'abcxyz09-'])).join('').replace(/^-|-$/g, 'a');
const validHost = (): string =>
  pick([
    () => `10.${int(256)}.${int(256)}.${int(256)}`,
    () => `127.0.0.${1 + int(254)}`,
    () => pick(['::1', '2001:db8::1', 'fe80::1', '::ffff:10.0.0.1', '2001:DB8:0:0:0:0:0:2', '0.0.0.0']),
    () => `${label()}.${pick(['example', 'svc.cluster.local', 'Example.COM'])}${chance(0.2) ? '.' : ''}`,
    () => Array.from({ length: 1 + int(4) }, () => 'a'.repeat(1 + int(63))).join('.'),
  ])();
const validPort = () => pick([1, 80, 443, 8080, 65535, 1 + int(65535)]);
const validWeight = () => pick([0, 1, 100, 256, int(257)]);
const hostPort = (h: string, p: number) => (isIP(h) === 6 ? `[${h}]:${p}` : `${h}:${p}`);
const socketPath = () => `/${Array.from({ length: 1 + int(4) }, () => Array.from({ length: 1 + int(12) }, () => pick([...'abz09._~+@=,-'])).join('')).join('/')}`.replace(/\/\.\.?(?=\/|$)/g, '/x');
const validServer = (): unknown => {
  if (chance(0.15)) {
    const path = socketPath();
    return pick([() => `unix:${path}`, () => `unix:${path} ${validWeight()}`, () => ({ address: `unix:${path}` }), () => ({ address: `unix:${path}`, weight: validWeight(), backup: chance(0.5) })])();
  }
  const h = validHost();
  const p = validPort();
  return pick([
    () => hostPort(h, p),
    () => `${hostPort(h, p)} ${validWeight()}`,
    () => ({ address: h, port: p }),
    () => ({ address: h, port: p, weight: validWeight() }),
  ])();
};
const list = <T>(n: number, f: () => T) => Array.from({ length: int(n + 1) }, f);

const pathPiece = () => pick(['/', '/api', '/img/', '/a.b', '/x+y', '/(v1)', '/~u', '/[x]', '/$', '/^', '/a|b', '/{1}', '/%20', '/;p=1']);
const glob = () => Array.from({ length: 1 + int(3) }, () => pick([pathPiece(), '*', '?', '*.php', '.png'])).join('').replace(/^([^/])/, '/$1');
/** Real PEM files for `tls` (haproxy -c opens them), made before the blobs are generated. */
let tlsFiles: { ca: string; client: string; server: string; serverDir: string } | undefined;

/** Typed keys (proxy-options.ts and options/): any valid combination; HTTP-only ones with mode http. */
function typedKeys(): Record<string, unknown> {
  const t: Record<string, unknown> = {};
  const http = chance(0.5);
  if (http || chance(0.3)) t.mode = http ? 'http' : 'tcp';
  if (chance(0.3)) t.balance = pick(['roundrobin', 'leastconn', 'first', 'random', 'source']);
  if (chance(0.3)) {
    t.check = {
      ...(chance(0.5) && { interval_ms: pick([1, 100, 2000, 86_400_000]) }),
      ...(chance(0.5) && { rise: 1 + int(100) }),
      ...(chance(0.5) && { fall: 1 + int(100) }),
      ...(chance(0.5) && { http_path: pathPiece() }),
      ...(chance(0.3) && { expect_status: 100 + int(500) }),
    };
  }
  if (chance(0.2)) t.attempts = 1 + int(100);
  if (chance(0.2)) t.offline_timeout_ms = 1 + int(86_400_000);
  if (chance(0.2)) t.maxconn = 1 + int(1_000_000);
  if (chance(0.2)) t.server_maxconn = 1 + int(1_000_000);
  if (chance(0.2)) t.timeouts = Object.fromEntries(['connect_ms', 'client_ms', 'server_ms', 'queue_ms', 'check_ms'].filter(() => chance(0.5)).map((k) => [k, 1 + int(86_400_000)]));
  if (http && chance(0.2)) t.pool = { ...(chance(0.5) && { reuse: pick(['safe', 'aggressive', 'always']) }), ...(chance(0.5) && { max_conn: 1 + int(100_000) }), ...(chance(0.5) && { idle_timeout_ms: 1 + int(3_600_000) }) };
  if (chance(0.15) && t.attempts === undefined) t.fail_fast = chance(0.8);
  if (http && chance(0.2)) {
    const size = pick([1, 2, 64, 4095]);
    t.cache = { size_mb: size, ...(chance(0.5) && { max_age_s: 1 + int(31_536_000) }), ...(chance(0.5) && { max_object_kb: 1 + int(512 * size) }) };
  }
  if (http && chance(0.15)) {
    t.proto = 'fcgi';
    t.fcgi = {
      root: `/${Array.from({ length: int(12) }, () => pick([...'ab/._ -\'"#$%{}'])).join('')}`,
      ...(chance(0.5) && { index: pick(['index.php', 'app.php']) }),
      ...(chance(0.5) && { path_info: pick([true, false, '^(/.+\\.php)(/.*)?$']) }),
      ...(chance(0.5) && { params: { APP_ENV: pick(['prod', "it's 100% $HOME #1", 'a b']), ...(chance(0.5) && { X_1: '"q"' }) } }),
    };
  }
  if (http && chance(0.2)) {
    t.priority = list(3, () => ({
      match: pick([
        () => ({ path_prefix: list(2, pathPiece) }),
        () => ({ host: [`${label()}.example`] }),
        () => ({ header: { name: pick(['X-Priority', 'x_a']), ...(chance(0.5) && { value: pick(['high', 'a=b;c', '$x', '%y']) }) } }),
        () => ({ path_suffix: ['.php'], host: ['a.example'] }),
      ])(),
      class: int(4095) - 2047,
    }));
    if (!(t.priority as unknown[]).length) delete t.priority;
  }
  if (tlsFiles && chance(0.15)) {
    const sni = chance(0.5) ? { sni: pick(['backend.test', 'API.Example.com', `${label()}.svc.cluster.local`]) } : {};
    t.tls = pick([
      () => ({ ca_file: tlsFiles!.ca, ...sni }),
      () => ({ ca_file: tlsFiles!.ca, verify: 'required', client_cert: tlsFiles!.client, ...sni }),
      () => ({ verify: 'none', ...sni }),
      () => ({ verify: 'none', client_cert: tlsFiles!.client }),
    ])();
  }
  if (tlsFiles && !t.match && chance(0.1)) {
    t.bind_tls = {
      ...(chance(0.7) ? { cert_files: [tlsFiles.server] } : { cert_dir: tlsFiles.serverDir }),
      ...(chance(0.5) && { alpn: pick([['h2', 'http/1.1'], ['http/1.1'], ['h2']]) }),
      ...(chance(0.5) && { min_version: pick(['TLSv1.2', 'TLSv1.3']) }),
    };
  }
  if (chance(0.1)) t.sticky_offline = true;
  if (t.sticky_offline && t.check === undefined && t.attempts === undefined) t.check = {};
  if (http && chance(0.3)) {
    const m: Record<string, unknown> = {};
    if (chance(0.5)) m.path_prefix = list(2, pathPiece);
    if (chance(0.3)) m.path_suffix = list(2, () => pick(['.png', '.tar.gz', 'x', '~', '$']));
    if (chance(0.5)) m.path_glob = list(3, glob);
    if (chance(0.3)) m.host = list(2, () => `${label()}.example`);
    if (Object.values(m).some((v) => (v as unknown[]).length)) t.match = m;
  }
  return t;
}

function validBlob(): Record<string, unknown> {
  const common: Record<string, unknown> = { port: validPort(), ...(chance(0.6) && typedKeys()) };
  // Option lines that contradict the typed mode are the blob's own mistake, not the fuzzer's find.
  const listenLines = common.mode === 'http' ? SAFE_LISTEN.filter((l) => l !== 'mode tcp') : SAFE_LISTEN;
  if (chance(0.7)) common.listen_options = list(4, () => pick(listenLines));
  if (chance(0.7)) common.server_options = list(3, () => pick(SAFE_SERVER));
  if (chance(0.3)) common.allow_empty = chance(0.5);
  switch (pick(['static', 'file', 'zookeeper', 'etcd', 'dns'])) {
    case 'static':
      return { type: 'static', ...common, servers: list(6, validServer) };
    case 'file':
      return { type: 'file', ...common, file: pick(['web.servers', '/etc/x/servers', '../s', 'a b.txt']) };
    case 'zookeeper':
      return { type: 'zookeeper', ...common, server: pick(['127.0.0.1:2181', 'zk1:2181,zk2:2181', '[::1]:2181']), path: `/${label()}/${label()}` };
    case 'etcd':
      return {
        type: 'etcd',
        ...common,
        ...(chance(0.5) ? { endpoints: pick([['127.0.0.1:2379'], 'etcd1:2379,etcd2:2379', ['https://[::1]:2379'], ['http://e1:2379', 'http://e2:2379', 'http://e3:2379']]) } : { cluster: label() }),
        prefix: `/${label()}/${label()}`,
      };
    default:
      return {
        type: 'dns',
        ...common,
        backends: list(3, () => ({ name: validHost(), port: validPort() })),
        srv: list(2, () => `_http._tcp.${label()}.example`),
        ...(chance(0.5) && { nameservers: list(3, () => pick(['127.0.0.1', '127.0.0.1:53', '[::1]:53', '8.8.8.8'])) }),
        ...(chance(0.3) && { min_interval_ms: pick([100, 1000]), max_interval_ms: pick([1000, 60000]), nxdomain_confirmations: 1 + int(100), timeout_ms: 100 + int(5000) }),
      };
  }
}

/** Every (container, key) in the blob, for mutations anywhere, nested ones included. */
function slots(v: unknown, out: Array<[Record<string, unknown> | unknown[], string | number]> = []) {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), slots(x, out)));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) out.push([v as Record<string, unknown>, k]), slots((v as Record<string, unknown>)[k], out);
  return out;
}
function mutate(blob: Record<string, unknown>): unknown {
  if (chance(0.03)) return randomGarbage(3);
  for (let m = 0, n = int(4); m < n; m++) {
    const all = slots(blob);
    const [obj, key] = all.length ? pick(all) : [blob, 'port'];
    const old = (obj as Record<string | number, unknown>)[key];
    switch (int(8)) {
      case 0: (obj as Record<string | number, unknown>)[key] = randomLeaf(); break;
      case 1: if (Array.isArray(obj)) obj.splice(key as number, 1); else delete obj[key as string]; break;
      case 2: (blob as Record<string, unknown>)[pick([randomString(), 'hosts', 'weight', 'name', 'servers', 'file', 'path'])] = randomGarbage(2); break;
      case 3: if (typeof old === 'string') (obj as Record<string | number, unknown>)[key] = insertAt(old, pick(NASTY)); break;
      case 4: if (typeof old === 'number') (obj as Record<string | number, unknown>)[key] = pick([old + 1, old - 1, -old, old * 1000, old + 0.5, String(old)]); break;
      case 5: (obj as Record<string | number, unknown>)[key] = randomGarbage(3); break;
      case 6: if (typeof old === 'string') (obj as Record<string | number, unknown>)[key] = randomString(); break;
      default: if (typeof old === 'string') (obj as Record<string | number, unknown>)[key] = pick([old.toUpperCase(), `${old} `, ` ${old}`, `${old}${old}`, old.slice(0, -1), `${old}:1`]);
    }
  }
  return blob;
}
const insertAt = (s: string, ch: string) => { const i = int(s.length + 1); return s.slice(0, i) + ch + s.slice(i); };

// Servers the non-static watchers would report: random servers-file text / instance znodes and etcd values (one decoder), parsed by the real parsers.
function fileServers(): Server[] {
  const lines = list(5, () => (chance(0.8) ? String(validServer()).replace(/^\[object Object\]$/, '127.0.0.1:1') : randomString()));
  const parsed = parseServersFile(lines.join(pick(['\n', '\r\n'])), 'fuzz');
  return parsed.ok ? parsed.value : [];
}
function zkServers(): Server[] {
  const out: Server[] = [];
  for (let i = int(5); i > 0; i--) {
    const data = chance(0.5)
      ? JSON.stringify(pick([{ address: validHost(), port: validPort() }, { address: `unix:${socketPath()}` }, { host: `unix:${socketPath()}`, weight: validWeight() }, { host: validHost(), port: validPort(), weight: validWeight() }, { serviceEndpoint: { host: validHost(), port: validPort() } }, randomGarbage(2)])) ?? "null"
      : chance(0.5) ? String(validServer()) : randomString();
    const r = decodeInstance(Buffer.from(data));
    if (r.ok) out.push(r.value);
  }
  return normalizeServers(out);
}
/** As HostResolver does: a hostname becomes an IP, its server keeps the name `hostname:port`. */
const resolved = (servers: Server[]): Server[] => servers.map((s) => (isIP(s.address) || isUnixAddress(s.address) ? s : { ...s, name: serverName(s), address: `127.0.0.${1 + (s.address.length % 250)}` }));

interface Accepted {
  blob: unknown;
  service: DesiredService;
  /** Its listen_options / server_options are all from the SAFE lists. */
  safe: boolean;
}

describe(`fuzzed service blobs (FUZZ_SEED=${SEED})`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pmgr-fuzz-'));
  const templates = loadTemplates();
  const settings: RenderSettings = {
    socketPath: join(dir, 'admin.sock'),
    stateFile: join(dir, 'server-state'),
    bindAddress: '127.0.0.1',
    hardStopAfter: '5s',
    global: ['maxconn 4096'],
    defaults: ['mode tcp', 'balance roundrobin', 'timeout connect 5s', 'timeout client 1m', 'timeout server 1m'],
  };
  const accepted: Accepted[] = [];
  const crashes: string[] = [];
  let generated = 0;
  let rawControlInErrors = 0;
  let nonSafeRejectedSets = 0;
  /** Blobs whose haproxy -c alert names no line: the agent finds them by checking each change alone. */
  const quirks: string[] = [];

  let pki: TestPki | undefined;
  beforeAll(async () => {
    pki = await TestPki.create();
    const server = (await pki.issue('server')).pem;
    const serverDir = join(pki.dir, 'certs');
    mkdirSync(serverDir);
    copyFileSync(server, join(serverDir, 'server.pem'));
    tlsFiles = { ca: pki.caCert, client: (await pki.issue('client', 'sidecar', { usage: 'clientAuth' })).pem, server, serverDir };
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    pki?.cleanup();
  });

  test('validation never throws', () => {
    // eslint-disable-next-line no-console
    console.log(`fuzz: FUZZ_SEED=${SEED} FUZZ_N=${N}`);
    const t0 = Date.now();
    for (let i = 0; i < N && Date.now() - t0 < GEN_BUDGET_MS; i++, generated++) {
      const blob = mutate(validBlob());
      let def: ServiceDefinition;
      try {
        // As the agent accepts a blob: the pure parse, then the files it names checked at the door.
        const r = atTheDoor(checkBindCertFiles(parseServiceDefinition(`f${i}`, blob, WATCHER_SCHEMAS)));
        if (!r.ok) {
          if (!Array.isArray(r.errors) || r.errors.length === 0 || r.errors.some((e) => typeof e !== 'string' || e === '')) crashes.push(`#${i}: bad error list ${JSON.stringify(r.errors)}`);
          // Not a crash: zod quotes an unknown key raw (control characters and all), and JSON.stringify leaves DEL as is.
          if (r.errors.some((e) => /[\x00-\x1f\x7f]/.test(e))) rawControlInErrors++;
          continue;
        }
        def = r.service;
      } catch (err) {
        crashes.push(`#${i}: threw ${(err as Error).stack?.split('\n').slice(0, 3).join(' | ')} on ${safeJson(blob)}`);
        continue;
      }
      const servers =
        def.watcher.type === 'static' ? normalizeServers(def.watcher.options.servers as Server[])
        : def.watcher.type === 'file' ? fileServers()
        : def.watcher.type === 'zookeeper' || def.watcher.type === 'etcd' ? zkServers()
        : normalizeServers(list(3, () => ({ address: pick(['10.1.2.3', '::1', '127.0.0.9']), port: validPort() })));
      // Known-good when the blob's own option lines are (typed keys compile to lines HAProxy must take).
      const own = blob as { listen_options?: string[]; server_options?: string[] };
      const safe = (own.listen_options ?? []).every((o) => SAFE_LISTEN.includes(o)) && (own.server_options ?? []).every((o) => SAFE_SERVER.includes(o));
      // Distinct ports, as the agent's port assignment guarantees.
      accepted.push({ blob, safe, service: { name: def.name, listen: { ...def, port: 20000 + accepted.length }, servers: resolved(servers) } });
    }
    // eslint-disable-next-line no-console
    console.log(`fuzz: ${generated} blobs in ${Date.now() - t0} ms, ${accepted.length} accepted (${((100 * accepted.length) / generated).toFixed(1)}%), ${accepted.filter((a) => a.safe).length} with only known option lines; ${rawControlInErrors} rejections quote a raw control character in an error line`);
    expect(crashes).toEqual([]);
    expect(generated).toBeGreaterThanOrEqual(Math.min(N, 1000));
    expect(accepted.length).toBeGreaterThan(generated * 0.1);
  });

  const check = async (services: DesiredService[], tag: string) => {
    const text = renderConfig(templates, settings, services);
    const file = join(dir, `${tag}.cfg`);
    writeFileSync(file, text);
    return { text, result: await checkConfig(HAPROXY, file, text) };
  };

  /** The smallest failing subset, one service at a time (the batch is known to fail). */
  const culprits = async (services: DesiredService[]): Promise<DesiredService[]> => {
    if (services.length === 1) return services;
    const half = Math.ceil(services.length / 2);
    const [a, b] = [services.slice(0, half), services.slice(half)];
    const out: DesiredService[] = [];
    if (!(await check(a, 'bisect')).result.ok) out.push(...(await culprits(a)));
    if (!(await check(b, 'bisect')).result.ok) out.push(...(await culprits(b)));
    return out.length ? out : services;
  };
  const describeBad = async (services: DesiredService[]) => {
    const bad = await culprits(services);
    const blobs = bad.map((s) => accepted.find((a) => a.service === s)!);
    const details = await Promise.all(blobs.slice(0, 5).map(async (a) => `${safeJson(a.blob)} -> ${(await check([a.service], 'one')).result.problems.map((p) => p.message).join(' | ')}`));
    return `FUZZ_SEED=${SEED}: ${bad.length} accepted blob(s) render a config haproxy -c refuses:\n${details.join('\n')}`;
  };

  test('accepted blobs with known option lines render together to configs haproxy -c accepts', async () => {
    const safe = accepted.filter((a) => a.safe).map((a) => a.service);
    let batches = 0;
    for (let i = 0; i < safe.length; i += BATCH, batches++) {
      const batch = safe.slice(i, i + BATCH);
      const { result, text } = await check(batch, `safe-${batches}`);
      if (!result.ok) throw new Error(await describeBad(batch));
      expect(injected(text, batch)).toEqual([]);
    }
    // eslint-disable-next-line no-console
    console.log(`fuzz: ${safe.length} services in ${batches} haproxy -c batches, 0 failures`);
    expect(batches).toBeGreaterThan(0);
  });

  test('accepted blobs with free-text option lines: every haproxy -c alert names one of them, and the rest then passes', async () => {
    const free = accepted.filter((a) => !a.safe).map((a) => a.service);
    let batches = 0;
    for (let i = 0; i < free.length; i += BATCH, batches++) {
      // Mixed with known-good services, as they would run next to them.
      let batch = [...free.slice(i, i + BATCH), ...accepted.filter((a) => a.safe).slice(0, 20).map((a) => a.service)];
      for (let round = 0; ; round++) {
        const { result } = await check(batch, `free-${batches}`);
        if (result.ok) break;
        if (round > 50) throw new Error(`FUZZ_SEED=${SEED}: free-text batch ${batches} does not converge: ${result.output.slice(0, 2000)}`);
        const blamed = new Set(result.problems.map((p) => p.service).filter((n): n is string => n !== undefined));
        const unattributed = result.problems.filter((p) => p.service === undefined || !free.some((s) => s.name === p.service));
        if (unattributed.length) {
          // Find the services behind the alerts that name no location, one by one.
          const bad: Accepted[] = [];
          const suspects = await culprits(batch);
          for (const s of suspects) {
            const own = (await check([s], 'one')).result.problems;
            if (own.some((p) => p.service === undefined)) bad.push(accepted.find((a) => a.service === s)!);
            blamed.add(s.name);
          }
          if (bad.length === 0) {
            throw new Error(
              `FUZZ_SEED=${SEED}: haproxy -c alerts not attributable to a service (the agent could not set it aside): ${unattributed.map((p) => p.message).join(' | ')}\n` +
                suspects.slice(0, 5).map((x) => `${safeJson(accepted.find((a) => a.service === x)?.blob)} -> ${JSON.stringify(x.listen)}`).join('\n'),
            );
          }
          for (const a of bad) quirks.push(safeJson(a.blob));
        }
        nonSafeRejectedSets += blamed.size;
        batch = batch.filter((s) => !blamed.has(s.name));
      }
    }
    // eslint-disable-next-line no-console
    console.log(
      `fuzz: ${free.length} services with free-text options in ${batches} batches; ${nonSafeRejectedSets} set aside by haproxy -c attribution; ` +
        `${quirks.length} refused as a whole (alert without a line):${quirks.slice(0, 3).map((q) => `\n  ${q}`).join('')}`,
    );
  });
});

/**
 * Lines a blob could have slipped into the config: a section header no service owns, or a
 * `#` outside single quotes (HAProxy would cut the line there). Only for known-good option lines.
 */
function injected(text: string, services: readonly DesiredService[]): string[] {
  const headers = new Set(['global', 'defaults']);
  for (const s of services) {
    if (s.listen.match) headers.add(`frontend port:${s.listen.port}`).add(`backend ${s.name}`);
    else headers.add(`listen ${s.name}`);
    for (const sec of s.listen.sections ?? []) headers.add(`${sec.kind} ${sec.name}`);
  }
  return text.split('\n').filter((line) => {
    if (line === '' || line.startsWith('#')) return false;
    if (!line.startsWith('    ')) return !headers.has(line);
    return !/^ {4}#/.test(line) && bareHash(line);
  });
}

/** Whether HAProxy's line parser would see a comment start: a `#` outside quotes and not escaped. */
function bareHash(line: string): boolean {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === "'") {
      if (c === "'") quote = '';
    } else if (c === '\\') i++;
    else if (quote === '"') {
      if (c === '"') quote = '';
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#') return true;
  }
  return false;
}

function safeJson(v: unknown): string {
  try {
    const s = JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x === undefined ? '<undefined>' : x));
    return s.length > 600 ? `${s.slice(0, 600)}...` : s;
  } catch {
    return String(v);
  }
}
