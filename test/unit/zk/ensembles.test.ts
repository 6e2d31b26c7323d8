import { formatAcl } from '../../../src/zk/acl';
import { resolveZk, withCredentials } from '../../../src/zk/ensembles';
import { describeTarget, sameTarget, type ZkTarget } from '../../../src/zk/target';

const env = { SIDE: 'sidecar:side-pw', PLAT: 'platform:plat-pw', PLAT2: 'platform:rotated' };
const o = { baseDir: '/etc/pm', env };
const digest = { scheme: 'digest' as const };
const show = (t: ZkTarget | undefined) => t && { name: t.name, servers: t.servers, user: t.auth?.user, acl: formatAcl(t.acl), configured: t.aclConfigured };

describe('resolveZk', () => {
  test('ensembles with credentials and ACLs; the service config names one; a blob server string gets the ensemble with exactly those servers', () => {
    const { directory, problems } = resolveZk(
      {
        main: { servers: 'zk1:2181,zk2:2181/pm', auth: { ...digest, credentials_env: 'SIDE' } },
        other: { servers: 'zk9:2181', acl: 'world:anyone:read' },
      },
      { type: 'zookeeper', ensemble: 'main', path: '/services' },
      o,
    );
    expect(problems).toEqual([]);
    expect(show(directory.serviceConfig)).toEqual({ name: 'main', servers: 'zk1:2181,zk2:2181/pm', user: 'sidecar', acl: 'creator:cdrwa,world:anyone:r', configured: false });
    expect(show(directory.get('other'))).toEqual({ name: 'other', servers: 'zk9:2181', user: undefined, acl: 'world:anyone:r', configured: true });
    expect(directory.forServers('zk1:2181,zk2:2181/pm')).toBe(directory.get('main'));
    // Another spelling is another connect string: no credentials.
    expect(show(directory.forServers('zk2:2181,zk1:2181/pm'))).toEqual({ name: undefined, servers: 'zk2:2181,zk1:2181/pm', user: undefined, acl: 'world:anyone:cdrwa', configured: false });
    expect(JSON.stringify(directory)).not.toContain('side-pw');
  });

  test('a service config with its own servers and auth is an unnamed ensemble that blobs with the same servers share', () => {
    const { directory, problems } = resolveZk({}, { type: 'zookeeper', servers: 'zk1:2181', path: '/s', auth: { ...digest, credentials_env: 'PLAT' }, acl: 'creator:all' }, o);
    expect(problems).toEqual([]);
    expect(show(directory.serviceConfig)).toEqual({ name: undefined, servers: 'zk1:2181', user: 'platform', acl: 'creator:cdrwa', configured: true });
    expect(directory.forServers('zk1:2181')).toBe(directory.serviceConfig);
    expect(describeTarget(directory.serviceConfig!)).toBe('zk1:2181');
    expect(describeTarget({ name: 'main', servers: 'zk1:2181/pm' })).toBe('ensemble main (zk1:2181/pm)');
  });

  test('servers equal to an ensemble\'s, without auth of its own: the ensemble\'s identity', () => {
    const { directory, problems } = resolveZk({ main: { servers: 'zk1:2181', auth: { ...digest, credentials_env: 'SIDE' } } }, { type: 'zookeeper', servers: 'zk1:2181', path: '/s' }, o);
    expect(problems).toEqual([]);
    expect(directory.serviceConfig).toBe(directory.get('main'));
  });

  test.each([
    [{}, { type: 'zookeeper', path: '/s' }, 'service_config: needs exactly one of servers, ensemble'],
    [{}, { type: 'zookeeper', path: '/s', servers: 'a:1', ensemble: 'x' }, 'service_config: needs exactly one of servers, ensemble'],
    [{}, { type: 'zookeeper', path: '/s', ensemble: 'nope' }, 'service_config.ensemble: "nope" is not defined in zookeeper.ensembles'],
    [{ m: { servers: 'a:1' } }, { type: 'zookeeper', path: '/s', ensemble: 'm', acl: 'creator:all' }, 'service_config.acl: comes from ensemble m; set it there'],
    [{ m: { servers: 'a:1' } }, { type: 'zookeeper', path: '/s', servers: 'a:1', auth: { ...digest, credentials_env: 'SIDE' } }, 'service_config.servers: same servers as ensemble m; write ensemble: m and set auth, tls and acl there'],
    [{ m: { servers: 'a:1' }, n: { servers: 'a:1' } }, { type: 'file' }, 'zookeeper.ensembles.n.servers: same servers as ensemble m; define each connect string once'],
    [{ m: { servers: 'a:1', auth: { ...digest, credentials_env: 'UNSET' } } }, { type: 'file' }, 'zookeeper.ensembles.m.auth: environment variable UNSET is not set or empty'],
    [{ m: { servers: 'a:1', acl: 'creator:all' } }, { type: 'file' }, 'zookeeper.ensembles.m.acl: creator needs auth (ZooKeeper refuses it from a session without credentials)'],
    [{}, { type: 'zookeeper', path: '/s', servers: 'a:1', acl: 'creator:all' }, 'service_config.acl: creator needs auth (ZooKeeper refuses it from a session without credentials)'],
    [{ m: { servers: 'a:1' } }, { type: 'zookeeper', path: '/s', ensemble: 'm', tls: { ca_file: 'ca.pem' } }, 'service_config.tls: comes from ensemble m; set it there'],
  ])('refuses %j %j', (ensembles, sc, problem) => {
    expect(resolveZk(ensembles as never, sc as never, o).problems).toEqual([problem]);
  });

  test('a tls block whose CA file cannot be read is a problem named by key, with the file resolved against the config directory', () => {
    const { problems } = resolveZk({ m: { servers: 'a:1', tls: { ca_file: 'no-such-ca.pem' } } }, { type: 'file' }, o);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^zookeeper\.ensembles\.m\.tls: .*\/etc\/pm\/no-such-ca\.pem/);
  });

  test('credentials: false leaves them unread (a CLI given its own), and withCredentials follows the default ACL', () => {
    const { directory, problems } = resolveZk({ m: { servers: 'a:1', auth: { ...digest, credentials_env: 'UNSET' } } }, { type: 'zookeeper', path: '/s', ensemble: 'm' }, { ...o, credentials: false });
    expect(problems).toEqual([]);
    const t = directory.serviceConfig!;
    expect(t.auth).toBeUndefined();
    const plat = resolveZk({ p: { servers: 'a:1', auth: { ...digest, credentials_env: 'PLAT' } } }, { type: 'file' }, o).directory.get('p')!.auth;
    expect(show(withCredentials({ servers: 'a:1', acl: [], aclConfigured: false }, plat))).toMatchObject({ user: 'platform', acl: 'creator:cdrwa,world:anyone:r' });
    expect(show(withCredentials({ servers: 'a:1', acl: [{ scheme: 'world', id: 'anyone', perms: 1 }], aclConfigured: true }, plat))).toMatchObject({ acl: 'world:anyone:r' });
  });

  test('sameAs sees a rotated password, an ACL or servers changed; not an identical re-read', () => {
    const dir = (sideEnv: string, acl?: string) => resolveZk({ m: { servers: 'a:1', auth: { ...digest, credentials_env: sideEnv }, ...(acl && { acl }) } }, { type: 'zookeeper', path: '/s', ensemble: 'm' }, o).directory;
    expect(dir('PLAT').sameAs(dir('PLAT'))).toBe(true);
    expect(dir('PLAT').sameAs(dir('PLAT2'))).toBe(false);
    expect(dir('PLAT').sameAs(dir('PLAT', 'creator:all'))).toBe(false);
    expect(sameTarget(dir('PLAT').serviceConfig, dir('PLAT2').serviceConfig)).toBe(false);
    expect(sameTarget(undefined, undefined)).toBe(true);
  });
});
