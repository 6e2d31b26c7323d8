import zookeeper from 'node-zookeeper-client';
import { ZkCredentials } from '../../../src/zk/auth';
import { describeZkError, isNoAuth } from '../../../src/zk/errors';

const E = zookeeper.Exception as unknown as { create(code: number, path?: string): Error } & Record<string, number>;
const creds = (ZkCredentials.parse('sidecar:secret-pw') as { value: ZkCredentials }).value;

describe('describeZkError', () => {
  test.each([
    [E.create(E.NO_AUTH), 'list', creds, undefined, 'NOAUTH: not allowed to list as digest user "sidecar"; the znode\'s ACL does not grant it'],
    [E.create(E.NO_AUTH), 'read', undefined, undefined, 'NOAUTH: not allowed to read without credentials (set auth on the ensemble); the znode\'s ACL does not grant it'],
    [E.create(E.AUTH_FAILED), 'list', creds, undefined, 'AUTH_FAILED: ZooKeeper refused the credentials (as digest user "sidecar")'],
    [E.create(E.INVALID_ACL), 'create', undefined, undefined, 'INVALID_ACL: ZooKeeper refused the ACL to create with (creator needs credentials)'],
    [E.create(E.NO_NODE), 'list', creds, '/pm', 'does not exist (under the chroot /pm, which ZooKeeper does not create)'],
    [E.create(E.NO_NODE), 'list', creds, undefined, 'does not exist'],
    [E.create(E.CONNECTION_LOSS), 'write', creds, undefined, 'write failed: Exception: CONNECTION_LOSS[-4]'],
    [new Error('ZooKeeper: list /x timed out'), 'list', creds, undefined, 'ZooKeeper: list /x timed out'],
  ])('%s', (err, op, auth, chroot, text) => {
    const s = describeZkError(err, op, auth, chroot);
    expect(s).toBe(text);
    expect(s).not.toContain('secret-pw');
  });

  test('isNoAuth', () => {
    expect(isNoAuth(E.create(E.NO_AUTH))).toBe(true);
    expect(isNoAuth(E.create(E.NO_NODE))).toBe(false);
    expect(isNoAuth(new Error('x'))).toBe(false);
  });
});
