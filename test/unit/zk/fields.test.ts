import { connectStringProblem, splitConnectString, zkConnectString } from '../../../src/zk/fields';

describe('ZooKeeper connect strings', () => {
  test.each([
    ['zk1:2181', { hosts: 'zk1:2181' }],
    ['zk1:2181,zk2:2181,10.0.0.3:2181', { hosts: 'zk1:2181,zk2:2181,10.0.0.3:2181' }],
    ['zk1:2181,zk2:2181/proxymgr', { hosts: 'zk1:2181,zk2:2181', chroot: '/proxymgr' }],
    ['127.0.0.1:2181/a/b-c_d.e', { hosts: '127.0.0.1:2181', chroot: '/a/b-c_d.e' }],
  ])('%s is valid', (s, split) => {
    expect(connectStringProblem(s)).toBeUndefined();
    expect(zkConnectString.safeParse(s).success).toBe(true);
    expect(splitConnectString(s)).toEqual(split);
  });

  test.each([
    ['zk1', 'must be host:port[,host:port...][/chroot]'],
    ['zk1:2181,', 'must be host:port[,host:port...][/chroot]'],
    ['/chroot', 'must be host:port[,host:port...][/chroot]'],
    ['zk1:2181/', 'chroot "/" must be an absolute znode path such as /proxymgr (no trailing slash)'],
    ['zk1:2181/pm/', 'chroot "/pm/" must be an absolute znode path'],
    ['zk1:2181//pm', 'chroot "//pm" must be an absolute znode path'],
    ['zk1:2181/pm/../etc', 'chroot "/pm/../etc" must not contain . or .. segments'],
    ['zk1:2181/./pm', 'chroot "/./pm" must not contain . or .. segments'],
    ['zk1:2181/p\nm', 'chroot "/p\\nm" must be an absolute znode path'],
  ])('%j is refused', (s, problem) => {
    expect(connectStringProblem(s)?.startsWith(problem)).toBe(true);
    expect(zkConnectString.safeParse(s).success).toBe(false);
  });
});
