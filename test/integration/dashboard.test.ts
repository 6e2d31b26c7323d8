import { createServer, request, type Server } from 'node:http';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { AgentFixture, ROOT } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { freePort, sample, waitUntil } from '../support/net';
import { RuntimeClient } from '../../src/haproxy/runtime-client';
import { TestPki } from '../support/pki';

const TOKEN = 'dashboard-token-0123456789';
const VIEWER = 'dashboard-viewer-0123456789';
// Debian's Chromium; the test machines have no outside network, so nothing that phones home.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A reverse proxy that serves the API under /pm/ (as an operator's nginx would), streaming included. */
function prefixProxy(apiPort: number, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (!req.url?.startsWith('/pm/')) {
      res.writeHead(404).end('outside the prefix\n');
      return;
    }
    const up = request({ host: '127.0.0.1', port: apiPort, path: req.url.slice(3), method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      // An upstream cut short (the agent stopping) cuts the client too, as nginx does; pipe alone would leave it hanging.
      r.once('aborted', () => res.destroy());
      r.once('error', () => res.destroy());
      r.pipe(res);
    });
    // Nothing upstream (the agent restarting): a 502, as nginx answers, which ends an EventSource for good.
    up.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end('bad gateway\n')));
    req.pipe(up);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

// The page an operator keeps open: the overview, one service expanded with its servers and
// history, a server added in the source, one taken out and brought back.
describe('dashboard in a real browser', () => {
  let backends: Backends;
  let agent: AgentFixture;
  let browser: Browser | undefined;
  let proxy: Server | undefined;
  beforeAll(async () => {
    backends = await startBackends(3);
  });
  afterAll(() => backends.close());
  afterEach(async () => {
    await browser?.close();
    proxy?.closeAllConnections();
    proxy?.close();
    await agent.cleanup();
  });

  test('lists services, expands one, shows a new server without reloading the page, maint takes a server out of rotation, follows an agent restart', async () => {
    const [b1, b2, b3] = backends.ports;
    const [webPort, apiSvcPort, cachePort, apiPort, proxyPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    agent = new AgentFixture({
      services: {
        web: { type: 'static', port: webPort, servers: [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`] },
        'api-gateway': { type: 'static', port: apiSvcPort, servers: [`127.0.0.1:${b2}`] },
        cache: { type: 'file', port: cachePort, file: '../cache.servers' },
      },
      extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"\n  token: ${TOKEN}\n  stats_interval_ms: 250\n  tokens:\n    - {name: viewer, token_file: viewer.token, role: read}`,
    });
    writeFileSync(join(agent.dir, 'viewer.token'), `${VIEWER}\n`, { mode: 0o600 });
    writeFileSync(join(agent.dir, 'cache.servers'), `127.0.0.1:${b3}\n127.0.0.1:${b1}\n`);
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    proxy = await prefixProxy(apiPort, proxyPort);

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // The wrong token's 401, the read-only token's 403, the stream cut by the agent's restart and the proxy's 502 meanwhile are expected;
    // anything else the console reports as an error is not.
    page.on('console', (m) => m.type() === 'error' && !/status of 40[13]|status of 502|ERR_INCOMPLETE_CHUNKED_ENCODING/.test(m.text()) && pageErrors.push(m.text()));
    await page.goto(`http://127.0.0.1:${proxyPort}/pm/`);

    // Every service in the overview, through the prefix (page, modules, stream and calls are relative).
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 10_000 });
    const rows = page.locator('#service-rows [data-service]');
    await waitUntil('three service rows', async () => (await rows.count()) === 3, 5000);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-service')))).toEqual(['api-gateway', 'cache', 'web']);
    const web = page.locator('#service-rows [data-service="web"]');
    expect(await web.locator('.badge').textContent()).toBe('ok');
    expect(await web.textContent()).toContain(String(webPort));
    await web.locator('[role="cell"]', { hasText: '2/2' }).waitFor({ timeout: 5000 });

    // Expanding web: its servers come over the stream (watch), the URL remembers it.
    const expand = web.getByRole('button', { name: 'web', exact: true });
    await expand.click();
    expect(await expand.getAttribute('aria-expanded')).toBe('true');
    const panel = page.locator('[data-panel="web"]');
    await waitUntil('two servers in the panel', async () => (await panel.locator('tbody tr[data-server]').count()) === 2, 5000);
    expect(new URL(page.url()).hash).toBe('#open=web');

    // Traffic shows in the history charts once the history has a point with it (every 10 s).
    await sample(webPort, 40);
    await panel.locator('svg[data-series="rate"][role="img"][aria-label*="peak "]:not([aria-label$="peak 0"])').waitFor({ timeout: 15_000 }).catch(async (err: Error) => {
      // Tell a page that missed the history from an agent that stopped answering.
      const history = await page.evaluate(`fetch('api/services/web/history').then((r) => r.text(), (e) => String(e))`);
      const label = await panel.locator('svg[data-series="rate"]').getAttribute('aria-label');
      throw new Error(`${err.message}\nchart: ${label}\nhistory: ${String(history).slice(0, 500)}\nagent exit code: ${agent.proc?.exitCode}`);
    });
    expect(await panel.locator('svg[data-series="rate"] text.tick').count()).toBeGreaterThan(0);

    // A server added in the source appears without reloading the page, and shows HAProxy's status as soon as it is applied.
    await page.evaluate('window.marker = 42');
    const from = agent.mark();
    agent.writeService('web', { type: 'static', port: webPort, servers: [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`, `127.0.0.1:${b3}`] });
    const added = panel.locator(`tr[data-server="127.0.0.1:${b3}"]`);
    await added.waitFor({ timeout: 5000 });
    await agent.waitLog((l) => l.event === 'plan' && JSON.stringify(l).includes(`127.0.0.1:${b3}`), 5000, from);
    const applied = Date.now();
    await waitUntil('HAProxy status of the new server', async () => !/not in HAProxy yet/.test((await added.locator('td').nth(1).textContent()) ?? ''), 1500, 10);
    const statusMs = Date.now() - applied;
    expect(await added.locator('td').nth(1).textContent()).toMatch(/^(UP|DOWN|no check|MAINT|DRAIN)/);
    await web.locator('[role="cell"]', { hasText: '3/3' }).waitFor({ timeout: 3000 });
    expect(await page.evaluate('window.marker')).toBe(42);
    await page.locator('#feed li[data-event="plan"]').first().waitFor({ timeout: 5000 });

    // Maint asks for the token once (a wrong one is refused and asked again), then goes out over the runtime API.
    const server = `127.0.0.1:${b1}`;
    await page.getByRole('button', { name: `Maint ${server} in web` }).click();
    await page.getByLabel('Token', { exact: true }).fill('not-the-token-0123456789');
    await page.getByRole('button', { name: 'Save token' }).click();
    await page.locator('#notice', { hasText: 'refused the token' }).waitFor({ timeout: 5000 });
    // A read-only token is taken but may not do this: the page says so, and "Change API token" swaps it.
    await page.getByLabel('Token', { exact: true }).fill(VIEWER);
    await page.getByRole('button', { name: 'Save token' }).click();
    await page.locator('#notice', { hasText: "token's role may not" }).waitFor({ timeout: 5000 });
    await page.getByRole('button', { name: 'Change API token' }).click();
    await page.getByLabel('Token', { exact: true }).fill(TOKEN);
    await page.getByRole('button', { name: 'Save token' }).click();
    await page.getByRole('button', { name: `Maint ${server} in web` }).click();
    const rc = new RuntimeClient(agent.socketPath);
    await waitUntil('the server in maint in HAProxy', async () => (await rc.showServersState('web')).some((s) => s.name === server && s.maint), 5000);
    await waitUntil('b1 out of rotation', async () => !(await sample(webPort, 9)).has(backends.id(b1)), 3000);
    await page.locator(`button[aria-label="Maint ${server} in web"][aria-pressed="true"]`).waitFor({ timeout: 5000 });
    await panel.locator(`tr[data-server="${server}"] td[data-state="maint"]`, { hasText: 'maint (operator)' }).waitFor({ timeout: 5000 });
    await page.locator('#feed li[data-event="override"]').first().waitFor({ timeout: 5000 });
    expect(agent.events('reload', from)).toHaveLength(0);

    // Keyboard only, and the token is remembered for the tab: Ready brings it back.
    await page.getByRole('button', { name: `Ready ${server} in web` }).focus();
    await page.keyboard.press('Enter');
    await waitUntil('b1 back in rotation', async () => (await sample(webPort, 12)).has(backends.id(b1)), 5000);
    expect(await page.locator('#token-dialog[open]').count()).toBe(0);

    // One server's history, and the 24-hour range.
    await page.getByRole('button', { name: `History of ${server} in web` }).click();
    await panel.locator('.server-history svg[data-series="rate"][aria-label*="peak "]').waitFor({ timeout: 5000 });
    await panel.getByRole('button', { name: '24 hours' }).click();
    await panel.locator('svg[data-series="sessions"][aria-label*="last 24 hours"]').first().waitFor({ timeout: 5000 });

    const shots = join(ROOT, '.tmp');
    mkdirSync(shots, { recursive: true });
    await panel.getByRole('button', { name: 'Last hour' }).click();
    await page.screenshot({ path: join(shots, 'dashboard.png'), fullPage: true });
    if (process.env.UPDATE_DOCS === '1') await page.screenshot({ path: join(ROOT, 'docs', 'dashboard.png'), fullPage: true });

    // The agent restarts: the page reconnects to a fresh snapshot and follows its expanded service again.
    await agent.stop();
    await page.locator('#connection[data-state="lost"]').waitFor({ timeout: 5000 });
    await agent.start();
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 10_000 });
    agent.writeService('web', { type: 'static', port: webPort, servers: [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`] });
    await waitUntil('the removed server gone from the panel', async () => (await panel.locator('tbody tr[data-server]').count()) === 2, 5000);
    await web.locator('[role="cell"]', { hasText: '2/2' }).waitFor({ timeout: 5000 });

    // A link keeps the view: sorted by name descending, web expanded.
    await page.goto(`http://127.0.0.1:${proxyPort}/pm/#sort=name&dir=desc&open=web`);
    await waitUntil('three rows again', async () => (await rows.count()) === 3, 5000);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-service')))).toEqual(['web', 'cache', 'api-gateway']);
    await panel.locator('tbody tr[data-server]').first().waitFor({ timeout: 5000 });
    expect(await page.locator('[role="columnheader"][aria-sort="descending"]').textContent()).toBe('Service');
    // A link pasted into the same tab (only the hash changes) applies without a reload.
    await page.evaluate(`location.hash = '#q=cache&health=ok'`);
    await waitUntil('only cache shown', async () => (await page.locator('#service-rows [data-service]:not([hidden])').count()) === 1, 3000);
    expect(await page.locator('#service-rows [data-service]:not([hidden])').getAttribute('data-service')).toBe('cache');
    expect(await page.inputValue('#search')).toBe('cache');
    expect(await page.inputValue('#health-filter')).toBe('ok');
    expect(await panel.count()).toBe(0);
    expect(statusMs).toBeLessThan(1000);
    expect(pageErrors).toEqual([]);
  });

  test('over HTTPS (api.tls): the page, its modules, the live stream and the watch calls all go over TLS', async () => {
    const pki = await TestPki.create();
    try {
      const [b1, b2] = backends.ports;
      const [webPort, apiPort] = await Promise.all([freePort(), freePort()]);
      const cert = await pki.issue('api', 'localhost');
      agent = new AgentFixture({
        services: { web: { type: 'static', port: webPort, servers: [`127.0.0.1:${b1}`] } },
        extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"\n  token: ${TOKEN}\n  stats_interval_ms: 250\n  tls: {cert_file: ${cert.cert}, key_file: ${cert.key}}`,
      });
      await agent.start();
      await agent.waitLog((l) => l.event === 'api_listening');
      // Trust exactly this server key (not every certificate error), as a pinned CA would.
      const spki = createHash('sha256').update(new X509Certificate(readFileSync(cert.cert)).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${spki}`] });
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`https://localhost:${apiPort}/`);
      await page.locator('#connection[data-state="live"]').waitFor({ timeout: 10_000 });
      const web = page.locator('#service-rows [data-service="web"]');
      await web.locator('[role="cell"]', { hasText: '1/1' }).waitFor({ timeout: 5000 });
      // Expanded: the servers come over the stream once the page told the agent (POST .../watch) what it shows.
      await web.getByRole('button', { name: 'web', exact: true }).click();
      const panel = page.locator('[data-panel="web"]');
      await waitUntil('one server in the panel', async () => (await panel.locator('tbody tr[data-server]').count()) === 1, 5000);
      // A change in the source reaches the open page live, over the TLS stream.
      agent.writeService('web', { type: 'static', port: webPort, servers: [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`] });
      await panel.locator(`tr[data-server="127.0.0.1:${b2}"]`).waitFor({ timeout: 10_000 });
      await web.locator('[role="cell"]', { hasText: '2/2' }).waitFor({ timeout: 5000 });
      expect(requests.some((u) => u.endsWith('/events'))).toBe(true);
      expect(requests.filter((u) => !u.startsWith(`https://localhost:${apiPort}/`))).toEqual([]);
      expect(pageErrors).toEqual([]);
    } finally {
      pki.cleanup();
    }
  });
});
