import { startBackends, type Backends } from '../support/backends';
import { AgentFixture } from '../support/agent';
import { freePort, sample } from '../support/net';
import { RuntimeClient } from '../../src/haproxy/runtime-client';

// Someone (or something) changes HAProxy behind the agent's back: the periodic comparison puts it right.
describe('drift repair', () => {
  let backends: Backends;
  let agent: AgentFixture;
  beforeAll(async () => {
    backends = await startBackends(3);
  });
  afterAll(() => backends.close());
  afterEach(() => agent.cleanup());

  test('a server put in maint and a stray server added by hand are repaired without a reload', async () => {
    const [b1, b2, b3] = backends.ports;
    const port = await freePort();
    agent = new AgentFixture({
      services: { web: { type: 'static', port, servers: [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`] } },
      runtime: { drift_interval_ms: 300 },
    });
    await agent.start();
    // Let the check that follows every start run first, so that what repairs the change below is the periodic pass.
    await new Promise((r) => setTimeout(r, 150));
    const pid = await agent.haproxyPid();
    const client = new RuntimeClient(agent.socketPath);
    const from = agent.mark();
    const replies = await client.batch([
      `set server web/127.0.0.1:${b1} state maint`,
      `add server web/stray 127.0.0.1:${b3}`,
      'set server web/stray state ready',
    ]);
    // The drift pass may run any moment now, so the log below is what shows there was drift.
    expect(replies.map((r) => r.ok)).toEqual([true, true, true]);

    const repaired = await agent.waitLog((l) => l.event === 'drift_repaired', 3000, from);
    expect(repaired.changes).toEqual([{ service: 'web', removed: ['stray'], returning: [`127.0.0.1:${b1}`] }]);
    expect(await sample(port, 6)).toEqual(new Set([backends.id(b1), backends.id(b2)]));
    expect(await agent.haproxyPid()).toBe(pid);
    expect(agent.events('reload', from)).toHaveLength(0);

    // Passes that find HAProxy in line skip the backend on its digest; a change made after them is still seen.
    await new Promise((r) => setTimeout(r, 1000));
    const again = agent.mark();
    expect(agent.events('drift_repaired', from)).toHaveLength(1);
    // The pass after the repair checks the service again and finds it in line; the ones after that pass over it.
    expect(agent.events('runtime_swept', from).some((p) => p.trigger === 'drift' && p.unchanged === 1 && p.checked === 0)).toBe(true);
    expect((await client.batch([`set server web/127.0.0.1:${b2} weight 7`, `set server web/127.0.0.1:${b1} state drain`])).map((r) => r.ok)).toEqual([true, true]);
    const second = await agent.waitLog((l) => l.event === 'drift_repaired', 3000, again);
    expect(second.changes).toEqual([{ service: 'web', changed: [`127.0.0.1:${b2}`], returning: [`127.0.0.1:${b1}`] }]);
    const state = await client.showServersState('web');
    expect(state.map((s) => [s.port, s.weight, s.drain]).sort()).toEqual([[b1, 1, false], [b2, 1, false]].sort());
    expect(agent.events('reload', from)).toHaveLength(0);
  });
});
