import { readFileSync } from 'node:fs';
import { startBackends, type Backends } from '../support/backends';
import { AgentFixture, runCli } from '../support/agent';
import { freePorts, get, isListening } from '../support/net';

// HAProxy itself is the last validator: what it refuses never replaces the running process.
describe('a definition HAProxy rejects', () => {
  let backends: Backends;
  let agent: AgentFixture;
  let ports: number[];

  beforeAll(async () => {
    backends = await startBackends(1);
    ports = await freePorts(3);
  });
  afterAll(() => backends.close());
  afterEach(() => agent.cleanup());

  const svc = (port: number, listen_options: string[] = []) => ({ type: 'static', port, listen_options, servers: [`127.0.0.1:${backends.ports[0]}`] });

  test('fails haproxy -c: no reload, the old process keeps serving, the log names the service', async () => {
    agent = new AgentFixture({ services: { web: svc(ports[0]) } });
    await agent.start();
    const pid = await agent.haproxyPid();
    const cfgBefore = readFileSync(agent.configPath, 'utf8');
    const from = agent.mark();

    agent.writeService('web', svc(ports[0], ['balance no-such-algorithm']));
    const rejected = await agent.waitLog((l) => l.event === 'service_rejected', 5000, from);
    expect(rejected.service).toBe('web');
    expect(rejected.stage).toBe('haproxy -c');
    expect(JSON.stringify(rejected.haproxy)).toMatch(/balance only supports/);
    expect(rejected.keeping).toBe('running definition');

    expect(await agent.haproxyPid()).toBe(pid);
    expect(agent.events('reload', from)).toHaveLength(0);
    expect(readFileSync(agent.configPath, 'utf8')).toBe(cfgBefore);
    expect((await get(ports[0])).trim()).toBe(backends.id(backends.ports[0]));

    // Other services' changes still go through while web's bad version is set aside.
    agent.writeService('other', svc(ports[1]));
    const reload = await agent.waitLog((l) => l.event === 'reload', 5000, from);
    expect(reload.reason).toBe('added: other');
    expect((await get(ports[1])).trim()).toBe(backends.id(backends.ports[0]));
    expect(readFileSync(agent.configPath, 'utf8')).not.toMatch(/no-such-algorithm/);

    // `check` reports it by service too.
    const res = await runCli(['check', '-c', agent.configFile]);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^ERROR haproxy -c \(service web\): .*balance only supports/m);
  });

  test('a new service HAProxy rejects is not started; fixing it starts it', async () => {
    agent = new AgentFixture({ services: { web: svc(ports[0]) } });
    await agent.start();
    const from = agent.mark();
    agent.writeService('bad', svc(ports[2], ['this-is-not-a-keyword 1']));
    const rejected = await agent.waitLog((l) => l.event === 'service_rejected' && l.service === 'bad', 5000, from);
    expect(rejected.keeping).toMatch(/not started/);
    expect(await isListening(ports[2])).toBe(false);

    agent.writeService('bad', svc(ports[2]));
    await agent.waitLog((l) => l.event === 'reload' && l.reason === 'added: bad', 5000, from);
    expect((await get(ports[2])).trim()).toBe(backends.id(backends.ports[0]));
  });

  test('a port another program holds: startup fails, the service is set aside, the rest keeps running', async () => {
    const { createServer } = await import('node:net');
    const squatter = createServer().listen(ports[2], '127.0.0.1');
    await new Promise((r) => squatter.once('listening', r));
    try {
      agent = new AgentFixture({ services: { web: svc(ports[0]) } });
      await agent.start();
      const pid = await agent.haproxyPid();
      const from = agent.mark();
      agent.writeService('clash', svc(ports[2]));
      const rejected = await agent.waitLog((l) => l.event === 'service_rejected' && l.service === 'clash', 8000, from);
      expect(rejected.stage).toBe('HAProxy startup');
      expect(await agent.haproxyPid()).toBe(pid);
      expect((await get(ports[0])).trim()).toBe(backends.id(backends.ports[0]));
      expect(readFileSync(agent.configPath, 'utf8')).not.toMatch(new RegExp(`:${ports[2]}\\b`));
    } finally {
      squatter.close();
    }
  });

  test('an alert without a line to blame: each change is checked alone, the bad one set aside, the good one applied', async () => {
    agent = new AgentFixture({ services: { web: svc(ports[0]) } });
    await agent.start();
    const from = agent.mark();
    // HAProxy 2.6 reports this server keyword error as "config : unknown keyword", with no file:line (found by the fuzz test).
    agent.writeService('odd', { ...svc(ports[1]), server_options: ['inter 2sinter 2s'] });
    agent.writeService('fine', svc(ports[2]));
    const rejected = await agent.waitLog((l) => l.event === 'service_rejected', 8000, from);
    expect(rejected.service).toBe('odd');
    expect(rejected.stage).toBe('haproxy -c (each change checked alone)');
    await agent.waitLog((l) => l.event === 'reload', 8000, from);
    expect((await get(ports[2])).trim()).toBe(backends.id(backends.ports[0]));
    expect(await isListening(ports[1])).toBe(false);
    expect(readFileSync(agent.configPath, 'utf8')).not.toMatch(/2sinter/);
  });
});
