import { readFileSync } from 'node:fs';
import { AgentFixture } from '../support/agent';
import { freePort, waitUntil } from '../support/net';
import { PhpFpm, parsePage } from '../support/php-fpm';
import { getFresh } from '../support/counting-backend';
import { RuntimeClient } from '../../src/haproxy/runtime-client';
import { parseStat } from '../../src/haproxy/state-parse';

/** GET `path` through HAProxy on a new connection; resolves status and body. */
const fetchPath = (port: number, path: string) => getFresh(port, 5000, path);

/** The PHP page's variables for a request to `path` (which must answer 200). */
async function page(port: number, path: string): Promise<Record<string, string>> {
  const r = await fetchPath(port, path);
  if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status}: ${r.body.slice(0, 200)}`);
  return parsePage(r.body);
}

/** Fails at once, with the agent's words, when it refused the service blob. */
function expectAccepted(agent: AgentFixture, service: string, from = 0): void {
  const invalid = agent.events('service_invalid', from).filter((l) => l.service === service);
  if (invalid.length) throw new Error(`service ${service} refused: ${JSON.stringify(invalid[invalid.length - 1].errors)}`);
}

const GREETING = "hello 100% it's \"literal\" $HOME";

// FastCGI backends: HAProxy speaks FastCGI to PHP-FPM (proto fcgi + an fcgi-app section), the page comes back through it.
describe('FastCGI backends (PHP-FPM) behind HAProxy', () => {
  let agent: AgentFixture | undefined;
  const pools: PhpFpm[] = [];
  const pool = async (name: string, opts: { listen?: 'tcp' | 'unix'; docroot?: string } = {}) => {
    const p = new PhpFpm(name, opts);
    pools.push(p);
    return p.start();
  };
  afterEach(async () => {
    await agent?.cleanup();
    agent = undefined;
    await Promise.all(pools.splice(0).map((p) => p.cleanup()));
  });

  const blob = (port: number, docroot: string, servers: string[], extra: Record<string, unknown> = {}) => ({
    type: 'static',
    port,
    mode: 'http',
    proto: 'fcgi',
    fcgi: { root: docroot, index: 'index.php', path_info: true, params: { APP_GREETING: GREETING } },
    servers,
    ...extra,
  });

  test('a PHP page through HAProxy: script name and PATH_INFO split, a literal param, the query string; a second PHP-FPM added at runtime serves too, passes its HTTP check over FastCGI, with no reload', async () => {
    const one = await pool('one');
    // The same application on both pools: the service has one root for all its servers.
    const two = await pool('two', { docroot: one.docroot });
    const port = await freePort();
    // HTTP checks of FastCGI servers go through the fcgi-app too: PHP-FPM answers them.
    const checked = { check: { interval_ms: 200, rise: 1, fall: 2, http_path: '/index.php', expect_status: 200 } };
    agent = new AgentFixture({ services: { php: blob(port, one.docroot, [one.server], checked) }, runtime: { drift_interval_ms: 0 } });
    await agent.start();
    expectAccepted(agent, 'php');
    const cfg = readFileSync(agent.configPath, 'utf8');
    expect(cfg).toMatch(/^ {4}use-fcgi-app php$/m);
    expect(cfg).toMatch(new RegExp(`^ {4}server 127\\.0\\.0\\.1:${one.port} 127\\.0\\.0\\.1:${one.port} .*\\bproto fcgi\\b`, 'm'));
    expect(cfg).toMatch(/^fcgi-app php$/m);

    await waitUntil('the PHP page through HAProxy', () => fetchPath(port, '/index.php').then((r) => r.status === 200, () => false), 10_000);
    expect(await page(port, '/index.php/orders/42?id=7&x=y')).toEqual({
      FPM_NAME: 'one',
      SCRIPT_NAME: '/index.php',
      PATH_INFO: '/orders/42',
      QUERY_STRING: 'id=7&x=y',
      APP_GREETING: GREETING,
      DOCUMENT_ROOT: one.docroot,
    });
    // A path ending in / gets the index script.
    expect(await page(port, '/?a=1')).toMatchObject({ FPM_NAME: 'one', SCRIPT_NAME: '/index.php', QUERY_STRING: 'a=1' });

    const from = agent.mark();
    agent.writeService('php', blob(port, one.docroot, [one.server, two.server], checked));
    const rc = new RuntimeClient(agent.socketPath);
    await waitUntil('the second PHP-FPM in HAProxy', async () => (await rc.showServersState('php')).length === 2, 10_000);
    await waitUntil('both PHP-FPM servers passing their HTTP check over FastCGI', async () => {
      const [{ output }] = await rc.batch(['show stat']);
      const rows = parseStat(output, ['pxname', 'svname', 'status', 'check_status']).filter((r) => r.pxname === 'php' && r.svname.startsWith('127.'));
      return rows.length === 2 && rows.every((r) => r.status === 'UP' && r.check_status === 'L7OK');
    }, 10_000);
    const served = new Set<string>();
    await waitUntil('both PHP-FPM pools answering through HAProxy', async () => {
      served.add((await page(port, '/index.php/p')).FPM_NAME);
      return served.size === 2;
    }, 10_000);
    expect(agent.events('reload', from)).toHaveLength(0);
    await agent.waitLog((l) => l.event === 'plan' && JSON.stringify(l.changes).includes(two.server), 2000, from);
  });

  test('a changed param reloads (the fcgi-app section changed) and reaches PHP; a path_info regex HAProxy refuses is pinned on the service, which keeps running', async () => {
    const one = await pool('one');
    const port = await freePort();
    agent = new AgentFixture({ services: { php: blob(port, one.docroot, [one.server]) } });
    await agent.start();
    expectAccepted(agent, 'php');
    await waitUntil('the PHP page through HAProxy', () => fetchPath(port, '/index.php').then((r) => r.status === 200, () => false), 10_000);

    let from = agent.mark();
    const changed = blob(port, one.docroot, [one.server]);
    changed.fcgi.params.APP_GREETING = 'changed';
    agent.writeService('php', changed);
    const reload = await agent.waitLog((l) => l.event === 'reload', 10_000, from);
    expect(reload.reason).toMatch(/reconfigured: php/);
    await waitUntil('the new param served', async () => (await page(port, '/index.php')).APP_GREETING === 'changed', 10_000);

    // Valid as a JavaScript regex (an empty class), not for HAProxy's PCRE (an unterminated class).
    from = agent.mark();
    const refused = blob(port, one.docroot, [one.server]);
    (refused.fcgi as Record<string, unknown>).path_info = '^(/.+[]a)(/.*)?$';
    agent.writeService('php', refused);
    const rejected = await agent.waitLog((l) => l.event === 'service_rejected' && l.service === 'php', 10_000, from);
    expect(rejected.stage).toBe('haproxy -c');
    expect(JSON.stringify(rejected.haproxy)).toMatch(/regex/);
    expect(rejected.keeping).toBe('running definition');
    expect((await page(port, '/index.php/x')).PATH_INFO).toBe('/x');
  });

  test('PHP-FPM on a unix socket (server "unix:/abs/path.sock"); a second socket pool added at runtime serves too, with no reload', async () => {
    const fpm = await pool('sock', { listen: 'unix' });
    const port = await freePort();
    agent = new AgentFixture({ services: { php: blob(port, fpm.docroot, [`unix:${fpm.socketPath}`]) }, runtime: { drift_interval_ms: 0 } });
    await agent.start();
    expectAccepted(agent, 'php');
    await waitUntil('the PHP page through HAProxy', () => fetchPath(port, '/index.php').then((r) => r.status === 200, () => false), 10_000);
    expect(await page(port, '/index.php/a/b?c=d')).toMatchObject({ FPM_NAME: 'sock', SCRIPT_NAME: '/index.php', PATH_INFO: '/a/b', QUERY_STRING: 'c=d', APP_GREETING: GREETING });

    const other = await pool('sock2', { listen: 'unix', docroot: fpm.docroot });
    const from = agent.mark();
    agent.writeService('php', blob(port, fpm.docroot, [`unix:${fpm.socketPath}`, `unix:${other.socketPath}`]));
    expectAccepted(agent, 'php', from);
    const served = new Set<string>();
    await waitUntil('both socket pools answering through HAProxy', async () => {
      served.add((await page(port, '/index.php')).FPM_NAME);
      return served.size === 2;
    }, 10_000);
    expect(agent.events('reload', from)).toHaveLength(0);
  });
  test('an fcgi service with no server yet starts (HAProxy needs a FastCGI server: a placeholder in maint stands in), its first server comes at runtime, and drift passes leave the placeholder alone', async () => {
    const fpm = await pool('late');
    const port = await freePort();
    agent = new AgentFixture({ services: { php: blob(port, fpm.docroot, []) }, runtime: { drift_interval_ms: 300 } });
    await agent.start();
    expectAccepted(agent, 'php');
    const cfg = readFileSync(agent.configPath, 'utf8');
    expect(cfg).toMatch(/^ {4}server proxymgr\.placeholder 127\.0\.0\.1:1 proto fcgi disabled$/m);
    expect((await fetchPath(port, '/index.php')).status).toBe(503);

    const from = agent.mark();
    agent.writeService('php', blob(port, fpm.docroot, [fpm.server]));
    await waitUntil('the PHP page through HAProxy', () => fetchPath(port, '/index.php').then((r) => r.status === 200, () => false), 10_000);
    expect(agent.events('reload', from)).toHaveLength(0);
    await waitUntil('three drift passes', () => agent!.events('runtime_swept', from).filter((l) => l.trigger === 'drift').length >= 3, 15_000);
    expect(agent.events('drift_repaired', from)).toHaveLength(0);
    // HAProxy still has the placeholder (never asked to delete it), in maint; the file on disk no longer needs it.
    const rc = new RuntimeClient(agent.socketPath);
    const rows = parseStat((await rc.batch(['show stat -1 4 -1']))[0].output);
    expect(rows.find((r) => r.svname === 'proxymgr.placeholder')?.status).toBe('MAINT');
    expect(readFileSync(agent.configPath, 'utf8')).not.toContain('proxymgr.placeholder');
  });
});
