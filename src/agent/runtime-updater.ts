import type { Logger } from '../log';
import type { DesiredService } from '../model/desired';
import { serverName } from '../model/server';
import type { RuntimeClient } from '../haproxy/runtime-client';
import type { ActualServer } from '../haproxy/state-parse';
import { indexServersState, serversIn } from '../haproxy/state-index';
import { planRuntime, type DesiredServer, type RuntimeCommand, type ServiceChange } from '../plan/planner';

export type RuntimeTrigger = 'change' | 'drift' | 'after-reload' | 'drain';

export interface RuntimeOutcome {
  /** Services whose servers now match the desired ones in HAProxy. */
  applied: string[];
  /** Services the runtime API could not bring in line, with why: they need a reload. */
  needReload: Array<{ service: string; reason: string }>;
  commands: number;
  /** Time the pure planner took. */
  planMs: number;
  /** Run again after this long (a drain finishing, a delete waiting for connections). */
  retryInMs?: number;
  /** Services HAProxy already ran as desired: no command, nothing draining, nothing refused. */
  inLine: string[];
}

const NOTHING: RuntimeOutcome = { applied: [], needReload: [], commands: 0, planMs: 0, inLine: [] };

// `del server` is refused while connections are attached; they finish on their own.
const DELETE_LATER = /still has connections attached|Only servers in maintenance mode/;
const DELETE_RETRY_MS = 1000;

/**
 * The runtime path: reads HAProxy's servers for the given services, asks the pure
 * planner what to change, sends the commands in one batch and reports which
 * services are now in line and which need a reload instead. One log line per plan.
 */
export class RuntimeUpdater {
  private draining = new Map<string, number>();
  /**
   * Services a drift pass found in line: the desired service it was checked against and
   * the digest of HAProxy's servers then. Both the same on the next pass: nothing to check.
   */
  private readonly inLine = new Map<string, { desired: DesiredService; digest: number | undefined }>();

  constructor(
    private readonly client: RuntimeClient,
    private readonly log: Logger,
    private readonly drainMs: () => number,
  ) {}

  /** Forget drain bookkeeping (after a reload every server comes from the new config). */
  reset(): void {
    this.draining.clear();
    this.inLine.clear();
  }

  async update(services: readonly DesiredService[], trigger: RuntimeTrigger): Promise<RuntimeOutcome> {
    if (services.length === 0) return NOTHING;
    if (trigger === 'drift' || trigger === 'after-reload') return this.sweep(services, trigger);
    return this.apply(services, trigger, await this.client.serversStateOf(services.map((s) => s.name)));
  }

  /**
   * A pass over every service (drift repair, the check after a reload or restart) reads
   * every backend in one `show servers state`. A drift pass plans only the services whose
   * desired state or HAProxy digest moved since a pass found them in line: at 1,000
   * services x 20 servers, parsing and planning all of them every pass was most of an
   * idle agent's CPU and garbage. The check after a reload or restart plans them all.
   */
  private async sweep(services: readonly DesiredService[], trigger: 'drift' | 'after-reload'): Promise<RuntimeOutcome> {
    const bytes = await this.client.queryBytes('show servers state');
    const index = indexServersState(bytes);
    const unchanged: string[] = [];
    const check: DesiredService[] = [];
    for (const s of services) {
      const seen = trigger === 'drift' ? this.inLine.get(s.name) : undefined;
      if (seen && seen.desired === s && Object.is(seen.digest, index.backends.get(s.name)?.digest)) unchanged.push(s.name);
      else check.push(s);
    }
    const actual = new Map<string, ActualServer[] | undefined>();
    // No lines: an empty backend or none at all, which only a per-backend read tells apart.
    const absent: string[] = [];
    for (const s of check) {
      const servers = serversIn(bytes, index, s.name);
      if (servers) actual.set(s.name, servers);
      else absent.push(s.name);
    }
    if (absent.length) for (const [name, servers] of await this.client.serversStateOf(absent)) actual.set(name, servers);
    const outcome = await this.apply(check, trigger, actual);
    this.log.debug({ event: 'runtime_swept', trigger, services: services.length, unchanged: unchanged.length, checked: check.length }, 'pass over every service');
    for (const s of check) this.inLine.delete(s.name);
    const byName = new Map(check.map((s) => [s.name, s]));
    for (const name of outcome.inLine) this.inLine.set(name, { desired: byName.get(name)!, digest: index.backends.get(name)?.digest });
    return { ...outcome, applied: [...unchanged, ...outcome.applied], inLine: [...unchanged, ...outcome.inLine] };
  }

