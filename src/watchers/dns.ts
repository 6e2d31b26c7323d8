import { Resolver } from 'node:dns/promises';
import { z } from 'zod';
import { host, nameserver, port } from '../model/fields';
import { canonicalHost, MAX_WEIGHT, normalizeServers, type Server } from '../model/server';
import type { WatcherType } from './watcher';

const ms = (def: number) => z.int().min(100).max(86_400_000).default(def);

type Outcome = { kind: 'ok'; servers: Server[]; ttl: number } | { kind: 'nxdomain' } | { kind: 'error'; message: string };

/** One DNS question: its last good answer and how many NXDOMAINs in a row it has had. */
interface Query {
  key: string;
  ask: () => Promise<Outcome>;
  last?: Server[];
  nx: number;
}

/**
 * `"backends": [{"name", "port"}]` (A and AAAA) and `"srv": ["_http._tcp.example"]`
 * (SRV, targets resolved to addresses). Re-asked when the shortest TTL runs out,
 * bounded by `min_interval_ms` and `max_interval_ms`, with jitter so a fleet does
 * not ask in step. Timeouts, SERVFAIL and REFUSED keep the last good answer; an
 * NXDOMAIN drops a name only after `nxdomain_confirmations` answers in a row.
 */
export const dnsWatcher: WatcherType = {
  options: {
    backends: z.array(z.strictObject({ name: host, port })).max(1000).default([]),
    srv: z.array(z.string().min(1).max(253).regex(/^[A-Za-z0-9_.-]+$/, 'must be a DNS name')).max(1000).default([]),
    nameservers: z.array(nameserver).max(8).optional(),
    min_interval_ms: ms(1_000),
    max_interval_ms: ms(60_000),
    nxdomain_confirmations: z.int().min(1).max(100).default(3),
    timeout_ms: ms(2_000),
  },
  create(options, ctx) {
    const o = options as {
      backends: Array<{ name: string; port: number }>;
      srv: string[];
      nameservers?: string[];
      min_interval_ms: number;
      max_interval_ms: number;
      nxdomain_confirmations: number;
      timeout_ms: number;
    };
    const resolver = new Resolver({ timeout: o.timeout_ms, tries: 2 });
    const servers = o.nameservers ?? ctx.defaults.dnsNameservers;
    if (servers?.length) resolver.setServers(servers);

    const addresses = async (name: string, p: number, weight?: number): Promise<Outcome> => {
      const [v4, v6] = await Promise.allSettled([resolver.resolve4(name, { ttl: true }), resolver.resolve6(name, { ttl: true })]);
      const records = [v4, v6].flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
      if (records.length) {
        return {
          kind: 'ok',
          ttl: Math.min(...records.map((r) => r.ttl)),
          servers: records.map((r) => ({ address: canonicalHost(r.address), port: p, ...(weight !== undefined && { weight }) })),
        };
      }
      const codes = [v4, v6].map((r) => (r.status === 'rejected' ? (r.reason as NodeJS.ErrnoException).code : 'ENODATA'));
      if (codes.every((c) => c === 'ENOTFOUND' || c === 'ENODATA')) return { kind: 'nxdomain' };
      return { kind: 'error', message: `${name}: ${codes.join('/')}` };
    };

    const queries: Query[] = [
      ...o.backends.map((b) => ({ key: `${b.name}:${b.port}`, nx: 0, ask: () => addresses(b.name, b.port) })),
      ...o.srv.map((name) => ({
        key: `SRV ${name}`,
        nx: 0,
        ask: async (): Promise<Outcome> => {
          let records;
          try {
            records = await resolver.resolveSrv(name);
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            return code === 'ENOTFOUND' || code === 'ENODATA' ? { kind: 'nxdomain' } : { kind: 'error', message: `${name}: ${code}` };
          }
          // Only the best (lowest) priority serves; the others are fallbacks HAProxy does not need yet.
          const best = Math.min(...records.map((r) => r.priority));
          const targets = await Promise.all(records.filter((r) => r.priority === best).map((r) => addresses(r.name, r.port, Math.min(r.weight, MAX_WEIGHT))));
          const failed = targets.find((t) => t.kind === 'error');
          if (failed) return failed;
          const ok = targets.filter((t): t is Extract<Outcome, { kind: 'ok' }> => t.kind === 'ok');
          return { kind: 'ok', servers: ok.flatMap((t) => t.servers), ttl: Math.min(...ok.map((t) => t.ttl), o.max_interval_ms / 1000) };
        },
      })),
    ];

    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const round = async () => {
      const outcomes = await Promise.all(queries.map((q) => q.ask().catch((err: Error) => ({ kind: 'error', message: err.message }) as Outcome)));
      if (stopped) return;
      const errors: string[] = [];
      let ttl = Infinity;
      outcomes.forEach((out, i) => {
        const q = queries[i];
        if (out.kind === 'ok') {
          q.last = out.servers;
          q.nx = 0;
          ttl = Math.min(ttl, out.ttl);
        } else if (out.kind === 'nxdomain') {
          q.nx++;
          if (q.nx >= o.nxdomain_confirmations || q.last === undefined) q.last = [];
          else errors.push(`${q.key}: NXDOMAIN (${q.nx}/${o.nxdomain_confirmations} before it is dropped)`);
        } else {
          errors.push(out.message);
        }
      });
      if (queries.some((q) => q.last !== undefined)) ctx.onUpdate(normalizeServers(queries.flatMap((q) => q.last ?? [])));
      if (errors.length) ctx.onError(`dns: ${errors.join('; ')}; keeping the last good answers`);
      const base = Math.min(Math.max(Number.isFinite(ttl) ? ttl * 1000 : o.min_interval_ms, o.min_interval_ms), o.max_interval_ms);
      timer = setTimeout(() => void round(), base * (0.9 + Math.random() * 0.2));
    };
    return {
      start() {
        void round();
      },
      async stop() {
        stopped = true;
        clearTimeout(timer);
      },
    };
  },
};
