import type { Config } from '../config/load';
import type { EtcdTarget } from '../etcd/target';
import { createLogger, type Logger } from '../log';
import { defaultAcl } from '../zk/acl';
import { etcdCliTarget } from './etcd-auth';
import { register, validateRegister } from './register';
import { endpointsTarget, isEtcdRegister, registerEtcd, validateEtcdRegister, type EtcdRegisterOptions } from './register-etcd';
import { cliTarget, type ZkCliFlags } from './zk-auth';

/** Loads proxymgr.yml for a CLI command (without the credentials its flags replace). */
type LoadFor = (file: string, flags: ZkCliFlags) => Config;

export type RegisterFlags = { zk?: string; ensemble?: string; config?: string; path: string; address: string; port?: number; weight?: number; check?: string; intervalMs: number } & EtcdRegisterOptions & ZkCliFlags;

/** `register` with etcd: the target (bare endpoints, or a cluster of proxymgr.yml) with the command line's credentials. */
function etcdRegisterTarget(o: RegisterFlags, loadFor: LoadFor, errors: string[]): EtcdTarget | undefined {
  let base: EtcdTarget | undefined;
  if (o.etcdCluster !== undefined) {
    base = loadFor(o.config!, o).etcdDir.get(o.etcdCluster);
    if (!base) errors.push(`--etcd-cluster ${JSON.stringify(o.etcdCluster)}: not defined in ${o.config} (etcd.clusters)`);
  } else base = endpointsTarget(o.etcd!);
  const resolved = base && etcdCliTarget(base, o, process.env);
  if (resolved && !resolved.ok) errors.push(resolved.error);
  return resolved?.ok ? resolved.target : undefined;
}

/** Runs `register` until SIGTERM or SIGINT (then the instance is removed). */
async function untilSignal(run: (log: Logger, signal: AbortSignal) => Promise<void>): Promise<void> {
  const stop = new AbortController();
  process.on('SIGTERM', () => stop.abort());
  process.on('SIGINT', () => stop.abort());
  await run(createLogger('info'), stop.signal);
  // Deregistered: exit now rather than when the event loop drains. After gRPC use (etcd),
  // Node's own teardown was seen to spin forever with nothing left open (docs/etcd-facts.md, "may never exit by itself").
  process.exit(0);
}

/**
 * `proxymgr register`: picks ZooKeeper or etcd from the flags, resolves the target (a bare
 * connect string or endpoints, or a proxymgr.yml ensemble or cluster, with the command
 * line's credentials), then registers until SIGTERM or SIGINT. Bad flags exit 2, each named.
 */
export async function registerCommand(o: RegisterFlags, loadFor: LoadFor): Promise<void> {
  const refuse = (errors: string[]) => {
    process.stderr.write(`proxymgr register:\n${errors.map((e) => `  - ${e}`).join('\n')}\n`);
    process.exit(2);
  };
  if (isEtcdRegister(o)) {
    const errors = validateEtcdRegister(o);
    const target = errors.length ? undefined : etcdRegisterTarget(o, loadFor, errors);
    if (errors.length || !target) return refuse(errors);
    return untilSignal((log, signal) => registerEtcd({ ...o, prefix: o.prefix! }, target, log, signal));
  }
  const errors = validateRegister(o);
  for (const [flag, v] of [['--prefix', o.prefix], ['--ttl', o.ttl]] as const) if (v !== undefined) errors.push(`${flag}: for etcd (with --etcd or --etcd-cluster)`);
  let base;
  if (!errors.length && o.ensemble !== undefined) {
    base = loadFor(o.config!, o).zk.get(o.ensemble);
    if (!base) errors.push(`--ensemble ${JSON.stringify(o.ensemble)}: not defined in ${o.config} (zookeeper.ensembles)`);
  } else if (o.zk !== undefined) {
    base = { servers: o.zk, acl: defaultAcl(false), aclConfigured: false };
  }
  const resolved = base && cliTarget(base, o, process.env);
  if (resolved && !resolved.ok) errors.push(resolved.error);
  if (errors.length || !resolved?.ok) return refuse(errors);
  await untilSignal((log, signal) => register(o, resolved.target, log, signal));
}
