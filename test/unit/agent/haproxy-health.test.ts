import { HaproxyHealth, type HaproxyHealthDeps } from '../../../src/agent/haproxy-health';
import { RepeatedWarning } from '../../../src/agent/log-limit';
import { RuntimeClient, RuntimeTimeout } from '../../../src/haproxy/runtime-client';

function fakeLog() {
  const lines: Array<{ level: string; fields: Record<string, unknown>; msg: string }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => lines.push({ level, fields, msg });
  const log = { warn: at('warn'), info: at('info'), error: at('error'), debug: at('debug'), child: () => log };
  return { log: log as unknown as HaproxyHealthDeps['log'], lines };
}

const flush = () => new Promise((r) => setImmediate(r));

function setup(over: Partial<HaproxyHealthDeps> = {}) {
  let t = 1_000_000;
  const { log, lines } = fakeLog();
  const state = { answer: true as boolean | 'timeout', exists: true, running: true };
  const replace = jest.fn(() => Promise.resolve({ ok: true }));
  const repairSocket = jest.fn(() => Promise.resolve({ ok: true }));
  let onEvent: (() => void) | undefined;
  const health = new HaproxyHealth({
    client: new RuntimeClient('/nonexistent/admin.sock', 1000),
    socketPath: '/nonexistent/admin.sock',
    log,
    shouldRun: () => state.running,
    replaceAfterMs: () => 10_000,
    replace,
    repairSocket,
    now: () => t,
    probe: () => (state.answer === true ? Promise.resolve() : Promise.reject(new RuntimeTimeout('runtime API timed out after 1000 ms'))),
    socketExists: () => state.exists,
    watch: (_p, ev) => {
      onEvent = ev;
      return () => (onEvent = undefined);
    },
    ...over,
  });
  return { health, state, replace, repairSocket, lines, advance: (ms: number) => (t += ms), event: () => onEvent?.() };
}

describe('HaproxyHealth', () => {
  test('a probe that times out makes HAProxy unresponsive (a named problem); an answer clears it', async () => {
    const h = setup();
    h.health.tick();
    await flush();
    expect(h.health.problems()).toEqual([]);
    h.state.answer = 'timeout';
    h.advance(1000);
    h.health.tick();
    await flush();
    expect(h.health.unresponsive).toBe(true);
    expect(h.health.problems()).toEqual([expect.stringMatching(/^HAProxy is unresponsive: runtime API timed out after 1000 ms \(since /)]);
    h.state.answer = true;
    h.advance(1000);
    h.health.tick();
    await flush();
    expect(h.health.unresponsive).toBe(false);
    expect(h.lines.filter((l) => l.level === 'warn').map((l) => l.fields.event)).toEqual(['haproxy_unresponsive']);
  });

  test('a runtime call timing out marks it at once, without waiting for the probe', () => {
    const client = new RuntimeClient('/nonexistent/admin.sock', 1000);
    const h = setup({ client });
    h.health.start();
    for (const l of client.timeoutListeners) l(new RuntimeTimeout('runtime API timed out after 5000 ms'));
    expect(h.health.unresponsive).toBe(true);
    h.health.stop();
    expect(client.timeoutListeners.size).toBe(0);
  });

  test('the replace hook is called once unresponsive for replaceAfterMs, and again only a full period later', async () => {
    const h = setup();
    h.state.answer = 'timeout';
    for (let i = 0; i < 10; i++) {
      h.health.tick();
      await flush();
      h.advance(1000);
    }
    // Unresponsive since the first tick; 9 s later: not yet.
    expect(h.replace).not.toHaveBeenCalled();
    h.health.tick();
    await flush();
    expect(h.replace).toHaveBeenCalledTimes(1);
    expect(h.replace.mock.calls[0]).toEqual([expect.stringMatching(/^HAProxy unresponsive for 10000 ms: runtime API timed out/)]);
    for (let i = 0; i < 9; i++) {
      h.advance(1000);
      h.health.tick();
      await flush();
    }
    expect(h.replace).toHaveBeenCalledTimes(1);
    h.advance(1000);
    h.health.tick();
    await flush();
    expect(h.replace).toHaveBeenCalledTimes(2);
  });

  test('no replacement when HAProxy answers again in time, or is not meant to run', async () => {
    const h = setup();
    h.state.answer = 'timeout';
    h.health.tick();
    await flush();
    h.advance(9000);
    h.state.answer = true;
    h.health.tick();
    await flush();
    h.advance(5000);
    h.health.tick();
    await flush();
    expect(h.replace).not.toHaveBeenCalled();
    h.state.answer = 'timeout';
    h.health.tick();
    await flush();
    h.state.running = false;
    h.advance(20_000);
    h.health.tick();
    await flush();
    expect(h.replace).not.toHaveBeenCalled();
    expect(h.health.problems()).toEqual([]);
  });

  test('a lost admin socket is a problem at once (on its watch event) and is repaired by a reload, at most every 5 s', async () => {
    const h = setup();
    h.health.tick();
    await flush();
    h.state.exists = false;
    h.event();
    expect(h.health.problems()).toEqual([expect.stringMatching(/^HAProxy admin socket \/nonexistent\/admin.sock is missing/)]);
    expect(h.repairSocket).toHaveBeenCalledTimes(1);
    await flush();
    h.advance(1000);
    h.health.tick();
    await flush();
    expect(h.repairSocket).toHaveBeenCalledTimes(1);
    h.advance(5000);
    h.health.tick();
    await flush();
    expect(h.repairSocket).toHaveBeenCalledTimes(2);
    h.state.exists = true;
    h.event();
    expect(h.health.problems()).toEqual([]);
    expect(h.lines.filter((l) => l.level === 'warn').length).toBe(1);
  });
});

describe('RepeatedWarning', () => {
  test('one line, then at most one a minute with the count of those not logged', () => {
    let t = 0;
    const { log, lines } = fakeLog();
    const w = new RepeatedWarning(log, 60_000, () => t);
    for (let i = 0; i < 130; i++) {
      w.warn({ event: 'runtime_unavailable' }, 'x');
      t += 1000;
    }
    expect(lines.map((l) => l.fields)).toEqual([{ event: 'runtime_unavailable' }, { event: 'runtime_unavailable', repeated: 59 }, { event: 'runtime_unavailable', repeated: 59 }]);
    expect(w.clear()).toBe(9);
    w.warn({ event: 'runtime_unavailable' }, 'x');
    expect(lines.length).toBe(4);
  });
});
