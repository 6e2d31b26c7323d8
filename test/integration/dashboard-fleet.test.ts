import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AgentFixture, ROOT } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { sample, waitUntil } from '../support/net';

// Debian's Chromium; the test machines have no outside network, so nothing that phones home.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SERVICES = 1000;
const SERVERS = 20;
const LIVE = 'web-live';
/** Service files the agent rejects (a port out of range, a source type it does not know): these are in error. */
const BROKEN: Record<string, unknown> = {
  'broken-port': { type: 'static', port: 70000, servers: ['10.0.0.1:80'] },
  'broken-type': { type: 'carrier-pigeon', port: 1, servers: ['10.0.0.2:80'] },
  'broken-servers': { type: 'static', port: 2, servers: 'not a list' },
  'broken-address': { type: 'static', port: 3, servers: ['10.0.0.3:99999'] },
  'broken-nothing': { type: 'static' },
};
const TOTAL = SERVICES + 1 + Object.keys(BROKEN).length;
const name = (i: number) => `svc${String(i).padStart(4, '0')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function canBind(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createServer();
    s.once('error', () => done(false));
    s.listen(port, '127.0.0.1', () => s.close(() => done(true)));
  });
}

/** `n` consecutive ports free on 127.0.0.1, below the ephemeral range (so the kernel hands none of them out meanwhile). */
async function portRange(n: number): Promise<number> {
  let base = 20000;
  for (let p = base; p < 32768; p++) {
    if (!(await canBind(p))) base = p + 1;
    else if (p - base + 1 === n) return base;
  }
  throw new Error(`no ${n} free consecutive ports`);
}

/** Visible service rows, in order. */
const shown = (page: Page) => page.$$eval('#service-rows [data-service]:not([hidden])', (trs) => trs.map((tr) => tr.getAttribute('data-service')));

// A sidecar's page with a fleet on it: 1,000 services x 20 servers must paint and filter
// at the speed of a small one, and follow the source live.
describe('dashboard with 1,000 services', () => {
  let backends: Backends;
  let agent: AgentFixture;
  let browser: Browser | undefined;
  beforeAll(async () => {
    backends = await startBackends(3);
  });
  afterAll(() => backends.close());
  afterEach(async () => {
    await browser?.close();
    await agent.cleanup();
  });

  test('first paint under 2 s, search under 100 ms, the error filter, a new server within 1 s, charts, sorting', async () => {
    const [b1, b2, b3] = backends.ports;
    const base = await portRange(SERVICES + 1);
    const livePort = base + SERVICES;
    const services: Record<string, unknown> = { ...BROKEN, [LIVE]: { type: 'static', port: livePort, servers: [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`] } };
    for (let i = 0; i < SERVICES; i++) {
      // Unreachable addresses are fine: no health checks, nothing connects to them.
      services[name(i)] = { type: 'static', port: base + i, servers: Array.from({ length: SERVERS }, (_, j) => `10.1.${i >> 2}.${(i & 3) * 50 + j + 1}:8080`) };
    }
    agent = new AgentFixture({ services, logLevel: 'info', extraYaml: 'api:\n  listen: "127.0.0.1:0"\n  token: fleet-token-0123456789' });
    await agent.start();
    const apiPort = Number((await agent.waitLog((l) => l.event === 'api_listening', 20_000)).port);
    const url = `http://127.0.0.1:${apiPort}/`;

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
    // From navigation start (performance.now() is 0 there) to the frame where every row is in the DOM.
    // (Browser code as text: the tests are compiled without the DOM's types.)
    await page.addInitScript(`
      const check = () => {
        const rows = document.getElementById('service-rows');
        if (rows && rows.childElementCount >= ${TOTAL}) window.firstPaintMs = performance.now();
        else requestAnimationFrame(check);
      };
      requestAnimationFrame(check);`);
    const paints: number[] = [];
    for (let i = 0; i < 2; i++) {
      await page.goto(url);
      // Polled with evaluate: waitForFunction compiles its predicate in the page, which the page's CSP forbids.
      await waitUntil('every row painted', async () => (await page.evaluate('window.firstPaintMs !== undefined')) === true, 20_000, 50);
      paints.push(await page.evaluate('window.firstPaintMs') as number);
    }
    expect(await page.locator('#service-rows [data-service]').count()).toBe(TOTAL);
    await page.locator('#connection[data-state="live"]').waitFor();

    // Problems first: the broken services lead the default order.
    const order = await shown(page);
    expect(order.slice(0, 5).sort()).toEqual(Object.keys(BROKEN).sort());

    // Search as typed: each keystroke's table update, measured in the page from the input event to a laid-out frame.
    const typing = (await page.evaluate(`(async (text) => {
      const input = document.getElementById('search');
      const times = [];
      const scripts = [];
      const steps = [...Array.from(text, (_, i) => text.slice(0, i + 1)), ''];
      for (const value of steps) {
        const t0 = performance.now();
        input.value = value;
        input.dispatchEvent(new Event('input', { bubbles: true }));
        scripts.push(performance.now() - t0);
        await new Promise((r) => requestAnimationFrame(r));
        document.getElementById('service-rows').getBoundingClientRect();
        times.push(performance.now() - t0);
      }
      return { times, scripts };
    })('${name(421)}')`)) as { times: number[]; scripts: number[] };
    await page.fill('#search', name(421));
    expect(await shown(page)).toEqual([name(421)]);
    expect(new URL(page.url()).hash).toBe(`#q=${name(421)}`);
    await page.fill('#search', '');

    // The error filter shows the broken services and nothing else.
    await page.selectOption('#health-filter', 'error');
    expect((await shown(page)).sort()).toEqual(Object.keys(BROKEN).sort());
    for (const broken of Object.keys(BROKEN)) expect(await page.locator(`#service-rows [data-service="${broken}"] .badge`).textContent()).toBe('error');
    await page.selectOption('#health-filter', 'all');

    const shots = join(ROOT, '.tmp');
    mkdirSync(shots, { recursive: true });
    await page.locator('#search').blur();
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: join(shots, 'dashboard-overview.png') });
    if (process.env.UPDATE_DOCS === '1') await page.screenshot({ path: join(ROOT, 'docs', 'dashboard-overview.png') });

    // A server added in the source: the row's count and the expanded panel, without a reload.
    await page.fill('#search', LIVE);
    const row = page.locator(`#service-rows [data-service="${LIVE}"]`);
    await row.getByRole('button', { name: LIVE, exact: true }).click();
    const panel = page.locator(`[data-panel="${LIVE}"]`);
    await waitUntil('the live service expanded', async () => (await panel.locator('tbody tr[data-server]').count()) === 2, 5000);
    await page.evaluate('window.marker = 7');
    const t0 = Date.now();
    agent.writeService(LIVE, { type: 'static', port: livePort, servers: [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`, `127.0.0.1:${b3}`] });
    await row.locator('[role="cell"]', { hasText: /\/3$/ }).waitFor({ timeout: 5000 });
    await panel.locator(`tr[data-server="127.0.0.1:${b3}"]`).waitFor({ timeout: 5000 });
    const addMs = Date.now() - t0;
    expect(await page.evaluate('window.marker')).toBe(7);

    // Traffic, and the charts of the expanded service (longer when the screenshot goes into the docs, for a line worth seeing).
    const trafficUntil = Date.now() + (process.env.UPDATE_DOCS === '1' ? 65_000 : 0);
    do {
      await sample(livePort, 10 + Math.round(10 * Math.sin(Date.now() / 6000)) + 10);
      await sleep(200);
    } while (Date.now() < trafficUntil);
    // Traffic goes on until a history point (every 10 s) has it and the page has re-read the history on `tick`.
    const busyChart = panel.locator('svg[data-series="rate"][aria-label*="peak "]:not([aria-label$="peak 0"])');
    const chartMs = await waitUntil('a rate chart with traffic', async () => {
      if (await busyChart.count()) return true;
      await sample(livePort, 5);
      return false;
    }, 25_000, 200).catch(async (err: Error) => {
      const history = await page.evaluate(`fetch('api/services/${LIVE}/history').then((r) => r.text(), (e) => String(e))`);
      const label = await panel.locator('svg[data-series="rate"]').getAttribute('aria-label');
      throw new Error(`${err.message}\nchart: ${label}\nhistory: ${String(history).slice(0, 500)}\nagent exit code: ${agent.proc?.exitCode}`);
    });
    await panel.getByRole('button', { name: `History of 127.0.0.1:${b1} in ${LIVE}` }).click();
    await panel.locator('.server-history svg[data-series="rate"][aria-label*="peak "]').waitFor({ timeout: 5000 });
    await page.screenshot({ path: join(shots, 'dashboard-history.png') });
    if (process.env.UPDATE_DOCS === '1') await page.screenshot({ path: join(ROOT, 'docs', 'dashboard-history.png') });

    // Sorting the whole table by a column: the one busy service comes first (its live rate is of the last 2 s).
    await page.fill('#search', '');
    let busy = true;
    const trickle = (async () => {
      while (busy) await sample(livePort, 2);
    })();
    let sortMs: number;
    try {
      await waitUntil('a live rate on the busy service', async () => (await row.locator('[role="cell"]').nth(2).textContent()) !== '0', 10_000);
      sortMs = (await page.evaluate(`(async () => {
        const button = [...document.querySelectorAll('#service-head button')].find((b) => b.textContent === 'Req/s');
        const t0 = performance.now();
        button.click();
        await new Promise((r) => requestAnimationFrame(r));
        document.getElementById('service-rows').getBoundingClientRect();
        return performance.now() - t0;
      })()`)) as number;
      expect((await shown(page))[0]).toBe(LIVE);
    } finally {
      busy = false;
      await trickle;
    }
    expect(await page.locator('[role="columnheader"][aria-sort="descending"]').textContent()).toBe('Req/s');
    expect(new URL(page.url()).hash).toBe(`#sort=rate&dir=desc&open=${LIVE}`);

    // An idle server keeps no history: its History button says why instead of drawing empty charts.
    await page.fill('#search', name(1));
    await page.locator(`#service-rows [data-service="${name(1)}"]`).getByRole('button', { name: name(1), exact: true }).click();
    const idle = page.locator(`[data-panel="${name(1)}"]`);
    await idle.getByRole('button', { name: `History of 10.1.0.51:8080 in ${name(1)}` }).click();
    await idle.locator('.server-history .reason', { hasText: 'no traffic' }).waitFor({ timeout: 5000 });
    expect(await idle.locator('.server-history svg:visible').count()).toBe(0);
    expect(new URL(page.url()).hash).toBe(`#q=${name(1)}&sort=rate&dir=desc&open=${LIVE}&open=${name(1)}`);

    console.log(`dashboard fleet (${TOTAL} services): first paint ${paints.map((p) => `${p.toFixed(0)} ms`).join(', ')}; search keystrokes max ${Math.max(...typing.times).toFixed(1)} ms (${typing.times.map((t) => t.toFixed(1)).join(' ')}; script alone ${typing.scripts.map((t) => t.toFixed(1)).join(' ')}); new server shown in ${addMs} ms; traffic in the chart after ${chartMs} ms; sort by req/s ${sortMs.toFixed(1)} ms`);
    expect(paints[0]).toBeLessThan(2000);
    expect(Math.max(...typing.times)).toBeLessThan(100);
    expect(addMs).toBeLessThan(1000);
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
