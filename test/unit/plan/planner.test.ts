import type { ActualServer } from '../../../src/model/actual';
import {
  planRuntime,
  type DesiredServer,
  type PlanInput,
  type RuntimePlan,
  type RuntimeService,
  type ServiceChange,
} from '../../../src/plan/planner';

// ---------------------------------------------------------------------------
// Helpers. Server names follow proxymgr's convention `address:port`, so the
// address and port of a server are read from its name unless given.
// ---------------------------------------------------------------------------

function splitName(name: string): { address: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(name);
  return m ? { address: m[1], port: Number(m[2]) } : { address: '10.9.9.9', port: 9 };
}

/** A server as `show servers state` reports it: running, ready, weight 1. */
function have(name: string, over: Partial<ActualServer> = {}, backend = 'web'): ActualServer {
  const maint = over.maint ?? false;
  const drain = over.drain ?? false;
  return {
    backend,
    name,
    ...splitName(name),
    weight: 1,
    initialWeight: 1,
    maint,
    drain,
    opState: maint ? 0 : 2,
    adminState: (maint ? 0x01 : 0) | (drain ? 0x08 : 0),
    ...over,
  };
}

/** A server as it should run. */
function want(name: string, over: Partial<DesiredServer> = {}): DesiredServer {
  return { name, ...splitName(name), weight: 1, ...over };
}

function svc(name: string, servers: DesiredServer[], serverOptions: string[] = []): RuntimeService {
  return { name, servers, serverOptions };
}

const web = (servers: DesiredServer[], serverOptions: string[] = []) => svc('web', servers, serverOptions);
/** A `balance first` service: `servers` in the declared order. */
const first = (servers: DesiredServer[]): RuntimeService => ({ ...svc('web', servers), ordered: true });

const change = (over: Partial<ServiceChange>, service = 'web'): ServiceChange => ({
  service,
  added: [],
  removed: [],
  changed: [],
  returning: [],
  ...over,
});

interface Case {
  name: string;
  services: RuntimeService[];
  /** `show servers state` per backend; undefined: the backend does not exist. */
  actual: Record<string, ActualServer[] | undefined>;
  draining?: Record<string, number>;
  now?: number;
  drainMs?: number;
  expect: {
    commands: string[];
    changes?: ServiceChange[];
    reload?: RuntimePlan['reload'];
    draining?: Record<string, number>;
    nextDueMs?: number;
  };
}

const NOW = 1_000_000;

function input(c: Pick<Case, 'services' | 'actual' | 'draining' | 'now' | 'drainMs'>): PlanInput {
  return {
    services: c.services,
    actual: new Map(Object.entries(c.actual)),
    draining: new Map(Object.entries(c.draining ?? {})),
    now: c.now ?? NOW,
    drainMs: c.drainMs ?? 0,
  };
}

/** The plan in the shape the table spells out. */
function view(plan: RuntimePlan) {
  return {
    commands: plan.commands.map((c) => c.command),
    changes: plan.changes,
    reload: plan.reload,
    draining: Object.fromEntries(plan.draining),
    nextDueMs: plan.nextDueMs,
  };
}

const A = '10.0.0.1:80';
const B = '10.0.0.2:80';
const C = '10.0.0.3:80';
const V6 = 'v6_2001.db8..1_80';

// ---------------------------------------------------------------------------
// The specification.
// ---------------------------------------------------------------------------

