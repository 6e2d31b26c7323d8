import type { z } from 'zod';
import type { Logger } from '../log';
import type { Server } from '../model/server';
import type { EtcdDirectory } from '../etcd/target';
import type { ZkDirectory } from '../zk/target';

/** What a watcher is given: who it works for, and where to report. */
export interface WatcherContext {
  service: string;
  /** Relative paths in the service blob resolve against this directory. */
  baseDir: string;
  /** Agent-wide defaults from proxymgr.yml. */
  defaults: WatcherDefaults;
  /** Already carries `service` and `watcher`: lines logged through it must not repeat those keys. */
  log: Logger;
  /** The complete current server list (not a delta). */
  onUpdate(servers: Server[]): void;
  /** The source cannot be read right now; the last reported servers stay in force. */
  onError(message: string): void;
}

export interface WatcherDefaults {
  dnsNameservers?: string[];
  /** The ZooKeeper ensembles of proxymgr.yml, with their credentials: blobs name one, never carry credentials. */
  zk?: ZkDirectory;
  /** The etcd clusters of proxymgr.yml, likewise. */
  etcd?: EtcdDirectory;
}

export interface Watcher {
  start(): void;
  stop(): Promise<void>;
}

/** A watcher type: the blob keys it accepts and how to build one. Register it in `./index.ts`. */
export interface WatcherType {
  options: z.ZodRawShape;
  create(options: Record<string, unknown>, ctx: WatcherContext): Watcher;
}
