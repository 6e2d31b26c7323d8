import type { WatcherSchemas } from '../model/service';
import { dnsWatcher } from './dns';
import { etcdWatcher } from './etcd';
import { fileWatcher } from './file';
import { staticWatcher } from './static';
import type { WatcherType } from './watcher';
import { zookeeperWatcher } from './zookeeper';

/** Every watcher type by the name a service blob uses in `"type"`. Adding one is one file and one line here. */
export const WATCHER_TYPES: Readonly<Record<string, WatcherType>> = {
  static: staticWatcher,
  file: fileWatcher,
  zookeeper: zookeeperWatcher,
  dns: dnsWatcher,
  etcd: etcdWatcher,
};

export const WATCHER_SCHEMAS: WatcherSchemas = Object.fromEntries(
  Object.entries(WATCHER_TYPES).map(([name, type]) => [name, type.options]),
);
