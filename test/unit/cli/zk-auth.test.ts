import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatAcl } from '../../../src/zk/acl';
import { cliTarget, hasCliCredentials } from '../../../src/cli/zk-auth';
import type { ZkTarget } from '../../../src/zk/target';

describe('the credentials and ACL of a ZooKeeper CLI command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pmgr-cliauth-'));
  const flagFile = join(dir, 'flag');
  const envFile = join(dir, 'env');
  writeFileSync(flagFile, 'fromflag:pw1\n');
  writeFileSync(envFile, 'fromenvfile:pw2\n');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const base: ZkTarget = { name: 'main', servers: 'zk1:2181/pm', acl: [{ scheme: 'world', id: 'anyone', perms: 31 }], aclConfigured: false };
  const user = (flags: object, env: NodeJS.ProcessEnv, t = base) => {
    const r = cliTarget(t, flags, env);
    return r.ok ? [r.target.auth?.user, formatAcl(r.target.acl)] : r.error;
  };

  test('--auth-file, else PROXYMGR_ZK_AUTH_FILE, else PROXYMGR_ZK_AUTH, else proxymgr.yml\'s; a default ACL follows the credentials', () => {
    const env = { PROXYMGR_ZK_AUTH_FILE: envFile, PROXYMGR_ZK_AUTH: 'fromenv:pw3' };
    expect(user({ authFile: flagFile }, env)).toEqual(['fromflag', 'creator:cdrwa,world:anyone:r']);
    expect(user({}, env)).toEqual(['fromenvfile', 'creator:cdrwa,world:anyone:r']);
    expect(user({}, { PROXYMGR_ZK_AUTH: 'fromenv:pw3' })).toEqual(['fromenv', 'creator:cdrwa,world:anyone:r']);
    expect(user({}, {})).toEqual([undefined, 'world:anyone:cdrwa']);
    expect(hasCliCredentials({}, {})).toBe(false);
    expect(hasCliCredentials({}, { PROXYMGR_ZK_AUTH: 'x:y' })).toBe(true);
    expect(hasCliCredentials({ authFile: 'f' }, {})).toBe(true);
  });

  test('--acl replaces the configured ACL; a configured one is kept with other credentials', () => {
    expect(user({ authFile: flagFile, acl: 'creator:all' }, {})).toEqual(['fromflag', 'creator:cdrwa']);
    expect(user({ authFile: flagFile }, {}, { ...base, aclConfigured: true })).toEqual(['fromflag', 'world:anyone:cdrwa']);
  });

  test.each([
    [{ authFile: join(dir, 'missing') }, {}, `--auth-file: cannot read file ${join(dir, 'missing')} (ENOENT)`],
    [{}, { PROXYMGR_ZK_AUTH_FILE: join(dir, 'missing') }, `PROXYMGR_ZK_AUTH_FILE: cannot read file ${join(dir, 'missing')} (ENOENT)`],
    [{}, { PROXYMGR_ZK_AUTH: 'secret-without-user' }, 'PROXYMGR_ZK_AUTH must hold user:password (one line)'],
    [{ acl: 'world:anyone:zz' }, {}, '--acl: ACL entry 1 (world): PERMS must be all, read or letters of cdrwa, each at most once'],
    [{ acl: 'creator:all' }, {}, '--acl: creator needs credentials (--auth-file, PROXYMGR_ZK_AUTH_FILE or PROXYMGR_ZK_AUTH)'],
  ])('refuses %j %j', (flags, env, error) => {
    expect(user(flags, env)).toBe(error);
  });
});
