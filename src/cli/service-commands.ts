import type { Config } from '../config/load';
import type { EtcdCliFlags } from './etcd-auth';
import { etcdServiceCommand } from './service-etcd';
import type { ServiceAction } from './service-blob';
import { zkServiceCommand } from './service-zookeeper';
import type { ZkCliFlags } from './zk-auth';

/**
 * `proxymgr service put|get|list|delete`: manage service blobs where proxymgr.yml's
 * service_config keeps them (ZooKeeper or etcd), as proxymgr.yml's identity or the one given
 * with --auth-file (or the environment). `put` validates the blob before anything is written.
 */
export async function serviceCommand(config: Config, action: ServiceAction, name?: string, file?: string, flags: ZkCliFlags & EtcdCliFlags = {}, env = process.env): Promise<number> {
  const sc = config.service_config;
  switch (sc.type) {
    case 'file':
      process.stderr.write(`proxymgr service: needs service_config type zookeeper or etcd (${config.file} has file); edit the files in ${sc.path}\n`);
      return 2;
    case 'zookeeper':
      return zkServiceCommand(config, action, name, file, flags, env);
    case 'etcd':
      return etcdServiceCommand(config, action, name, file, flags, env);
  }
}
