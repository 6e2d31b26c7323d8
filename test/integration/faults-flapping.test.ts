import { readFileSync } from 'node:fs';
import { AgentFixture } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { startLoad, type LoadResult } from '../support/load';
import { freePort, get, waitUntil } from '../support/net';
import { RuntimeClient } from '../../src/haproxy/runtime-client';

const FLAP_MS = Number(process.env.FLAP_MS ?? 10_000);
/** Writes per second: each write adds or removes the flapping server. */
const FLAP_RATE = 100;
const CLK_TCK = 100; // getconf CLK_TCK on Linux (fixed at 100 for /proc on every common architecture)

/** Seconds of CPU (user + system) a process has used, from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Issue 9: a source flapping fast (the same server added and removed 100 times a second).
describe('a flapping source', () => {
  let backends: Backends;
  let agent: AgentFixture;
  let stopBackground: (() => Promise<unknown>) | undefined;

  beforeEach(async () => {
    backends = await startBackends(3);
  });
  afterEach(async () => {
    await stopBackground?.();
    await agent.cleanup();
    await backends.close();
  });

  test(`one server added and removed ${FLAP_RATE} times a second for ${FLAP_MS / 1000} s under load: bounded CPU, no reload, stable servers never lost, converges after`, async () => {
    const [b1, b2, flapper] = backends.ports;
    const port = await freePort();
    const web = (ports: number[]) => ({ type: 'static', port, servers: ports.map((p) => `127.0.0.1:${p}`) });
    // The product's log level: every plan is still one info line.
    agent = new AgentFixture({ services: { web: web([b1, b2]) }, logLevel: 'info' });
    await agent.start();
    const agentPid = agent.proc!.pid!;
    const haproxyPid = await agent.haproxyPid();
    const client = new RuntimeClient(agent.socketPath);
    const from = agent.mark();

    const load = startLoad(port, 4, FLAP_MS + 20_000);
    // Which backends answer, per second of the run (a sampler besides the load).
    const answered: Array<Set<string>> = [];
    let sampleFailures = 0;
    // Whether HAProxy ever lacks a stable server (absent, or in maint), polled over the socket.
    let lostPolls = 0;
    let polls = 0;
    let running = true;
    const t0 = Date.now();
    const sampler = (async () => {
      while (running) {
        const second = Math.floor((Date.now() - t0) / 1000);
        try {
          (answered[second] ??= new Set()).add((await get(port)).trim());
        } catch {
          sampleFailures++;
        }
      }
    })();
    const poller = (async () => {
      while (running) {
        const st = await client.showServersState('web').catch(() => undefined);
        if (st) {
          polls++;
          const ready = st.filter((s) => !s.maint && !s.drain).map((s) => s.port);
          if (!ready.includes(b1) || !ready.includes(b2)) lostPolls++;
        }
        await sleep(20);
      }
    })();
    stopBackground = async () => {
      running = false;
      await Promise.all([sampler, poller]);
      return load.stop();
    };

    const cpu0 = cpuSeconds(agentPid);
    const wall0 = performance.now();
    const writes = Math.round((FLAP_MS / 1000) * FLAP_RATE);
    let late = 0;
    for (let i = 1; i <= writes; i++) {
      agent.writeService('web', web(i % 2 === 1 ? [b1, b2, flapper] : [b1, b2]));
      const wait = wall0 + (i * 1000) / FLAP_RATE - performance.now();
      if (wait > 0) await sleep(wait);
      else late++;
    }
    const flapWallMs = performance.now() - wall0;
    const cpuFlap = cpuSeconds(agentPid) - cpu0;

    // The last write left the flapper out; settle on a final state with it in.
    const t1 = Date.now();
    agent.writeService('web', web([b1, b2, flapper]));
    const want = [b1, b2, flapper].sort().join();
    await waitUntil(
      'HAProxy to hold the final servers, all ready',
      // Ready, not only present: the last flap left the flapper draining, which is not maint either.
      async () => (await client.showServersState('web')).filter((s) => !s.maint && !s.drain).map((s) => s.port).sort().join() === want,
      5000,
      5,
    );
    const convergeMs = Date.now() - t1;
    await waitUntil('the config file to hold the final servers', () => readFileSync(agent.configPath, 'utf8').includes(`127.0.0.1:${flapper}`), 3000);
    // Then a quiet second: nothing more must happen on its own. HAProxy answers before the pass that
    // set it up has logged its line (seen: the final plan line read after this point), so the second
    // starts once no plan line has come for 300 ms.
    let plansSeen = -1;
    let quietSince = Date.now();
    await waitUntil('no plan line for 300 ms', () => {
      const n = agent.events('plan', from).length;
      if (n !== plansSeen) [plansSeen, quietSince] = [n, Date.now()];
      return Date.now() - quietSince >= 300;
    }, 3000, 20);
    const settled = agent.mark();
    const cpu1 = cpuSeconds(agentPid);
    await sleep(1000);
    const cpuIdle = cpuSeconds(agentPid) - cpu1;
    const stray = await client.showServersState('web');

    const result = (await stopBackground()) as LoadResult;
    stopBackground = undefined;
    const plans = agent.events('plan', from);
    const reloads = agent.events('reload', from).length;
    const flapSeconds = flapWallMs / 1000;
    const seconds = answered.slice(0, Math.floor(flapSeconds));
    const secondsMissingStable = seconds.filter((s) => !s?.has(backends.id(b1)) || !s?.has(backends.id(b2))).length;
    const secondsWithFlapper = seconds.filter((s) => s?.has(backends.id(flapper))).length;
    console.log(
      `flapping ${writes} writes in ${flapSeconds.toFixed(1)} s (${late} late): agent CPU ${cpuFlap.toFixed(2)} s = ${((100 * cpuFlap) / flapSeconds).toFixed(1)}% of a core ` +
        `(${cpuIdle.toFixed(2)} s in the quiet second after); plans ${plans.length}, runtime commands ${plans.reduce((n, p) => n + Number(p.runtime_cmds ?? 0), 0)}; reloads ${reloads}; ` +
        `HAProxy pid unchanged ${(await agent.haproxyPid()) === haproxyPid}; requests ok ${result.ok}, failed ${result.failed} ${JSON.stringify(result.errors)}; ` +
        `sampler failures ${sampleFailures}; polls with a stable server missing ${lostPolls}/${polls}; seconds without both stable servers answering ${secondsMissingStable}/${seconds.length}; ` +
        `seconds where the flapper answered ${secondsWithFlapper}/${seconds.length}; converged ${convergeMs} ms after the last write`,
    );

    expect(reloads).toBe(0);
    expect(await agent.haproxyPid()).toBe(haproxyPid);
    expect(agent.haproxyPids()).toEqual([haproxyPid]);
    expect(result.failed).toBe(0);
    expect(sampleFailures).toBe(0);
    expect(result.ok).toBeGreaterThan(1000);
    expect(lostPolls).toBe(0);
    expect(polls).toBeGreaterThan(50);
    expect(secondsMissingStable).toBe(0);
    // Generous: under one core on average while flapping, and nearly idle once it stops.
    expect(cpuFlap / flapSeconds).toBeLessThan(1);
    expect(cpuIdle).toBeLessThan(0.2);
    expect(convergeMs).toBeLessThan(2000);
    expect(stray.filter((s) => !s.maint && !s.drain).map((s) => s.port).sort().join()).toBe(want);
    expect(agent.events('plan', settled)).toHaveLength(0);
  }, FLAP_MS + 20_000);
});
