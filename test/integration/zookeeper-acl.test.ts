import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestId } from '../../src/zk/auth';
import { CLI } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { waitUntil } from '../support/net';
import { TestZooKeeper, type ZkTestClient } from '../support/zookeeper';

const PLATFORM = 'platform:plat-Pa55word';
const SIDECAR = 'sidecar:side-Pa55word';
const INSTANCE = 'instance:inst-Pa55word';
const SECRETS = ['plat-Pa55word', 'side-Pa55word', 'inst-Pa55word'];
const CONFIGURED = `digest:${digestId(PLATFORM)}:cdrwa,digest:${digestId(SIDECAR)}:r`;

/** The CLI with its own environment (credentials) and, if given, stdin. */
function cli(args: string[], env: Record<string, string> = {}, input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { timeout: 30_000, env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

// What `service put` and `register` create carries the configured ACL, parents included.
describe('ACLs on the znodes proxymgr creates', () => {
  let zk: TestZooKeeper;
  let admin: ZkTestClient;
  let anonymous: ZkTestClient;
  let backends: Backends;
  let dir: string;
  let cfg: string;
  const file = (name: string) => join(dir, name);

  beforeAll(async () => {
    zk = new TestZooKeeper();
    zk.superUser = 'super:test-super';
    await zk.start();
    admin = await zk.client('super:test-super');
    anonymous = await zk.client();
    backends = await startBackends(2);
    dir = mkdtempSync(join(tmpdir(), 'pmgr-acl-'));
    cfg = file('proxymgr.yml');
    // The sidecars' own credentials file is not there: a command given other credentials must not need it.
    writeFileSync(
      cfg,
      [
        'zookeeper:',
        '  ensembles:',
        '    main:',
        `      servers: "${zk.connectString}"`,
        '      auth: {scheme: digest, credentials_file: /nonexistent/sidecar.auth}',
        `      acl: "digest:${digestId(PLATFORM)}:all,digest:${digestId(SIDECAR)}:read"`,
        'service_config: {type: zookeeper, ensemble: main, path: /acl/services}',
        '',
      ].join('\n'),
    );
    writeFileSync(file('platform.auth'), `${PLATFORM}\n`);
    writeFileSync(file('instance.auth'), `${INSTANCE}\n`);
    writeFileSync(file('web.json'), JSON.stringify({ type: 'zookeeper', ensemble: 'main', path: '/acl/instances/web', port: 8080 }));
  });
  afterAll(async () => {
    admin.close();
    anonymous.close();
    await zk.cleanup();
    await backends.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('service put: the znode and its missing parents get the configured ACL (or --acl); nobody else can change them', async () => {
    const put = await cli(['service', 'put', 'web', '-c', cfg, '-f', file('web.json'), '--auth-file', file('platform.auth')]);
    expect(put).toMatchObject({ code: 0, stderr: '' });
    for (const p of ['/acl', '/acl/services', '/acl/services/web']) expect([p, await admin.acl(p)]).toEqual([p, CONFIGURED]);
    // Without credentials, and as the sidecars' read-only identity: no write, no delete.
    const sidecar = await zk.client(SIDECAR);
    try {
      expect(await anonymous.trySet('/acl/services/web', '{}')).toBe('NO_AUTH');
      expect(await anonymous.tryRemove('/acl/services/web')).toBe('NO_AUTH');
      expect(await anonymous.tryChildren('/acl/services')).toBe('NO_AUTH');
      expect(await sidecar.trySet('/acl/services/web', '{}')).toBe('NO_AUTH');
      expect(await sidecar.tryRemove('/acl/services/web')).toBe('NO_AUTH');
      expect(JSON.parse((await sidecar.get('/acl/services/web')).toString())).toMatchObject({ ensemble: 'main' });
    } finally {
      sidecar.close();
    }

    // The same identity from the environment: get, list, overwrite.
    const env = { PROXYMGR_ZK_AUTH_FILE: file('platform.auth') };
    expect((await cli(['service', 'list', '-c', cfg], env)).stdout).toBe('web\n');
    expect(JSON.parse((await cli(['service', 'get', 'web', '-c', cfg], env)).stdout)).toMatchObject({ port: 8080 });
    expect((await cli(['service', 'put', 'web', '-c', cfg, '-f', file('web.json')], env)).code).toBe(0);

    // The sidecars' identity may not write: NOAUTH, naming the ensemble and the path.
    const refused = await cli(['service', 'put', 'web', '-c', cfg, '-f', file('web.json')], { PROXYMGR_ZK_AUTH: SIDECAR });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`proxymgr service put: ensemble main (${zk.connectString}) /acl/services/web: NOAUTH: not allowed to write as digest user "sidecar"; the znode's ACL does not grant it\n`);

    // --acl in place of proxymgr.yml's: the creator's identity alone.
    expect((await cli(['service', 'put', 'api', '-c', cfg, '-f', file('web.json'), '--acl', 'creator:all'], env)).code).toBe(0);
    expect(await admin.acl('/acl/services/api')).toBe(`digest:${digestId(PLATFORM)}:cdrwa`);
    // A blob naming an ensemble proxymgr.yml does not define is refused before anything is written.
    writeFileSync(file('bad.json'), JSON.stringify({ type: 'zookeeper', ensemble: 'nope', path: '/x', port: 8081 }));
    const bad = await cli(['service', 'put', 'bad', '-c', cfg, '-f', file('bad.json')], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/ensemble: "nope" is not defined in .*proxymgr\.yml \(zookeeper\.ensembles\)/);
    expect(await admin.tryChildren('/acl/services')).toEqual(expect.not.arrayContaining(['bad']));
    expect((await cli(['service', 'delete', 'api', '-c', cfg], env)).code).toBe(0);
    for (const out of [put, refused, bad]) for (const s of SECRETS) expect(out.stdout + out.stderr).not.toContain(s);
  });

  test('register: the ephemeral znode and its missing parents get the ACL; an unauthenticated client cannot remove it', async () => {
    const [b1, b2] = backends.ports;
    const reg = (path: string, port: number, extra: string[], env: Record<string, string>) =>
      spawn(process.execPath, [CLI, 'register', '--path', path, '--address', '127.0.0.1', '--port', String(port), '--check', `http://127.0.0.1:${port}/`, '--interval-ms', '100', ...extra], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH, ...env },
      });
    // The recommended layout: the platform team makes each service's instances znode, where
    // instances may create and delete children (and sidecars read); instances register themselves.
    const platform = await zk.client(PLATFORM);
    await platform.mkdirp('/acl');
    await platform.create('/acl/layout', '', `digest:${digestId(PLATFORM)}:all,digest:${digestId(INSTANCE)}:cd,world:anyone:read`);
    platform.close();
    const own = `digest:${digestId(INSTANCE)}:cdrwa,world:anyone:r`;
    const procs = [
      // Nothing there yet: /reg, /reg/instances and /reg/instances/web are created with the instance's ACL.
      reg('/reg/instances/web', b1, ['--zk', zk.connectString, '--auth-file', file('instance.auth'), '--acl', 'creator:all,world:anyone:read'], {}),
      // The ensemble of proxymgr.yml and its ACL, credentials from the environment.
      reg('/acl/instances/web', b2, ['--ensemble', 'main', '-c', cfg], { PROXYMGR_ZK_AUTH_FILE: file('platform.auth') }),
      // Under the platform's znode, as the instance (default ACL with credentials: creator:all,world:anyone:read).
      reg('/acl/layout', b1, ['--zk', zk.connectString], { PROXYMGR_ZK_AUTH: INSTANCE }),
    ];
    let output = '';
    for (const p of procs) for (const st of [p.stdout!, p.stderr!]) st.on('data', (d) => (output += String(d)));
    try {
      const registered = async (path: string, port: number) => (await admin.children(path)).includes(`127.0.0.1:${port}`);
      await waitUntil('the three instances to register', async () => (await registered('/reg/instances/web', b1)) && (await registered('/acl/instances/web', b2)) && (await registered('/acl/layout', b1)), 10_000);
      for (const p of ['/reg', '/reg/instances', '/reg/instances/web', `/reg/instances/web/127.0.0.1:${b1}`, `/acl/layout/127.0.0.1:${b1}`]) expect([p, await admin.acl(p)]).toEqual([p, own]);
      for (const p of ['/acl/instances', '/acl/instances/web', `/acl/instances/web/127.0.0.1:${b2}`]) expect([p, await admin.acl(p)]).toEqual([p, CONFIGURED]);
      const node = `/reg/instances/web/127.0.0.1:${b1}`;
      expect(await anonymous.tryRemove(node)).toBe('NO_AUTH');
      expect(await anonymous.trySet(node, 'x')).toBe('NO_AUTH');
      expect(await anonymous.tryRemove(`/acl/layout/127.0.0.1:${b1}`)).toBe('NO_AUTH');
      expect(JSON.parse((await anonymous.get(node)).toString())).toEqual({ address: '127.0.0.1', port: b1 });
      // Deregistering needs DELETE on the parent: the layout grants it, and SIGTERM removes the znode.
      procs[2].kill('SIGTERM');
      await new Promise((r) => procs[2].once('exit', r));
      expect(await admin.children('/acl/layout')).toEqual([]);
    } finally {
      for (const p of procs) p.kill('SIGKILL');
    }
    expect(output).not.toMatch(/register_error/);
    for (const s of SECRETS) expect(output).not.toContain(s);
  });

  test('register refuses unusable flags before connecting; zk-digest prints the id an ACL names', async () => {
    const base = ['register', '--path', '/x', '--address', '127.0.0.1', '--port', '1'];
    const r1 = await cli([...base, '--zk', `${zk.connectString}/pm/../etc`]);
    expect(r1).toMatchObject({ code: 2, stderr: expect.stringContaining(`--zk "${zk.connectString}/pm/../etc": chroot "/pm/../etc" must not contain . or .. segments`) });
    const r2 = await cli([...base, '--zk', zk.connectString, '--acl', 'creator:all']);
    expect(r2).toMatchObject({ code: 2, stderr: expect.stringContaining('--acl: creator needs credentials') });
    const r3 = await cli([...base, '--zk', zk.connectString, '--ensemble', 'main', '-c', cfg]);
    expect(r3).toMatchObject({ code: 2, stderr: expect.stringContaining('needs exactly one of --zk, --ensemble') });
    expect(await cli(['zk-digest'], {}, `${PLATFORM}\n`)).toEqual({ code: 0, stdout: `digest:${digestId(PLATFORM)}\n`, stderr: '' });
    expect((await cli(['zk-digest', '--auth-file', file('instance.auth')])).stdout).toBe(`digest:${digestId(INSTANCE)}\n`);
  });
});
