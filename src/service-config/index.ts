import type { Config } from '../config/load';
import { FileServiceConfig } from './file';
import type { ServiceConfigSource } from './source';
import { ZooKeeperServiceConfig } from './zookeeper';
import { dirname } from 'node:path';

/** Builds the source named by `service_config.type`. */
export function createServiceConfigSource(cfg: Config['service_config'], configFile: string): ServiceConfigSource {
  switch (cfg.type) {
    case 'file':
      return new FileServiceConfig(cfg.path);
    case 'zookeeper':
      return new ZooKeeperServiceConfig(cfg.servers, cfg.path, dirname(configFile));
  }
}
