import { createServer, request, type Server } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { AgentFixture, ROOT } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { freePort, sample, waitUntil } from '../support/net';
import { RuntimeClient } from '../../src/haproxy/runtime-client';

const TOKEN = 'dashboard-token-0123456789';
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
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

// The page an operator keeps open: it lists the services, follows the source live and takes a server out.
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

  test('lists services, shows a new server without reloading the page, and maint takes a server out of rotation', async () => {
    const [b1, b2, b3] = backends.ports;
    const [webPort, apiSvcPort, cachePort, apiPort, proxyPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    agent = new AgentFixture({
      services: {
        web: { type: 'static', port: webPort, servers: [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`] },
        'api-gateway': { type: 'static', port: apiSvcPort, servers: [`127.0.0.1:${b2}`] },
        cache: { type: 'file', port: cachePort, file: '../cache.servers' },
      },
      extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"\n  token: ${TOKEN}\n  stats_interval_ms: 250`,
    });
    writeFileSync(join(agent.dir, 'cache.servers'), `127.0.0.1:${b3}\n127.0.0.1:${b1}\n`);
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    proxy = await prefixProxy(apiPort, proxyPort);

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // The wrong token's 401 is expected; anything else the console reports as an error is not.
    page.on('console', (m) => m.type() === 'error' && !m.text().includes('status of 401') && pageErrors.push(m.text()));
    await page.goto(`http://127.0.0.1:${proxyPort}/pm/`);

    // Every service, with its port and health, through the prefix (page, script and stream are relative).
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 10_000 });
    await waitUntil('three service cards', async () => (await page.locator('article[data-service]').count()) === 3, 5000);
    expect(await page.locator('article[data-service] h3').allTextContents()).toEqual(['api-gateway', 'cache', 'web']);
    const web = page.locator('article[data-service="web"]');
    expect(await web.locator('.badge').textContent()).toBe('ok');
    expect(await web.locator('dl').textContent()).toContain(String(webPort));
    expect(await web.locator('tbody tr').count()).toBe(2);

    // Traffic shows up as a rate and in the chart.
    await sample(webPort, 40);
    await page.locator('article[data-service="web"] svg[aria-label*="peak "]:not([aria-label$="peak 0"])').waitFor({ timeout: 5000 });

    // A server added in the source appears without reloading the page.
    await page.evaluate('window.marker = 42');
    const from = agent.mark();
    agent.writeService('web', { type: 'static', port: webPort, servers: [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`, `127.0.0.1:${b3}`] });
    await web.locator(`tr[data-server="127.0.0.1:${b3}"]`).waitFor({ timeout: 5000 });
    expect(await page.evaluate('window.marker')).toBe(42);
    await page.locator('#feed li[data-event="plan"]').first().waitFor({ timeout: 5000 });

    // Maint asks for the token once (a wrong one is refused and asked again), then goes out over the runtime API.
    const server = `127.0.0.1:${b1}`;
    await page.getByRole('button', { name: `Maint ${server} in web` }).click();
    await page.getByLabel('Token', { exact: true }).fill('not-the-token-0123456789');
    await page.getByRole('button', { name: 'Save token' }).click();
    await page.locator('#notice', { hasText: 'refused the token' }).waitFor({ timeout: 5000 });
    await page.getByLabel('Token', { exact: true }).fill(TOKEN);
    await page.getByRole('button', { name: 'Save token' }).click();
    const rc = new RuntimeClient(agent.socketPath);
    await waitUntil('the server in maint in HAProxy', async () => (await rc.showServersState('web')).some((s) => s.name === server && s.maint), 5000);
    await waitUntil('b1 out of rotation', async () => !(await sample(webPort, 9)).has(backends.id(b1)), 3000);
    await page.locator(`button[aria-label="Maint ${server} in web"][aria-pressed="true"]`).waitFor({ timeout: 5000 });
    await page.locator('#feed li[data-event="override"]').first().waitFor({ timeout: 5000 });
    expect(agent.events('reload', from)).toHaveLength(0);

    // Keyboard only, and the token is remembered for the tab: Ready brings it back.
    await page.getByRole('button', { name: `Ready ${server} in web` }).focus();
    await page.keyboard.press('Enter');
    await waitUntil('b1 back in rotation', async () => (await sample(webPort, 12)).has(backends.id(b1)), 5000);
    expect(await page.locator('#token-dialog[open]').count()).toBe(0);

    const shots = join(ROOT, '.tmp');
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'dashboard.png'), fullPage: true });
    if (process.env.UPDATE_DOCS === '1') await page.screenshot({ path: join(ROOT, 'docs', 'dashboard.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
