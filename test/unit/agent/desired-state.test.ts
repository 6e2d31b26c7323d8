import { DesiredState, type DesiredInputs } from '../../../src/agent/desired-state';
import type { ServiceEntry } from '../../../src/agent/service-table';
import { assignPorts, type DesiredService } from '../../../src/model/desired';
import { listenSpecOf, type ServiceDefinition } from '../../../src/model/service';
import type { Server } from '../../../src/model/server';
import { silentLogger } from '../../../src/log';

// The pure-ish core of "what should run": a fake service table (plain entries) is enough.

function def(name: string, port: number, extra: Partial<ServiceDefinition> = {}): ServiceDefinition {
  return { name, port, listenOptions: [], serverOptions: [], allowEmpty: false, watcher: { type: 'static', options: {} }, ...extra } as ServiceDefinition;
}

class World implements DesiredInputs {
  entries = new Map<string, ServiceEntry>();
  runningMap = new Map<string, DesiredService>();
  resolveCalls = 0;
  entry(name: string) {
    return this.entries.get(name);
  }
  resolve(servers: readonly Server[]) {
    this.resolveCalls++;
    return servers;
  }
  running(name: string) {
    return this.runningMap.get(name);
  }
  put(name: string, port: number, servers: Server[] = [{ address: '10.0.0.1', port: 80 }], extra: Partial<ServiceDefinition> = {}) {
    this.entries.set(name, { name, origin: `o/${name}`, baseDir: '.', def: def(name, port, extra), errors: [], servers, serversReported: true });
  }
}

/** The same answer computed from scratch, the way the agent did it before it was incremental. */
function fromScratch(w: World): { services: string[]; conflicts: string[] } {
  const candidates = [...w.entries.values()].filter((e) => e.def).map((e) => ({ name: e.name, listen: listenSpecOf(e.def!), servers: e.servers }));
  const runningPorts = new Map([...w.runningMap].map(([n, s]) => [n, s.listen.port]));
  const r = assignPorts(candidates, runningPorts);
  return { services: r.services.map((s) => `${s.name}:${s.listen.port}`), conflicts: r.conflicts.map((c) => `${c.name}<${c.holder}`).sort() };
}

function view(d: DesiredState, w: World) {
  const conflicts = [...w.entries.keys()]
    .filter((n) => d.problemsOf(n).some((p) => p.includes('already used by service')))
    .map((n) => `${n}<${/service (\S+)/.exec(d.problemsOf(n)[0])![1]}`)
    .sort();
  return { services: d.all().map((s) => `${s.name}:${s.listen.port}`), conflicts };
}