const cases: Case[] = [
  // --- New servers: add (starts in maint, checks off), enable checks, then ready.
  {
    name: 'new server: add with weight, then ready',
    services: [web([want(A)])],
    actual: { web: [] },
    expect: {
      commands: [`add server web/${A} 10.0.0.1:80 weight 1`, `set server web/${A} state ready`],
      changes: [change({ added: [A] })],
    },
  },
  {
    name: 'new server keeps its desired weight (including 0)',
    services: [web([want(A, { weight: 7 }), want(B, { weight: 0 })])],
    actual: { web: [] },
    expect: {
      commands: [
        `add server web/${A} 10.0.0.1:80 weight 7`,
        `set server web/${A} state ready`,
        `add server web/${B} 10.0.0.2:80 weight 0`,
        `set server web/${B} state ready`,
      ],
      changes: [change({ added: [A, B] })],
    },
  },
  {
    name: 'new server with `check`: enable health between add and ready',
    services: [web([want(A)], ['check'])],
    actual: { web: [] },
    expect: {
      commands: [`add server web/${A} 10.0.0.1:80 check weight 1`, `enable health web/${A}`, `set server web/${A} state ready`],
      changes: [change({ added: [A] })],
    },
  },
  {
    name: 'new server with `agent-check` only: enable agent, no enable health',
    services: [web([want(A)], ['agent-check agent-port 9999'])],
    actual: { web: [] },
    expect: {
      commands: [
        `add server web/${A} 10.0.0.1:80 agent-check agent-port 9999 weight 1`,
        `enable agent web/${A}`,
        `set server web/${A} state ready`,
      ],
      changes: [change({ added: [A] })],
    },
  },
  {
    name: 'new server with `check` and `agent-check`: health, then agent, then ready',
    services: [web([want(A)], ['check', 'agent-check', 'agent-port 9999'])],
    actual: { web: [] },
    expect: {
      commands: [
        `add server web/${A} 10.0.0.1:80 check agent-check agent-port 9999 weight 1`,
        `enable health web/${A}`,
        `enable agent web/${A}`,
        `set server web/${A} state ready`,
      ],
      changes: [change({ added: [A] })],
    },
  },
  {
    name: '`enabled` is never passed on add server (HAProxy 2.6.12 bug #2497)',
    services: [web([want(A)], ['enabled', 'check inter 2s enabled', 'rise 2'])],
    actual: { web: [] },
    expect: {
      commands: [`add server web/${A} 10.0.0.1:80 check inter 2s rise 2 weight 1`, `enable health web/${A}`, `set server web/${A} state ready`],
      changes: [change({ added: [A] })],
    },
  },
  {
    name: 'multi-token option strings are split into tokens (any whitespace)',
    services: [web([want(A)], ['check inter 2s', '  fall 3\trise 2  ', ''])],
    actual: { web: [] },
    expect: {
      commands: [
        `add server web/${A} 10.0.0.1:80 check inter 2s fall 3 rise 2 weight 1`,
        `enable health web/${A}`,
        `set server web/${A} state ready`,
      ],
      changes: [change({ added: [A] })],
    },
  },
  {
    name: 'a token that only contains "check" does not enable health',
    services: [web([want(A)], ['check-ssl', 'no-check'])],
    actual: { web: [] },
    expect: {
      commands: [`add server web/${A} 10.0.0.1:80 check-ssl no-check weight 1`, `set server web/${A} state ready`],
      changes: [change({ added: [A] })],
    },
  },
  {
    name: 'new IPv6 server: address:port with the last colon as separator',
    services: [web([want(V6, { address: '2001:db8::1', port: 80 })])],
    actual: { web: [] },
    expect: {
      commands: [`add server web/${V6} 2001:db8::1:80 weight 1`, `set server web/${V6} state ready`],
      changes: [change({ added: [V6] })],
    },
  },
  {
    name: 'several new servers: each one complete, in desired order',
    services: [web([want(B), want(A)], ['check'])],
    actual: { web: [] },
    expect: {
      commands: [
        `add server web/${B} 10.0.0.2:80 check weight 1`,
        `enable health web/${B}`,
        `set server web/${B} state ready`,
        `add server web/${A} 10.0.0.1:80 check weight 1`,
        `enable health web/${A}`,
        `set server web/${A} state ready`,
      ],
      changes: [change({ added: [B, A] })],
    },
  },

  // --- Removed servers.
  {
    name: 'removed, drainMs 0: maint then del',
    services: [web([want(A)])],
    actual: { web: [have(A), have(B)] },
    drainMs: 0,
    expect: {
      commands: [`set server web/${B} state maint`, `del server web/${B}`],
      changes: [change({ removed: [B] })],
    },
  },
  {
    name: 'removed, drainMs > 0, first plan: drain, start the clock',
    services: [web([want(A)])],
    actual: { web: [have(A), have(B)] },
    drainMs: 10_000,
    expect: {
      commands: [`set server web/${B} state drain`],
      changes: [change({ removed: [B] })],
      draining: { [`web/${B}`]: NOW },
      nextDueMs: 10_000,
    },
  },
  {
    name: 'removed, draining, before the deadline: no command, bookkeeping kept, due in the remaining time',
    services: [web([want(A)])],
    actual: { web: [have(A), have(B, { drain: true })] },
    draining: { [`web/${B}`]: NOW - 4_000 },
    drainMs: 10_000,
    expect: {
      commands: [],
      changes: [],
      draining: { [`web/${B}`]: NOW - 4_000 },
      nextDueMs: 6_000,
    },
  },
  {
    name: 'removed, draining, one ms before the deadline: still waiting',
    services: [web([])],
    actual: { web: [have(B, { drain: true })] },
    draining: { [`web/${B}`]: NOW - 9_999 },
    drainMs: 10_000,
    expect: { commands: [], draining: { [`web/${B}`]: NOW - 9_999 }, nextDueMs: 1 },
  },
  {
    name: 'removed, draining, at the deadline: maint + del, not listed as removed again',
    services: [web([want(A)])],
    actual: { web: [have(A), have(B, { drain: true })] },
    draining: { [`web/${B}`]: NOW - 10_000 },
    drainMs: 10_000,
    expect: {
      commands: [`set server web/${B} state maint`, `del server web/${B}`],
      changes: [],
      draining: {},
    },
  },
  {
    name: 'removed, draining, past the deadline: maint + del, not listed as removed again',
    services: [web([want(A)])],
    actual: { web: [have(A), have(B, { drain: true })] },
    draining: { [`web/${B}`]: NOW - 60_000 },
    drainMs: 10_000,
    expect: { commands: [`set server web/${B} state maint`, `del server web/${B}`], draining: {} },
  },
  {
    name: 'drainMs lowered to 0 mid-drain: maint + del at once, not listed as removed again',
    services: [web([])],
    actual: { web: [have(B, { drain: true })] },
    draining: { [`web/${B}`]: NOW - 1 },
    drainMs: 0,
    expect: { commands: [`set server web/${B} state maint`, `del server web/${B}`], draining: {} },
  },
  {
    name: 'two servers draining: due when the first one is',
    services: [web([])],
    actual: { web: [have(B, { drain: true }), have(C, { drain: true })] },
    draining: { [`web/${B}`]: NOW - 2_000, [`web/${C}`]: NOW - 7_000 },
    drainMs: 10_000,
    expect: { commands: [], draining: { [`web/${B}`]: NOW - 2_000, [`web/${C}`]: NOW - 7_000 }, nextDueMs: 3_000 },
  },
  {
    name: 'one drain starts while another is in progress: due at the earlier deadline',
    services: [web([])],
    actual: { web: [have(B, { drain: true }), have(C)] },
    draining: { [`web/${B}`]: NOW - 8_000 },
    drainMs: 10_000,
    expect: {
      commands: [`set server web/${C} state drain`],
      changes: [change({ removed: [C] })],
      draining: { [`web/${B}`]: NOW - 8_000, [`web/${C}`]: NOW },
      nextDueMs: 2_000,
    },
  },
  {
    name: 'not desired and already in maint: only del (a retry), not listed as removed',
    services: [web([want(A)])],
    actual: { web: [have(A), have(B, { maint: true })] },
    expect: { commands: [`del server web/${B}`], changes: [] },
  },
  {
    name: 'not desired, in maint, with drain bookkeeping: only del, bookkeeping dropped',
    services: [web([])],
    actual: { web: [have(B, { maint: true })] },
    draining: { [`web/${B}`]: NOW - 60_000 },
    drainMs: 10_000,
    expect: { commands: [`del server web/${B}`], changes: [], draining: {} },
  },

  // --- Changed servers: addr before weight before ready.
  {
    name: 'weight change: set weight',
    services: [web([want(A, { weight: 5 })])],
    actual: { web: [have(A)] },
    expect: { commands: [`set server web/${A} weight 5`], changes: [change({ changed: [A] })] },
  },
  {
    name: 'weight change to 0',
    services: [web([want(A, { weight: 0 })])],
    actual: { web: [have(A, { weight: 3, initialWeight: 3 })] },
    expect: { commands: [`set server web/${A} weight 0`], changes: [change({ changed: [A] })] },
  },
  {
    name: 'address change: set addr with the port',
    services: [web([want('db.example:5432', { address: '10.0.0.9', port: 5432 })])],
    actual: { web: [have('db.example:5432', { address: '10.0.0.8', port: 5432 })] },
    expect: {
      commands: ['set server web/db.example:5432 addr 10.0.0.9 port 5432'],
      changes: [change({ changed: ['db.example:5432'] })],
    },
  },
  {
    name: 'port change: set addr with the new port',
    services: [web([want('svc:1', { address: '10.0.0.8', port: 8081 })])],
    actual: { web: [have('svc:1', { address: '10.0.0.8', port: 8080 })] },
    expect: { commands: ['set server web/svc:1 addr 10.0.0.8 port 8081'], changes: [change({ changed: ['svc:1'] })] },
  },
  {
    name: 'address and weight change, found in maint: addr, weight, ready',
    services: [web([want('h:80', { address: '10.0.0.9', port: 80, weight: 4 })])],
    actual: { web: [have('h:80', { address: '10.0.0.8', port: 80, maint: true })] },
    expect: {
      commands: ['set server web/h:80 addr 10.0.0.9 port 80', 'set server web/h:80 weight 4', 'set server web/h:80 state ready'],
      changes: [change({ changed: ['h:80'], returning: ['h:80'] })],
    },
  },

  // --- Returning servers.
  {
    name: 'desired server found in maint: ready, returning',
    services: [web([want(A)])],
    actual: { web: [have(A, { maint: true })] },
    expect: { commands: [`set server web/${A} state ready`], changes: [change({ returning: [A] })] },
  },
  {
    name: 'desired server found in drain: ready, returning',
    services: [web([want(A)])],
    actual: { web: [have(A, { drain: true })] },
    expect: { commands: [`set server web/${A} state ready`], changes: [change({ returning: [A] })] },
  },
  {
    name: 'server comes back while draining out: ready, drain bookkeeping dropped',
    services: [web([want(A)])],
    actual: { web: [have(A, { drain: true })] },
    draining: { [`web/${A}`]: NOW - 1_000 },
    drainMs: 10_000,
    expect: { commands: [`set server web/${A} state ready`], changes: [change({ returning: [A] })], draining: {} },
  },
  {
    name: 'weight change on a drained server: weight before ready',
    services: [web([want(A, { weight: 2 })])],
    actual: { web: [have(A, { drain: true })] },
    expect: {
      commands: [`set server web/${A} weight 2`, `set server web/${A} state ready`],
      changes: [change({ changed: [A], returning: [A] })],
    },
  },

  // --- Nothing to do.
  {
    name: 'unchanged: no commands, no changes entry',
    services: [web([want(A, { weight: 3 }), want(B)], ['check'])],
    actual: { web: [have(A, { weight: 3, initialWeight: 3 }), have(B)] },
    expect: { commands: [], changes: [] },
  },
  {
    name: 'only the initial (config) weight differs: the current weight is what counts',
    services: [web([want(A, { weight: 3 })])],
    actual: { web: [have(A, { weight: 3, initialWeight: 1 })] },
    expect: { commands: [], changes: [] },
  },
  {
    name: 'empty backend, nothing desired',
    services: [web([])],
    actual: { web: [] },
    expect: { commands: [], changes: [] },
  },
  {
    name: 'no services at all',
    services: [],
    actual: { web: [have(A)] },
    expect: { commands: [], changes: [] },
  },

  // --- Backend missing: the runtime API cannot help, a reload is needed.
  {
    name: 'backend missing: reload with a reason naming it, no commands',
    services: [web([want(A)])],
    actual: { web: undefined },
    expect: { commands: [], reload: [{ service: 'web', reason: 'backend web is not in HAProxy' }] },
  },
  {
    name: 'backend absent from the map altogether: reload',
    services: [svc('api', [want(A)])],
    actual: {},
    expect: { commands: [], reload: [{ service: 'api', reason: 'backend api is not in HAProxy' }] },
  },

  // --- Mixed and several services.
  {
    name: 'one service, every kind of change: desired servers in order, then removals',
    services: [web([want(C), want(A, { weight: 9 }), want(B)], ['check'])],
    actual: { web: [have('old:1'), have(B, { maint: true }), have(A)] },
    drainMs: 0,
    expect: {
      commands: [
        `add server web/${C} 10.0.0.3:80 check weight 1`,
        `enable health web/${C}`,
        `set server web/${C} state ready`,
        `set server web/${A} weight 9`,
        `set server web/${B} state ready`,
        'set server web/old:1 state maint',
        'del server web/old:1',
      ],
      changes: [change({ added: [C], removed: ['old:1'], changed: [A], returning: [B] })],
    },
  },
  {
    name: 'several services: commands grouped per service, in input order',
    services: [
      svc('web', [want(A), want(B)]),
      svc('static', [want(A)]),
      svc('api', [want(C)], ['check']),
      svc('gone', [want(A)]),
      svc('db', [want(A, { weight: 2 })]),
    ],
    actual: {
      api: [have(A, {}, 'api')],
      db: [have(A, {}, 'db')],
      gone: undefined,
      static: [have(A, {}, 'static')],
      web: [have(A)],
    },
    drainMs: 0,
    expect: {
      commands: [
        `add server web/${B} 10.0.0.2:80 weight 1`,
        `set server web/${B} state ready`,
        `add server api/${C} 10.0.0.3:80 check weight 1`,
        `enable health api/${C}`,
        `set server api/${C} state ready`,
        `set server api/${A} state maint`,
        `del server api/${A}`,
        `set server db/${A} weight 2`,
      ],
      changes: [change({ added: [B] }, 'web'), change({ added: [C], removed: [A] }, 'api'), change({ changed: [A] }, 'db')],
      reload: [{ service: 'gone', reason: 'backend gone is not in HAProxy' }],
    },
  },
  {
    name: 'drain bookkeeping is per backend: the same server name drains separately',
    services: [svc('web', []), svc('api', [])],
    actual: { web: [have(A, { drain: true })], api: [have(A, {}, 'api')] },
    draining: { [`web/${A}`]: NOW - 3_000 },
    drainMs: 10_000,
    expect: {
      commands: [`set server api/${A} state drain`],
      changes: [change({ removed: [A] }, 'api')],
      draining: { [`web/${A}`]: NOW - 3_000, [`api/${A}`]: NOW },
      nextDueMs: 7_000,
    },
  },

  // --- balance first: HAProxy takes the lowest server id first; ids follow the declared order.
  {
    name: 'balance first: new servers get ids in the declared order (C, B, A)',
    services: [first([want(C), want(B), want(A)])],
    actual: { web: [] },
    expect: {
      commands: [
        `add server web/${C} 10.0.0.3:80 weight 1 id 10`,
        `set server web/${C} state ready`,
        `add server web/${B} 10.0.0.2:80 weight 1 id 20`,
        `set server web/${B} state ready`,
        `add server web/${A} 10.0.0.1:80 weight 1 id 30`,
        `set server web/${A} state ready`,
      ],
      changes: [change({ added: [C, B, A] })],
    },
  },
  {
    name: 'balance first: an appended server gets the id the config renders',
    services: [first([want(C), want(A), want('10.0.0.4:80')])],
    actual: { web: [have(C, { id: 10 }), have(A, { id: 20 })] },
    expect: {
      commands: ['add server web/10.0.0.4:80 10.0.0.4:80 weight 1 id 30', 'set server web/10.0.0.4:80 state ready'],
      changes: [change({ added: ['10.0.0.4:80'] })],
    },
  },
  {
    name: 'balance first: a server added in the middle gets an id between its neighbours',
    services: [first([want(C), want(B), want(A)])],
    actual: { web: [have(C, { id: 10 }), have(A, { id: 20 })] },
    expect: {
      commands: [`add server web/${B} 10.0.0.2:80 weight 1 id 15`, `set server web/${B} state ready`],
      changes: [change({ added: [B] })],
    },
  },
  {
    name: 'balance first: an id still held by a leaving server is not reused',
    services: [first([want(C), want(A)])],
    actual: { web: [have(C, { id: 10 }), have(B, { id: 20 })] },
    expect: {
      commands: [`add server web/${A} 10.0.0.1:80 weight 1 id 30`, `set server web/${A} state ready`, `set server web/${B} state maint`, `del server web/${B}`],
      changes: [change({ added: [A], removed: [B] })],
    },
  },
  {
    name: 'balance first: no free id between the neighbours: reload',
    services: [first([want(C), want(B), want(A)])],
    actual: { web: [have(C, { id: 10 }), have(A, { id: 11 })] },
    expect: { commands: [], reload: [{ service: 'web', reason: `server order for balance first: no free server id between 10 and 11 for ${B}` }] },
  },
  {
    name: 'balance first: running servers in another order than declared: reload',
    services: [first([want(C), want(A)])],
    actual: { web: [have(A, { id: 10 }), have(C, { id: 20 })] },
    expect: { commands: [], reload: [{ service: 'web', reason: `server order changed for balance first (${C} must come before ${A})` }] },
  },
  {
    name: 'balance first: in order and in line: nothing to do',
    services: [first([want(C), want(B), want(A)])],
    actual: { web: [have(C, { id: 10 }), have(B, { id: 15 }), have(A, { id: 20 })] },
    expect: { commands: [] },
  },
  {
    name: 'other algorithms: ids are neither given nor checked',
    services: [web([want(C), want(A), want(B)])],
    actual: { web: [have(A, { id: 2 }), have(C, { id: 1 })] },
    expect: { commands: [`add server web/${B} 10.0.0.2:80 weight 1`, `set server web/${B} state ready`], changes: [change({ added: [B] })] },
  },
];

