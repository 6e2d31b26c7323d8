import { readFileSync, writeFileSync } from 'node:fs';
import { startBackends, type Backends } from '../support/backends';
import { AgentFixture } from '../support/agent';
import { freePort, get } from '../support/net';

describe('SIGHUP re-reads proxymgr.yml', () => {
  let backends: Backends;
  let agent: AgentFixture;
  beforeAll(async () => {
    backends = await startBackends(1);
  });
  afterAll(() => backends.close());
  afterEach(() => agent.cleanup());

  test('a changed defaults list reloads HAProxy; a broken file is reported and changes nothing', async () => {
    const port = await freePort();
    agent = new AgentFixture({ services: { web: { type: 'static', port, servers: [`127.0.0.1:${backends.ports[0]}`] } } });
    await agent.start();
    const original = readFileSync(agent.configFile, 'utf8');

    let from = agent.mark();
    writeFileSync(agent.configFile, original.replace('    - timeout client 10s', '    - timeout client 17s'));
    agent.proc!.kill('SIGHUP');
    const reload = await agent.waitLog((l) => l.event === 'reload', 5000, from);
    expect(reload.reason).toMatch(/global settings/);
    expect(readFileSync(agent.configPath, 'utf8')).toMatch(/timeout client 17s/);

    from = agent.mark();
    const pid = await agent.haproxyPid();
    writeFileSync(agent.configFile, original.replace('reload:', 'reload:\n  bogus_key: 1'));
    agent.proc!.kill('SIGHUP');
    const bad = await agent.waitLog((l) => l.event === 'config_invalid', 5000, from);
    expect(String(bad.error)).toMatch(/reload: Unrecognized key: "bogus_key"/);
    expect(await agent.haproxyPid()).toBe(pid);
    expect((await get(port)).trim()).toBe(backends.id(backends.ports[0]));
  });
});
