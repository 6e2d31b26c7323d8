import type { ActualServer } from '../model/actual';
import { SERVER_ID_STEP, serverAddress, serverIdAt } from '../model/server';
import { isUnixAddress } from '../model/unix-socket';

/**
 * What `show servers state` reports as the address of a server on a unix socket (its
 * port is 0): HAProxy does not say the path, so a socket server is matched by its name,
 * which is made from the path.
 */
export const UNIX_STATE_ADDRESS = '-';

/** A server as it should run: `address` is an IP literal or `unix:/path` (port 0) here. */
export interface DesiredServer {
  name: string;
  address: string;
  port: number;
  weight: number;
  /** An operator's override (HTTP API): keep the server in drain or maint instead of ready. */
  admin?: 'drain' | 'maint';
  backup?: boolean;
}

/** A service whose listen section HAProxy already runs as desired: only its servers may differ. */
export interface RuntimeService {
  name: string;
  servers: readonly DesiredServer[];
  serverOptions: readonly string[];
  /**
   * `balance first`: `servers` are in the declared order, which HAProxy follows by server
   * id. Kept servers must already run in that order and a new one is added with an id
   * between its neighbours'; when neither can be, the service needs a reload.
   */
  ordered?: boolean;
}

export type CommandOp = 'add' | 'enable-health' | 'enable-agent' | 'addr' | 'weight' | 'ready' | 'drain' | 'maint' | 'del';

export interface RuntimeCommand {
  service: string;
  server: string;
  op: CommandOp;
  command: string;
}

export interface ServiceChange {
  service: string;
  added: string[];
  removed: string[];
  /** Weight or address changed. */
  changed: string[];
  /** Back from maint or drain. */
  returning: string[];
}

export interface PlanInput {
  services: readonly RuntimeService[];
  /** `show servers state` per backend; undefined when HAProxy has no such backend. */
  actual: ReadonlyMap<string, readonly ActualServer[] | undefined>;
  /** `backend/server` -> when its drain started, for servers on their way out. */
  draining: ReadonlyMap<string, number>;
  now: number;
  /** How long a removed server drains before it is put in maint and deleted; 0 removes at once. */
  drainMs: number;
}

export interface RuntimePlan {
  commands: RuntimeCommand[];
  /** Services the runtime API cannot bring in line: they need a reload. */
  reload: Array<{ service: string; reason: string }>;
  /** The drain bookkeeping after this plan runs. */
  draining: Map<string, number>;
  changes: ServiceChange[];
  /** When a drain in progress is due, in ms from `now`; undefined when none is. */
  nextDueMs?: number;
}

/**
 * Decides the runtime API commands that bring HAProxy's servers (as read from
 * `show servers state`, never as remembered) to the desired ones. Pure.
 *
 * Order follows HAProxy's rules: a new server is added (it starts in maint), gets
 * its health checks enabled, then `ready`; an address or weight is set before
 * `ready`; a leaving server drains, then goes to maint, and only a server in maint
 * can be deleted.
 */
export function planRuntime(input: PlanInput): RuntimePlan {
  const plan: RuntimePlan = { commands: [], reload: [], draining: new Map(), changes: [] };
  for (const svc of input.services) {
    const actual = input.actual.get(svc.name);
    if (!actual) {
      plan.reload.push({ service: svc.name, reason: `backend ${svc.name} is not in HAProxy` });
      continue;
    }
    const socketMismatch = unixMismatch(svc, actual);
    if (socketMismatch) {
      plan.reload.push({ service: svc.name, reason: socketMismatch });
      continue;
    }
    const ids = svc.ordered ? idsInOrder(svc, actual) : undefined;
    if (ids && !ids.ok) {
      plan.reload.push({ service: svc.name, reason: ids.reason });
      continue;
    }
    planService(svc, actual, input, plan, ids?.ids);
  }
  return plan;
}

/**
 * A server HAProxy runs under a socket server's name but not on a socket (or the other
 * way round): `set server addr` takes no socket, so only a reload mends it. Names keep
 * the two apart, so this takes a hand-made change on the runtime API.
 */
function unixMismatch(svc: RuntimeService, actual: readonly ActualServer[]): string | undefined {
  // Most services have no socket server: no second map of their servers per plan.
  if (!svc.servers.some((d) => isUnixAddress(d.address)) && !actual.some((a) => a.address === UNIX_STATE_ADDRESS)) return undefined;
  const have = new Map(actual.map((a) => [a.name, a]));
  for (const d of svc.servers) {
    const a = have.get(d.name);
    if (a && isUnixAddress(d.address) !== (a.address === UNIX_STATE_ADDRESS)) {
      return `server ${d.name} runs on ${a.address === UNIX_STATE_ADDRESS ? 'a unix socket' : `${a.address}:${a.port}`}, should be ${d.address}${isUnixAddress(d.address) ? '' : `:${d.port}`} (not changeable at runtime)`;
    }
  }
  return undefined;
}

/**
 * For a `balance first` service: the id each new server is added with, so that the ids
 * follow the declared order. Each new server gets the id the config would render
 * (`serverIdAt`) when it fits between its running neighbours and is free, else a free id
 * between them. Fails when the kept servers run in another order, or no id is free.
 */
