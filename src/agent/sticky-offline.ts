import type { Config } from '../config/load';
import type { RuntimeClient } from '../haproxy/runtime-client';
import { parseCheckRows } from '../haproxy/check-rows';
import type { Logger } from '../log';
import type { DesiredService } from '../model/desired';
import { serverName } from '../model/server';
import { observe, type StickyMemory } from '../plan/sticky-offline';
import type { DesiredState, Override } from './desired-state';
import { MAX_CHECK_TEXT } from './override-file';
import type { ServiceEntry } from './service-table';

// A reading costs about 1/COST_SHARE of the agent's time at most: a slow one spaces the next.
const COST_SHARE = 20;

export interface StickyDeps {
  client: RuntimeClient;
  log: Logger;
  config(): Config;
  /** What should run: `all()` is the same array until a service changes; the overrides in force. */
  desired: Pick<DesiredState, 'all' | 'get' | 'allOverrides'>;
  entry(name: string): ServiceEntry | undefined;
  /** HAProxy runs this service (its backend exists). */
  runs(name: string): boolean;
  /** Sets or clears an override, saved before it returns (throws when it cannot be saved), and applies it; false: no such server. */
  set(service: string, server: string, override: Override | undefined): boolean;
}

/**
 * Holds the servers of `sticky_offline` services that their health check marks down in
 * maint, as an operator override with the reason (saved, so it outlasts the agent), until
 * an operator sets them ready. Every interval it reads the servers of those services only:
 * one `show stat <backend> 4 -1` each, with `show info` in the same exchange so that a new
 * HAProxy process (restart, reload) is recognised and its first reading only remembered.
 * A fleet without such a service costs nothing.
 */
export class StickyOffline {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private pid?: string;
  /** service -> server -> what the last reading left, for the current HAProxy process. */
  private readonly memory = new Map<string, Map<string, StickyMemory>>();
  private sticky?: { all: readonly DesiredService[]; names: string[] };
  private costMs = 0;
  /** Services with a sticky_offline hold seen defined in this run: only those can be seen to leave. */
  private readonly seen = new Set<string>();

  constructor(private readonly d: StickyDeps) {}

  start(): void {
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private arm(): void {
    if (this.stopped) return;
    const delay = Math.max(this.d.config().runtime.sticky_offline_interval_ms, COST_SHARE * this.costMs);
    this.timer = setTimeout(() => {
      const c0 = process.cpuUsage();
      void this.poll()
        .catch((err: Error) => this.d.log.debug({ event: 'sticky_offline_unread', error: err.message }, 'sticky_offline: could not read HAProxy; next interval'))
        .finally(() => {
          const c = process.cpuUsage(c0);
          this.costMs = (c.user + c.system) / 1000;
          this.arm();
        });
    }, delay);
    this.timer.unref();
  }

  /** The names of the sticky_offline services, recomputed only when the desired services change. */
  private stickyNames(): string[] {
    const all = this.d.desired.all();
    if (this.sticky?.all !== all) this.sticky = { all, names: all.filter((s) => this.d.entry(s.name)?.def?.stickyOffline).map((s) => s.name) };
    return this.sticky.names;
  }

  async poll(): Promise<void> {
    this.dropLeft();
    const names = this.stickyNames().filter((n) => this.d.runs(n));
    const wanted = new Set(names);
    for (const n of this.memory.keys()) if (!wanted.has(n)) this.memory.delete(n);
    if (names.length === 0) return;
    const replies = await this.d.client.batch(['show info', ...names.map((n) => `show stat ${n} 4 -1`)]);
    const pid = /^Pid: (\d+)$/m.exec(replies[0]?.output ?? '')?.[1];
    if (pid === undefined || this.stopped) return;
    if (pid !== this.pid) {
      this.pid = pid;
      this.memory.clear();
    }
    names.forEach((name, i) => {
      const r = replies[i + 1];
      if (r?.ok) this.read(name, r.output);
    });
  }

  private read(service: string, output: string): void {
    const desired = this.desiredOf(service);
    if (!desired) return;
    const before = this.memory.get(service);
    const after = new Map<string, StickyMemory>();
    for (const reading of parseCheckRows(output)) {
      const server = reading.server;
      const want = desired.get(server);
      // Servers leaving (draining, being deleted) are the agent's own doing.
      if (want === undefined) continue;
      const prev = before?.get(server);
      const { memory, offline } = observe(prev, reading, want.held);
      if (offline === undefined || this.hold(service, server, offline)) after.set(server, memory);
      // Not saved: remembered as before, so the next reading tries again.
      else if (prev) after.set(server, prev);
    }
    this.memory.set(service, after);
  }

  /** The service's desired servers by name, with whether each already has a state override. */
  private desiredOf(service: string): Map<string, { held: boolean }> | undefined {
    const s = this.d.desired.get(service);
    if (!s) return undefined;
    const own = this.d.desired.allOverrides().get(service);
    return new Map(s.servers.map((srv) => [serverName(srv), { held: srv.admin !== undefined || own?.get(serverName(srv))?.state !== undefined }]));
  }

  private hold(service: string, server: string, check: string): boolean {
    const override: Override = { state: 'maint', reason: 'sticky_offline', at: new Date().toISOString(), check: check.slice(0, MAX_CHECK_TEXT) };
    try {
      if (!this.d.set(service, server, override)) return false;
    } catch (err) {
      this.d.log.error({ event: 'sticky_offline_failed', service, server, error: (err as Error).message }, `sticky_offline: could not hold ${service}/${server} out: ${(err as Error).message}`);
      return false;
    }
    this.d.log.warn(
      { event: 'sticky_offline', service, server, check },
      `${service}/${server} marked down by its health check (${check}): held in maint until an operator sets it ready`,
    );
    return true;
  }

  /**
   * A server that left its source takes its sticky_offline override with it: the agent set
   * it, not an operator, and in a source whose servers come and go (new addresses, new
   * ports) such overrides would pile up. Only when the source is known to have spoken: the
   * service was seen in this run and is gone, or its watcher reported and its source answers.
   * A service never seen since start (a source slow to list) keeps its holds.
   */
  private dropLeft(): void {
    for (const [service, own] of this.d.desired.allOverrides()) {
      const entry = this.d.entry(service);
      if (entry) this.seen.add(service);
      for (const [server, o] of own) {
        if (o.reason !== 'sticky_offline' || !leftSource(entry, server, this.seen.has(service))) continue;
        try {
          this.d.set(service, server, undefined);
        } catch {
          continue; // logged by the save; tried again next interval
        }
        this.d.log.info({ event: 'sticky_offline_dropped', service, server }, `${service}/${server} left its source: its sticky_offline hold is dropped`);
      }
      if (!entry && !this.d.desired.allOverrides().has(service)) this.seen.delete(service);
    }
  }
}

/**
 * The server is no longer in its service's source, as far as the source has said: the
 * service is gone (and was seen in this run), or its watcher reported without it.
 */
export function leftSource(entry: ServiceEntry | undefined, server: string, seen: boolean): boolean {
  if (!entry) return seen;
  if (!entry.def || !entry.serversReported || entry.sourceError !== undefined) return false;
  return !entry.servers.some((s) => serverName(s) === server);
}
