import { normalizeServers, type Server } from '../model/server';
import { oneOf } from '../model/service';
import { ChildrenCache } from '../zk/children-cache';
import { ensembleName, zkConnectString, znodePath } from '../zk/fields';
import { decodeInstance } from '../model/instance';
import { ZkSession } from '../zk/session';
import { describeTarget, type ZkTarget } from '../zk/target';
import type { WatcherContext, WatcherType } from './watcher';

/**
 * The target a blob names: an ensemble of proxymgr.yml (with its credentials), or a connect
 * string, which gets the credentials of the ensemble with exactly those servers. Blobs come
 * from the registry and never carry credentials themselves.
 */
function targetOf(options: Record<string, unknown>, ctx: WatcherContext): ZkTarget | string {
  const dir = ctx.defaults.zk;
  if (typeof options.ensemble === 'string') {
    return dir?.get(options.ensemble) ?? `zookeeper ensemble ${JSON.stringify(options.ensemble)} is not defined in proxymgr.yml (zookeeper.ensembles)`;
  }
  const servers = options.server as string;
  return dir ? dir.forServers(servers) : { servers, acl: [], aclConfigured: false };
}

/** `"server": "zk1:2181,zk2:2181[/chroot]"` or `"ensemble": "NAME"`, and `"path": "/services/web"`: each child of `path` is one instance. */
export const zookeeperWatcher: WatcherType = {
  options: { server: oneOf(zkConnectString.optional(), 'zookeeper'), ensemble: oneOf(ensembleName.optional(), 'zookeeper'), path: znodePath },
  create(options, ctx) {
    const path = options.path as string;
    const target = targetOf(options, ctx);
    const where = typeof target === 'string' ? '' : describeTarget(target);
    let session: ZkSession | undefined;
    let cache: ChildrenCache | undefined;
    /** Instances left out, with why (the error or the status), so each is logged once per reason. */
    const skipped = new Map<string, string>();
    /** Instances this identity may not read: not in `onChange`'s children, so kept apart from `skipped`. */
    const unreadable = new Map<string, string>();
    const replaced = (why: string) =>
      ctx.log.warn({ event: 'zk_session_replaced', server: where, why }, 'ZooKeeper session replaced; re-reading instances (servers kept meanwhile)');
    // The servers stay; the service reports a source error (an error in /status once past the grace period)
    // until the re-read after reconnecting reports the instances again.
    const disconnected = () => ctx.onError(`zookeeper ${where}: disconnected${tlsReason()}; keeping the previous servers`);
    const tlsReason = () => session?.tlsNote() ?? '';
    // A handshake that keeps failing (another CA, an expired certificate): a source error like an outage, logged once per reason.
    const tlsFailed = (why: string) => {
      ctx.log.warn({ event: 'zk_tls_failed', server: where, error: why }, 'ZooKeeper TLS handshake failed; keeping the previous servers');
      ctx.onError(`zookeeper ${where}: ${why}; keeping the previous servers`);
    };
    return {
      start() {
        if (typeof target === 'string') return ctx.onError(`${target}; keeping the previous servers`);
        session = ZkSession.forTarget(target);
        session.on('replaced', replaced);
        session.on('disconnected', disconnected);
        session.on('tls_failure', tlsFailed);
        cache = new ChildrenCache(session, path, {
          onChange(children) {
            const servers: Server[] = [];
            for (const [name, data] of children) {
              unreadable.delete(name);
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
          // While the handshake keeps failing, the listing queued meanwhile times out (after 10 s) and
          // its error replaces the source error: without the TLS reason, /status would say only "timed out".
          onError: (message) => ctx.onError(`zookeeper ${where} ${message}${tlsReason()}; keeping the previous servers`),
          // An instance this identity may not read: left out like one that cannot be decoded, and said why.
          onUnreadable(name, message) {
            if (unreadable.get(name) === message) return;
            unreadable.set(name, message);
            ctx.log.warn({ event: 'instance_unreadable', znode: `${path}/${name}`, error: `zookeeper ${where} ${message}` }, 'instance skipped');
          },
        });
        cache.start();
      },
      async stop() {
        cache?.stop();
        session?.off('replaced', replaced);
        session?.off('disconnected', disconnected);
        session?.off('tls_failure', tlsFailed);
        session?.release();
      },
    };
  },
};
