import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, isBrokenCircuitError, type IBackoff, type IDefaultPolicyContext, type IPolicy } from 'cockatiel';
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import { Etcd3, isRecoverableError } from 'etcd3';
import { describeEtcdTarget, etcdClientKey, type EtcdTarget } from './target';

/** A unary call (a read, a write, a lease grant) that takes longer fails, and is retried by its caller. */
const CALL_DEADLINE_MS = 5_000;

/** How long a member that took a watch stream and never answered is skipped. */
const SHUN_MS = 30_000;

/**
 * etcd's "require leader" flag on the watch stream (gRPC metadata `hasleader: true`, what
 * etcd's own Go client sends for WithRequireLeader): a member refuses the stream while it
 * has no leader, and ends it once it has had none for about three election timeouts. A
 * member cut off from its quorum would otherwise keep the stream open and silent, and every
 * watcher behind it would keep stale servers until it rejoined; ended, the stream is opened
 * again on a member that has a leader. The library has no option for it; a call option
 * (an interceptor, the metadata copied so the library's shared auth metadata is untouched)
 * adds it.
 */
const requireLeader: Interceptor = (opts, nextCall) =>
  new InterceptingCall(nextCall(opts), {
    start(metadata, listener, next) {
      const md = metadata.clone();
      md.set('hasleader', 'true');
      next(md, listener);
    },
  });

/** An endpoint without its scheme, as the library's hosts name themselves. */
const bare = (endpoint: string) => endpoint.replace(/^https?:\/\//, '');

/**
 * A member's fault policy: the circuit breaker, and before it a check that the member is not
 * skipped (`EtcdClient.restartWatchStream`); a skipped member throws without calling, so the library tries
 * the next endpoint.
 */
function hostPolicy(host: string, shunned: Map<string, number>): IPolicy<IDefaultPolicyContext> {
  const breaker = circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1_000, breaker: new ConsecutiveBreaker(3) });
  // The library calls nothing but `execute` on it.
  const policy: Pick<typeof breaker, 'execute'> = {
    execute(fn, signal) {
      if ((shunned.get(bare(host)) ?? 0) > Date.now()) return Promise.reject(new Error(`${bare(host)} took a watch and did not answer; skipped for now`));
      return breaker.execute(fn, signal);
    },
  };
  return policy as unknown as IPolicy<IDefaultPolicyContext>;
}

/**
 * How the library is set up (its defaults suit an app, not a sidecar that must notice an
 * outage and the return of etcd quickly):
 * - gRPC keepalive pings every 10 s, so a member that hangs (or a path that silently
 *   drops packets) is noticed within 15 s; etcd refuses pings more often than every 5 s.
 * - A member that fails three calls in a row is skipped for 1 s, not the library's 5 s:
 *   after an outage the first calls reach etcd within a second of its return.
 * - A broken watch stream is re-opened after 100 ms, doubling to at most 2 s (the library's
 *   default grows to 30 s, which would keep changes away for up to 30 s after an outage).
 * - Watch streams require a leader (`requireLeader`).
 * - A member that took the watch stream and never answered is skipped for 30 s
 *   (`restartWatchStream`): otherwise the library picks it again at random.
 */
function options(t: EtcdTarget, shunned: Map<string, number>) {
  return {
    hosts: t.endpoints,
    ...(t.tls && { credentials: { rootCertificate: t.tls.material.pem.ca, privateKey: t.tls.material.pem.key, certChain: t.tls.material.pem.cert } }),
    ...(t.auth && { auth: t.auth.clientAuth() }),
    grpcOptions: {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2_000,
    },
    defaultCallOptions: (ctx: { service: string; isStream: boolean }) => (ctx.service === 'Watch' ? { interceptors: [requireLeader] } : ctx.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
    faultHandling: {
      host: (host: string) => hostPolicy(host, shunned),
      // The library takes a backoff factory here (it calls next() for the first delay) but types it as a backoff.
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2_000 }) as unknown as IBackoff<unknown>,
    },
  };
}

/**
 * One etcd client per endpoint set and identity, shared by every service-config source,
 * watcher and store that names it: its watches share one gRPC stream. Reference counted:
 * the last `release` closes it. It also keeps whether etcd answers, for /metrics, from what
 * its users see (a watch stream connected or broken, a call answered).
 */
