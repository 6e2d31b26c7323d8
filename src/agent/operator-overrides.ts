import type { Logger } from '../log';
import type { DesiredState, Override } from './desired-state';
import { readOverrides, writeOverrides } from './override-file';

/**
 * Operators' decisions (server state and weight set through the API), kept on disk so
 * that a crash, an upgrade or a reboot never silently undoes them: every change is
 * written before the API answers, and the saved set is put back at start, before the
 * first render, so HAProxy starts with them.
 */
export class OperatorOverrides {
  constructor(
    private readonly file: () => string,
    private readonly desired: DesiredState,
    private readonly log: Logger,
  ) {}

  /** Puts the saved overrides back. A file that cannot be used is reported and ignored. */
  restore(): void {
    const path = this.file();
    const { overrides, error } = readOverrides(path);
    if (error) {
      this.log.error({ event: 'overrides_unreadable', file: path, error }, `operator overrides in ${path} cannot be used (ignored): ${error}`);
      return;
    }
    let n = 0;
    for (const [service, own] of overrides) for (const [server, o] of own) (this.desired.putOverride(service, server, o), n++);
    if (n) this.log.info({ event: 'overrides_restored', file: path, count: n }, `restored ${n} operator override(s)`);
  }

  /** After the first sync: says which saved overrides match no server (they stay, and apply if it comes back). */
  reportUnmatched(): void {
    for (const u of this.desired.unmatchedOverrides()) {
      const o = this.desired.overrideOf(u.service, u.server);
      this.log.warn(
        { event: 'override_not_restored', service: u.service, server: u.server, override: o, missing: u.missing },
        `operator override for ${u.service}/${u.server} not applied: no such ${u.missing} now (kept; clear it with the API)`,
      );
    }
  }

  /** The file moved (SIGHUP): the overrides in force are written to the new one. */
  moved(): void {
    writeOverrides(this.file(), this.desired.allOverrides() as Map<string, Map<string, Override>>);
  }

  /** Sets or clears one override and saves the set; a failed save undoes the change and throws. */
  set(service: string, server: string, override: Override | undefined): { ok: false } | { ok: true; merged?: Override } {
    const before = this.desired.overrideOf(service, server);
    const r = this.desired.setOverride(service, server, override);
    if (!r.ok) return r;
    try {
      writeOverrides(this.file(), this.desired.allOverrides() as Map<string, Map<string, Override>>);
    } catch (err) {
      this.desired.putOverride(service, server, before);
      this.log.error({ event: 'overrides_save_failed', file: this.file(), error: (err as Error).message }, 'could not save operator overrides; change not made');
      throw new Error(`could not save operator overrides: ${(err as Error).message}`);
    }
    this.log.info({ event: 'override', service, server, override: r.merged ?? null }, `operator override for ${service}/${server}`);
    return r;
  }
}
