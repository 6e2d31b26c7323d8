import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentFixture } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { startLoad } from '../support/load';
import { freePorts, sample, waitUntil } from '../support/net';
import { RuntimeClient } from '../../src/haproxy/runtime-client';

const TOKEN = 'operator-token-0123456789abcdef';

async function post(apiPort: number, path: string, body: unknown): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.text();
  return res.status;
}

// An operator's decision is never silently undone: not by a crash of the agent, an
// upgrade (stop and start), a reload or a SIGHUP.
describe('operator overrides are durable', () => {
  let backends: Backends;
  let agent: AgentFixture;
  beforeAll(async () => {
    backends = await startBackends(3);
  });
  afterAll(() => backends.close());
  afterEach(() => agent.cleanup());

  test('maint set through the API survives kill -9 and SIGTERM of the agent, a reload and a SIGHUP; cleared, it is gone from the file', async () => {
    const [b1, b2, b3] = backends.ports;
    const [port, apiPort, otherPort] = await freePorts(3);
    const servers = [b1, b2, b3].map((p) => `127.0.0.1:${p}`);
    agent = new AgentFixture({ services: { web: { type: 'static', port, servers } }, extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"\n  token: ${TOKEN}` });
    const overridesFile = join(agent.dir, 'run', 'overrides.json');
    const client = new RuntimeClient(agent.socketPath);
    const b1State = async () => (await client.showServersState('web')).find((s) => s.port === b1);
    const start = async () => {
      const from = agent.mark();
      await agent.start();
      await agent.waitLog((l) => l.event === 'api_listening', 5000, from);
      return from;
    };

    await start();
    expect(await post(apiPort, `/api/services/web/servers/127.0.0.1:${b1}/state`, { state: 'maint' })).toBe(200);
    await waitUntil('b1 in maint', async () => (await b1State())?.maint === true, 3000);
    expect(JSON.parse(readFileSync(overridesFile, 'utf8'))).toEqual({ version: 1, overrides: { web: { [`127.0.0.1:${b1}`]: { state: 'maint' } } } });

    // kill -9: HAProxy keeps running with b1 in maint; the new agent adopts it and keeps it there.
    const load = startLoad(port, 4, 60_000);
    await agent.stop('SIGKILL');
    expect((await b1State())?.maint).toBe(true);
    let from = await start();
    expect(agent.events('haproxy_adopt', from)).toHaveLength(1);
    expect(agent.events('overrides_restored', from)[0]).toMatchObject({ count: 1 });
    expect((await b1State())?.maint).toBe(true);
    // The agent's own check after the takeover finds nothing to put back.
    await agent.waitLog((l) => l.event === 'runtime_swept' && l.trigger === 'after-reload', 5000, from);
    expect(agent.events('plan', from)).toEqual([]);
    expect((await b1State())?.maint).toBe(true);
    const result = await load.stop();
    expect(result.ok).toBeGreaterThan(100);
    expect(result.failed).toBe(0);
    expect(await sample(port, 6)).toEqual(new Set([backends.id(b2), backends.id(b3)]));

    // SIGTERM (an upgrade): HAProxy stops with the agent; the new one starts b1 in maint.
    await agent.stop('SIGTERM');
    from = await start();
    expect(agent.events('haproxy_adopt', from)).toHaveLength(0);
    expect(readFileSync(agent.configPath, 'utf8')).toMatch(new RegExp(`server 127\\.0\\.0\\.1:${b1} 127\\.0\\.0\\.1:${b1} disabled$`, 'm'));
    expect((await b1State())?.maint).toBe(true);
    expect(await sample(port, 6)).toEqual(new Set([backends.id(b2), backends.id(b3)]));

    // A reload (a new service) and a SIGHUP keep it.
    from = agent.mark();
    agent.writeService('other', { type: 'static', port: otherPort, servers: [servers[1]] });
    await agent.waitLog((l) => l.event === 'reload', 5000, from);
    expect((await b1State())?.maint).toBe(true);
    from = agent.mark();
    agent.proc!.kill('SIGHUP');
    await agent.waitLog((l) => l.event === 'config_reloaded', 5000, from);
    await new Promise((r) => setTimeout(r, 300));
    expect((await b1State())?.maint).toBe(true);

    // Cleared: back in rotation and out of the file.
    expect(await post(apiPort, `/api/services/web/servers/127.0.0.1:${b1}/state`, { state: 'ready' })).toBe(200);
    await waitUntil('b1 ready', async () => (await b1State())?.maint === false, 3000);
    expect(JSON.parse(readFileSync(overridesFile, 'utf8'))).toEqual({ version: 1, overrides: {} });
  });

  test('a corrupt overrides file is reported by name and ignored; an override whose server is gone is named and kept', async () => {
    const [b1, b2] = backends.ports;
    const [port, apiPort] = await freePorts(2);
    agent = new AgentFixture({
      services: { web: { type: 'static', port, servers: [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`] } },
      extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"\n  token: ${TOKEN}`,
    });
    const overridesFile = join(agent.dir, 'run', 'overrides.json');
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    expect(await post(apiPort, `/api/services/web/servers/127.0.0.1:${b2}/weight`, { weight: 7 })).toBe(200);
    await agent.stop('SIGTERM');

    // The server leaves the service while the agent is down.
    agent.writeService('web', { type: 'static', port, servers: [`127.0.0.1:${b1}`] });
    let from = agent.mark();
    await agent.start();
    expect(agent.events('override_not_restored', from)).toEqual([
      expect.objectContaining({ service: 'web', server: `127.0.0.1:${b2}`, missing: 'server', override: { weight: 7 } }),
    ]);
    await agent.stop('SIGTERM');

    writeFileSync(overridesFile, '{"version": 1, "overrides": {"web": ');
    from = agent.mark();
    await agent.start();
    const bad = agent.events('overrides_unreadable', from)[0];
    expect(bad).toMatchObject({ file: overridesFile });
    expect(String(bad.error)).toMatch(/not JSON/);
    expect(agent.events('start', from)).toHaveLength(1);
    expect(await sample(port, 2)).toEqual(new Set([backends.id(b1)]));
  });
});