describe('planRuntime', () => {
  test.each(cases)('$name', (c) => {
    const e = c.expect;
    expect(view(planRuntime(input(c)))).toEqual({
      commands: e.commands,
      changes: e.changes ?? [],
      reload: e.reload ?? [],
      draining: e.draining ?? {},
      nextDueMs: e.nextDueMs,
    });
  });

  test('commands carry service, server and op', () => {
    const plan = planRuntime(
      input({
        services: [web([want(A)], ['check agent-check']), svc('api', [want(B, { weight: 2 })])],
        actual: { web: [have(C, { drain: true })], api: [have(B, { address: '10.0.0.22', maint: true }, 'api'), have(C, { maint: true }, 'api')] },
        draining: { [`web/${C}`]: NOW - 20_000 },
        drainMs: 10_000,
      }),
    );
    expect(plan.commands).toEqual([
      { service: 'web', server: A, op: 'add', command: `add server web/${A} 10.0.0.1:80 check agent-check weight 1` },
      { service: 'web', server: A, op: 'enable-health', command: `enable health web/${A}` },
      { service: 'web', server: A, op: 'enable-agent', command: `enable agent web/${A}` },
      { service: 'web', server: A, op: 'ready', command: `set server web/${A} state ready` },
      { service: 'web', server: C, op: 'maint', command: `set server web/${C} state maint` },
      { service: 'web', server: C, op: 'del', command: `del server web/${C}` },
      { service: 'api', server: B, op: 'addr', command: `set server api/${B} addr 10.0.0.2 port 80` },
      { service: 'api', server: B, op: 'weight', command: `set server api/${B} weight 2` },
      { service: 'api', server: B, op: 'ready', command: `set server api/${B} state ready` },
      { service: 'api', server: C, op: 'del', command: `del server api/${C}` },
    ]);
    const drainPlan = planRuntime(input({ services: [web([])], actual: { web: [have(C)] }, drainMs: 1 }));
    expect(drainPlan.commands).toEqual([{ service: 'web', server: C, op: 'drain', command: `set server web/${C} state drain` }]);
  });

  test('a drain runs its course over successive plans', () => {
    const drainMs = 10_000;
    const services = [web([want(A)])];
    const t0 = NOW;

    const p1 = planRuntime(input({ services, actual: { web: [have(A), have(B)] }, now: t0, drainMs }));
    expect(view(p1)).toEqual({
      commands: [`set server web/${B} state drain`],
      changes: [change({ removed: [B] })],
      reload: [],
      draining: { [`web/${B}`]: t0 },
      nextDueMs: 10_000,
    });

    const p2 = planRuntime({ ...input({ services, actual: { web: [have(A), have(B, { drain: true })] }, now: t0 + 2_500, drainMs }), draining: p1.draining });
    expect(view(p2)).toEqual({ commands: [], changes: [], reload: [], draining: { [`web/${B}`]: t0 }, nextDueMs: 7_500 });

    const p3 = planRuntime({ ...input({ services, actual: { web: [have(A), have(B, { drain: true })] }, now: t0 + 10_001, drainMs }), draining: p2.draining });
    expect(view(p3)).toEqual({
      commands: [`set server web/${B} state maint`, `del server web/${B}`],
      changes: [],
      reload: [],
      draining: {},
      nextDueMs: undefined,
    });

    // The del did not go through (connections still open): the server stays in maint and del is retried.
    const p4 = planRuntime({ ...input({ services, actual: { web: [have(A), have(B, { maint: true })] }, now: t0 + 11_000, drainMs }), draining: p3.draining });
    expect(view(p4)).toEqual({ commands: [`del server web/${B}`], changes: [], reload: [], draining: {}, nextDueMs: undefined });

    const p5 = planRuntime({ ...input({ services, actual: { web: [have(A)] }, now: t0 + 12_000, drainMs }), draining: p4.draining });
    expect(view(p5)).toEqual({ commands: [], changes: [], reload: [], draining: {}, nextDueMs: undefined });
  });

  describe('purity', () => {
    const make = (): PlanInput =>
      input({
        services: [web([want(A, { weight: 2 }), want(C)], ['check inter 2s', 'enabled']), svc('gone', [want(A)])],
        actual: { web: [have(A, { maint: true }), have(B)], gone: undefined },
        draining: { 'web/old:1': NOW - 1 },
        drainMs: 5_000,
      });

    test('the same input gives an equal plan', () => {
      const i = make();
      const first = planRuntime(i);
      const second = planRuntime(i);
      expect(second).toEqual(first);
      expect(planRuntime(make())).toEqual(first);
      // Sanity: the plan is not trivially empty.
      expect(first.commands.map((c) => c.op)).toEqual(['weight', 'ready', 'add', 'enable-health', 'ready', 'drain']);
    });

    test('does not mutate its input', () => {
      const i = make();
      const snapshot = {
        services: JSON.parse(JSON.stringify(i.services)) as unknown,
        actual: JSON.parse(JSON.stringify([...i.actual])) as unknown,
        draining: [...i.draining],
        now: i.now,
        drainMs: i.drainMs,
      };
      const plan = planRuntime(i);
      expect(i.services).toEqual(snapshot.services);
      expect(JSON.parse(JSON.stringify([...i.actual]))).toEqual(snapshot.actual);
      expect([...i.draining]).toEqual(snapshot.draining);
      // The returned bookkeeping is a fresh map, not the input's.
      expect(plan.draining).not.toBe(i.draining);
      expect(Object.fromEntries(plan.draining)).toEqual({ [`web/${B}`]: NOW });
      expect(Object.fromEntries(i.draining)).toEqual({ 'web/old:1': NOW - 1 });
    });

    test('works on deeply frozen input', () => {
      const i = make();
      const freeze = <T>(o: T): T => {
        if (o && typeof o === 'object') {
          Object.values(o).forEach(freeze);
          Object.freeze(o);
        }
        return o;
      };
      freeze(i.services);
      for (const list of i.actual.values()) freeze(list);
      expect(() => planRuntime(i)).not.toThrow();
      expect(planRuntime(i).commands).toHaveLength(6);
    });
  });
});
