import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentFixture, startWithEnv } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { freePort, sample } from '../support/net';

const TOKEN = 'privileges-secret-token-0123456789';
const READ_TOKEN = 'privileges-read-token-0123456789';
const ADMIN_TOKEN = 'privileges-admin-token-0123456789';

/** Real and effective uid and gid of a process (Linux /proc). */
function ids(pid: number): { uid: number[]; gid: number[] } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => /^\S+:\s+(\d+)\s+(\d+)/m.exec(status.split('\n').find((l) => l.startsWith(`${name}:`)) ?? '')!.slice(1, 3).map(Number);
  return { uid: field('Uid'), gid: field('Gid') };
}

function account(name: string): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  return line ? { uid: Number(line.split(':')[2]), gid: Number(line.split(':')[3]) } : undefined;
}

// What an agent on every host must never hand out: root in the data path, a writable admin socket, its token.
describe('least privilege', () => {
  let backends: Backends;
  let agent: AgentFixture;
  beforeAll(async () => {
    backends = await startBackends(1);
  });
  afterAll(() => backends.close());
  afterEach(() => agent.cleanup());

  test('HAProxy serves as an unprivileged account, the admin socket is 0600, and the API token appears in no log line', async () => {
    const [port, apiPort] = [await freePort(), await freePort()];
    agent = new AgentFixture({
      services: { web: { type: 'static', port, servers: [`127.0.0.1:${backends.ports[0]}`] } },
      extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"\n  token_env: PM_TEST_TOKEN\n  tokens:\n    - {name: viewer, token_file: viewer.token, role: read}\n    - {name: deploy, token_env: PM_TEST_ADMIN, role: admin}`,
    });
    writeFileSync(join(agent.dir, 'viewer.token'), `${READ_TOKEN}\n`, { mode: 0o600 });
    await startWithEnv(agent, { PM_TEST_TOKEN: TOKEN, PM_TEST_ADMIN: ADMIN_TOKEN });
    expect(await sample(port, 2)).toEqual(new Set([backends.id(backends.ports[0])]));

    const pid = await agent.haproxyPid();
    const { uid, gid } = ids(pid);
    if (process.getuid?.() === 0) {
      // Started by a root agent: it binds as root, then drops to the haproxy account (nobody without it).
      const want = account('haproxy') ?? account('nobody')!;
      expect(uid).toEqual([want.uid, want.uid]);
      expect(gid).toEqual([want.gid, want.gid]);
      expect(readFileSync(agent.configPath, 'utf8')).toMatch(/^ {4}user (haproxy|nobody)$/m);
    } else {
      // Not root: nothing to drop, and no user line that HAProxy could not honour.
      expect(uid[1]).toBe(process.getuid?.());
      expect(readFileSync(agent.configPath, 'utf8')).not.toMatch(/^ {4}user /m);
    }

    expect(statSync(agent.socketPath).mode & 0o777).toBe(0o600);

    // A refused call, a good one, a reload: still nothing in the logs carries the token.
    const path = `/api/services/web/servers/127.0.0.1:${backends.ports[0]}/weight`;
    const refused = await fetch(`http://127.0.0.1:${apiPort}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}x` }, body: '{"weight": 5}' });
    expect(refused.status).toBe(401);
    expect(await refused.text()).not.toContain(TOKEN);
    const ok = await fetch(`http://127.0.0.1:${apiPort}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{"weight": 5}' });
    expect(ok.status).toBe(200);
    // Named tokens too: a read token refused (403), an admin writing a service; each call one audit line, by name.
    const viewer = await fetch(`http://127.0.0.1:${apiPort}${path}`, { method: 'POST', headers: { authorization: `Bearer ${READ_TOKEN}` }, body: '{"weight": 6}' });
    expect(viewer.status).toBe(403);
    expect(await viewer.text()).not.toContain(READ_TOKEN);
    const put = await fetch(`http://127.0.0.1:${apiPort}/api/services/extra`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ type: 'static', port: await freePort(), servers: [`127.0.0.1:${backends.ports[0]}`] }) });
    expect(put.status).toBe(201);
    await agent.waitLog((l) => l.event === 'audit' && l.token === 'deploy');
    expect(agent.events('audit').map((l) => [l.token, l.status])).toEqual([[null, 401], ['default', 200], ['viewer', 403], ['deploy', 201]]);
    const from = agent.mark();
    agent.writeService('other', { type: 'static', port: await freePort(), servers: [`127.0.0.1:${backends.ports[0]}`] });
    await agent.waitLog((l) => l.event === 'reload', 5000, from);
    const everything = [...agent.logs.map((l) => JSON.stringify(l)), ...agent.stderr].join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    for (const t of [TOKEN, READ_TOKEN, ADMIN_TOKEN]) expect(everything).not.toContain(t);
  });
});
