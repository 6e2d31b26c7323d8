import { planRuntime, type DesiredServer } from '../../../src/plan/planner';
import type { ActualServer } from '../../../src/model/actual';

const actual = (name: string, o: Partial<ActualServer> = {}): ActualServer => ({
  backend: 'web', name, address: '10.0.0.1', port: 80, weight: 1, initialWeight: 1, maint: false, drain: false, opState: 2, adminState: 0, ...o,
});
const want = (o: Partial<DesiredServer> = {}): DesiredServer => ({ name: 's', address: '10.0.0.1', port: 80, weight: 1, ...o });
const plan = (d: DesiredServer, a?: ActualServer) =>
  planRuntime({ services: [{ name: 'web', serverOptions: [], servers: [d] }], actual: new Map([['web', a ? [a] : []]]), draining: new Map(), now: 0, drainMs: 0 }).commands.map((c) => c.command);

// Operator overrides from the HTTP API: a server held in maint or drain is not made ready again.
describe('planRuntime with operator overrides', () => {
  test.each<[string, DesiredServer, ActualServer | undefined, string[]]>([
    ['maint on a ready server', want({ admin: 'maint' }), actual('s'), ['set server web/s state maint']],
    ['maint already in place', want({ admin: 'maint' }), actual('s', { maint: true }), []],
    ['drain on a ready server', want({ admin: 'drain' }), actual('s'), ['set server web/s state drain']],
    ['drain on a server in maint', want({ admin: 'drain' }), actual('s', { maint: true }), ['set server web/s state drain']],
    ['drain already in place', want({ admin: 'drain' }), actual('s', { drain: true }), []],
    ['cleared: back to ready', want(), actual('s', { maint: true }), ['set server web/s state ready']],
    ['a new server held in maint', want({ admin: 'maint' }), undefined, ['add server web/s 10.0.0.1:80 weight 1', 'set server web/s state maint']],
  ])('%s', (_label, d, a, commands) => {
    expect(plan(d, a)).toEqual(commands);
  });
});
