import { undefinedRegistries, type RegistryNames } from '../../../src/config/registry-names';
import { EtcdDirectory } from '../../../src/etcd/target';
import { ZkDirectory, type ZkTarget } from '../../../src/zk/target';

const names: RegistryNames = {
  file: '/etc/proxymgr.yml',
  zk: new ZkDirectory(new Map([['main', { name: 'main', servers: 'zk1:2181' } as ZkTarget]])),
  etcdDir: new EtcdDirectory(new Map([['east', { name: 'east', endpoints: ['http://etcd1:2379'] }]])),
};

describe('undefinedRegistries: a blob naming an ensemble or cluster proxymgr.yml lacks', () => {
  test.each([
    ['zookeeper, a defined ensemble', 'zookeeper', { ensemble: 'main', path: '/s' }, []],
    ['zookeeper, an undefined ensemble', 'zookeeper', { ensemble: 'west', path: '/s' }, ['ensemble: "west" is not defined in /etc/proxymgr.yml (zookeeper.ensembles)']],
    ['zookeeper, a bare server string', 'zookeeper', { server: 'zk9:2181', path: '/s' }, []],
    ['etcd, a defined cluster', 'etcd', { cluster: 'east', prefix: '/s' }, []],
    ['etcd, an undefined cluster', 'etcd', { cluster: 'west', prefix: '/s' }, ['cluster: "west" is not defined in /etc/proxymgr.yml (etcd.clusters)']],
    ['etcd, bare endpoints', 'etcd', { endpoints: 'etcd9:2379', prefix: '/s' }, []],
    ['a cluster name on a watcher that has none is not looked up', 'static', { cluster: 'west' }, []],
  ])('%s', (_name, type, options, expected) => {
    expect(undefinedRegistries(names, { type, options })).toEqual(expected);
  });
});
