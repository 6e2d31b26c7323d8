import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { haproxyBinaries } from './haproxy-versions';

/** BENCH_QUICK=1 shrinks every size so that the whole suite runs in a few minutes. */
export const QUICK = process.env.BENCH_QUICK === '1';

/** Picks the quick or the full size; an environment variable overrides both. */
export function size(envName: string, full: number, quick: number): number {
  const v = process.env[envName];
  return v !== undefined ? Number(v) : QUICK ? quick : full;
}

export function pct(xs: readonly number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export interface Summary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  n: number;
}

export function summarize(xs: readonly number[]): Summary {
  return { p50: pct(xs, 50), p90: pct(xs, 90), p99: pct(xs, 99), max: xs.length ? Math.max(...xs) : NaN, n: xs.length };
}

/** Milliseconds with two decimals below 10, one below 1,000, none above. */
export function ms(x: number): string {
  if (!Number.isFinite(x)) return '–';
  return x < 10 ? x.toFixed(2) : x < 1000 ? x.toFixed(1) : x.toFixed(0);
}

/** `b / a` as "12.3x" (how many times `a` beats `b`). */
export function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || a <= 0) return '–';
  return `${(b / a).toFixed(1)}x`;
}

export function table(headers: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string {
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** CPU model and count, memory, Node and HAProxy versions. */
export function machine(): string {
  const found = haproxyBinaries().map((h) => `HAProxy ${h.version}`);
  const haproxy = found.length ? found.join(' and ') : 'haproxy not found';
  return `${cpus().length} x ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${haproxy}`;
}

/** Resident set size of a process in MB (Linux /proc). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU time (user + system) a process has used, in ms (Linux /proc). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // After "pid (comm) ", utime and stime are fields 12 and 13 (0-based), in clock ticks.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** A benchmark: a title and a function that measures and returns its Markdown section body. */
export interface Bench {
  title: string;
  run(): Promise<string>;
}

/** Runs one benchmark on its own (`node .tmp/bench/bench/NAME.js`), printing its section. */
export function runAlone(bench: Bench): void {
  bench.run().then(
    (body) => process.stdout.write(`## ${bench.title}\n\n${body}\n`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
