import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { EtcdAuthenticationFailedError, EtcdPermissionDeniedError, GRPCUnavailableError } from 'etcd3';
import { describeEtcdFailure, etcdCliTarget, hasEtcdCliCredentials } from '../../../src/cli/etcd-auth';
import { EtcdCredentials } from '../../../src/etcd/credentials';
import type { EtcdTarget } from '../../../src/etcd/target';

describe('the credentials of an etcd CLI command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pmgr-etcdauth-'));
  const flagFile = join(dir, 'flag');
  const envFile = join(dir, 'env');
  writeFileSync(flagFile, 'fromflag:pw-flag-secret\n');
  writeFileSync(envFile, 'fromenvfile:pw-envfile-secret\n');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const yml = EtcdCredentials.parse('sidecar:pw-yml-secret');
  const base: EtcdTarget = { name: 'main', endpoints: ['http://e1:2379'], ...(yml.ok && { auth: yml.value }) };
  const user = (flags: object, env: NodeJS.ProcessEnv) => {
    const r = etcdCliTarget(base, flags, env);
    return r.ok ? r.target.auth?.user : r.error;
  };

  test("--auth-file, else PROXYMGR_ETCD_AUTH_FILE, else PROXYMGR_ETCD_AUTH, else proxymgr.yml's", () => {
    const env = { PROXYMGR_ETCD_AUTH_FILE: envFile, PROXYMGR_ETCD_AUTH: 'fromenv:pw-env-secret' };
    expect(user({ authFile: flagFile }, env)).toBe('fromflag');
    expect(user({}, env)).toBe('fromenvfile');
    expect(user({}, { PROXYMGR_ETCD_AUTH: 'fromenv:pw-env-secret' })).toBe('fromenv');
    expect(user({}, {})).toBe('sidecar');
    // The ZooKeeper variables are not etcd's.
    expect(user({}, { PROXYMGR_ZK_AUTH: 'zk:pw' })).toBe('sidecar');
    expect(hasEtcdCliCredentials({}, {})).toBe(false);
    expect(hasEtcdCliCredentials({}, { PROXYMGR_ETCD_AUTH: 'x:y' })).toBe(true);
    expect(hasEtcdCliCredentials({ authFile: 'f' }, {})).toBe(true);
  });

  test.each([
    [{ authFile: join(dir, 'missing') }, {}, `--auth-file: cannot read file ${join(dir, 'missing')} (ENOENT)`],
    [{}, { PROXYMGR_ETCD_AUTH_FILE: join(dir, 'missing') }, `PROXYMGR_ETCD_AUTH_FILE: cannot read file ${join(dir, 'missing')} (ENOENT)`],
    [{}, { PROXYMGR_ETCD_AUTH: 'secret-without-user' }, 'PROXYMGR_ETCD_AUTH must hold user:password (one line)'],
  ])('refused: %j %j', (flags, env, error) => {
    expect(user(flags, env)).toBe(error);
  });

  test('a failure names the cluster, its endpoints and the key, and as whom; never the password', () => {
    const r = etcdCliTarget(base, { authFile: flagFile }, {});
    if (!r.ok) throw new Error(r.error);
    const denied = describeEtcdFailure(new EtcdPermissionDeniedError('etcdserver: permission denied'), r.target, '/services/web', 'write');
    expect(denied).toBe('etcd cluster main (http://e1:2379) /services/web: permission denied: cannot write as etcd user "fromflag"');
    const badLogin = describeEtcdFailure(new EtcdAuthenticationFailedError('etcdserver: authentication failed, invalid user ID or password'), r.target, '/services/web', 'read');
    expect(badLogin).toBe('etcd cluster main (http://e1:2379) /services/web: authentication failed as etcd user "fromflag": wrong user or password');
    const bare = describeEtcdFailure(new EtcdPermissionDeniedError('etcdserver: permission denied'), { endpoints: ['http://e1:2379'] }, '/s/', 'list');
    expect(bare).toBe('etcd http://e1:2379 /s/: permission denied: cannot list without credentials (--auth-file, PROXYMGR_ETCD_AUTH_FILE or PROXYMGR_ETCD_AUTH)');
    expect(describeEtcdFailure(new GRPCUnavailableError('14 UNAVAILABLE: No connection established'), r.target, '/k', 'read')).toBe('etcd cluster main (http://e1:2379) /k: unreachable (14 UNAVAILABLE: No connection established)');
    for (const text of [denied, badLogin, inspect(r.target), JSON.stringify(r.target)]) expect(text).not.toMatch(/pw-/);
  });
});
