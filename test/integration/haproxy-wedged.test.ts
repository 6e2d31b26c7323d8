import { readFileSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { startBackends, type Backends } from '../support/backends';
import { AgentFixture } from '../support/agent';
import { startLoad } from '../support/load';
import { freePorts, get, waitUntil } from '../support/net';

/** The /proc state letter of a pid (T = stopped), or undefined once it is gone (a zombie counts as gone). */
function state(pid: number): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const s = text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3);
    return s === 'Z' || s === 'X' ? undefined : s;
  } catch {
    return undefined;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

// Issue 17: a HAProxy frozen with kill -STOP while a change needs a reload must not leave two
// generations on the ports (the frozen one still takes a share of the connections with SO_REUSEPORT).
describe('a wedged (stopped) HAProxy', () => {
  let backends: Backends;
  let agent: AgentFixture;
  const frozen: number[] = [];
  beforeAll(async () => {
    backends = await startBackends(1);
  });
  afterAll(() => backends.close());
  afterEach(async () => {
    for (const pid of frozen.splice(0)) {
      signal(pid, 'SIGCONT');
      signal(pid, 'SIGKILL');
    }
    await agent.cleanup();
  });

  test('a reload while the worker is stopped: the new config serves, the frozen process is killed, one HAProxy is left', async () => {
    const [webPort, newPort] = await freePorts(2);
    const server = `127.0.0.1:${backends.ports[0]}`;
    agent = new AgentFixture({ services: { web: { type: 'static', port: webPort, servers: [server] } } });
    await agent.start();
    const load = startLoad(webPort, 4);
    await new Promise((r) => setTimeout(r, 300));

    const old = await agent.haproxyPid();
    frozen.push(old);
    process.kill(old, 'SIGSTOP');
    await waitUntil('HAProxy to be stopped', () => state(old) === 'T', 2000, 5);

    const from = agent.mark();
    const t0 = Date.now();
    agent.writeService('x', { type: 'static', port: newPort, servers: [server] });
    const reload = await agent.waitLog((l) => l.event === 'reload' || l.event === 'apply_failed' || l.event === 'haproxy_replaced', 30_000, from);
    console.log(`${reload.event} ${Date.now() - t0} ms after the change: ${JSON.stringify(reload)}`);
    expect(reload.event).not.toBe('apply_failed');

    // The frozen process must go (bounded), and exactly one live, running HAProxy must remain.
    await waitUntil('the frozen HAProxy to be gone', () => state(old) === undefined, 5000, 20);
    await waitUntil('one HAProxy', () => agent.haproxyPids().length === 1, 5000, 20);
    const ms = Date.now() - t0;
    console.log(`one HAProxy left ${ms} ms after the change`);
    const [left] = agent.haproxyPids();
    expect(left).not.toBe(old);
    expect(['R', 'S']).toContain(state(left));
    expect(await agent.haproxyPid()).toBe(left);

    // The new port serves, and so does the old one: every connection now meets a live process.
    expect(await get(newPort, 2000)).toBe(backends.id(backends.ports[0]) + '\n');
    const during = await load.stop();
    console.log(`load across the freeze: ${JSON.stringify(during)}`);
    const check = startLoad(webPort, 4, 1500);
    await new Promise((r) => setTimeout(r, 1600));
    const settled = await check.stop();
    console.log(`load after the repair: ${JSON.stringify(settled)}`);
    expect(settled.failed).toBe(0);
    expect(settled.ok).toBeGreaterThan(20);

    // The lifecycle lines say what happened.
    const lines = agent.logs.slice(from);
    console.log(lines.filter((l) => /^haproxy_(?!output)|^reload$/.test(l.event ?? '')).map((l) => `${l.event}: ${l.msg}`).join('\n'));
    const kill = lines.find((l) => (l.event === 'haproxy_wedged_killed' || l.event === 'haproxy_replaced') && (l.pid === old || l.old_pid === old));
    expect(kill).toBeDefined();
    const exit = lines.find((l) => l.event === 'haproxy_exit' && l.pid === old);
    expect(exit?.role).toBe('wedged');
    // No process that never served is called an old generation.
    for (const l of lines.filter((x) => x.event === 'haproxy_exit' && x.role === 'old')) expect(l.pid).toBe(old);
    frozen.splice(0);
  }, 60_000);

  test('stopped with nothing to reload: the liveness monitor replaces it (Supervisor.replace), one HAProxy is left', async () => {
    const [webPort] = await freePorts(1);
    const server = `127.0.0.1:${backends.ports[0]}`;
    agent = new AgentFixture({ services: { web: { type: 'static', port: webPort, servers: [server] } } });
    await agent.start();
    const old = await agent.haproxyPid();
    frozen.push(old);
    const from = agent.mark();
    const t0 = Date.now();
    process.kill(old, 'SIGSTOP');
    // haproxy.unresponsive_replace_ms defaults to 10 s.
    const replaced = await agent.waitLog((l) => l.event === 'haproxy_replaced' || l.event === 'haproxy_replace_failed', 30_000, from);
    console.log(`${replaced.event} ${Date.now() - t0} ms after SIGSTOP: ${JSON.stringify(replaced)}`);
    expect(replaced.event).toBe('haproxy_replaced');
    expect(replaced.old_pid).toBe(old);
    expect(replaced.old_state).toBe('T');
    expect(replaced.handoff).toBe(false);
    expect(typeof replaced.reason).toBe('string');
    await waitUntil('the frozen HAProxy to be gone', () => state(old) === undefined, 3000, 20);
    expect(agent.haproxyPids()).toEqual([replaced.pid]);
    expect(await agent.haproxyPid()).toBe(replaced.pid);
    const check = startLoad(webPort, 4, 1000);
    await new Promise((r) => setTimeout(r, 1100));
    const settled = await check.stop();
    expect(settled.failed).toBe(0);
    const exit = agent.logs.slice(from).find((l) => l.event === 'haproxy_exit' && l.pid === old);
    expect(exit?.role).toBe('wedged');
    console.log(agent.logs.slice(from).filter((l) => /^haproxy_(?!output)/.test(l.event ?? '')).map((l) => `${l.event}: ${l.msg}`).join('\n'));
    frozen.splice(0);
  }, 60_000);

  test('a responsive old generation finishing an open connection is not killed', async () => {
    const [tcpPort, backendPort] = await freePorts(2);
    const held: net.Socket[] = [];
    const sticky = net.createServer((c) => held.push(c)).listen(backendPort, '127.0.0.1');
    await new Promise((r) => sticky.once('listening', r));
    const svc = (n: number) => ({ type: 'static', port: tcpPort, listen_options: ['mode tcp', `timeout client ${10 + n}s`], servers: [`127.0.0.1:${backendPort}`] });
    agent = new AgentFixture({ services: { tcp: svc(0) } });
    let client: net.Socket | undefined;
    try {
      await agent.start();
      client = net.connect(tcpPort, '127.0.0.1');
      client.on('error', () => undefined);
      const old = await agent.haproxyPid();
      await waitUntil('the backend to hold a connection', () => held.length === 1);
      const from = agent.mark();
      agent.writeService('tcp', svc(1));
      await agent.waitLog((l) => l.event === 'reload', 5000, from);
      // Well past the wedge bound (1 s): the old process keeps its connection, sleeping, not stopped.
      await new Promise((r) => setTimeout(r, 2500));
      expect(['S', 'R']).toContain(state(old));
      expect(agent.haproxyPids().sort()).toEqual([old, await agent.haproxyPid()].sort());
      expect(agent.events('haproxy_wedged_killed', from)).toEqual([]);
      // Once its connection ends it finishes, and says so.
      client.destroy();
      for (const c of held) c.destroy();
      const exit = await agent.waitLog((l) => l.event === 'haproxy_exit' && l.pid === old, 5000, from);
      expect(exit.role).toBe('old');
      console.log(`${exit.msg}`);
    } finally {
      client?.destroy();
      for (const c of held) c.destroy();
      sticky.close();
    }
  }, 30_000);

  test('a new process that fails the socket handoff is named as such, never as an old generation finishing', async () => {
    const [webPort, newPort] = await freePorts(2);
    const server = `127.0.0.1:${backends.ports[0]}`;
    agent = new AgentFixture({ services: { web: { type: 'static', port: webPort, servers: [server] } } });
    await agent.start();
    const old = await agent.haproxyPid();
    const from = agent.mark();
    // Without its admin socket file the old process cannot be reached for the handoff.
    unlinkSync(agent.socketPath);
    agent.writeService('x', { type: 'static', port: newPort, servers: [server] });
    const failed = await agent.waitLog((l) => l.event === 'haproxy_handoff_failed', 15_000, from);
    expect(failed.old_pid).toBe(old);
    const failedPid = failed.failed_pid as number;
    expect(typeof failedPid).toBe('number');
    const exit = await agent.waitLog((l) => l.event === 'haproxy_exit' && l.pid === failedPid, 5000, from);
    console.log(`${failed.msg}\n${exit.msg}`);
    expect(exit.role).toBe('new');
    expect(exit.handoff_failed).toBe(true);
    expect(String(exit.msg)).not.toMatch(/old/);
    // The reload went through without the handoff; the old generation then finished, as itself.
    await waitUntil('the new port to serve', () => get(newPort, 500).then(() => true, () => false), 15_000, 50);
    const oldExit = await agent.waitLog((l) => l.event === 'haproxy_exit' && l.pid === old, 5000, from);
    expect(oldExit.role).toBe('old');
    await waitUntil('one HAProxy', () => agent.haproxyPids().length === 1, 5000, 20);
  }, 40_000);
});
