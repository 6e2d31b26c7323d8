import http from 'node:http';
import { readFileSync } from 'node:fs';
import { AgentFixture } from '../support/agent';
import { freePort, waitUntil } from '../support/net';
import { RuntimeClient } from '../../src/haproxy/runtime-client';
import { parseStat } from '../../src/haproxy/state-parse';

/**
 * A backend that holds every request until `open()`, then answers at once, and records the
 * order in which requests reached it. With `server_maxconn: 1` HAProxy lets one request
 * through at a time, so that order is the order HAProxy took requests off its queue.
 */
async function gatedBackend(): Promise<{ port: number; arrived: string[]; open(): void; close(): Promise<void> }> {
  const arrived: string[] = [];
  const held: Array<() => void> = [];
  let opened = false;
  const srv = http.createServer((req, res) => {
    arrived.push(req.url ?? '');
    const answer = () => {
      res.setHeader('connection', 'close');
      res.end('ok\n');
    };
    if (opened) answer();
    else held.push(answer);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
  return {
    port,
    arrived,
    open() {
      opened = true;
      for (const a of held.splice(0)) a();
    },
    close: () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  };
}

/** GET through HAProxy; resolves the status (the order of completion is taken at the backend). */
function send(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false, timeout: 60_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${path}`)));
    req.on('error', reject);
  });
}

/** Requests HAProxy holds in the service's queues (the backend's and its servers'). */
async function queued(rc: RuntimeClient, service: string): Promise<number> {
  const [{ output }] = await rc.batch(['show stat']);
  return parseStat(output, ['pxname', 'svname', 'qcur'])
    .filter((r) => r.pxname === service && r.svname !== 'FRONTEND')
    .reduce((n, r) => n + (Number(r.qcur) || 0), 0);
}

const BATCH = `low 'nightly' "#1" $HOME`;
const PRIORITY = [
  { match: { path_prefix: ['/checkout'] }, class: 10 },
  // A value HAProxy's line parser would split or cut short unless quoted.
  { match: { header: { name: 'X-Batch', value: BATCH } }, class: -5 },
];

// Classful scheduling: when requests queue for a busy server, a higher class is served first.
describe('priority classes with a real HAProxy', () => {
  let agent: AgentFixture | undefined;
  let backend: Awaited<ReturnType<typeof gatedBackend>> | undefined;
  afterEach(async () => {
    backend?.open();
    await agent?.cleanup();
    await backend?.close();
    agent = undefined;
    backend = undefined;
  });

  test.each([
    ['with priority: queued checkouts before queued pages, batch requests (class -5) last', PRIORITY, ['checkout', 'page', 'batch']],
    ['without priority (the control): first in, first out', undefined, ['batch', 'page', 'checkout']],
  ])('%s', async (_, priority, order) => {
    backend = await gatedBackend();
    const port = await freePort();
    agent = new AgentFixture({
      services: {
        shop: {
          type: 'static',
          port,
          mode: 'http',
          server_maxconn: 1,
          // Queued requests wait as long as the test needs (the default queue timeout is the connect timeout, 1 s here).
          timeouts: { queue_ms: 60_000, server_ms: 60_000, client_ms: 60_000 },
          ...(priority && { priority }),
          servers: [`127.0.0.1:${backend.port}`],
        },
      },
    });
    await agent.start();
    const cfg = readFileSync(agent.configPath, 'utf8');
    if (priority) expect(cfg).toMatch(/^ {4}http-request set-priority-class int\(-10\) if pm_prio1_path$/m);
    const rc = new RuntimeClient(agent.socketPath);
    await waitUntil('the shop server ready', async () => (await rc.showServersState('shop')).length === 1, 10_000);

    const replies: Array<Promise<number>> = [];
    // One request takes the only slot and is held there; everything after it queues in HAProxy.
    replies.push(send(port, '/page/0'));
    await waitUntil('the first page at the backend', () => backend!.arrived.length === 1, 10_000);
    // Each group is fired and seen queued before the next, so arrival order is certain on a loaded machine.
    const groups: Array<[string, string, Record<string, string>]> = [
      ['batch', '/report', { 'X-Batch': BATCH }],
      ['page', '/page', {}],
      ['checkout', '/checkout', {}],
    ];
    let expected = 0;
    for (const [, path, headers] of groups) {
      for (let i = 1; i <= 3; i++) replies.push(send(port, `${path}/${i}`, headers));
      expected += 3;
      await waitUntil(`${expected} requests queued in HAProxy`, async () => (await queued(rc, 'shop')) === expected, 15_000);
    }
    expect(backend.arrived).toEqual(['/page/0']);

    backend.open();
    expect(await Promise.all(replies)).toEqual(replies.map(() => 200));
    const kind = (url: string) => groups.find(([, path]) => url.startsWith(`${path}/`))![0];
    // In arrival order at the backend, after the held page: the groups, each whole, in the expected order.
    const served = backend.arrived.slice(1).map(kind);
    expect(served).toEqual(order.flatMap((k) => [k, k, k]));
  });
});
