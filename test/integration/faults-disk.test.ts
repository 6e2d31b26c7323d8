import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentFixture } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { startLoad } from '../support/load';
import { freePorts, isListening, sample, waitUntil } from '../support/net';
import { RuntimeClient } from '../../src/haproxy/runtime-client';

/*
 * Issue 9: the config directory read-only or full when the agent writes.
 *
 * How the faults are made (tests usually run as root, where chmod stops nothing):
 *  - as root with mount rights (this sandbox, most CI containers run privileged or not at all):
 *    a 1 MiB tmpfs is mounted on the fixture's run/ (config, admin socket, state file) before
 *    the agent starts. "read-only" is `mount -o remount,ro` (writes fail with EROFS);
 *    "full" is a filler file written until ENOSPC (every later write fails with ENOSPC,
 *    while creating an empty file still succeeds: the case that leaves debris behind).
 *  - as root without mount rights: "read-only" is `chattr +i` on run/ (EPERM on create and
 *    rename); "full" cannot be simulated and is skipped.
 *  - as another user: "read-only" is chmod 0555 on run/ (EACCES); "full" is skipped.
 * FAULTS_NO_MOUNT=1 forces the fallbacks (to test them on a machine that can mount).
 */
const IS_ROOT = process.getuid?.() === 0;