  private async apply(services: readonly DesiredService[], trigger: RuntimeTrigger, actual: ReadonlyMap<string, readonly ActualServer[] | undefined>): Promise<RuntimeOutcome> {
    if (services.length === 0) return NOTHING;
    const t0 = performance.now();
    const names = services.map((s) => s.name);
    const mine = new Set(names);
    const keep = new Map([...this.draining].filter(([id]) => !mine.has(id.slice(0, id.indexOf('/')))));
    const p0 = performance.now();
    const plan = planRuntime({
      services: services.map((s) => ({ name: s.name, serverOptions: s.listen.serverOptions, servers: s.servers.map(toDesired), ...(s.listen.declaredOrder && { ordered: true }) })),
      actual,
      draining: this.draining,
      now: Date.now(),
      drainMs: this.drainMs(),
    });
    const planMs = performance.now() - p0;
    this.draining = new Map([...keep, ...plan.draining]);

    const replies = await this.client.batch(plan.commands.map((c) => c.command));
    const failed = new Map<string, string[]>();
    let deleteLater = false;
    replies.forEach((r, i) => {
      if (r.ok) return;
      const c: RuntimeCommand = plan.commands[i];
      if (c.op === 'del' && DELETE_LATER.test(r.message)) {
        deleteLater = true;
        return;
      }
      failed.set(c.service, [...(failed.get(c.service) ?? []), `${c.command}: ${r.message}`]);
    });

    const needReload = [
      ...plan.reload,
      ...[...failed].map(([service, errors]) => ({ service, reason: `runtime API refused: ${errors.slice(0, 3).join('; ')}` })),
    ];
    const refused = new Set(needReload.map((r) => r.service));
    const applied = names.filter((n) => !refused.has(n));
    const retry = [plan.nextDueMs, deleteLater ? DELETE_RETRY_MS : undefined].filter((x): x is number => x !== undefined);
    const busy = new Set([...plan.commands.map((c) => c.service), ...[...plan.draining.keys()].map((id) => id.slice(0, id.indexOf('/')))]);
    const inLine = applied.filter((n) => !busy.has(n));
    const outcome: RuntimeOutcome = { applied, needReload, commands: plan.commands.length, planMs, retryInMs: retry.length ? Math.min(...retry) : undefined, inLine };

    if (plan.changes.length === 0 && needReload.length === 0 && plan.commands.length) this.logDeferred(trigger, plan.commands, replies, outcome, performance.now() - t0);
    else if (plan.commands.length || needReload.length) this.logPlan(trigger, plan.changes, outcome, performance.now() - t0);
    // A pass that found HAProxy in line says so at debug: a check after a reload or a drift pass is otherwise silent.
    else this.log.debug({ event: 'runtime_checked', trigger, services: services.length }, 'HAProxy runs the desired servers');
    return outcome;
  }

  /**
   * Commands with no change behind them finish what an earlier pass decided: the delete of a
   * server whose drain ended, or one HAProxy refused while connections were attached. Not a
   * drift: a drift pass that does only this says so, rather than "HAProxy had drifted".
   */
  private logDeferred(trigger: RuntimeTrigger, commands: readonly RuntimeCommand[], replies: readonly { ok: boolean }[], outcome: RuntimeOutcome, ms: number): void {
    const ids = (ok: boolean) => [...new Set(commands.filter((c, i) => c.op === 'del' && replies[i]?.ok === ok).map((c) => `${c.service}/${c.server}`))];
    const [deleted, waiting] = [ids(true), ids(false)];
    const fields = { event: 'deferred_delete', trigger, deleted, waiting, runtime_cmds: outcome.commands, ms: Math.round(ms * 100) / 100 };
    // A delete refused again is retried shortly; saying so on every retry would drown the log.
    if (deleted.length) this.log.info(fields, `finished deferred deletes: ${deleted.join(', ')}${waiting.length ? `; still waiting: ${waiting.join(', ')}` : ''}`);
    else this.log.debug(fields, `deferred deletes still waiting for connections: ${waiting.join(', ')}`);
  }

  private logPlan(trigger: RuntimeTrigger, changes: ServiceChange[], outcome: RuntimeOutcome, ms: number): void {
    const fields = {
      event: trigger === 'drift' ? 'drift_repaired' : 'plan',
      trigger,
      changes: changes.map((c) => ({
        service: c.service,
        ...(c.added.length && { added: c.added }),
        ...(c.removed.length && { removed: c.removed }),
        ...(c.changed.length && { changed: c.changed }),
        ...(c.returning.length && { returning: c.returning }),
      })),
      runtime_cmds: outcome.commands,
      reload: outcome.needReload.length > 0,
      ...(outcome.needReload.length && { reload_reason: outcome.needReload }),
      ms: Math.round(ms * 100) / 100,
    };
    const summary = changes.map((c) => `${c.service} +${c.added.length} -${c.removed.length} ~${c.changed.length + c.returning.length}`).join(', ');
    if (outcome.needReload.length) this.log.warn(fields, `runtime update incomplete; reload needed: ${outcome.needReload.map((r) => r.service).join(', ')}`);
    else if (trigger === 'drift') this.log.warn(fields, `HAProxy had drifted from the desired state; repaired: ${summary}`);
    else this.log.info(fields, `applied without reload: ${summary || 'housekeeping'}`);
  }
}

function toDesired(s: DesiredService['servers'][number]): DesiredServer {
  return { name: serverName(s), address: s.address, port: s.port, weight: s.weight ?? 1, ...(s.admin && { admin: s.admin }), ...(s.backup && { backup: true }) };
}
