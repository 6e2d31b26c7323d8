import type { Config } from '../config/load';
import type { Logger } from '../log';
import type { ZkTarget } from '../zk/target';
import { FileServiceConfig } from './file';
import type { ServiceConfigSource } from './source';
import { ZooKeeperServiceConfig } from './zookeeper';
import { EtcdServiceConfig } from './etcd';
import { EtcdServiceStore } from './store-etcd';
import type { EtcdTarget } from '../etcd/target';
import { dirname } from 'node:path';
import type { ServiceStore } from './store';
import { FileServiceStore } from './store-file';
import { ZooKeeperServiceStore } from './store-zookeeper';

/** The ZooKeeper target of `service_config` (its servers or ensemble, credentials read at load). */
function zkTarget(config: Config): ZkTarget {
  const t = config.zk.serviceConfig;
  // loadConfig refuses a zookeeper service_config without one.
  if (!t) throw new Error(`${config.file}: service_config has no ZooKeeper servers`);
  return t;
}

/** The etcd target of `service_config` (its endpoints or cluster, credentials read at load). */
function etcdTarget(config: Config): EtcdTarget {
  const t = config.etcdDir.serviceConfig;
  // loadConfig refuses an etcd service_config without one.
  if (!t) throw new Error(`${config.file}: service_config has no etcd endpoints`);
  return t;
}

/** Builds the source named by `service_config.type`. */
export function createServiceConfigSource(config: Config, log?: Logger): ServiceConfigSource {
  const cfg = config.service_config;
  switch (cfg.type) {
    case 'file':
      return new FileServiceConfig(cfg.path);
    case 'zookeeper':
      return new ZooKeeperServiceConfig(zkTarget(config), cfg.path, dirname(config.file), log);
    case 'etcd':
      return new EtcdServiceConfig(etcdTarget(config), cfg.prefix, dirname(config.file), log);
  }
}

/** Writes service blobs through to the source `service_config` names (the HTTP API's services calls). */
export function createServiceStore(config: Config): ServiceStore {
  const cfg = config.service_config;
  switch (cfg.type) {
    case 'file':
      return new FileServiceStore(cfg.path);
    case 'zookeeper':
      return new ZooKeeperServiceStore(zkTarget(config), cfg.path);
    case 'etcd':
      return new EtcdServiceStore(etcdTarget(config), cfg.prefix);
  }
}
