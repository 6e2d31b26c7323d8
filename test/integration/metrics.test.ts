import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentFixture, ROOT } from '../support/agent';
import { haproxyVersion } from '../support/haproxy-bin';
import { startBackends, type Backends } from '../support/backends';
import { freePorts, sample } from '../support/net';

/** `promtool check metrics` (Debian's prometheus package; scripts/install-deps.sh --test) on a text. */
function promtool(text: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
    child.stdin!.end(text);
  });
}

const sumOf = (text: string, name: string, labels: string) =>
  [...text.matchAll(new RegExp(`^${name}\\{${labels}[^}]*\\} (\\S+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);

// /metrics is what Prometheus scrapes: it must pass promtool's lint, with HAProxy's counters typed as counters.
describe('Prometheus metrics', () => {
  let backends: Backends;
  let agent: AgentFixture;
  beforeAll(async () => {
    backends = await startBackends(2);
  });
  afterAll(() => backends.close());
  afterEach(() => agent.cleanup());

  test('/metrics passes promtool check metrics with traffic; build_info, process metrics; haproxy.prometheus_listen serves HAProxy\'s exporter', async () => {
    const [b1, b2] = backends.ports;
    const [port, apiPort, promPort] = await freePorts(3);
    agent = new AgentFixture({
      services: { web: { type: 'static', port, servers: [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`] } },
      extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"`,
    });
    // prometheus_listen belongs in the fixture's haproxy: block.
    writeFileSync(agent.configFile, readFileSync(agent.configFile, 'utf8').replace(/^haproxy:\n/m, `haproxy:\n  prometheus_listen: "127.0.0.1:${promPort}"\n`));
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    await sample(port, 6);

    const res = await fetch(`http://127.0.0.1:${apiPort}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(await promtool(text)).toEqual({ code: 0, out: '' });

    // HAProxy's cumulative per-server values are counters, current ones gauges; the traffic shows.
    for (const name of ['sessions', 'bytes_in', 'bytes_out', 'connection_errors', 'response_errors']) {
      expect(text).toMatch(new RegExp(`^# TYPE proxymgr_haproxy_server_${name}_total counter$`, 'm'));
    }
    expect(text).toMatch(/^# TYPE proxymgr_haproxy_server_sessions_current gauge$/m);
    expect(text).toMatch(/^# TYPE proxymgr_haproxy_server_up gauge$/m);
    expect(sumOf(text, 'proxymgr_haproxy_server_sessions_total', 'service="web"')).toBeGreaterThanOrEqual(6);
    expect(sumOf(text, 'proxymgr_haproxy_server_bytes_out_total', 'service="web"')).toBeGreaterThan(0);
    // No `_total` name anywhere that is not a counter (promtool's rule, checked here too).
    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
    for (const [name, type] of types) if (name.endsWith('_total')) expect([name, type]).toEqual([name, 'counter']);

    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const haproxy = haproxyVersion();
    expect(text).toMatch(/^# TYPE proxymgr_build_info gauge$/m);
    expect(text).toContain(`proxymgr_build_info{version="${version}",node="${process.versions.node}",haproxy="${haproxy}"} 1\n`);
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'process_open_fds', 'nodejs_eventloop_lag_seconds']) {
      expect(text).toMatch(new RegExp(`^${name} \\S+$`, 'm'));
    }

    // HAProxy's own exporter, on its own frontend, at /metrics only.
    const cfg = readFileSync(agent.configPath, 'utf8');
    expect(cfg).toMatch(new RegExp(`^frontend proxymgr:prometheus\\n    mode http\\n    bind 127\\.0\\.0\\.1:${promPort}\\n`, 'm'));
    const own = await fetch(`http://127.0.0.1:${promPort}/metrics`);
    expect(own.status).toBe(200);
    const ownText = await own.text();
    expect(ownText).toMatch(/^haproxy_process_uptime_seconds /m);
    expect(ownText).toMatch(/^haproxy_backend_status\{proxy="web",state="UP"\} 1$/m);
    expect((await fetch(`http://127.0.0.1:${promPort}/`)).status).not.toBe(200);
  });
});
