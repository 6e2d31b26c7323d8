import http from 'node:http';
import { AgentFixture } from '../support/agent';
import { TestDns } from '../support/dnsmasq';
import { startLoad } from '../support/load';
import { freePort, sample, waitUntil } from '../support/net';
import { RuntimeClient } from '../../src/haproxy/runtime-client';

// Backends on several loopback addresses, one port: DNS decides which addresses serve.
async function loopbackBackends(ips: string[], port: number) {
  const servers = await Promise.all(
    ips.map(
      (ip) =>
        new Promise<http.Server>((resolve) => {
          const s = http.createServer((_q, res) => {
            res.setHeader('connection', 'close');
            res.end(`${ip}\n`);
          });
          s.listen(port, ip, () => resolve(s));
        }),
    ),
  );
  return { close: () => Promise.all(servers.map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r))))) };
}

describe('DNS watcher against a real dnsmasq', () => {
  let agent: AgentFixture;
  let dns: TestDns;
  afterEach(async () => {
    await agent.cleanup();
    await dns.cleanup();
  });

  test('A records change -> membership follows within the TTL bound, no reload; DNS down under load -> servers kept', async () => {
    const backendPort = await freePort();
    const backends = await loopbackBackends(['127.0.0.11', '127.0.0.12', '127.0.0.13'], backendPort);
    dns = await new TestDns({ 'web.test': ['127.0.0.11', '127.0.0.12'] }).start();
    const port = await freePort();
    agent = new AgentFixture({
      services: { web: { type: 'dns', port, backends: [{ name: 'web.test', port: backendPort }], nameservers: [dns.nameserver], min_interval_ms: 200, max_interval_ms: 1000 } },
    });
    try {
      await agent.start();
      expect(await sample(port, 6)).toEqual(new Set(['127.0.0.11', '127.0.0.12']));
      const from = agent.mark();
      const t0 = Date.now();
      dns.setHosts({ 'web.test': ['127.0.0.12', '127.0.0.13'] });
      await waitUntil('HAProxy to follow DNS', async () => {
        const seen = await sample(port, 6);
        return seen.has('127.0.0.13') && !seen.has('127.0.0.11');
      }, 5000);
      const followMs = Date.now() - t0;
      // TTL 1 s from dnsmasq, bounded to [200 ms, 1 s] with ±10 % jitter, plus one sample round.
      expect(followMs).toBeLessThan(2000);

      const load = startLoad(port, 4, 20_000);
      await dns.stop();
      const client = new RuntimeClient(agent.socketPath);
      let fewest = Infinity;
      for (let i = 0; i < 12; i++) {
        fewest = Math.min(fewest, (await client.showServersState('web')).filter((s) => !s.maint).length);
        await new Promise((r) => setTimeout(r, 250));
      }
      await agent.waitLog((l) => l.event === 'source_error' && l.service === 'web', 5000, from);
      const result = await load.stop();
      console.log(`dns: followed a record change in ${followMs} ms; DNS down 3 s under load: ok ${result.ok}, failed ${result.failed}, fewest servers ${fewest}`);
      expect(result.failed).toBe(0);
      expect(fewest).toBe(2);
      expect(agent.events('reload', from)).toHaveLength(0);
    } finally {
      await backends.close();
    }
  });

  test('SRV weights and ports reach HAProxy (resolver from the global dns.nameservers)', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    dns = await new TestDns({ 'a.test': ['127.0.0.21'], 'b.test': ['127.0.0.22'] }, [
      { name: '_web._tcp.test', target: 'a.test', port: p1, weight: 10 },
      { name: '_web._tcp.test', target: 'b.test', port: p2, weight: 30 },
    ]).start();
    const port = await freePort();
    agent = new AgentFixture({ services: { web: { type: 'dns', port, srv: ['_web._tcp.test'] } }, extraYaml: `dns:\n  nameservers: ["${dns.nameserver}"]` });
    await agent.start();
    const client = new RuntimeClient(agent.socketPath);
    await waitUntil('SRV servers in HAProxy', async () => (await client.showServersState('web')).length === 2, 5000);
    const st = (await client.showServersState('web')).map((s) => `${s.address}:${s.port}/${s.weight}`).sort();
    expect(st).toEqual([`127.0.0.21:${p1}/10`, `127.0.0.22:${p2}/30`].sort());
  });

  test('a name answering NXDOMAIN is dropped only after it is confirmed', async () => {
    dns = await new TestDns({ 'stay.test': ['127.0.0.31'], 'gone.test': ['127.0.0.32'] }).start();
    const port = await freePort();
    const backendPort = await freePort();
    agent = new AgentFixture({
      services: {
        web: {
          type: 'dns',
          port,
          backends: [{ name: 'stay.test', port: backendPort }, { name: 'gone.test', port: backendPort }],
          nameservers: [dns.nameserver],
          min_interval_ms: 300,
          max_interval_ms: 300,
          nxdomain_confirmations: 3,
        },
      },
    });
    await agent.start();
    const client = new RuntimeClient(agent.socketPath);
    const addrs = async () => (await client.showServersState('web')).map((s) => s.address).sort();
    expect(await addrs()).toEqual(['127.0.0.31', '127.0.0.32']);
    const t0 = Date.now();
    dns.setHosts({ 'stay.test': ['127.0.0.31'] });
    await waitUntil('gone.test to be dropped', async () => (await addrs()).join() === '127.0.0.31', 5000, 20);
    const ms = Date.now() - t0;
    console.log(`NXDOMAIN confirmed 3 times and dropped after ${ms} ms (refresh every ~300 ms)`);
    // Three answers in a row at ~300 ms apart: not before the second refresh after the change.
    expect(ms).toBeGreaterThanOrEqual(500);
  });
});
