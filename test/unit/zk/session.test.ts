import { ZkCredentials } from '../../../src/zk/auth';
import { sessionKey } from '../../../src/zk/session';

const creds = (s: string) => (ZkCredentials.parse(s) as { value: ZkCredentials }).value;

describe('sessionKey', () => {
  test('one session per connect string and identity; the key holds no password', () => {
    const a = sessionKey('zk1:2181/pm', { auth: creds('sidecar:pw-one') });
    expect(sessionKey('zk1:2181/pm', { auth: creds('sidecar:pw-one') })).toBe(a);
    expect(sessionKey('zk1:2181/pm', { auth: creds('sidecar:pw-two') })).not.toBe(a);
    expect(sessionKey('zk1:2181/pm', {})).not.toBe(a);
    expect(sessionKey('zk1:2181/other', { auth: creds('sidecar:pw-one') })).not.toBe(a);
    expect(sessionKey('zk1:2181/pm', {})).toBe(sessionKey('zk1:2181/pm', {}));
    expect(a).not.toContain('pw-one');
  });
});
