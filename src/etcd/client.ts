import { EventEmitter } from 'node:events';
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, isBrokenCircuitError, type IBackoff } from 'cockatiel';
import { Etcd3, isRecoverableError } from 'etcd3';
import { describeEtcdTarget, etcdClientKey, type EtcdTarget } from './target';

/** A unary call (a read, a write, a lease grant) that takes longer fails, and is retried by its caller. */
const CALL_DEADLINE_MS = 5_000;

/**
 * How the library is set up (its defaults suit an app, not a sidecar that must notice an
 * outage and the return of etcd quickly):
 * - gRPC keepalive pings every 10 s, so a member that hangs (or a path that silently
 *   drops packets) is noticed within 15 s; etcd refuses pings more often than every 5 s.
 * - A member that fails three calls in a row is skipped for 1 s, not the library's 5 s:
 *   after an outage the first calls reach etcd within a second of its return.
 * - A broken watch stream is re-opened after 100 ms, doubling to at most 2 s (the library's
 *   default grows to 30 s, which would keep changes away for up to 30 s after an outage).
 */
function options(t: EtcdTarget) {
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
    defaultCallOptions: (ctx: { isStream: boolean }) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1_000, breaker: new ConsecutiveBreaker(3) }),
      // The library takes a backoff factory here (it calls next() for the first delay) but types it as a backoff.
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2_000 }) as unknown as IBackoff<unknown>,
    },
  };
}

/**
 * One etcd client per endpoint set and identity, shared by every service-config source,
 * watcher and store that names it: its watches share one gRPC stream. Reference counted:
 * the last `release` closes it. It also keeps whether etcd answers, for /metrics and
 * /status, from what its users see (a watch stream connected or broken, a call answered).
 */
export class EtcdClient extends EventEmitter {
  private static readonly open = new Map<string, EtcdClient>();
  private refs = 0;
  readonly etcd: Etcd3;
  /** Answering now, and since when the state last changed (epoch ms). Starts false until something answers. */
  isConnected = false;
  stateSince = Date.now();
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
    super();
    this.etcd = new Etcd3(options(target));
  }

  describe(): string {
    return describeEtcdTarget(this.target);
  }

  /** Something answered (a watch was created, a call came back). */
  noteUp(): void {
    this.lastError = undefined;
    if (this.isConnected) return;
    this.isConnected = true;
    this.stateSince = Date.now();
    this.emit('up');
  }

  /**
   * A call or the watch stream failed. Returns why, for messages: a call the circuit
   * breaker held back says nothing of the cause, so the failure that opened it stays.
   */
  noteDown(err: unknown): string {
    if (!(isBrokenCircuitError(err) && this.lastError)) this.lastError = briefError(err);
    const why = this.lastError!;
    if (!this.isConnected) return why;
    this.isConnected = false;
    this.stateSince = Date.now();
    this.emit('down');
    return why;
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
