import type { Lease } from 'etcd3';
import type { Logger } from '../log';
import { briefError, EtcdClient } from '../etcd/client';
import { canonicalEndpoints, clusterName, endpointsProblem, etcdEndpoints, etcdPrefix } from '../etcd/fields';
import type { EtcdTarget } from '../etcd/target';
import { describeEtcdFailure } from './etcd-auth';
import { healthy, instanceNode, pause, validateInstance, type InstanceOptions } from './instance';

/** The lease's TTL unless --ttl says otherwise: an instance killed outright is gone from every sidecar within it. */
export const DEFAULT_TTL_S = 10;
/** Below this the library's keepalive (every TTL/3) leaves too little room for one slow round trip. */
export const MIN_TTL_S = 2;

export interface EtcdRegisterOptions extends InstanceOptions {
  /** Comma-separated endpoints (`--etcd`), or undefined with `etcdCluster`. */
  etcd?: string;
  /** A cluster of proxymgr.yml (`--etcd-cluster NAME -c proxymgr.yml`). */
  etcdCluster?: string;
  config?: string;
  prefix?: string;
  /** Seconds; DEFAULT_TTL_S when not given. */
  ttl?: number;
}

/** ZooKeeper's flags, so that a mix is refused rather than half ignored. */
type ZkFlags = { zk?: string; ensemble?: string; path?: string; acl?: string };

/** Whether the command line is for etcd: it names endpoints or a cluster, or gives --prefix and no ZooKeeper. */
export function isEtcdRegister(o: EtcdRegisterOptions & ZkFlags): boolean {
  return o.etcd !== undefined || o.etcdCluster !== undefined || (o.prefix !== undefined && o.zk === undefined && o.ensemble === undefined);
}

/** Problems with the options of `register` for etcd, each naming the flag; empty when they are usable. */
export function validateEtcdRegister(o: EtcdRegisterOptions & ZkFlags): string[] {
  const errors: string[] = [];
  for (const [flag, v] of [['--zk', o.zk], ['--ensemble', o.ensemble], ['--path', o.path], ['--acl', o.acl]] as const) {
    if (v !== undefined) errors.push(`${flag}: for ZooKeeper; with etcd use ${flag === '--path' ? '--prefix' : flag === '--acl' ? 'etcd roles' : '--etcd or --etcd-cluster'}`);
  }
  if ((o.etcd === undefined) === (o.etcdCluster === undefined)) errors.push('needs exactly one of --etcd, --etcd-cluster');
  if (o.etcd !== undefined) {
    const parsed = etcdEndpoints.safeParse(o.etcd);
    if (!parsed.success) errors.push(`--etcd ${JSON.stringify(o.etcd)}: ${parsed.error.issues[0].message}`);
    else {
      const problem = endpointsProblem(canonicalEndpoints(parsed.data, false), false);
      if (problem) errors.push(`--etcd ${JSON.stringify(o.etcd)}: ${problem}`);
    }
  }
  if (o.etcdCluster !== undefined) {
    if (!clusterName.safeParse(o.etcdCluster).success) errors.push(`--etcd-cluster ${JSON.stringify(o.etcdCluster)}: must be 1-64 letters, digits, _ . -`);
    if (o.config === undefined) errors.push('--etcd-cluster needs -c proxymgr.yml (where the cluster is defined)');
  }
  if (o.prefix === undefined) errors.push('--prefix: required (the instances prefix, e.g. /services/web)');
  else if (!etcdPrefix.safeParse(o.prefix).success) errors.push(`--prefix ${JSON.stringify(o.prefix)}: must be an absolute key prefix such as /services/web (no trailing slash)`);
  if (o.ttl !== undefined && (!Number.isInteger(o.ttl) || o.ttl < MIN_TTL_S)) errors.push(`--ttl ${o.ttl}: must be a whole number of seconds, at least ${MIN_TTL_S}`);
  errors.push(...validateInstance(o));
  return errors;
}

/** The target of bare `--etcd` endpoints: no TLS unless an endpoint says https://, credentials from the command line. */
export function endpointsTarget(flag: string): EtcdTarget {
  return { endpoints: canonicalEndpoints(etcdEndpoints.parse(flag), false) };
}

