import { normalizeServers, type Server } from '../model/server';
import { ChildrenCache } from '../zk/children-cache';
import { zkConnectString, znodePath } from '../zk/fields';
import { decodeInstance } from '../zk/instance';
import { ZkSession } from '../zk/session';
import type { WatcherType } from './watcher';

/** `"server": "zk1:2181,zk2:2181", "path": "/services/web"`: each child of `path` is one instance. */
export const zookeeperWatcher: WatcherType = {
  options: { server: zkConnectString, path: znodePath },
  create(options, ctx) {
    const server = options.server as string;
    const path = options.path as string;
    let session: ZkSession | undefined;
    let cache: ChildrenCache | undefined;
    /** Instances left out, with why (the error or the status), so each is logged once per reason. */
    const skipped = new Map<string, string>();
    const replaced = (why: string) =>
      ctx.log.warn({ event: 'zk_session_replaced', server, why }, 'ZooKeeper session replaced; re-reading instances (servers kept meanwhile)');
    // The servers stay; the service reports a source error (an error in /status once past the grace period)
    // until the re-read after reconnecting reports the instances again.
    const disconnected = () => ctx.onError(`zookeeper ${server}: disconnected; keeping the previous servers`);
    return {
      start() {
        session = ZkSession.acquire(server);
        session.on('replaced', replaced);
        session.on('disconnected', disconnected);
        cache = new ChildrenCache(session, path, {
          onChange(children) {
            const servers: Server[] = [];
            for (const [name, data] of children) {
              const decoded = decodeInstance(data);
              if (decoded.ok) {
                servers.push(decoded.value);
                skipped.delete(name);
                continue;
              }
              if (skipped.get(name) === decoded.error) continue;
              skipped.set(name, decoded.error);
              // ctx.log already carries `service` (and `watcher`): not repeated here, a JSON line has each key once.
              if ('status' in decoded) {
                ctx.log.info({ event: 'instance_not_alive', znode: `${path}/${name}`, status: decoded.status }, `instance left out: status ${decoded.status}`);
              } else {
                ctx.log.warn({ event: 'instance_invalid', znode: `${path}/${name}`, error: decoded.error }, 'instance skipped');
              }
            }
            for (const name of skipped.keys()) if (!children.has(name)) skipped.delete(name);
            // Children have no meaningful order: name order, for `balance first` too.
            ctx.onUpdate(normalizeServers(servers));
          },
          onError: (message) => ctx.onError(`zookeeper ${server}: ${message}; keeping the previous servers`),
        });
        cache.start();
      },
      async stop() {
        cache?.stop();
        session?.off('replaced', replaced);
        session?.off('disconnected', disconnected);
        session?.release();
      },
    };
  },
};
