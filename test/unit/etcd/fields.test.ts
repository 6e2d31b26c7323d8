import { canonicalEndpoints, endpointsProblem, etcdEndpoints, etcdPrefix, keyRange } from '../../../src/etcd/fields';
import { cancelReason } from '../../../src/etcd/prefix-cache';

describe('etcd endpoints', () => {
  test.each([
    ['etcd1:2379', true],
    ['http://10.0.0.1:2379', true],
    ['https://etcd.example.internal:2379', true],
    ['[::1]:2379', true],
    ['etcd1', false],
    ['etcd1:2379/path', false],
    ['grpc://etcd1:2379', false],
    ['etcd 1:2379', false],
    ['', false],
  ])('%s valid: %s', (endpoint, ok) => {
    expect(etcdEndpoints.safeParse([endpoint]).success).toBe(ok);
  });

  test('one comma-separated string is a list, as etcdctl takes it', () => {
    expect(etcdEndpoints.parse('etcd1:2379, etcd2:2379')).toEqual(['etcd1:2379', 'etcd2:2379']);
    expect(etcdEndpoints.safeParse([]).success).toBe(false);
  });

  test.each([
    [['etcd2:2379', 'etcd1:2379'], false, ['http://etcd1:2379', 'http://etcd2:2379']],
    [['etcd1:2379', 'http://etcd1:2379'], false, ['http://etcd1:2379']],
    [['etcd1:2379'], true, ['https://etcd1:2379']],
    [['https://etcd1:2379'], false, ['https://etcd1:2379']],
  ])('canonical %j (tls %s): %j', (input, tls, out) => {
    expect(canonicalEndpoints(input, tls)).toEqual(out);
  });

  test.each([
    [['http://a:1', 'https://b:1'], false, 'mixes http:// and https:// endpoints'],
    [['http://a:1'], true, 'http://a:1 is http:// but tls is configured'],
    [['https://a:1'], true, undefined],
    [['http://a:1', 'http://b:1'], false, undefined],
  ])('problem of %j (tls %s): %s', (endpoints, tls, problem) => {
    expect(endpointsProblem(endpoints, tls)).toBe(problem);
  });
});

describe('etcd prefixes', () => {
  test.each([
    ['/services/web', true],
    ['/s', true],
    ['/services/web/', false],
    ['services/web', false],
    ['/services/../web', false],
    ['/services/\nweb', false],
    ['/', false],
  ])('%j valid: %s', (prefix, ok) => {
    expect(etcdPrefix.safeParse(prefix).success).toBe(ok);
  });

  test('a prefix stands for the keys below it, not for its siblings that start the same', () => {
    expect(keyRange('/services/web')).toBe('/services/web/');
    expect('/services/web2/a'.startsWith(keyRange('/services/web'))).toBe(false);
  });
});

describe('cancelReason', () => {
  test.each([
    ['Watcher canceled: ', 'compacted: the revision to resume from is gone'],
    ['Watcher canceled:', 'compacted: the revision to resume from is gone'],
    ['Watcher canceled: etcdserver: permission denied', 'etcdserver: permission denied'],
  ])('%j -> %j', (message, reason) => {
    expect(cancelReason(new Error(message))).toBe(reason);
  });
});
