import type { Config } from '../config/load';
import { FileServiceConfig } from './file';
import type { ServiceConfigSource } from './source';
import { ZooKeeperServiceConfig } from './zookeeper';
import { dirname } from 'node:path';
import type { ServiceStore } from './store';
import { FileServiceStore } from './store-file';
import { ZooKeeperServiceStore } from './store-zookeeper';

/** Builds the source named by `service_config.type`. */
export function createServiceConfigSource(cfg: Config['service_config'], configFile: string): ServiceConfigSource {
  switch (cfg.type) {
    case 'file':
      return new FileServiceConfig(cfg.path);
    case 'zookeeper':
      return new ZooKeeperServiceConfig(cfg.servers, cfg.path, dirname(configFile));
  }
}

/** Writes service blobs through to the source `service_config` names (the HTTP API's services calls). */
export function createServiceStore(cfg: Config['service_config']): ServiceStore {
  switch (cfg.type) {
    case 'file':
      return new FileServiceStore(cfg.path);
    case 'zookeeper':
      return new ZooKeeperServiceStore(cfg.servers, cfg.path);
  }
}
