import type { DesiredService } from '../model/desired';
import { decideReload, pathOf, type ReloadDecision, type ReloadPath } from '../plan/apply-plan';

/**
 * What HAProxy runs, set against what should run: which services wait for the runtime
 * path, which for a reload and why. Services are classified one at a time as they
 * change (`classify`), so the bookkeeping of one change does not grow with the fleet.
 */
export class ApplyState {
  /** Listen sections as of the last reload, servers as of the last runtime update, in name order. */
  running = new Map<string, DesiredService>();
  /** The config text and the settings (global values, templates) of the last reload. */
  text?: string;
  settingsKey?: string;
  /** Services only a reload can bring in line, with why. */
  readonly pending = new Map<string, ReloadPath>();
  /** Services whose servers the runtime API should change. */
  private readonly toRuntime = new Set<string>();
  /** Services the runtime API refused since the last reload, with why. */
  private readonly refused = new Map<string, string>();

  constructor(
    private readonly desired: (name: string) => DesiredService | undefined,
    private readonly runtimeEnabled: () => boolean,
  ) {}

  /** Decides the path of each named service anew (its desired entry or what runs changed). */
  classify(names: Iterable<string>): void {
    const runtimeEnabled = this.runtimeEnabled();
    for (const name of names) {
      const p = pathOf({ running: this.running.get(name), desired: this.desired(name), runtimeEnabled, refused: this.refused.get(name) });
      this.toRuntime.delete(name);
      this.pending.delete(name);
      if (p.path === 'runtime') this.toRuntime.add(name);
      else if (p.path === 'reload') this.pending.set(name, p);
    }
  }

  /** The pure decision on the current state. */
  decision(haproxyRunning: boolean, settingsKey: string): ReloadDecision {
    return decideReload({ initial: this.text === undefined, haproxyRunning, settingsChanged: settingsKey !== this.settingsKey, pending: this.pending });
  }

  hasRuntimeWork(): boolean {
    return this.toRuntime.size > 0;
  }

  /** The services waiting for the runtime path, handed over (they are classified again once applied). */
  takeRuntime(): DesiredService[] {
    const out: DesiredService[] = [];
    for (const name of this.toRuntime) {
      const d = this.desired(name);
      if (d) out.push(d);
    }
    this.toRuntime.clear();
    return out;
  }

  /** Every service the runtime path may touch (listen section unchanged, nothing refused): drift repair, after a reload. */
  eligible(all: readonly DesiredService[]): DesiredService[] {
    return all.filter((s) => this.running.has(s.name) && !this.pending.has(s.name));
  }

  /**
   * What was last applied, for drift repair: a difference from HAProxy is drift only
   * against this, never against a change still waiting to go out (it would be logged
   * as a repair of something nobody broke).
   */
  settled(): DesiredService[] {
    return [...this.running.values()].filter((s) => !this.pending.has(s.name) && !this.toRuntime.has(s.name));
  }

  /** HAProxy now runs these services' servers. */
  applied(services: readonly DesiredService[]): void {
    for (const s of services) {
      const r = this.running.get(s.name);
      if (r) this.running.set(s.name, r.servers === s.servers ? r : { ...r, servers: s.servers });
    }
    this.classify(services.map((s) => s.name));
  }

  /** The runtime API could not apply this service's change: it waits for a reload. */
  refuse(service: string, reason: string): void {
    this.refused.set(service, reason);
    this.classify([service]);
  }

  /** A reload put these services (sorted) in place. */
  reloaded(services: readonly DesiredService[], text: string, settingsKey: string): void {
    this.running = new Map(services.map((s) => [s.name, s]));
    this.text = text;
    this.settingsKey = settingsKey;
    this.pending.clear();
    this.toRuntime.clear();
    this.refused.clear();
  }
}