export function idsInOrder(svc: RuntimeService, actual: readonly ActualServer[]): { ok: true; ids: Map<string, number> } | { ok: false; reason: string } {
  const running = new Map(actual.map((a) => [a.name, a.id]));
  // Every id HAProxy holds stays taken in this batch: deletes come after the adds.
  const taken = new Set(actual.map((a) => a.id).filter((id): id is number => id !== undefined));
  const ids = new Map<string, number>();
  const kept = svc.servers.filter((s) => running.has(s.name));
  for (let i = 1; i < kept.length; i++) {
    const [a, b] = [running.get(kept[i - 1].name), running.get(kept[i].name)];
    if (a === undefined || b === undefined || a >= b) return { ok: false, reason: `server order changed for balance first (${kept[i - 1].name} must come before ${kept[i].name})` };
  }
  // The id of the next running server after each position (Infinity: none follows).
  const after: number[] = new Array<number>(svc.servers.length);
  for (let i = svc.servers.length - 1, hi = Infinity; i >= 0; i--) {
    after[i] = hi;
    hi = running.get(svc.servers[i].name) ?? hi;
  }
  let top = 0;
  for (const id of taken) top = Math.max(top, id);
  let lo = 0;
  let failed: string | undefined;
  for (let i = 0; i < svc.servers.length && !failed; i++) {
    const s = svc.servers[i];
    if (running.has(s.name)) {
      lo = running.get(s.name) ?? lo;
      continue;
    }
    const hi = after[i];
    const fits = (id: number) => id > lo && id < hi && !taken.has(id);
    let id: number | undefined;
    if (fits(serverIdAt(i))) id = serverIdAt(i);
    else if (hi === Infinity) id = Math.max(lo, top) + SERVER_ID_STEP;
    else {
      const mid = Math.floor((lo + hi) / 2);
      if (fits(mid)) id = mid;
      else for (let x = lo + 1; x < hi && id === undefined; x++) if (fits(x)) id = x;
    }
    if (id === undefined) failed = `server order for balance first: no free server id between ${lo} and ${hi} for ${s.name}`;
    else {
      ids.set(s.name, id);
      taken.add(id);
      top = Math.max(top, id);
      lo = id;
    }
  }
  return failed ? { ok: false, reason: failed } : { ok: true, ids };
}

function planService(svc: RuntimeService, actual: readonly ActualServer[], input: PlanInput, plan: RuntimePlan, ids?: ReadonlyMap<string, number>): void {
  const b = svc.name;
  const change: ServiceChange = { service: b, added: [], removed: [], changed: [], returning: [] };
  const cmd = (server: string, op: CommandOp, command: string) => plan.commands.push({ service: b, server, op, command });
  const have = new Map(actual.map((a) => [a.name, a]));
  const want = new Set(svc.servers.map((s) => s.name));
  const tokens = svc.serverOptions.flatMap((o) => o.split(/\s+/)).filter(Boolean);
  // `enabled` on `add server` leaves the server out of load balancing on 2.6.12 (haproxy/haproxy#2497).
  const addOptions = tokens.filter((t) => t !== 'enabled');
  const checks = tokens.includes('check');
  const agent = tokens.includes('agent-check');

  for (const d of svc.servers) {
    const a = have.get(d.name);
    const id = `${b}/${d.name}`;
    if (!a) {
      const srvId = ids?.get(d.name);
      cmd(d.name, 'add', ['add server', id, serverAddress(d), ...addOptions, 'weight', String(d.weight), ...(d.backup ? ['backup'] : []), ...(srvId !== undefined ? ['id', String(srvId)] : [])].join(' '));
      // Dynamic servers start with checks disabled, whatever the options say.
      if (checks) cmd(d.name, 'enable-health', `enable health ${id}`);
      if (agent) cmd(d.name, 'enable-agent', `enable agent ${id}`);
      cmd(d.name, d.admin ?? 'ready', `set server ${id} state ${d.admin ?? 'ready'}`);
      change.added.push(d.name);
      continue;
    }
    let changed = false;
    // A socket server's address is its name (checked by unixMismatch).
    if (!isUnixAddress(d.address) && (a.address !== d.address || a.port !== d.port)) {
      cmd(d.name, 'addr', `set server ${id} addr ${d.address} port ${d.port}`);
      changed = true;
    }
    if (a.weight !== d.weight) {
      cmd(d.name, 'weight', `set server ${id} weight ${d.weight}`);
      changed = true;
    }
    if (d.admin === 'maint' && !a.maint) {
      cmd(d.name, 'maint', `set server ${id} state maint`);
      changed = true;
    } else if (d.admin === 'drain' && (!a.drain || a.maint)) {
      cmd(d.name, 'drain', `set server ${id} state drain`);
      changed = true;
    } else if (d.admin === undefined && (a.maint || a.drain)) {
      cmd(d.name, 'ready', `set server ${id} state ready`);
      change.returning.push(d.name);
    }
    if (changed) change.changed.push(d.name);
  }

  for (const a of actual) {
    if (want.has(a.name)) continue;
    const id = `${b}/${a.name}`;
    if (a.maint) {
      // Already out of rotation (a delete that had to wait for connections): just retry it.
      cmd(a.name, 'del', `del server ${id}`);
      continue;
    }
    const since = input.draining.get(id);
    if (input.drainMs > 0 && since === undefined) {
      cmd(a.name, 'drain', `set server ${id} state drain`);
      plan.draining.set(id, input.now);
      change.removed.push(a.name);
      due(plan, input.drainMs);
    } else if (input.drainMs > 0 && input.now - since! < input.drainMs) {
      plan.draining.set(id, since!);
      due(plan, since! + input.drainMs - input.now);
    } else {
      cmd(a.name, 'maint', `set server ${id} state maint`);
      cmd(a.name, 'del', `del server ${id}`);
      if (since === undefined) change.removed.push(a.name);
    }
  }
  if (change.added.length || change.removed.length || change.changed.length || change.returning.length) plan.changes.push(change);
}

function due(plan: RuntimePlan, ms: number): void {
  plan.nextDueMs = plan.nextDueMs === undefined ? ms : Math.min(plan.nextDueMs, ms);
}
