/**
 * The benchmark suite: every benchmark in turn, each section printed as it finishes,
 * then the whole written to bench/results.md (a full run) or .tmp/bench/results-quick.md
 * (BENCH_QUICK=1). BENCH_ONLY=propagation,fleet runs a subset.
 *
 *   npm run bench                 full sizes (tens of minutes)
 *   BENCH_QUICK=1 npm run bench   every size shrunk (a few minutes)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dashboard } from './dashboard';
import { etcdPropagation } from './etcd';
import { fleet } from './fleet';
import { machine, QUICK, type Bench } from './lib/report';
import { poolCache } from './pool-cache';
import { propagation } from './propagation';
import { reloadSafety } from './reload-safety';
import { scale } from './scale';
import { soak } from './soak';
import { zookeeper } from './zookeeper';

const ALL: Record<string, Bench> = { propagation, zookeeper, etcd: etcdPropagation, 'reload-safety': reloadSafety, scale, fleet, soak, dashboard, 'pool-cache': poolCache };

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
  const unknown = only?.filter((n) => !ALL[n]) ?? [];
  if (unknown.length) throw new Error(`unknown benchmark(s) ${unknown.join(', ')}; known: ${Object.keys(ALL).join(', ')}`);
  const chosen = Object.entries(ALL).filter(([name]) => !only || only.includes(name));
  const started = new Date();
  const head = [
    '# Benchmark results',
    '',
    `${QUICK ? 'Quick' : 'Full'} run of \`${QUICK ? 'BENCH_QUICK=1 ' : ''}npm run bench\` on ${started.toISOString().slice(0, 10)}.`,
    `Machine: ${machine()}.`,
    'Absolute times on these machines are noisy; compare the columns of one run (ratios), not runs with each other.',
    '',
  ].join('\n');
  process.stdout.write(`${head}\n`);
  const sections: string[] = [];
  for (const [name, bench] of chosen) {
    const t0 = performance.now();
    const body = await bench.run();
    const section = `## ${bench.title}\n\n${body}\n\n_${name}: ${((performance.now() - t0) / 1000).toFixed(0)} s_\n`;
    process.stdout.write(`${section}\n`);
    sections.push(section);
  }
  const out = QUICK || only ? join(__dirname, '..', 'results-quick.md') : join(__dirname, '..', '..', '..', 'bench', 'results.md');
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${head}\n${sections.join('\n')}`);
  process.stdout.write(`written to ${out}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