function tryRun(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const CAN_MOUNT = (() => {
  // FAULTS_NO_MOUNT=1 exercises the fallbacks on a machine that could mount.
  if (!IS_ROOT || process.env.FAULTS_NO_MOUNT === '1') return false;
  const probe = mkdtempSync(join(tmpdir(), 'pmgr-mount-probe-'));
  const ok = tryRun('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]);
  if (ok) tryRun('umount', [probe]);
  rmdirSync(probe);
  return ok;
})();

const CAN_CHATTR = (() => {
  if (!IS_ROOT || CAN_MOUNT) return false;
  const probe = mkdtempSync(join(tmpdir(), 'pmgr-chattr-probe-'));
  const ok = tryRun('chattr', ['+i', probe]);
  if (ok) tryRun('chattr', ['-i', probe]);
  rmdirSync(probe);
  return ok;
})();

type Fault = 'read-only' | 'full';

const METHOD: Record<Fault, string | undefined> = {
  'read-only': CAN_MOUNT ? 'tmpfs remounted read-only (EROFS)' : CAN_CHATTR ? 'chattr +i on the directory (EPERM)' : !IS_ROOT ? 'chmod 0555 on the directory (EACCES)' : undefined,
  full: CAN_MOUNT ? '1 MiB tmpfs filled to ENOSPC' : undefined,
};

/** Makes `dir` unwritable in the chosen way; returns the undo. */
function inflict(fault: Fault, dir: string): () => void {
  if (fault === 'full') {
    const filler = join(dir, 'filler');
    const fd = openSync(filler, 'w');
    const chunk = Buffer.alloc(4096, 0);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      closeSync(fd);
    }
    return () => unlinkSync(filler);
  }
  if (CAN_MOUNT) {
    execFileSync('mount', ['-o', 'remount,ro', dir]);
    return () => execFileSync('mount', ['-o', 'remount,rw', dir]);
  }
  if (CAN_CHATTR) {
    execFileSync('chattr', ['+i', dir]);
    return () => execFileSync('chattr', ['-i', dir]);
  }
  chmodSync(dir, 0o555);
  return () => chmodSync(dir, 0o755);
}

interface StatusBody {
  good: boolean;
  errors: Array<{ service?: string; problem: string }>;
}

describe('config directory unwritable at write time', () => {
  let backends: Backends;
  let agent: AgentFixture;
  let mounted: string | undefined;
  let undo: (() => void) | undefined;
  /** Stops the load and the poller, also when a test fails half-way. */
  let stopBackground: (() => Promise<unknown>) | undefined;

  beforeEach(async () => {
    backends = await startBackends(4);
  });
  afterEach(async () => {
    await stopBackground?.();
    stopBackground = undefined;
    try {
      undo?.();
    } catch {
      /* already undone */
    }
    undo = undefined;
    // HAProxy holds the admin socket on the mount: stop everything before unmounting.
    await agent.stop().catch(() => undefined);
    for (const pid of agent.haproxyPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (mounted) tryRun('umount', ['-l', mounted]);
    mounted = undefined;
    await agent.cleanup();
    await backends.close();
  });

  for (const fault of ['read-only', 'full'] as const) {
    const method = METHOD[fault];
    (method ? test : test.skip)(
      `${fault} (${method ?? 'not possible here'}): the reload fails cleanly, old config intact, runtime changes still flow; restored, the next change converges`,
      async () => {
        const [b1, b2, b3, b4] = backends.ports;
        const [webPort, newPort, apiPort] = await freePorts(3);
        const web = (ports: number[]) => ({ type: 'static', port: webPort, servers: ports.map((p) => `127.0.0.1:${p}`) });
        agent = new AgentFixture({ services: { web: web([b1, b2]) }, extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"` });
        const runDir = join(agent.dir, 'run');
        if (CAN_MOUNT) {
          mkdirSync(runDir, { recursive: true });
          execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs', runDir]);
          mounted = runDir;
        }
        const status = async () => (await (await fetch(`http://127.0.0.1:${apiPort}/status`, { headers: { accept: 'application/json' } })).json()) as StatusBody;
        const client = new RuntimeClient(agent.socketPath);
        const inHAProxy = async () => (await client.showServersState('web')).filter((s) => !s.maint).map((s) => s.port);

        await agent.start();
        // The API listens once HAProxy has started: the `start` line can come first.
        await agent.waitLog((l) => l.event === 'api_listening');
        const pid = await agent.haproxyPid();
        expect(await sample(webPort, 4)).toEqual(new Set([backends.id(b1), backends.id(b2)]));
        expect((await status()).good).toBe(true);
        const before = readFileSync(agent.configPath);
        const load = startLoad(webPort, 4, 30_000);
        // The always-present servers must never leave HAProxy, whatever the disk does.
        let lost = 0;
        let polls = 0;
        let polling = true;
        const poller = (async () => {
          while (polling) {
            const ports = await inHAProxy().catch(() => undefined);
            if (ports) {
              polls++;
              lost = Math.max(lost, [b1, b2].filter((p) => !ports.includes(p)).length);
            }
            await new Promise((r) => setTimeout(r, 50));
          }
        })();
        stopBackground = async () => {
          polling = false;
          await poller;
          return load.stop();
        };

        undo = inflict(fault, runDir);
        const from = agent.mark();
        // A change that needs a reload: a new service.
        agent.writeService('extra', { type: 'static', port: newPort, servers: [`127.0.0.1:${b1}`] });
        const failed = await agent.waitLog((l) => l.event === 'apply_failed', 5000, from);
        // A runtime-only change: a server added to web. It needs the socket, not the disk.
        const t0 = Date.now();
        agent.writeService('web', web([b1, b2, b3]));
        await waitUntil('the added server to reach HAProxy over the socket', async () => (await inHAProxy()).includes(b3), 5000, 5);
        const runtimeMs = Date.now() - t0;
        // The config rewrite that follows a runtime change fails too (and is only a warning).
        const persist = await agent.waitLog((l) => l.event === 'persist_failed', 3000, from);
        expect((await sample(webPort, 12)).has(backends.id(b3))).toBe(true);
        // Stay in the fault a while under load: HAProxy must not notice anything.
        await new Promise((r) => setTimeout(r, 2000));

        const down = await status();
        expect(down.good).toBe(false);
        expect(down.errors.map((e) => e.problem).join('\n')).toMatch(fault === 'full' ? /ENOSPC/ : /EROFS|EPERM|EACCES/);
        expect(readFileSync(agent.configPath).equals(before)).toBe(true);
        expect(await agent.haproxyPid()).toBe(pid);
        expect(agent.haproxyPids()).toEqual([pid]);
        expect(agent.events('reload', from)).toHaveLength(0);
        expect(await isListening(newPort)).toBe(false);
        // Nothing half-written left behind to fill the disk further.
        expect(readdirSync(runDir).filter((f) => f.startsWith('.haproxy.cfg'))).toEqual([]);

        // Writable again: the next change (of any kind) brings the pending reload.
        undo();
        undo = undefined;
        const t1 = Date.now();
        const from2 = agent.mark();
        agent.writeService('web', web([b1, b2, b3, b4]));
        const reload = await agent.waitLog((l) => l.event === 'reload', 5000, from2);
        await waitUntil('the new service to answer', () => isListening(newPort), 5000, 10);
        await waitUntil('web to have all four servers', async () => (await inHAProxy()).sort().join() === [b1, b2, b3, b4].sort().join(), 5000, 10);
        const recoverMs = Date.now() - t1;
        await waitUntil('/status good again', async () => (await status()).good, 5000);
        const text = readFileSync(agent.configPath, 'utf8');
        for (const p of [b1, b2, b3, b4]) expect(text).toContain(`127.0.0.1:${p}`);
        expect(text).toContain(`:${newPort}`);
        expect(await sample(newPort, 2)).toEqual(new Set([backends.id(b1)]));

        await new Promise((r) => setTimeout(r, 500));
        const result = (await stopBackground()) as Awaited<ReturnType<typeof load.stop>>;
        stopBackground = undefined;
        console.log(
          `disk ${fault} via ${method}: apply_failed "${String(failed.error)}"; persist_failed "${String(persist.error)}"; ` +
            `runtime add reached HAProxy in ${runtimeMs} ms during the fault; recovered (reload, new port, all servers) ${recoverMs} ms after restore; ` +
            `reload reason "${String(reload.reason)}"; requests ok ${result.ok}, failed ${result.failed} ${JSON.stringify(result.errors)}; stable servers lost ${lost} (${polls} polls)`,
        );
        expect(result.failed).toBe(0);
        expect(result.ok).toBeGreaterThan(100);
        expect(lost).toBe(0);
        expect(recoverMs).toBeLessThan(5000);
      },
      30_000,
    );
  }
});
