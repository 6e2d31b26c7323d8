import type { Config } from '../config/load';
import { FileServiceConfig } from './file';
import type { ServiceConfigSource } from './source';

/** Builds the source named by `service_config.type`. */
export function createServiceConfigSource(cfg: Config['service_config']): ServiceConfigSource {
  switch (cfg.type) {
    case 'file':
      return new FileServiceConfig(cfg.path);
  }
}
