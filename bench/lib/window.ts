import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { cpuMs } from './report';

/** Busy CPU time of the whole machine so far, and the time the hypervisor took (steal), in ms (/proc/stat, all CPUs; USER_HZ = 100). */
export function machineCpuMs(): { busy: number; steal: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...: busy = what this VM ran, all but idle, iowait and steal.
  return { busy: (f[0] + f[1] + f[2] + f[5] + f[6]) * 10, steal: f[7] * 10 };
}

/** `p`, or an error naming `what` after `timeoutMs` (a lost watch or session fails the bench rather than hanging it). */
export function within<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing after ${timeoutMs} ms`)), timeoutMs)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** This process's CPU time so far, in ms. */
export const ownCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** A process's CPU time in ms, 0 once it has exited (or when `pid` is NaN). */
export function safeCpu(pid: number): number {
  if (!Number.isFinite(pid)) return 0;
  try {
    return cpuMs(pid);
  } catch {
    return 0;
  }
}

/**
 * A measurement window: its wall time and the CPU that processes other than ours (the bench,
 * and the pids given: a server, the agents, HAProxy) used meanwhile, in cores of the machine.
 */
export function windowOf(pids: () => number[]) {
  const sum = () => pids().reduce((a, p) => a + safeCpu(p), 0) + ownCpuMs();
  const t0 = performance.now();
  const cpu0 = machineCpuMs();
  const ours0 = sum();
  const load0 = loadavg()[0];
  return () => {
    const wall = performance.now() - t0;
    const cpu = machineCpuMs();
    const others = cpu.busy - cpu0.busy - (sum() - ours0);
    return { wall, othersCores: Math.max(0, others) / wall, stealCores: (cpu.steal - cpu0.steal) / wall, load: [load0, loadavg()[0]] };
  };
}
export type Window = ReturnType<ReturnType<typeof windowOf>>;

/** One window as a phrase: "NAME 6.3 s, others 0.02 cores, steal 0.00 (load 2.9 -> 2.6)". */
export function disturbance(name: string, w: Window): string {
  return `${name} ${(w.wall / 1000).toFixed(1)} s, others ${w.othersCores.toFixed(2)} cores, steal ${w.stealCores.toFixed(2)} (load ${w.load[0].toFixed(1)} -> ${w.load[1].toFixed(1)})`;
}
