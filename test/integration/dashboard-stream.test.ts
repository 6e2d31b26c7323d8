import { request } from 'node:http';
import { AgentFixture } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { freePort, get, waitUntil } from '../support/net';
import { SseClient } from '../support/sse';

function call(port: number, method: string, path: string, body?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// The stream the dashboard reads: a snapshot, then only what changed; servers of expanded services; history.
describe('dashboard stream and history', () => {
  let backends: Backends;
  let agent: AgentFixture;
  let sse: SseClient | undefined;
  beforeAll(async () => {
    backends = await startBackends(3);
  });
  afterAll(() => backends.close());
  afterEach(async () => {
    sse?.close();
    await agent.cleanup();
  });

  test('snapshot, deltas per service and per server, HAProxy state right after an apply, history', async () => {
    const [b1, b2, b3] = backends.ports;
    const [webPort, dbPort, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const web = (servers: number[]) => ({ type: 'static', port: webPort, servers: servers.map((p) => `127.0.0.1:${p}`) });
    agent = new AgentFixture({
      services: { web: web([b1, b2]), db: { type: 'static', port: dbPort, servers: ['127.0.0.1:1'] } },
      extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"\n  token: stream-token-0123456789\n  stats_interval_ms: 250`,
    });
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    sse = await SseClient.open(`http://127.0.0.1:${apiPort}/events`);
    const hello = await sse.next((m) => m.event === 'hello');
    expect(hello.data).toMatchObject({ interval_ms: 250, history_step_ms: 10_000 });
    const snap = (await sse.next((m) => m.event === 'snapshot')).data;
    expect(snap.services.map((s: { name: string }) => s.name)).toEqual(['db', 'web']);
    expect(snap.services[1]).toMatchObject({ name: 'web', port: webPort, type: 'static', health: 'ok', servers: 2, source_up: true });

    // Expanding web: its servers in full, each with HAProxy's status.
    const id = hello.data.stream as string;
    expect((await call(apiPort, 'POST', `/events/${id}/watch`, JSON.stringify({ services: ['web'] }))).status).toBe(204);
    const fullAt = sse.messages.length;
    const full = (await sse.next((m) => m.event === 'servers' && m.data.service === 'web' && m.data.full)).data;
    expect(full.changed.map((s: { name: string }) => s.name).sort()).toEqual([`127.0.0.1:${b1}`, `127.0.0.1:${b2}`].sort());
    // HAProxy's status comes with the rows when a reading is at hand, else from the reading the watch asks for.
    const status = new Map<string, string | null>();
    await sse.next(
      (m) => {
        if (m.event !== 'servers' || m.data.service !== 'web') return false;
        for (const s of m.data.changed as Array<{ name: string; haproxy: string | null }>) status.set(s.name, s.haproxy);
        return status.size === 2 && [...status.values()].every((v) => v !== null);
      },
      3000,
      fullAt,
    );
    expect((await call(apiPort, 'POST', '/events/nope/watch', '{"services":[]}')).status).toBe(404);
    expect((await call(apiPort, 'POST', `/events/${id}/watch`, '{"services":"web"}')).status).toBe(400);

    // A server added in the source: one service row and one server row, HAProxy's state within the second, no reload.
    const from = sse.messages.length;
    const mark = agent.mark();
    const t0 = performance.now();
    agent.writeService('web', web([b1, b2, b3]));
    const added = await sse.next((m) => m.event === 'servers' && m.data.changed.some((s: { name: string; haproxy: string | null }) => s.name === `127.0.0.1:${b3}` && s.haproxy !== null), 3000, from);
    expect(added.t - t0).toBeLessThan(1000);
    const rows = await sse.next((m) => m.event === 'services' && m.data.changed.length > 0, 3000, from);
    expect(rows.data.changed.map((s: { name: string }) => s.name)).toEqual(['web']);
    expect(rows.data.changed[0].servers).toBe(3);
    const serverDeltas = sse.messages.slice(from).filter((m) => m.event === 'servers');
    expect(serverDeltas.every((m) => m.data.changed.every((s: { name: string }) => s.name === `127.0.0.1:${b3}`))).toBe(true);
    expect(agent.events('reload', mark)).toHaveLength(0);

    // Traffic shows as numbers: the service's rate, and its servers' rates to the tab that expanded it.
    const traffic = sse.messages.length;
    for (let i = 0; i < 30; i++) await get(webPort);
    await sse.next((m) => m.event === 'stats' && (m.data.v.web?.[1] ?? 0) > 0, 5000, traffic);
    await sse.next((m) => m.event === 'server-stats' && m.data.service === 'web' && Object.values(m.data.v).some((v) => (v as number[])[0] > 0), 5000, traffic);
    expect(sse.messages.slice(traffic).filter((m) => m.event === 'stats').every((m) => !('db' in m.data.v))).toBe(true);

    // Nothing changing: numbers that did not change are not sent again.
    await waitUntil('rates back to 0', () => sse!.messages.some((m) => m.event === 'stats' && m.data.v.web?.[1] === 0), 5000);
    await new Promise((r) => setTimeout(r, 600));
    const quietFrom = sse.messages.length;
    const quietBytes = sse.bytes;
    await new Promise((r) => setTimeout(r, 2000));
    expect(sse.messages.slice(quietFrom).filter((m) => m.event === 'stats' || m.event === 'server-stats')).toEqual([]);
    expect(sse.bytes - quietBytes).toBeLessThan(200);

    // History: after a history reading, the service's points; a server with traffic has its own, an idle one says why not.
    await sse.next((m) => m.event === 'tick', 12_000, traffic);
    const h = await call(apiPort, 'GET', '/api/services/web/history');
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ kept: true, hour: { step_ms: 10_000 }, day: { step_ms: 300_000 } });
    expect(h.body.hour.rate.length).toBeGreaterThan(0);
    await waitUntil(
      'a server history',
      async () => (await call(apiPort, 'GET', `/api/services/web/servers/127.0.0.1:${b1}/history`)).body.kept === true,
      12_000,
      500,
    );
    const idle = await call(apiPort, 'GET', `/api/services/db/servers/127.0.0.1:1/history`);
    expect(idle.body).toMatchObject({ kept: false, hour: null });
    expect(idle.body.reason).toMatch(/no traffic/);
    expect((await call(apiPort, 'GET', '/api/services/nope/history')).status).toBe(404);
    expect((await call(apiPort, 'GET', '/api/services/web/servers/10.9.9.9:1/history')).status).toBe(404);

    // A service removed: named in `removed`.
    const removal = sse.messages.length;
    agent.removeService('db');
    const gone = await sse.next((m) => m.event === 'services' && m.data.removed.length > 0, 5000, removal);
    expect(gone.data.removed).toEqual(['db']);
  }, 60_000);
});
