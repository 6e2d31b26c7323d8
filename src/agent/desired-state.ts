import type { Logger } from '../log';
import { listenKey } from '../model/changes';
import { assignPorts, type DesiredService, type PortConflict } from '../model/desired';
import { inNameOrder, serverName, type Server } from '../model/server';
import { listenSpecOf, type ListenSpec, type ServiceDefinition } from '../model/service';
import type { ServiceEntry } from './service-table';

/** An operator's decision for one server (HTTP API): it stays in force across reloads until cleared. */
export interface Override {
  state?: 'ready' | 'drain' | 'maint';
  weight?: number;
  /**
   * Why the state was set when the agent set it, not an operator: `sticky_offline`, a
   * health check marked the server down (`at`, ISO time; `check`, what HAProxy's check
   * said). Any state an operator sets replaces these; a weight leaves them.
   */
  reason?: 'sticky_offline';
  at?: string;
  check?: string;
}

/** What the desired state reads: the source-side entries, hostname resolution, and what HAProxy runs. */
export interface DesiredInputs {
  entry(name: string): ServiceEntry | undefined;
  /** Hostnames replaced by addresses; returns the same array when there is nothing to resolve. */
  resolve(servers: readonly Server[]): readonly Server[];
  running(name: string): DesiredService | undefined;
}

/**
 * The services as they should run, owned in one place: port assignment and conflicts,
 * definitions HAProxy refused, operator overrides, hostnames resolved. Work is
 * incremental: a change marks its service dirty and `refresh` recomputes only dirty
 * services and the port groups they leave or join, so one change costs the same with
 * 10 services or 10,000.
 */
export class DesiredState {
  /** Accepted services (port assigned), by name. */
  private readonly current = new Map<string, DesiredService>();
  /** Every defined service before port assignment, by name, and the names on each port. */
  private readonly candidates = new Map<string, DesiredService>();
  private readonly onPort = new Map<number, Set<string>>();
  private readonly conflicts = new Map<string, string>();
  private readonly rejected = new Map<string, { key: string; message: string }>();
  private readonly overrides = new Map<string, Map<string, Override>>();
  private readonly listenOf = new WeakMap<ServiceDefinition, ListenSpec>();
  /** Services whose servers name a host, not an address: an answer from DNS changes them. */
  private readonly withHostnames = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly reported = new Set<string>();
  private sorted?: DesiredService[];

  constructor(
    private readonly inputs: DesiredInputs,
    private readonly log: Logger,
  ) {}

  markDirty(name: string): void {
    this.dirty.add(name);
    this.reported.add(name);
  }

  /** The services marked dirty one by one (a source reported them) since the last call. */
  takeReported(): string[] {
    const names = [...this.reported];
    this.reported.clear();
    return names;
  }

  /** After a reload, ports are held by different services; and after a new DNS answer. */
  markAll(names: Iterable<string>): void {
    for (const n of names) this.dirty.add(n);
    for (const n of this.candidates.keys()) this.dirty.add(n);
  }

  markHostnameUsers(): void {
    for (const n of this.withHostnames) this.dirty.add(n);
  }

  hasDirty(): boolean {
    return this.dirty.size > 0;
  }

  /** Recomputes the dirty services; returns the names whose desired entry changed (added, removed or replaced). */
  refresh(): string[] {
    if (this.dirty.size === 0) return [];
    const names = [...this.dirty];
    this.dirty.clear();
    const before = new Map(names.map((n) => [n, this.current.get(n)]));
    const ports = new Set<number>();
    for (const name of names) {
      const old = this.candidates.get(name);
      const next = this.candidate(name);
      if (old) {
        ports.add(old.listen.port);
        this.onPort.get(old.listen.port)?.delete(name);
      }
      if (next) {
        ports.add(next.listen.port);
        this.candidates.set(name, next);
        if (!this.onPort.has(next.listen.port)) this.onPort.set(next.listen.port, new Set());
        this.onPort.get(next.listen.port)!.add(name);
      } else {
        this.candidates.delete(name);
        this.current.delete(name);
        this.conflicts.delete(name);
      }
    }
    // Ports are assigned per port: only the groups a dirty service left or joined can change.
    for (const port of ports) {
      const group = [...(this.onPort.get(port) ?? [])];
      if (group.length === 0) this.onPort.delete(port);
      for (const name of group) if (!before.has(name)) before.set(name, this.current.get(name));
      this.assign(group);
    }
    const changed = [...before].filter(([name, old]) => this.current.get(name) !== old).map(([name]) => name);
    if (changed.length) this.sorted = undefined;
    return changed;
  }

  get(name: string): DesiredService | undefined {
    return this.current.get(name);
  }