export class EtcdClient {
  private static readonly open = new Map<string, EtcdClient>();
  private refs = 0;
  /** Members skipped until (epoch ms), by host:port. */
  private readonly shunned = new Map<string, number>();
  readonly etcd: Etcd3;
  /** Answering now (for /metrics). Starts false until something answers. */
  isConnected = false;
  /** Why it last failed, for messages ("14 UNAVAILABLE: ..."). */
  lastError?: string;

  static all(): EtcdClient[] {
    return [...EtcdClient.open.values()];
  }

  static acquire(t: EtcdTarget): EtcdClient {
    const key = etcdClientKey(t);
    let c = EtcdClient.open.get(key);
    if (!c) {
      c = new EtcdClient(t, key);
      EtcdClient.open.set(key, c);
    }
    c.refs++;
    return c;
  }

  private constructor(
    readonly target: EtcdTarget,
    private readonly key: string,
  ) {
    this.etcd = new Etcd3(options(target, this.shunned));
  }

  describe(): string {
    return describeEtcdTarget(this.target);
  }

  /** Something answered (a watch was created, a call came back). */
  noteUp(): void {
    this.lastError = undefined;
    this.watchRestart = undefined;
    this.isConnected = true;
  }

  /**
   * A call or the watch stream failed. Returns why, for messages: a call the circuit
   * breaker held back says nothing of the cause, so the failure that opened it stays.
   */
  noteDown(err: unknown): string {
    if (!(isBrokenCircuitError(err) && this.lastError)) this.lastError = briefError(err);
    this.isConnected = false;
    return this.lastError!;
  }

  /**
   * Why the watch stream was last ended on purpose (`restartWatchStream`), until etcd answers
   * again: the stream's own error then only says "cancelled".
   */
  watchRestart?: string;
  /** When etcd last answered on the watch stream (a watch created, events): epoch ms. */
  lastWatchAnswer = 0;

  /**
   * Ends the shared watch stream if there is one; the library then opens another (on any
   * endpoint) and every watch on it resumes. gRPC has no connect timeout and a watch stream
   * no deadline: a stream opened towards a member that accepts TCP but never answers (hung,
   * or behind a path that drops packets) would wait forever, and every watch with it.
   * Nothing public does this in etcd3 1.1.x: it reaches into its WatchManager (`state` 2 is
   * connected, `stream` the gRPC call). Returns whether there was a stream to end.
   */
  restartWatchStream(reason: string): boolean {
    const m = (this.etcd as unknown as { watchManager?: { state?: number; stream?: { cancel(): void } } }).watchManager;
    if (m?.state !== 2 || !m.stream) return false;
    this.watchRestart = reason;
    this.shunStuckMembers();
    m.stream.cancel();
    return true;
  }

  /**
   * The member a stuck watch stream waits on is the one whose Watch channel is still
   * connecting (TCP accepted, HTTP/2 never answered): skip it for a while and drop its
   * channel. Also reaches into the library: its pool's hosts and their gRPC clients.
   */
  private shunStuckMembers(): void {
    type Channel = { getConnectivityState(connect: boolean): number };
    type Host = { host: string; cachedServices: Record<string, { getChannel(): Channel } | undefined>; resetAllServices(): void };
    const hosts = (this.etcd as unknown as { pool?: { hosts?: Host[] } }).pool?.hosts ?? [];
    const now = Date.now();
    // 1: CONNECTING
    const stuck = hosts.filter((h) => h.cachedServices.Watch?.getChannel().getConnectivityState(false) === 1);
    // Never every member: the one left is tried again (it may answer once it resumes).
    const others = hosts.filter((h) => !stuck.includes(h) && (this.shunned.get(h.host) ?? 0) <= now);
    for (const h of stuck) {
      if (others.length) this.shunned.set(h.host, now + SHUN_MS);
      h.resetAllServices();
    }
  }

  release(): void {
    if (--this.refs > 0) return;
    EtcdClient.open.delete(this.key);
    this.etcd.close();
  }
}

/** The first line of an error's message, without gRPC's long resolution notes. */
export function briefError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0].replace(/\. Resolution note:.*$/, '').slice(0, 300);
}
