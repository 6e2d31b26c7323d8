import { startBackends, type Backends } from '../support/backends';
import { AgentFixture, runCli } from '../support/agent';
import { freePorts, get, isListening, sample, waitUntil } from '../support/net';

// The whole loop against a real HAProxy: service files in, listening ports and routed requests out.
describe('service lifecycle through the file service config', () => {
  let backends: Backends;
  let agent: AgentFixture;
  let ports: number[];

  beforeAll(async () => {
    backends = await startBackends(3);
    ports = await freePorts(3);
  });
  afterAll(() => backends.close());
  afterEach(() => agent.cleanup());

  const staticService = (port: number, servers: number[]) => ({
    type: 'static',
    port,
    servers: servers.map((p) => `127.0.0.1:${p}`),
  });

  test('a new service file opens its port and deleting it closes the port', async () => {
    const [b1] = backends.ports;
    agent = new AgentFixture({ services: { web: staticService(ports[0], [b1]) } });
    await agent.start();
    expect((await get(ports[0])).trim()).toBe(backends.id(b1));
    expect(await isListening(ports[1])).toBe(false);

    agent.writeService('extra', staticService(ports[1], [b1]));
    await waitUntil('extra port to open', () => isListening(ports[1]));
    expect((await get(ports[1])).trim()).toBe(backends.id(b1));

    agent.removeService('extra');
    await waitUntil('extra port to close', async () => !(await isListening(ports[1])));
    // The other service never stopped serving.
    expect((await get(ports[0])).trim()).toBe(backends.id(b1));
  });

  test('editing a static list changes which backends answer', async () => {
    const [b1, b2, b3] = backends.ports;
    agent = new AgentFixture({ services: { web: staticService(ports[0], [b1, b2]) } });
    await agent.start();
    expect(await sample(ports[0], 6)).toEqual(new Set([backends.id(b1), backends.id(b2)]));

    agent.writeService('web', staticService(ports[0], [b3]));
    await waitUntil('only b3 to answer', async () => {
      const seen = await sample(ports[0], 4);
      return seen.size === 1 && seen.has(backends.id(b3));
    });
  });

  test('a file watcher follows its servers file', async () => {
    const [b1, b2] = backends.ports;
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    agent = new AgentFixture();
    writeFileSync(join(agent.servicesDir, 'pool.txt'), `# pool\n127.0.0.1:${b1}\n`);
    agent.writeService('pool', `type: file\nport: ${ports[0]}\nfile: pool.txt\n`, 'yaml');
    await agent.start();
    expect(await sample(ports[0], 3)).toEqual(new Set([backends.id(b1)]));
    writeFileSync(join(agent.servicesDir, 'pool.txt'), `127.0.0.1:${b2} 3\n`);
    await waitUntil('b2 to take over', async () => (await sample(ports[0], 3)).has(backends.id(b2)) && !(await sample(ports[0], 3)).has(backends.id(b1)));
    // An unreadable update (bad line) keeps the last good servers.
    writeFileSync(join(agent.servicesDir, 'pool.txt'), `127.0.0.1:${b1}\nnot a server line at all\n`);
    await agent.waitLog((l) => l.event === 'source_error' && l.service === 'pool');
    expect(await sample(ports[0], 3)).toEqual(new Set([backends.id(b2)]));
  });

  test('a malformed service is reported by name while the others keep serving; check exits non-zero', async () => {
    const [b1] = backends.ports;
    agent = new AgentFixture({ services: { web: staticService(ports[0], [b1]) } });
    await agent.start();
    const pid = await agent.haproxyPid();
    const from = agent.mark();
    agent.writeService('broken', '{"type": "static", "port": 70000, "servers": ["127.0.0.1:1"]', 'json');
    agent.writeService('typo', { type: 'static', port: ports[1], servers: ['127.0.0.1:notaport'] });
    const broken = await agent.waitLog((l) => l.event === 'service_invalid' && l.service === 'broken', 5000, from);
    expect(JSON.stringify(broken.errors)).toMatch(/cannot decode JSON/);
    const typo = await agent.waitLog((l) => l.event === 'service_invalid' && l.service === 'typo', 5000, from);
    expect(typo.errors).toEqual(['servers[0]: invalid port "notaport" (1..65535)']);
    expect((await get(ports[0])).trim()).toBe(backends.id(b1));
    expect(await agent.haproxyPid()).toBe(pid);
    expect(await isListening(ports[1])).toBe(false);

    const res = await runCli(['check', '-c', agent.configFile]);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^ok {4}web: port \d+, static, 1 server\(s\)$/m);
    expect(res.stdout).toMatch(/^ERROR broken \(.*broken\.json\):/m);
    expect(res.stdout).toMatch(/^ERROR typo \(.*typo\.json\):\n.*invalid port "notaport"/m);

    // A bad edit of a running service keeps its last good definition serving.
    agent.writeService('web', { type: 'static', port: ports[0], servers: ['127.0.0.1:0'] });
    await agent.waitLog((l) => l.event === 'service_invalid' && l.service === 'web', 5000, from);
    expect((await get(ports[0])).trim()).toBe(backends.id(b1));
  });

  test("check passes on examples/features (every seed feature's key), haproxy -c included", async () => {
    agent = new AgentFixture();
    const file = require('node:path').join(__dirname, '..', '..', 'examples', 'features', 'proxymgr.yml');
    const ok = await runCli(['check', '-c', file]);
    expect(ok.stdout).toMatch(/haproxy -c: configuration valid \(4 services\)/);
    expect(ok.code).toBe(0);
    const cfg = (await runCli(['render', '-c', file])).stdout;
    for (const line of ['fcgi-app php', 'cache shop', '    http-reuse always', "    acl pm_images_glob path_reg '^/.*\\.png$' '^/.*\\.jpg$' '^/img/../.*$'", '    http-request set-priority-class int(10) if pm_prio2_header']) {
      expect(cfg.split('\n')).toContain(line);
    }
    expect(cfg).toMatch(/^ {4}server unix_run:php:php8\.2-fpm\.sock unix@\/run\/php\/php8\.2-fpm\.sock .*proto fcgi$/m);
  });

  test('check passes on the shipped example and render prints the config', async () => {
    agent = new AgentFixture();
    const ok = await runCli(['check', '-c', require('node:path').join(__dirname, '..', '..', 'proxymgr.example.yml')]);
    expect(ok.stdout).toMatch(/all good/);
    expect(ok.code).toBe(0);
    const out = await runCli(['render', '-c', require('node:path').join(__dirname, '..', '..', 'proxymgr.example.yml')]);
    expect(out.code).toBe(0);
    // web and docs share 8080 (docs routed by path); api has 8081 to itself.
    expect(out.stdout).toMatch(/^frontend port:8080\n {4}mode http\n {4}bind 127\.0\.0\.1:8080$/m);
    expect(out.stdout).toMatch(/^ {4}use_backend docs if pm_docs_prefix$/m);
    expect(out.stdout).toMatch(/^ {4}default_backend web$/m);
    expect(out.stdout).toMatch(/^listen api\n {4}bind 127\.0\.0\.1:8081$/m);
  });
});
