import { createSocket, type Socket } from 'node:dgram';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentFixture } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { freePort, sample, waitUntil } from '../support/net';

async function getJson(port: number, path: string) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { accept: 'application/json' } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { good: boolean; errors: Array<{ service?: string; problem: string }>; warnings: unknown[] } };
}

async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** The value of one sample line in Prometheus text, or undefined. */
function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

// What /status and /metrics say about reasons, timings, views, grace periods and failing reloads.
describe('status and metrics', () => {
  let backends: Backends;
  let agent: AgentFixture;
  let udp: Socket | undefined;
  beforeAll(async () => {
    backends = await startBackends(2);
  });
  afterAll(() => backends.close());
  afterEach(async () => {
    udp?.close();
    udp = undefined;
    await agent.cleanup();
  });

  test('reloads by reason, propagation and plan histograms, statsd export', async () => {
    const [b1, b2] = backends.ports;
    const [port, otherPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const packets: string[] = [];
    udp = createSocket('udp4');
    udp.on('message', (m) => packets.push(...m.toString('utf8').split('\n')));
    await new Promise<void>((r) => udp!.bind(0, '127.0.0.1', () => r()));
    const statsdPort = udp.address().port;
    agent = new AgentFixture({
      services: { web: { type: 'static', port, servers: [`127.0.0.1:${b1}`] } },
      extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"\nstatsd:\n  port: ${statsdPort}\n  prefix: pm.\n  interval_ms: 200`,
    });
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');

    // A server change: runtime path. A new service: reload path.
    agent.writeService('web', { type: 'static', port, servers: [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`] });
    await waitUntil('both servers serving', async () => (await sample(port, 6)).size === 2, 3000);
    const from = agent.mark();
    agent.writeService('other', { type: 'static', port: otherPort, servers: [`127.0.0.1:${b2}`] });
    await agent.waitLog((l) => l.event === 'reload', 5000, from);

    const text = await metricsText(apiPort);
    expect(metric(text, 'proxymgr_reloads_total{reason="initial"}')).toBe(1);
    expect(metric(text, 'proxymgr_reloads_total{reason="service_added"}')).toBe(1);
    expect(metric(text, 'proxymgr_propagation_seconds_count{path="runtime"}')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'proxymgr_propagation_seconds_count{path="reload"}')).toBe(1);
    // The reload waited for quiet_ms (20 ms) at least; the runtime path did not.
    expect(metric(text, 'proxymgr_propagation_seconds_sum{path="reload"}')).toBeGreaterThanOrEqual(0.02);
    expect(metric(text, 'proxymgr_plan_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'proxymgr_runtime_commands_total')).toBeGreaterThanOrEqual(2);
    expect(metric(text, 'proxymgr_reload_duration_seconds_count')).toBe(2);
    expect(metric(text, 'proxymgr_source_up{service="web",type="static"}')).toBe(1);
    expect(metric(text, 'proxymgr_servers{service="other",state="ready"}')).toBe(1);

    await waitUntil('statsd packets', async () => packets.some((p) => p.startsWith('pm.servers.other:1|g')), 3000);
    expect(packets).toContain('pm.reloads.initial:1|c');
    expect(packets).toContain('pm.reloads.service_added:1|c');
    expect(packets.some((p) => /^pm\.propagation\.runtime:[\d.]+\|ms$/.test(p))).toBe(true);
    expect(packets.some((p) => /^pm\.runtime\.commands:\d+\|c$/.test(p))).toBe(true);
  });

  test('views restrict /status; a source down counts only after its grace; a failing reload turns every view bad', async () => {
    const [b1, b2] = backends.ports;
    const [webPort, dbPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    agent = new AgentFixture({
      services: {
        web: { type: 'static', port: webPort, servers: [`127.0.0.1:${b1}`] },
        db: { type: 'file', port: dbPort, file: '../db.servers' },
      },
      extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"\nstatus:\n  source_grace_ms: 1500\n  views:\n    front: ["web*"]\n    data: [db]`,
    });
    const serversFile = join(agent.dir, 'db.servers');
    writeFileSync(serversFile, `127.0.0.1:${b2}\n`);
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    expect((await getJson(apiPort, '/status')).body).toMatchObject({ num_ok: 2, num_error: 0, good: true, errors: [], warnings: [] });
    expect((await getJson(apiPort, '/status?view=front')).body).toMatchObject({ view: 'front', num_ok: 1, good: true });
    const unknown = await getJson(apiPort, '/status?view=nope');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatch(/no view nope \(configured: front, data\)/);

    // The db source goes away: servers kept, a warning at first, an error after 1.5 s; the other view stays good.
    renameSync(serversFile, `${serversFile}.gone`);
    await waitUntil('a warning within the grace period', async () => (await getJson(apiPort, '/status?view=data')).body.warnings.length === 1, 3000);
    const early = (await getJson(apiPort, '/status?view=data')).body;
    expect(early.good).toBe(true);
    await waitUntil('an error after the grace period', async () => (await getJson(apiPort, '/status?view=data')).body.good === false, 4000);
    const late = (await getJson(apiPort, '/status?view=data')).body;
    expect(late.errors).toEqual([{ service: 'db', problem: expect.stringMatching(/db\.servers: (removed|ENOENT); keeping the previous servers/) }]);
    expect((await getJson(apiPort, '/status?view=front')).body.good).toBe(true);
    expect(metric(await metricsText(apiPort), 'proxymgr_source_up{service="db",type="file"}')).toBe(0);
    expect(await sample(dbPort, 3)).toEqual(new Set([backends.id(b2)]));
    renameSync(`${serversFile}.gone`, serversFile);
    await waitUntil('good again once the source is back', async () => (await getJson(apiPort, '/status')).body.good === true, 4000);

    // A global setting HAProxy refuses: the reload fails, HAProxy keeps serving, and every view is bad.
    const original = readFileSync(agent.configFile, 'utf8');
    const from = agent.mark();
    writeFileSync(agent.configFile, original.replace('haproxy:\n', 'haproxy:\n  global:\n    - maxconn 4096\n    - no-such-directive 1\n'));
    agent.proc!.kill('SIGHUP');
    await agent.waitLog((l) => l.event === 'apply_failed', 5000, from);
    const failing = (await getJson(apiPort, '/status?view=front')).body;
    expect(failing.good).toBe(false);
    expect(failing.errors).toEqual([{ problem: expect.stringMatching(/haproxy -c rejected/) }]);
    expect(metric(await metricsText(apiPort), 'proxymgr_reload_failures_total{reason="settings"}')).toBeGreaterThanOrEqual(1);
    expect(await sample(webPort, 3)).toEqual(new Set([backends.id(b1)]));
    writeFileSync(agent.configFile, original);
    agent.proc!.kill('SIGHUP');
    await waitUntil('good again after the fix', async () => (await getJson(apiPort, '/status')).body.good === true, 5000);
  });
});