/**
 * Keeps the instance key `<prefix>/<address>:<port>` (for a socket, `<prefix>/<its server
 * name>`) attached to a lease while the local health check passes: the library keeps the
 * lease alive (every TTL/3); a failing check revokes the lease, which removes the key at
 * once; a passing one grants a new lease and puts the key again. A key deleted by hand
 * while the check passes is put again at the next interval (one transaction per interval
 * that writes nothing while the key is there). A lease lost (etcd
 * unreachable for longer than the TTL) is granted anew once etcd answers. A process killed
 * outright stops the keepalives: its key goes when the TTL runs out. Resolves when `signal`
 * aborts, after revoking the lease.
 */
export async function registerEtcd(o: EtcdRegisterOptions & { prefix: string }, target: EtcdTarget, log: Logger, signal: AbortSignal): Promise<void> {
  const { node: key, data } = instanceNode({ ...o, path: o.prefix });
  const ttl = o.ttl ?? DEFAULT_TTL_S;
  const client = EtcdClient.acquire(target);
  let lease: Lease | undefined;
  let nap: { done: Promise<void>; wake: () => void } | undefined;
  // An outage would log the same failure every interval: logged when it changes (the next 'registered' says it is over).
  let lastError: string | undefined;
  const grant = async (): Promise<Lease> => {
    const l = client.etcd.lease(ttl);
    l.on('lost', (err) => {
      if (lease !== l) return;
      lease = undefined;
      log.warn({ event: 'lease_lost', key, ttl_s: ttl, error: briefError(err) }, 'etcd lease lost (etcd unreachable for longer than the TTL?): registering again as soon as etcd answers');
      // Register again now, not after the rest of the interval.
      nap?.wake();
    });
    try {
      await l.grant();
      await l.put(key).value(data).exec();
      return l;
    } catch (err) {
      // The key was not written with it: the lease would only expire unused.
      void l.revoke().catch(() => undefined);
      throw err;
    }
  };
  try {
    while (!signal.aborted) {
      // The library can also give a lease up without a 'lost' event (its keepalive found no lease to renew).
      if (lease?.revoked()) lease = undefined;
      const ok = await healthy(o);
      try {
        if (ok && !lease) {
          lease = await grant();
          log.info({ event: 'registered', key, lease: await lease.grant(), ttl_s: ttl }, 'health check passes: instance registered');
          lastError = undefined;
        } else if (ok && lease) {
          // A key deleted by hand while its lease lives comes back; one edited by hand is left as the operator made it.
          const l = lease;
          const r = await client.etcd.if(key, 'Create', '==', 0).then(l.put(key).value(data)).commit();
          if (r.succeeded) log.warn({ event: 'reregistered', key }, 'instance key was deleted while the check passes: written again');
          lastError = undefined;
        } else if (!ok && lease) {
          const l = lease;
          lease = undefined;
          // revoke() stops the keepalives first: should etcd not answer, the key still goes within the TTL.
          await l.revoke();
          log.warn({ event: 'deregistered', key }, 'health check fails: lease revoked, instance removed');
          lastError = undefined;
        }
      } catch (err) {
        const error = describeEtcdFailure(err, target, key, ok ? 'write' : 'revoke the lease of');
        // Unreachable is one state, however the client words it from one try to the next.
        const kind = error.replace(/: unreachable \(.*\)$/, ': unreachable');
        if (kind !== lastError) log.warn({ event: 'register_error', key, error }, 'could not register or deregister; will retry (logged again when the error changes)');
        lastError = kind;
      }
      if (signal.aborted) break;
      nap = pause(o.intervalMs, signal);
      await nap.done;
    }
    if (lease) {
      const l = lease;
      lease = undefined;
      await l.revoke().then(
        () => log.info({ event: 'deregistered', key }, 'stopping: lease revoked, instance removed'),
        (err) => log.warn({ event: 'register_error', key, error: describeEtcdFailure(err, target, key, 'revoke the lease of') }, `stopping: could not revoke the lease; the instance goes when its TTL (${ttl} s) runs out`),
      );
    }
  } finally {
    client.release();
  }
}