  /** Every accepted service, sorted by name (cached until one changes). */
  all(): DesiredService[] {
    this.sorted ??= [...this.current.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return this.sorted;
  }

  /** Why a defined service does not run as defined: HAProxy refused it, or another service holds its port. */
  problemsOf(name: string): string[] {
    const out: string[] = [];
    const rejected = this.rejected.get(name);
    if (rejected) out.push(`HAProxy rejected the definition: ${rejected.message}`);
    const conflict = this.conflicts.get(name);
    if (conflict) out.push(conflict);
    return out;
  }

  /** HAProxy refused this listen section: keep the running one (or nothing) until the blob changes. */
  reject(name: string, listen: ListenSpec, message: string): void {
    this.rejected.set(name, { key: listenKey(listen), message });
    this.dirty.add(name);
  }

  /** Every override in force (for saving), service -> server -> override. */
  allOverrides(): ReadonlyMap<string, ReadonlyMap<string, Override>> {
    return this.overrides;
  }

  /** Puts an override in place as it is (restoring saved ones, undoing a failed save); `undefined` clears it. */
  putOverride(service: string, server: string, override: Override | undefined): void {
    const own = this.overrides.get(service) ?? new Map<string, Override>();
    if (override) own.set(server, override);
    else own.delete(server);
    if (own.size) this.overrides.set(service, own);
    else this.overrides.delete(service);
    this.dirty.add(service);
  }

  /** Overrides that match no server that should run now (service or server gone), with which is missing. */
  unmatchedOverrides(): Array<{ service: string; server: string; missing: 'service' | 'server' }> {
    const out: Array<{ service: string; server: string; missing: 'service' | 'server' }> = [];
    for (const [service, own] of this.overrides) {
      const svc = this.current.get(service);
      for (const server of own.keys()) {
        if (!svc) out.push({ service, server, missing: 'service' });
        else if (!svc.servers.some((s) => serverName(s) === server)) out.push({ service, server, missing: 'server' });
      }
    }
    return out;
  }

  overrideOf(service: string, server: string): Override | undefined {
    return this.overrides.get(service)?.get(server);
  }

  /** Sets (merging) or clears an operator override; false when no such server should run. */
  setOverride(service: string, server: string, override: Override | undefined): { ok: false } | { ok: true; merged?: Override } {
    const svc = this.current.get(service);
    const existing = this.overrides.get(service)?.get(server);
    // Clearing is always allowed, so an override kept for a server that is gone can be dropped.
    if ((!svc || !svc.servers.some((s) => serverName(s) === server)) && !(override === undefined && existing)) return { ok: false };
    const merged = override && { ...existing, ...override };
    // The reason belongs to the state it explains: a state set without one is the operator's.
    if (merged && override.state !== undefined && override.reason === undefined) {
      delete merged.reason;
      delete merged.at;
      delete merged.check;
    }
    // `ready` is the natural state: choosing it clears the state override.
    if (merged?.state === 'ready') delete merged.state;
    if (merged && merged.weight === undefined) delete merged.weight;
    const keep = merged && (merged.state !== undefined || merged.weight !== undefined);
    this.putOverride(service, server, keep ? merged : undefined);
    return { ok: true, merged: keep ? merged : undefined };
  }

  /** One service before port assignment: its listen section (or the running one HAProxy accepted), servers resolved and overridden. */
  private candidate(name: string): DesiredService | undefined {
    const e = this.inputs.entry(name);
    if (!e?.def) {
      this.rejected.delete(name);
      return undefined;
    }
    let listen: ListenSpec | undefined = this.listenOf.get(e.def);
    if (!listen) this.listenOf.set(e.def, (listen = listenSpecOf(e.def)));
    const rejection = this.rejected.get(name);
    if (rejection && rejection.key === listenKey(listen)) listen = this.inputs.running(name)?.listen;
    else this.rejected.delete(name);
    if (!listen) return undefined;
    // `balance first` runs the servers in the order the source declared them; every other service in name order.
    const resolved = this.inputs.resolve(listen.declaredOrder ? e.servers : inNameOrder(e.servers));
    if (resolved !== e.servers) this.withHostnames.add(name);
    else this.withHostnames.delete(name);
    const own = this.overrides.get(name);
    // Untouched lists keep their identity, so the runtime path can skip comparing them.
    const servers = own ? resolved.map((s) => withOverride(s, own.get(serverName(s)))) : (resolved as Server[]);
    const old = this.candidates.get(name);
    if (old && old.listen === listen && old.servers === servers) return old;
    return { name, listen, servers };
  }

  private assign(group: string[]): void {
    const members = group.map((n) => this.candidates.get(n)!);
    const runningPorts = new Map<string, number>();
    for (const m of members) {
      const r = this.inputs.running(m.name);
      if (r) runningPorts.set(m.name, r.listen.port);
    }
    const { services, conflicts } = assignPorts(members, runningPorts);
    for (const s of services) {
      this.current.set(s.name, s);
      this.conflicts.delete(s.name);
    }
    for (const c of conflicts) {
      this.current.delete(c.name);
      const message = conflictMessage(c);
      if (this.conflicts.get(c.name) !== message) this.log.error({ event: 'port_conflict', service: c.name, port: c.port, holder: c.holder }, `service ${c.name}: ${message}`);
      this.conflicts.set(c.name, message);
    }
  }
}

function conflictMessage(c: PortConflict): string {
  return c.reason === 'two-defaults'
    ? `port ${c.port} is shared by mode http services and ${c.holder} is already its default (a service without match); give one of them a match`
    : `port ${c.port} is already used by service ${c.holder} (to share a port, both need mode: http)`;
}

function withOverride(server: Server, o: Override | undefined): Server {
  if (!o) return server;
  return { ...server, ...(o.weight !== undefined && { weight: o.weight }), ...(o.state && o.state !== 'ready' && { admin: o.state }) };
}
