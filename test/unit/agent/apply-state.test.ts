import { ApplyState } from '../../../src/agent/apply-state';
import type { DesiredService } from '../../../src/model/desired';

const svc = (name: string, servers: number[], port = 80): DesiredService => ({
  name,
  listen: { port, listenOptions: [], serverOptions: [] },
  servers: servers.map((n) => ({ address: `10.0.0.${n}`, port: 80 })),
});

function setup(runtimeEnabled = true) {
  const desired = new Map<string, DesiredService>();
  const state = new ApplyState((n) => desired.get(n), () => runtimeEnabled);
  const running = [svc('a', [1]), svc('b', [1])];
  for (const s of running) desired.set(s.name, s);
  state.reloaded(running, 'cfg', 'settings');
  return { desired, state };
}

describe('ApplyState', () => {
  test('a server change waits for the runtime path; once applied, nothing is left', () => {
    const { desired, state } = setup();
    desired.set('a', svc('a', [1, 2]));
    state.classify(['a']);
    expect(state.decision(true, 'settings')).toEqual({ reload: false });
    expect(state.hasRuntimeWork()).toBe(true);
    const batch = state.takeRuntime();
    expect(batch.map((s) => s.name)).toEqual(['a']);
    expect(state.hasRuntimeWork()).toBe(false);
    state.applied(batch);
    expect(state.running.get('a')!.servers).toBe(desired.get('a')!.servers);
    expect(state.hasRuntimeWork()).toBe(false);
    // The running map keeps name order (the config file is written in that order).
    expect([...state.running.keys()]).toEqual(['a', 'b']);
  });

  test('a change that arrives while a batch is out is sorted again after it', () => {
    const { desired, state } = setup();
    desired.set('a', svc('a', [1, 2]));
    state.classify(['a']);
    const batch = state.takeRuntime();
    desired.set('a', svc('a', [1, 2, 3]));
    state.classify(['a']);
    state.applied(batch);
    expect(state.takeRuntime().map((s) => s.servers.length)).toEqual([3]);
  });

  test('a new service, a new port and a refused runtime change wait for a reload, with why', () => {
    const { desired, state } = setup();
    desired.set('c', svc('c', [1]));
    desired.set('b', svc('b', [1], 81));
    state.classify(['c', 'b']);
    state.refuse('a', 'runtime API refused: add server: no');
    expect(state.decision(true, 'settings')).toEqual({
      reload: true,
      kind: 'service_added',
      reason: 'added: c; reconfigured: b; runtime update failed: a (runtime API refused: add server: no)',
      services: ['a', 'b', 'c'],
    });
    expect(state.hasRuntimeWork()).toBe(false);
    state.reloaded([desired.get('a')!, desired.get('b')!, desired.get('c')!], 'cfg2', 'settings');
    expect(state.decision(true, 'settings')).toEqual({ reload: false });
  });

  test('settings that differ from the last reload, and HAProxy down, need a reload', () => {
    const { state } = setup();
    expect(state.decision(true, 'other')).toMatchObject({ reload: true, kind: 'settings' });
    expect(state.decision(false, 'settings')).toMatchObject({ reload: true, kind: 'haproxy_down' });
  });

  test('with the runtime path off, a server change is a reload', () => {
    const { desired, state } = setup(false);
    desired.set('a', svc('a', [2]));
    state.classify(['a']);
    expect(state.decision(true, 'settings')).toMatchObject({ reload: true, kind: 'servers', reason: 'servers: a' });
  });

  test('eligible: running services not waiting for a reload', () => {
    const { desired, state } = setup();
    desired.set('b', svc('b', [1], 81));
    desired.set('c', svc('c', [1]));
    state.classify(['b', 'c']);
    expect(state.eligible([...desired.values()]).map((s) => s.name)).toEqual(['a']);
  });

  test('settled: what was applied, without services waiting for either path (drift compares only against it)', () => {
    const { desired, state } = setup();
    desired.set('a', svc('a', [1, 2]));
    desired.set('b', svc('b', [1], 81));
    state.classify(['a', 'b']);
    expect(state.settled()).toEqual([]);
    const batch = state.takeRuntime();
    expect(state.settled().map((s) => s.name)).toEqual(['a']);
    expect(state.settled()[0].servers).toHaveLength(1);
    state.applied(batch);
    expect(state.settled()[0].servers).toHaveLength(2);
  });
});