describe('DesiredState', () => {
  test('refresh recomputes only dirty services; unchanged entries keep their identity', () => {
    const w = new World();
    for (let i = 0; i < 100; i++) w.put(`s${String(i).padStart(3, '0')}`, 10000 + i);
    const d = new DesiredState(w, silentLogger());
    d.markAll(w.entries.keys());
    expect(d.refresh()).toHaveLength(100);
    const before = d.all();
    w.resolveCalls = 0;

    w.put('s042', 10042, [{ address: '10.0.0.9', port: 80 }]);
    d.markDirty('s042');
    expect(d.refresh()).toEqual(['s042']);
    expect(w.resolveCalls).toBe(1);
    const after = d.all();
    expect(after.filter((s, i) => s !== before[i]).map((s) => s.name)).toEqual(['s042']);
    expect(d.get('s042')!.servers).toEqual([{ address: '10.0.0.9', port: 80 }]);
    expect(d.refresh()).toEqual([]);
  });

  test('balance first keeps the declared server order; other services run in name order, and an unchanged list stays unchanged', () => {
    const w = new World();
    const declared = [
      { address: '10.0.0.3', port: 80 },
      { address: '10.0.0.1', port: 80 },
      { address: '10.0.0.2', port: 80 },
    ];
    w.put('first', 80, declared, { listenOptions: ['balance first'] });
    w.put('rr', 81, declared);
    const d = new DesiredState(w, silentLogger());
    d.markAll(w.entries.keys());
    d.refresh();
    expect(d.get('first')!.servers).toBe(declared);
    expect(d.get('first')!.listen.declaredOrder).toBe(true);
    expect(d.get('rr')!.servers.map((s) => s.address)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    const rr = d.get('rr');
    d.markDirty('rr');
    expect(d.refresh()).toEqual([]);
    expect(d.get('rr')).toBe(rr);
  });

  test('a marked service that did not change is not reported', () => {
    const w = new World();
    w.put('web', 80);
    const d = new DesiredState(w, silentLogger());
    d.markDirty('web');
    expect(d.refresh()).toEqual(['web']);
    d.markDirty('web');
    expect(d.refresh()).toEqual([]);
  });

  test('a port conflict is resolved when the holder leaves, and the loser is reported changed', () => {
    const w = new World();
    w.put('a', 80);
    w.put('b', 80);
    const d = new DesiredState(w, silentLogger());
    d.markAll(w.entries.keys());
    d.refresh();
    expect(d.all().map((s) => s.name)).toEqual(['a']);
    expect(d.problemsOf('b')).toEqual(['port 80 is already used by service a (to share a port, both need mode: http)']);
    w.entries.delete('a');
    d.markDirty('a');
    expect(d.refresh().sort()).toEqual(['a', 'b']);
    expect(d.all().map((s) => s.name)).toEqual(['b']);
    expect(d.problemsOf('b')).toEqual([]);
  });

  test('a running service keeps its port against a newcomer that sorts first', () => {
    const w = new World();
    w.put('zeta', 80);
    const d = new DesiredState(w, silentLogger());
    d.markDirty('zeta');
    d.refresh();
    w.runningMap.set('zeta', d.get('zeta')!);
    w.put('alpha', 80);
    d.markDirty('alpha');
    d.refresh();
    expect(d.all().map((s) => s.name)).toEqual(['zeta']);
    expect(d.problemsOf('alpha')[0]).toMatch(/already used by service zeta/);
  });

  test('random edits: the incremental answer always equals the one computed from scratch', () => {
    const w = new World();
    const d = new DesiredState(w, silentLogger());
    let seed = 7;
    const rand = (k: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed % k;
    };
    for (let step = 0; step < 2000; step++) {
      const name = `s${rand(30)}`;
      const op = rand(10);
      if (op < 6) w.put(name, 80 + rand(8), [{ address: `10.0.0.${rand(5) + 1}`, port: 80 }]);
      else if (op < 8) w.entries.delete(name);
      else if (op < 9 && d.get(name)) w.runningMap.set(name, d.get(name)!);
      else w.runningMap.delete(name);
      d.markDirty(name);
      if (op >= 8) d.markAll(w.entries.keys()); // what runs changed: as after a reload
      if (rand(3) === 0) {
        d.refresh();
        expect(view(d, w)).toEqual(fromScratch(w));
      }
    }
  });

  test('a rejected listen section falls back to the running one until the blob changes', () => {
    const w = new World();
    w.put('web', 80);
    const d = new DesiredState(w, silentLogger());
    d.markDirty('web');
    d.refresh();
    const good = d.get('web')!;
    w.runningMap.set('web', good);
    w.put('web', 80, undefined, { listenOptions: ['bogus'] });
    d.markDirty('web');
    d.refresh();
    expect(d.get('web')!.listen.listenOptions).toEqual(['bogus']);
    d.reject('web', d.get('web')!.listen, 'unknown keyword');
    d.refresh();
    expect(d.get('web')!.listen).toBe(good.listen);
    expect(d.problemsOf('web')).toEqual(['HAProxy rejected the definition: unknown keyword']);
    w.put('web', 80, undefined, { listenOptions: ['balance leastconn'] });
    d.markDirty('web');
    d.refresh();
    expect(d.get('web')!.listen.listenOptions).toEqual(['balance leastconn']);
    expect(d.problemsOf('web')).toEqual([]);
  });

  test('a rejected new service is left out', () => {
    const w = new World();
    w.put('new', 80);
    const d = new DesiredState(w, silentLogger());
    d.markDirty('new');
    d.refresh();
    d.reject('new', d.get('new')!.listen, 'bad');
    expect(d.refresh()).toEqual(['new']);
    expect(d.get('new')).toBeUndefined();
  });

  test('overrides: set, merged, cleared by ready, unknown server refused', () => {
    const w = new World();
    w.put('web', 80, [
      { address: '10.0.0.1', port: 80 },
      { address: '10.0.0.2', port: 80 },
    ]);
    const d = new DesiredState(w, silentLogger());
    d.markDirty('web');
    d.refresh();
    expect(d.setOverride('web', '10.0.0.9:80', { state: 'maint' })).toEqual({ ok: false });
    expect(d.setOverride('web', '10.0.0.1:80', { state: 'maint' })).toEqual({ ok: true, merged: { state: 'maint' } });
    expect(d.refresh()).toEqual(['web']);
    expect(d.get('web')!.servers[0]).toEqual({ address: '10.0.0.1', port: 80, admin: 'maint' });
    expect(d.setOverride('web', '10.0.0.1:80', { weight: 7 })).toEqual({ ok: true, merged: { state: 'maint', weight: 7 } });
    d.refresh();
    expect(d.get('web')!.servers[0]).toEqual({ address: '10.0.0.1', port: 80, admin: 'maint', weight: 7 });
    expect(d.setOverride('web', '10.0.0.1:80', { state: 'ready' })).toEqual({ ok: true, merged: { weight: 7 } });
    expect(d.setOverride('web', '10.0.0.1:80', undefined)).toEqual({ ok: true, merged: undefined });
    d.refresh();
    expect(d.get('web')!.servers[0]).toEqual({ address: '10.0.0.1', port: 80 });
    expect(d.overrideOf('web', '10.0.0.1:80')).toBeUndefined();
  });
});
