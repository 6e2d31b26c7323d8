import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from '../log';
import { serverName, type Server } from '../model/server';
import { isUnixAddress } from '../model/unix-socket';

type Lookup = (host: string) => Promise<string[]>;

const systemLookup: Lookup = async (host) => (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

interface Entry {
  addresses: string[];
  resolvedAt: number;
}

/** An IP or a unix socket: nothing to look up. */
const literal = (s: Server) => isIP(s.address) !== 0 || isUnixAddress(s.address);

/**
 * Turns hostnames from watchers into IPs before they reach the planner: HAProxy's
 * `add server` and `set server addr` take literal IPs only, and a name that
 * resolves to a new IP must become a runtime `set server addr`, not a reload.
 * A failed lookup keeps the last answer; a name never resolved is left out.
 */
export class HostResolver {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Set<string>();
  private readonly failing = new Set<string>();

  constructor(
    private readonly log: Logger,
    /** Called when an answer changed what `resolve` returns. */
    private readonly onChange: () => void,
    private readonly refreshMs = 30_000,
    private readonly lookup: Lookup = systemLookup,
  ) {}

  /** The servers with every hostname replaced by its first address (sorted); the name stays `hostname:port`. */
  resolve(servers: readonly Server[]): readonly Server[] {
    // The same array when there is nothing to resolve: callers compare lists by identity first.
    if (servers.every(literal)) return servers;
    const out: Server[] = [];
    for (const s of servers) {
      if (literal(s)) {
        out.push(s);
        continue;
      }
      const entry = this.cache.get(s.address);
      if (!entry || Date.now() - entry.resolvedAt > this.refreshMs) this.refresh(s.address);
      if (entry?.addresses.length) out.push({ ...s, name: serverName(s), address: entry.addresses[0] });
    }
    return out;
  }

  /** Resolves once no lookup is in flight (or after `timeoutMs`). */
  async settled(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inflight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  /** Hostnames asked for that have no address yet. */
  unresolved(): string[] {
    return [...this.failing].filter((h) => !this.cache.get(h)?.addresses.length);
  }

  private refresh(host: string): void {
    if (this.inflight.has(host)) return;
    this.inflight.add(host);
    let pending: Promise<string[]>;
    try {
      pending = this.lookup(host);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending
      .then(
        (addresses) => {
          if (addresses.length === 0) throw Object.assign(new Error('no addresses'), { code: 'ENODATA' });
          const sorted = [...new Set(addresses)].sort();
          const before = this.cache.get(host)?.addresses ?? [];
          this.cache.set(host, { addresses: sorted, resolvedAt: Date.now() });
          this.failing.delete(host);
          if (before.join(',') !== sorted.join(',')) {
            this.log.info({ event: 'host_resolved', host, addresses: sorted }, 'hostname resolved');
            return true;
          }
          return false;
        },
      )
      .catch((err: NodeJS.ErrnoException) => {
        const entry = this.cache.get(host);
        // Retry after a shorter wait than a good answer gets, but never in a tight loop.
        this.cache.set(host, { addresses: entry?.addresses ?? [], resolvedAt: Date.now() - this.refreshMs + Math.min(this.refreshMs, 5000) });
        if (!this.failing.has(host)) this.log.warn({ event: 'host_unresolved', host, error: err.code ?? err.message, kept: entry?.addresses ?? [] }, 'cannot resolve hostname');
        this.failing.add(host);
        return false;
      })
      .then((changed) => {
        this.inflight.delete(host);
        if (changed) this.onChange();
      });
  }
}
