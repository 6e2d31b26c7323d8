import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { AgentFixture } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { freePorts, isListening, waitUntil } from '../support/net';
import { RuntimeClient } from '../../src/haproxy/runtime-client';

const OLD = 'old-token-0123456789abcdef';
const NEW = 'new-token-fedcba9876543210';

/** One request on its own connection: the API is restarted under the test, and a pooled connection would be stale. */
function call(apiPort: number, method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { host: '127.0.0.1', port: apiPort, method, path, agent: false, headers: { accept: 'application/json', ...(token && { authorization: `Bearer ${token}` }), ...(payload && { 'content-type': 'application/json' }) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {} }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

// SIGHUP applies every key of proxymgr.yml, or names the one that needs a restart.
describe('SIGHUP applies each proxymgr.yml key', () => {
  let backends: Backends;
  let agent: AgentFixture;
  beforeAll(async () => {
    backends = await startBackends(2);
  });
  afterAll(() => backends.close());
  afterEach(() => agent.cleanup());

  test('token rotation and a new API address, log level, reload timing, drift interval, views, snapshot; the admin socket path needs a restart', async () => {
    const [b1, b2] = backends.ports;
    const [port, apiPort, apiPort2, newSvcPort] = await freePorts(4);
    agent = new AgentFixture({ services: { web: { type: 'static', port, servers: [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`] } }, runtime: { drift_interval_ms: 3_600_000 } });
    const base = readFileSync(agent.configFile, 'utf8');
    const rewrite = async (extra: string, edit: (text: string) => string = (t) => t) => {
      const from = agent.mark();
      writeFileSync(agent.configFile, `${edit(base)}\n${extra}\n`);
      agent.proc!.kill('SIGHUP');
      // At level warn the agent does not log that it re-read the file.
      if (/level: warn/.test(edit(base))) await new Promise((r) => setTimeout(r, 500));
      else await agent.waitLog((l) => l.event === 'config_reloaded' || l.event === 'config_invalid', 5000, from);
      return from;
    };
    const api = (listen: number, token: string, more = '') => `api:\n  listen: "127.0.0.1:${listen}"\n  token: ${token}\n${more}`;
    writeFileSync(agent.configFile, `${base}\n${api(apiPort, OLD)}\n`);
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    const maintPath = `/api/services/web/servers/127.0.0.1:${b1}/state`;
    expect((await call(apiPort, 'POST', maintPath, OLD, { state: 'ready' })).status).toBe(200);

    // api.token: the old token is refused at once, the new one accepted.
    let from = await rewrite(api(apiPort, NEW));
    await agent.waitLog((l) => l.event === 'api_listening', 5000, from);
    expect((await call(apiPort, 'POST', maintPath, OLD, { state: 'ready' })).status).toBe(401);
    expect((await call(apiPort, 'POST', maintPath, NEW, { state: 'ready' })).status).toBe(200);

    // api.listen: the API moves; status.views: a new view answers; snapshot: the file appears.
    const snapshot = join(agent.dir, 'run', 'snap.json');
    from = await rewrite(`${api(apiPort2, NEW)}status:\n  views:\n    mine: [web]\nsnapshot:\n  path: run/snap.json\n  interval_ms: 200`);
    await agent.waitLog((l) => l.event === "api_listening" && l.port === apiPort2, 5000, from);
    expect(await isListening(apiPort)).toBe(false);
    expect((await call(apiPort2, 'GET', '/status?view=mine')).status).toBe(200);
    await waitUntil('the snapshot file', () => existsSync(snapshot), 3000);

    // log.level: at warn, info lines stop; back at debug they come again.
    const withApi = `${api(apiPort2, NEW)}`;
    from = await rewrite(withApi, (t) => t.replace('level: debug', 'level: warn'));
    const quiet = agent.mark();
    agent.writeService('web', { type: 'static', port, servers: [`127.0.0.1:${b1}`] });
    await waitUntil('b2 gone', async () => !(await new RuntimeClient(agent.socketPath).showServersState('web')).some((s) => s.port === b2 && !s.maint), 3000);
    await new Promise((r) => setTimeout(r, 200));
    expect(agent.logs.slice(quiet).filter((l) => Number(l.level) < 40)).toEqual([]);
    from = await rewrite(withApi);
    agent.writeService('web', { type: 'static', port, servers: [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`] });
    await agent.waitLog((l) => l.event === 'plan', 3000, from);

    // reload.quiet_ms: a new service waits for the new quiet period.
    from = await rewrite(withApi, (t) => t.replace('quiet_ms: 20', 'quiet_ms: 1500').replace('max_wait_ms: 500', 'max_wait_ms: 5000'));
    const t0 = Date.now();
    agent.writeService('extra', { type: 'static', port: newSvcPort, servers: [`127.0.0.1:${b1}`] });
    await agent.waitLog((l) => l.event === 'reload' && String(l.reason).includes('extra'), 6000, from);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);

    // runtime.drift_interval_ms: a hand-made change is repaired on the new, short interval.
    from = await rewrite(`${withApi}runtime:\n  drift_interval_ms: 1000`, (t) => t.replace(/runtime:\n  drift_interval_ms: 3600000\n/, ''));
    await new RuntimeClient(agent.socketPath).batch([`set server web/127.0.0.1:${b2} state maint`]);
    await agent.waitLog((l) => l.event === 'drift_repaired', 4000, from);

    // haproxy.socket_path: named as needing a restart, in the log and in /status; the old socket keeps working.
    from = await rewrite(withApi, (t) => t.replace('socket_path: run/admin.sock', 'socket_path: run/other.sock'));
    const warn = agent.events('config_restart_required', from)[0];
    expect(String(warn.reason)).toMatch(/haproxy\.socket_path changed/);
    const status = await call(apiPort2, 'GET', '/status');
    expect(JSON.stringify(status.json)).toMatch(/haproxy\.socket_path changed .*restart proxymgr/);
    expect((await new RuntimeClient(agent.socketPath).showServersState('web')).length).toBe(2);
  });
});
