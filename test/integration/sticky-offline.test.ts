import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { AgentFixture, type LogLine } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { freePort, freePorts, sample, waitUntil } from '../support/net';
import { RuntimeClient } from '../../src/haproxy/runtime-client';

const TOKEN = 'sticky-token-0123456789abcdef';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A backend that can be stopped and started again on the same port. */
function switchable(port: number) {
  let srv: http.Server | undefined;
  return {
    start: () =>
      new Promise<void>((resolve) => {
        srv = http.createServer((_req, res) => {
          res.setHeader('connection', 'close');
          res.end(`b${port}\n`);
        });
        srv.listen(port, '127.0.0.1', resolve);
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (!srv) return resolve();
        srv.closeAllConnections();
        srv.close(() => resolve());
        srv = undefined;
      }),
  };
}

interface ServerView {
  name: string;
  state: string;
  override: Record<string, unknown> | null;
  offline?: string;
}

async function servicesApi(apiPort: number): Promise<Array<{ name: string; servers: ServerView[] }>> {
  const res = await fetch(`http://127.0.0.1:${apiPort}/api/services`);
  return (await res.json()) as Array<{ name: string; servers: ServerView[] }>;
}

// x0 Director's "sticky offline mode": a server its health check marks down stays out
// (maint, an override with the reason, saved) until an operator sets it ready.
describe('sticky_offline', () => {
  let steady: Backends;
  let agent: AgentFixture;
  const flappyPort = freePort();
  let flappy: ReturnType<typeof switchable>;

  beforeAll(async () => {
    steady = await startBackends(1);
    flappy = switchable(await flappyPort);
    await flappy.start();
  });
  afterAll(async () => {
    await flappy.stop();
    await steady.close();
  });
  afterEach(() => agent.cleanup());

  test('a server its check marks down is held in maint until an operator sets it ready: through check recovery, an agent restart; a service without the key recovers on its own', async () => {
    const fp = await flappyPort;
    const [sp] = steady.ports;
    const [stickyPort, plainPort, apiPort] = await freePorts(3);
    const fast = { interval_ms: 100, fall: 1, rise: 1 };
    const servers = [`127.0.0.1:${fp}`, `127.0.0.1:${sp}`];
    const stickyBlob = { type: 'static', port: stickyPort, servers, check: fast, sticky_offline: true };
    agent = new AgentFixture({
      services: { sticky: stickyBlob, plain: { type: 'static', port: plainPort, servers, check: fast } },
      extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"\n  token: ${TOKEN}`,
    });
    const name = `127.0.0.1:${fp}`;
    const overridesFile = join(agent.dir, 'run', 'overrides.json');
    const client = new RuntimeClient(agent.socketPath);
    const state = async (service: string) => (await client.showServersState(service)).find((s) => s.name === name);
    const stat = async (service: string) => (await client.query(`show stat ${service} 4 -1`)).split('\n').find((l) => l.split(',')[1] === name)?.split(',');
    // Columns of HAProxy 2.6's `show stat`: 17 status, 22 chkdown (transitions to down).
    const status = async (service: string) => (await stat(service))?.[17];
    const downs = async (service: string) => Number((await stat(service))?.[22]);
    const apiServer = async (service: string) => (await servicesApi(apiPort)).find((s) => s.name === service)!.servers.find((s) => s.name === name)!;
    const isSticky = (from: number) => (l: LogLine) => l.event === 'sticky_offline' && l.service === 'sticky' && l.server === name && agent.logs.indexOf(l) >= from;
    const start = async () => {
      const from = agent.mark();
      await agent.start();
      await agent.waitLog((l) => l.event === 'api_listening', 5000, from);
      return from;
    };

    let from = await start();
    // Both up and passing their checks, and seen so by the agent (one reading, 1 s by default).
    await waitUntil('flappy UP in both', async () => (await status('sticky')) === 'UP' && (await status('plain')) === 'UP', 10_000);
    await sleep(2500);

    // Down: the sticky service's server is held in maint, with the reason; the plain one is only DOWN.
    await flappy.stop();
    const event = await agent.waitLog(isSticky(from), 10_000, from);
    expect(String(event.check)).toMatch(/^L4(CON|TOUT)/);
    await waitUntil('flappy in maint in HAProxy', async () => (await state('sticky'))?.maint === true, 5000);
    const held = await apiServer('sticky');
    expect(held.state).toBe('maint');
    expect(held.override).toEqual({ state: 'maint', reason: 'sticky_offline', at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), check: event.check });
    expect(held.offline).toMatch(/^offline since \d{4}-\d\d-\d\d \d\d:\d\d UTC: health check failed \(L4(CON|TOUT)[^)]*\); set ready to bring it back$/);
    expect(JSON.parse(readFileSync(overridesFile, 'utf8')).overrides).toEqual({ sticky: { [name]: held.override } });
    expect(await status('plain')).toBe('DOWN');
    expect((await apiServer('plain')).offline).toBeUndefined();
    const metrics = async () => (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    expect(await metrics()).toMatch(/^proxymgr_sticky_offline_held\{service="sticky"\} 1$/m);
    expect(await metrics()).not.toMatch(/^proxymgr_sticky_offline_held\{service="plain"\}/m);
    expect(agent.events('sticky_offline', from).filter((l) => l.service === 'plain')).toEqual([]);

    // Back: the plain service takes it again by itself; the sticky one keeps it out, check after check.
    await flappy.start();
    await waitUntil('flappy back in plain', async () => (await sample(plainPort, 4)).has(`b${fp}`), 10_000);
    for (let i = 0; i < 5; i++) {
      expect(await sample(stickyPort, 4)).toEqual(new Set([`b${sp}`]));
      expect((await state('sticky'))?.maint).toBe(true);
      await sleep(200);
    }

    // The agent restarted (HAProxy with it): still held, from the overrides file.
    await agent.stop('SIGTERM');
    from = await start();
    expect(agent.events('overrides_restored', from)[0]).toMatchObject({ count: 1 });
    expect((await state('sticky'))?.maint).toBe(true);
    expect((await apiServer('sticky')).offline).toMatch(/^offline since /);
    expect(await sample(stickyPort, 6)).toEqual(new Set([`b${sp}`]));

    // An operator sets it ready (with the token): it takes traffic again, and the hold is gone.
    const res = await fetch(`http://127.0.0.1:${apiPort}/api/services/sticky/servers/${name}/state`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ state: 'ready' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ service: 'sticky', server: name, override: null });
    await waitUntil('flappy back in sticky', async () => (await sample(stickyPort, 4)).has(`b${fp}`), 10_000);
    expect(JSON.parse(readFileSync(overridesFile, 'utf8')).overrides).toEqual({});
    expect((await apiServer('sticky')).offline).toBeUndefined();
    expect(await metrics()).not.toMatch(/^proxymgr_sticky_offline_held\{/m);

    // A flap shorter than the reading interval (down, then up again at once) is caught too.
    await sleep(2500);
    from = agent.mark();
    const before = await downs('sticky');
    await flappy.stop();
    await waitUntil('a check took flappy down', async () => (await downs('sticky')) > before, 5000, 5);
    await flappy.start();
    await agent.waitLog(isSticky(from), 10_000, from);
    await waitUntil('flappy in maint again', async () => (await state('sticky'))?.maint === true, 5000);

    // The server leaves the source: its hold goes with it (no leftover in the file).
    from = agent.mark();
    agent.writeService('sticky', { ...stickyBlob, servers: [servers[1]] });
    await agent.waitLog((l) => l.event === 'sticky_offline_dropped' && l.server === name, 10_000, from);
    expect(JSON.parse(readFileSync(overridesFile, 'utf8')).overrides).toEqual({});

    // The key writes no HAProxy line: turning it off reloads nothing.
    from = agent.mark();
    agent.writeService('sticky', { ...stickyBlob, servers: [servers[1]], sticky_offline: false });
    await agent.waitLog((l) => l.event === 'service_defined' && l.service === 'sticky', 5000, from);
    await sleep(500);
    expect(agent.events('reload', from)).toEqual([]);
  });

  test('the dashboard says why the server is out, and its Ready button brings it back', async () => {
    const fp = await flappyPort;
    const [sp] = steady.ports;
    const [stickyPort, apiPort] = await freePorts(2);
    const name = `127.0.0.1:${fp}`;
    const blob = { type: 'static', port: stickyPort, servers: [name, `127.0.0.1:${sp}`], check: { interval_ms: 100, fall: 1, rise: 1 }, sticky_offline: true };
    agent = new AgentFixture({ services: { sticky: blob }, extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"\n  token: ${TOKEN}\n  stats_interval_ms: 250` });
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    const client = new RuntimeClient(agent.socketPath);
    await waitUntil('flappy UP', async () => (await sample(stickyPort, 4)).has(`b${fp}`), 10_000);
    await sleep(2500);
    await flappy.stop();
    await agent.waitLog((l) => l.event === 'sticky_offline' && l.server === name, 10_000);
    await flappy.start();

    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.goto(`http://127.0.0.1:${apiPort}/`);
      await page.locator('#service-rows [data-service="sticky"]').getByRole('button', { name: 'sticky', exact: true }).click();
      const row = page.locator(`[data-panel="sticky"] tr[data-server="${name}"]`);
      await row.locator('td[data-state="maint"]', { hasText: 'maint (health check)' }).waitFor({ timeout: 10_000 });
      const note = row.locator('.offline-note');
      expect(await note.textContent()).toMatch(/^offline since \d\d:\d\d: health check failed \(L4(CON|TOUT)[^)]*\); set Ready to bring it back$/);
      await page.locator('#feed li[data-event="sticky_offline"]').first().waitFor({ timeout: 5000 });

      await page.getByRole('button', { name: `Ready ${name} in sticky` }).click();
      await page.getByLabel('Token', { exact: true }).fill(TOKEN);
      await page.getByRole('button', { name: 'Save token' }).click();
      await waitUntil('flappy back in rotation', async () => (await sample(stickyPort, 6)).has(`b${fp}`), 10_000);
      expect((await client.showServersState('sticky')).find((s) => s.name === name)?.maint).toBe(false);
      await note.waitFor({ state: 'hidden', timeout: 5000 });
      await row.locator('td[data-state="ready"]').waitFor({ timeout: 5000 });
      expect(pageErrors).toEqual([]);
    } finally {
      await browser?.close();
    }
  });
});
