import http from 'node:http';
import { readFileSync } from 'node:fs';
import { AgentFixture } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { freePort, waitUntil } from '../support/net';
import { RuntimeClient } from '../../src/haproxy/runtime-client';

/** Who answers `path` on `port` with this Host header. */
function who(port: number, path: string, host = 'localhost'): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : `HTTP ${res.statusCode}`));
      })
      .on('error', reject);
  });
}

// Several mode http services on one port: one frontend routes by host and path (the Monkey plugin's Match rules).
describe('shared HTTP frontends', () => {
  let backends: Backends;
  let agent: AgentFixture;
  beforeAll(async () => {
    backends = await startBackends(4);
  });
  afterAll(() => backends.close());
  afterEach(() => agent.cleanup());

  test('/api goes to one service and / to another on the same port; host rules; a second default is refused by name', async () => {
    const [b1, b2, b3, b4] = backends.ports;
    const port = await freePort();
    const svc = (servers: number[], extra: Record<string, unknown> = {}) => ({ type: 'static', port, mode: 'http', servers: servers.map((p) => `127.0.0.1:${p}`), ...extra });
    agent = new AgentFixture({
      services: {
        web: svc([b1]),
        api: svc([b2], { match: { path_prefix: ['/api'] } }),
        apiv2: svc([b3], { match: { path_prefix: ['/api/v2'] } }),
        img: svc([b4], { match: { host: ['img.example.com'], path_suffix: ['.png', '.jpg'] } }),
      },
      runtime: { drift_interval_ms: 0 },
    });
    await agent.start();
    const cfg = readFileSync(agent.configPath, 'utf8');
    expect(cfg).toMatch(new RegExp(`^frontend port:${port}$`, 'm'));
    expect(cfg).toMatch(/^backend api$/m);

    expect(await who(port, '/')).toBe(backends.id(b1));
    expect(await who(port, '/index.html')).toBe(backends.id(b1));
    expect(await who(port, '/api/users')).toBe(backends.id(b2));
    // The longer prefix wins whatever the order of definition.
    expect(await who(port, '/api/v2/users')).toBe(backends.id(b3));
    expect(await who(port, '/logo.png', 'IMG.example.com:80')).toBe(backends.id(b4));
    expect(await who(port, '/logo.png', 'other.example.com')).toBe(backends.id(b1));
    expect(await who(port, '/readme.txt', 'img.example.com')).toBe(backends.id(b1));

    // Servers of a routed service still change over the runtime API, with no reload.
    let from = agent.mark();
    agent.writeService('api', svc([b2, b1], { match: { path_prefix: ['/api'] } }));
    const rc = new RuntimeClient(agent.socketPath);
    await waitUntil('api has two servers', async () => (await rc.showServersState('api')).length === 2, 3000);
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add(await who(port, '/api/x'));
    expect(seen).toEqual(new Set([backends.id(b1), backends.id(b2)]));
    expect(agent.events('reload', from)).toHaveLength(0);

    // A second service without match on the port: refused, naming the default it clashes with; nothing else changes.
    from = agent.mark();
    agent.writeService('www', svc([b3]));
    const conflict = await agent.waitLog((l) => l.event === 'port_conflict' && l.service === 'www', 5000, from);
    expect(conflict.holder).toBe('web');
    expect(await who(port, '/')).toBe(backends.id(b1));
    // A tcp service on the port is refused too.
    agent.writeService('db', { type: 'static', port, servers: [`127.0.0.1:${b4}`] });
    const tcp = await agent.waitLog((l) => l.event === 'port_conflict' && l.service === 'db', 5000, from);
    expect(tcp.holder).toBe('api');
    expect(await who(port, '/api/x')).not.toBe(backends.id(b4));
  });
  test('path_glob (Monkey\'s Match /*.php): * spans directories, ? is one character, the rest is literal; the more literal glob wins; a # in a path is refused by name', async () => {
    const [b1, b2, b3] = backends.ports;
    const port = await freePort();
    const svc = (servers: number[], extra: Record<string, unknown> = {}) => ({ type: 'static', port, mode: 'http', servers: servers.map((p) => `127.0.0.1:${p}`), ...extra });
    agent = new AgentFixture({
      services: {
        web: svc([b1]),
        php: svc([b2], { match: { path_glob: ['/*.php'] } }),
        thumbs: svc([b3], { match: { path_glob: ['/img/t?/*.png'] } }),
      },
      runtime: { drift_interval_ms: 0 },
    });
    await agent.start();
    expect(readFileSync(agent.configPath, 'utf8')).toContain("path_reg '^/.*\\.php$'");
    const cases: Array<[string, number]> = [
      ['/index.php', b2],
      ['/a/b/c.php?x=1', b2],
      ['/indexXphp', b1],
      ['/index.php/extra', b1],
      ['/img/t1/cat.png', b3],
      ['/img/t12/cat.png', b1],
      ['/img/t1/cat.pngs', b1],
      ['/', b1],
    ];
    for (const [path, backend] of cases) expect(`${path} -> ${await who(port, path)}`).toBe(`${path} -> ${backends.id(backend)}`);

    const from = agent.mark();
    agent.writeService('bad', svc([b3], { match: { path_prefix: ['/x#y'] } }));
    const err = await agent.waitLog((l) => l.service === 'bad' && l.event === 'service_invalid', 10_000, from);
    expect(String(err.errors)).toMatch(/match\.path_prefix\[0\]: must start with \/ and hold no spaces, control characters, #/);
    expect(await who(port, '/x')).toBe(backends.id(b1));
  });
});
