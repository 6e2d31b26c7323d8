import { instanceNode } from '../../../src/cli/instance';
import { endpointsTarget, isEtcdRegister, validateEtcdRegister, type EtcdRegisterOptions } from '../../../src/cli/register-etcd';

const base: EtcdRegisterOptions = { etcd: '127.0.0.1:2379', prefix: '/services/web', address: '10.0.0.5', port: 8080, intervalMs: 2000 };

describe('proxymgr register with etcd: which registry', () => {
  test.each<[string, object, boolean]>([
    ['--etcd', { etcd: 'e:2379' }, true],
    ['--etcd-cluster', { etcdCluster: 'main' }, true],
    ['--prefix alone', { prefix: '/s/web' }, true],
    ['--zk with --prefix (refused by the ZooKeeper checks)', { zk: 'z:2181', prefix: '/s/web' }, false],
    ['--zk', { zk: 'z:2181', path: '/s/web' }, false],
    ['nothing', {}, false],
  ])('%s', (_label, o, etcd) => {
    expect(isEtcdRegister({ address: 'a', intervalMs: 1, ...o })).toBe(etcd);
  });
});

describe('proxymgr register with etcd: options', () => {
  test.each<[string, Partial<EtcdRegisterOptions> & Record<string, unknown>, string[]]>([
    ['endpoints, a prefix, an IP and a port', {}, []],
    ['several endpoints with schemes', { etcd: 'http://10.0.0.1:2379,http://10.0.0.2:2379' }, []],
    ['a cluster of proxymgr.yml', { etcd: undefined, etcdCluster: 'main', config: 'proxymgr.yml' }, []],
    ['a TTL of 2 s', { ttl: 2 }, []],
    ['both --etcd and --etcd-cluster', { etcdCluster: 'main', config: 'p.yml' }, ['needs exactly one of --etcd, --etcd-cluster']],
    ['neither', { etcd: undefined }, ['needs exactly one of --etcd, --etcd-cluster']],
    ['a cluster without -c', { etcd: undefined, etcdCluster: 'main' }, ['--etcd-cluster needs -c proxymgr.yml (where the cluster is defined)']],
    ['a bad endpoint', { etcd: 'e:2379,/x' }, ['--etcd "e:2379,/x": must be host:port, http://host:port or https://host:port']],
    ['http and https mixed', { etcd: 'http://a:1,https://b:2' }, ['--etcd "http://a:1,https://b:2": mixes http:// and https:// endpoints']],
    ['no prefix', { prefix: undefined }, ['--prefix: required (the instances prefix, e.g. /services/web)']],
    ['a prefix with a trailing slash', { prefix: '/services/web/' }, ['--prefix "/services/web/": must be an absolute key prefix such as /services/web (no trailing slash)']],
    ['a TTL of 1 s', { ttl: 1 }, ['--ttl 1: must be a whole number of seconds, at least 2']],
    ['a TTL that is not a number', { ttl: Number('ten') }, ['--ttl NaN: must be a whole number of seconds, at least 2']],
    ['ZooKeeper flags mixed in', { zk: 'z:2181', path: '/p', acl: 'creator:all' }, ['--zk: for ZooKeeper; with etcd use --etcd or --etcd-cluster', '--path: for ZooKeeper; with etcd use --prefix', '--acl: for ZooKeeper; with etcd use etcd roles']],
    ['a unix socket with a port (shared instance checks)', { address: 'unix:/run/app.sock' }, ['--port 8080: a unix socket address takes no port']],
    ['an interval that is not a number', { intervalMs: Number('x') }, ['--interval-ms NaN: must be a whole number of milliseconds, at least 10']],
  ])('%s', (_label, over, errors) => {
    expect(validateEtcdRegister({ ...base, ...over })).toEqual(errors);
  });

  test('bare endpoints: with a scheme, sorted, no credentials or TLS (the command line brings those)', () => {
    expect(endpointsTarget('10.0.0.2:2379, 10.0.0.1:2379')).toEqual({ endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'] });
  });
});

describe('proxymgr register with etcd: the instance key', () => {
  test.each<[Partial<EtcdRegisterOptions>, string, object]>([
    [{}, '/services/web/10.0.0.5:8080', { address: '10.0.0.5', port: 8080 }],
    [{ weight: 0 }, '/services/web/10.0.0.5:8080', { address: '10.0.0.5', port: 8080, weight: 0 }],
    [{ address: '::1', port: 80 }, '/services/web/::1:80', { address: '::1', port: 80 }],
    // A socket path would nest the key one level per `/`: its server name stands for it, as the znode name does.
    [{ address: 'unix:/run/php/fpm.sock', port: undefined }, '/services/web/unix_run:php:fpm.sock', { address: 'unix:/run/php/fpm.sock' }],
  ])('%j', (over, key, data) => {
    const o = { ...base, ...over };
    const got = instanceNode({ ...o, path: o.prefix! });
    expect(got.node).toBe(key);
    expect(JSON.parse(got.data.toString())).toEqual(data);
  });
});
