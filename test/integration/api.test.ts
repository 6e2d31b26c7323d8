import { startBackends, type Backends } from '../support/backends';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentFixture, ROOT } from '../support/agent';
import { freePort, sample, waitUntil } from '../support/net';

const TOKEN = 'test-token-0123456789abcdef';

/** contrib/check_proxymgr, the Nagios-style plugin. */
function runCheck(url: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(join(ROOT, 'contrib', 'check_proxymgr'), [url], (err, stdout) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 3) : 0, out: stdout.trim() });
    });
  });
}

async function call(port: number, method: string, path: string, body?: unknown, token?: string, accept = 'application/json') {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { accept, ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

// Ops read state and take a server out by hand, over HTTP, against a real HAProxy.
describe('HTTP API', () => {
  let backends: Backends;
  let agent: AgentFixture;
  beforeAll(async () => {
    backends = await startBackends(2);
  });
  afterAll(() => backends.close());
  afterEach(() => agent.cleanup());

  test('status, metrics, services; a token-guarded maint takes a server out without a reload and survives a reload', async () => {
    const [b1, b2] = backends.ports;
    const [port, apiPort, otherPort] = [await freePort(), await freePort(), await freePort()];
    agent = new AgentFixture({
      services: { web: { type: 'static', port, servers: [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`] } },
      extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"\n  token: ${TOKEN}\nsnapshot:\n  path: run/state.json\n  interval_ms: 200`,
    });
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    const check = () => runCheck(`http://127.0.0.1:${apiPort}`);
    expect(await check()).toEqual({ code: 0, out: 'OK - 1 services ok | ok=1 error=0' });
    const snapshot = JSON.parse(readFileSync(join(agent.dir, 'run', 'state.json'), 'utf8')) as { services: Array<{ name: string }> };
    expect(snapshot.services.map((s) => s.name)).toEqual(['web']);

    expect((await call(apiPort, 'GET', '/status', undefined, undefined, 'text/plain')).text).toBe('num_ok 1\nnum_error 0\nhas_error false\ngood true\n');
    const services = (await call(apiPort, 'GET', '/api/services')).json() as unknown as Array<{ name: string; servers: unknown[] }>;
    expect(services.map((s) => [s.name, s.servers.length])).toEqual([['web', 2]]);
    expect((await call(apiPort, 'GET', '/api/services/nope')).status).toBe(404);
    const metrics = (await call(apiPort, 'GET', '/metrics', undefined, undefined, 'text/plain')).text;
    expect(metrics).toMatch(/^proxymgr_services\{state="ok"\} 1$/m);
    expect(metrics).toMatch(/^proxymgr_servers\{service="web",state="ready"\} 2$/m);
    expect(metrics).toMatch(/^proxymgr_reloads_total\{reason="initial"\} 1$/m);
    expect(metrics).toMatch(/^proxymgr_haproxy_up 1$/m);
    await sample(port, 4);
    const live = (await call(apiPort, 'GET', '/metrics', undefined, undefined, 'text/plain')).text;
    const total = [...live.matchAll(/^proxymgr_haproxy_server_sessions_total\{service="web",server="[^"]+"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    expect(total).toBeGreaterThanOrEqual(4);
    expect(live).toMatch(new RegExp(`^proxymgr_haproxy_server_up\\{service="web",server="127\\.0\\.0\\.1:${b1}"\\} 1$`, 'm'));
    const web = (await call(apiPort, 'GET', '/api/services/web')).json() as { servers: Array<{ haproxy: { status: string; sessions_total: number } }> };
    expect(web.servers.map((s) => s.haproxy.status)).toEqual(['no check', 'no check']);

    const server = `127.0.0.1:${b1}`;
    const path = `/api/services/web/servers/${encodeURIComponent(server)}/state`;
    expect((await call(apiPort, 'POST', path, { state: 'maint' })).status).toBe(401);
    expect((await call(apiPort, 'POST', path, { state: 'maint' }, 'wrong-token-0123456789abcdef')).status).toBe(401);
    expect((await call(apiPort, 'POST', path, 'not json', TOKEN)).status).toBe(400);
    expect((await call(apiPort, 'POST', path, { state: 'sleepy' }, TOKEN)).status).toBe(400);
    expect((await call(apiPort, 'POST', `/api/services/web/servers/10.9.9.9:1/state`, { state: 'maint' }, TOKEN)).status).toBe(404);

    const pid = await agent.haproxyPid();
    const from = agent.mark();
    expect((await call(apiPort, 'POST', path, { state: 'maint' }, TOKEN)).json()).toEqual({ service: 'web', server, override: { state: 'maint' } });
    await waitUntil('b1 out of rotation', async () => (await sample(port, 6)).size === 1, 3000);
    expect(await sample(port, 6)).toEqual(new Set([backends.id(b2)]));
    expect(agent.events('reload', from)).toHaveLength(0);
    expect(await agent.haproxyPid()).toBe(pid);

    // A reload (a new service) does not bring it back.
    agent.writeService('other', { type: 'static', port: otherPort, servers: [`127.0.0.1:${b2}`] });
    await agent.waitLog((l) => l.event === 'reload', 5000, from);
    await new Promise((r) => setTimeout(r, 300));
    expect(await sample(port, 6)).toEqual(new Set([backends.id(b2)]));

    // Cleared: back in rotation.
    await call(apiPort, 'POST', path, { state: 'ready' }, TOKEN);
    await waitUntil('b1 back', async () => (await sample(port, 6)).size === 2, 3000);

    // A weight override goes out over the runtime API too.
    const wpath = `/api/services/web/servers/${encodeURIComponent(server)}/weight`;
    expect((await call(apiPort, 'POST', wpath, { weight: 300 }, TOKEN)).status).toBe(400);
    expect((await call(apiPort, 'POST', wpath, { weight: 200 }, TOKEN)).status).toBe(200);
    const { RuntimeClient } = await import('../../src/haproxy/runtime-client');
    const rc = new RuntimeClient(agent.socketPath);
    await waitUntil('weight 200 in HAProxy', async () => (await rc.showServersState('web')).some((s) => s.name === server && s.weight === 200), 3000);

    // A broken definition turns /status bad, and fixing it turns it good again.
    agent.writeService('broken', '{"type": "static"');
    await waitUntil('status to turn bad', async () => (await call(apiPort, 'GET', '/status')).json().good === false, 3000);
    expect(await check()).toEqual({ code: 1, out: 'WARNING - 1 problem(s), 2 services ok | ok=2 error=1' });
    agent.removeService('broken');
    await waitUntil('status to turn good', async () => (await call(apiPort, 'GET', '/status')).json().good === true, 3000);
    await agent.stop();
    expect((await check()).code).toBe(2);
  });
});
