import { decideReload, pathOf, type ReloadPath, type ServicePath } from '../../../src/plan/apply-plan';
import type { DesiredService } from '../../../src/model/desired';
import type { Server } from '../../../src/model/server';

// When does proxymgr reload? These tables are the specification.

const srv = (last: number, extra: Partial<Server> = {}): Server => ({ address: `10.0.0.${last}`, port: 80, ...extra });
const svc = (name: string, servers: Server[], listen: Partial<DesiredService['listen']> = {}): DesiredService => ({
  name,
  listen: { port: 8080, listenOptions: [], serverOptions: [], ...listen },
  servers,
});

const two = [srv(1), srv(2)];
/** A `balance first` service (its servers in declared order). */
const first = (servers: Server[]) => svc('web', servers, { listenOptions: ['balance first'], declaredOrder: true });
const web = svc('web', two);

describe('pathOf: the path of one service', () => {
  const cases: Array<[string, DesiredService | undefined, DesiredService | undefined, { runtimeEnabled?: boolean; refused?: string }, ServicePath]> = [
    ['neither runs nor is wanted', undefined, undefined, {}, { path: 'none' }],
    ['the same object', web, web, {}, { path: 'none' }],
    ['equal listen and servers, other objects', web, svc('web', [srv(1), srv(2)]), {}, { path: 'none' }],
    ['a new service', undefined, web, {}, { path: 'reload', change: 'added' }],
    ['a removed service', web, undefined, {}, { path: 'reload', change: 'removed' }],
    ['another port', web, svc('web', two, { port: 9090 }), {}, { path: 'reload', change: 'reconfigured' }],
    ['other listen_options', web, svc('web', two, { listenOptions: ['balance leastconn'] }), {}, { path: 'reload', change: 'reconfigured' }],
    ['other server_options', web, svc('web', two, { serverOptions: ['check'] }), {}, { path: 'reload', change: 'reconfigured' }],
    ['mode http now', web, svc('web', two, { mode: 'http' }), {}, { path: 'reload', change: 'reconfigured' }],
    ['a server added', web, svc('web', [...two, srv(3)]), {}, { path: 'runtime' }],
    ['a server removed', web, svc('web', [srv(1)]), {}, { path: 'runtime' }],
    ['a weight changed', web, svc('web', [srv(1, { weight: 5 }), srv(2)]), {}, { path: 'runtime' }],
    ['an operator put a server in maint', web, svc('web', [srv(1, { admin: 'maint' }), srv(2)]), {}, { path: 'runtime' }],
    ['a new backup server', web, svc('web', [...two, srv(3, { backup: true })]), {}, { path: 'runtime' }],
    [
      'a running server becomes a backup',
      web,
      svc('web', [srv(1, { backup: true }), srv(2)]),
      {},
      { path: 'reload', change: 'fallback', reason: 'backup flag changed for 10.0.0.1:80 (not changeable at runtime)' },
    ],
    ['servers changed with the runtime path off', web, svc('web', [srv(1)]), { runtimeEnabled: false }, { path: 'reload', change: 'servers' }],
    ['nothing changed with the runtime path off', web, web, { runtimeEnabled: false }, { path: 'none' }],
    ['the runtime API refused it earlier', web, svc('web', [srv(1)]), { refused: 'add server: no' }, { path: 'reload', change: 'fallback', reason: 'add server: no' }],
    ['refused earlier, same servers now: still waits for the reload', web, web, { refused: 'add server: no' }, { path: 'reload', change: 'fallback', reason: 'add server: no' }],
    ['reconfigured and refused: reconfigured wins', web, svc('web', two, { port: 1 }), { refused: 'x' }, { path: 'reload', change: 'reconfigured' }],
    // `balance first` follows the declared order, by server id, fixed once a server runs.
    ['balance first: a server appended', first([srv(3), srv(1)]), first([srv(3), srv(1), srv(2)]), {}, { path: 'runtime' }],
    ['balance first: a server added in the middle (the planner finds it an id between)', first([srv(3), srv(1)]), first([srv(3), srv(2), srv(1)]), {}, { path: 'runtime' }],
    ['balance first: a server removed', first([srv(3), srv(2), srv(1)]), first([srv(3), srv(1)]), {}, { path: 'runtime' }],
    [
      'balance first: two running servers swap places',
      first([srv(3), srv(1)]),
      first([srv(1), srv(3)]),
      {},
      { path: 'reload', change: 'fallback', reason: 'server order changed for balance first' },
    ],
    [
      'balance first: swapped while another is added',
      first([srv(3), srv(2), srv(1)]),
      first([srv(4), srv(2), srv(3), srv(1)]),
      {},
      { path: 'reload', change: 'fallback', reason: 'server order changed for balance first' },
    ],
    ['other balance algorithms: order is not looked at', web, svc('web', [srv(2), srv(1)]), {}, { path: 'runtime' }],
  ];
  test.each(cases)('%s', (_label, running, desired, opts, expected) => {
    expect(pathOf({ running, desired, runtimeEnabled: opts.runtimeEnabled ?? true, refused: opts.refused })).toEqual(expected);
  });
});

