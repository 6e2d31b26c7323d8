import { startBackends, type Backends } from '../support/backends';
import { AgentFixture } from '../support/agent';
import { freePort, waitUntil } from '../support/net';

async function probe(port: number, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

// What an orchestrator asks: is the agent alive, and is it ready to carry traffic?
describe('liveness and readiness probes', () => {
  let backends: Backends;
  let agent: AgentFixture;
  beforeAll(async () => {
    backends = await startBackends(1);
  });
  afterAll(() => backends.close());
  afterEach(() => agent.cleanup());

  test('/livez answers; /readyz is 503 with reasons while HAProxy is down and 200 once it is back', async () => {
    const [port, apiPort] = [await freePort(), await freePort()];
    agent = new AgentFixture({
      services: { web: { type: 'static', port, servers: [`127.0.0.1:${backends.ports[0]}`] } },
      extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"`,
    });
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    expect(await probe(apiPort, '/livez')).toEqual({ status: 200, body: { ok: true } });
    expect(await probe(apiPort, '/readyz')).toEqual({ status: 200, body: { ready: true, reasons: [] } });

    // Watch /readyz without pause while HAProxy is killed twice in a row (the second restart waits: backoff).
    const seen: Array<{ status: number; body: Record<string, unknown> }> = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        seen.push(await probe(apiPort, '/readyz'));
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    for (let i = 0; i < 2; i++) {
      const from = agent.mark();
      process.kill(await agent.haproxyPid(), 'SIGKILL');
      await agent.waitLog((l) => l.event === 'haproxy_restart', 10_000, from);
    }
    await waitUntil('/readyz 200 again', async () => (await probe(apiPort, '/readyz')).status === 200, 10_000);
    watching = false;
    await watcher;
    const down = seen.filter((s) => s.status === 503);
    expect(down.length).toBeGreaterThan(0);
    expect(down[0].body).toEqual({ ready: false, reasons: expect.arrayContaining(['HAProxy is not running']) as unknown });
    // Alive all along: the agent's event loop kept answering.
    expect(await probe(apiPort, '/livez')).toEqual({ status: 200, body: { ok: true } });
    expect(await probe(apiPort, '/readyz')).toEqual({ status: 200, body: { ready: true, reasons: [] } });
  });
});