describe('decideReload: whether to reload, why, and for which services', () => {
  const pending = (entries: Array<[string, ReloadPath]>) => new Map(entries);
  const base = { initial: false, haproxyRunning: true, settingsChanged: false, pending: pending([]) };
  const cases: Array<[string, Partial<typeof base>, ReturnType<typeof decideReload>]> = [
    ['nothing pending: no reload (membership, weight and drain go over the runtime API)', {}, { reload: false }],
    ['the first start', { initial: true, haproxyRunning: false }, { reload: true, kind: 'initial', reason: 'initial start', services: [] }],
    [
      'the first start with services',
      { initial: true, haproxyRunning: false, pending: pending([['web', { path: 'reload', change: 'added' }]]) },
      { reload: true, kind: 'initial', reason: 'initial start', services: ['web'] },
    ],
    ['a new service', { pending: pending([['web', { path: 'reload', change: 'added' }]]) }, { reload: true, kind: 'service_added', reason: 'added: web', services: ['web'] }],
    ['a removed service', { pending: pending([['old', { path: 'reload', change: 'removed' }]]) }, { reload: true, kind: 'service_removed', reason: 'removed: old', services: ['old'] }],
    [
      'a reconfigured service',
      { pending: pending([['web', { path: 'reload', change: 'reconfigured' }]]) },
      { reload: true, kind: 'service_reconfigured', reason: 'reconfigured: web', services: ['web'] },
    ],
    [
      'the runtime API refused a change',
      { pending: pending([['web', { path: 'reload', change: 'fallback', reason: 'runtime API refused: add server' }]]) },
      { reload: true, kind: 'runtime_fallback', reason: 'runtime update failed: web (runtime API refused: add server)', services: ['web'] },
    ],
    ['servers with the runtime path off', { pending: pending([['web', { path: 'reload', change: 'servers' }]]) }, { reload: true, kind: 'servers', reason: 'servers: web', services: ['web'] }],
    [
      'global settings or templates changed',
      { settingsChanged: true },
      { reload: true, kind: 'settings', reason: 'global settings or templates changed (proxymgr.yml, SIGHUP)', services: [] },
    ],
    ['HAProxy is not running', { haproxyRunning: false }, { reload: true, kind: 'haproxy_down', reason: 'HAProxy not running', services: [] }],
    [
      'several causes: the weightiest is the kind, the reason names all, sorted',
      {
        settingsChanged: true,
        pending: pending([
          ['zeta', { path: 'reload', change: 'fallback', reason: 'backup flag changed for a (not changeable at runtime)' }],
          ['beta', { path: 'reload', change: 'removed' }],
          ['alpha', { path: 'reload', change: 'added' }],
          ['gamma', { path: 'reload', change: 'added' }],
        ]),
      },
      {
        reload: true,
        kind: 'service_added',
        reason: 'added: alpha, gamma; removed: beta; runtime update failed: zeta (backup flag changed for a (not changeable at runtime))',
        services: ['alpha', 'beta', 'gamma', 'zeta'],
      },
    ],
    [
      'removed outweighs reconfigured',
      { pending: pending([['a', { path: 'reload', change: 'reconfigured' }], ['b', { path: 'reload', change: 'removed' }]]) },
      { reload: true, kind: 'service_removed', reason: 'removed: b; reconfigured: a', services: ['a', 'b'] },
    ],
  ];
  test.each(cases)('%s', (_label, input, expected) => {
    expect(decideReload({ ...base, ...input })).toEqual(expected);
  });
});
