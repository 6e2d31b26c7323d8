/**
 * Soak: a long churn with drift repair running often, to catch what short runs miss —
 * false drift repairs (a repair logged where nobody touched HAProxy) and memory that
 * grows with time. Nobody changes HAProxy by hand here, so every `drift_repaired` line
 * is false. Memory: the agent's RSS sampled every 10 s; the slope is a least-squares
 * fit over the second half (after warm-up), beside the RSS at the start of that half.
 *
 *   node .tmp/bench/bench/soak.js       BENCH_SOAK_S=600 (quick: 60), BENCH_SOAK_RATE=50 events/s,
 *                                       BENCH_SOAK_SERVICES=200, drift every 1 s
 */
import { AgentFixture } from '../test/support/agent';
import { freePorts } from '../test/support/net';
import { cpuMs, machine, ms, rssMb, runAlone, size, table, type Bench } from './lib/report';

const SECONDS = size('BENCH_SOAK_S', 600, 60);
const RATE = size('BENCH_SOAK_RATE', 50, 50);
const SERVICES = size('BENCH_SOAK_SERVICES', 200, 200);
const SERVERS = 20;
const SAMPLE_MS = 10_000;

const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
const name = (i: number) => `soak${String(i).padStart(4, '0')}`;

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const num = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return den ? num / den : NaN;
}

async function run(): Promise<string> {
  const ports = await freePorts(SERVICES);
  // Servers need not exist (no health checks): each service draws from 40 addresses.
  const servers = (i: number, gen: number) => Array.from({ length: SERVERS }, (_, j) => `10.${(i >> 8) & 255}.${i & 255}.${((j + gen) % (2 * SERVERS)) + 1}:8080`);
  const gens = new Array<number>(SERVICES).fill(0);
  const services: Record<string, unknown> = {};
  for (let i = 0; i < SERVICES; i++) services[name(i)] = { type: 'static', port: ports[i], servers: servers(i, 0) };
  const agent = new AgentFixture({ services, logLevel: 'info', runtime: { drift_interval_ms: 1000 }, defaults: ['mode tcp', 'timeout connect 1s', 'timeout client 10s', 'timeout server 10s'] });
  try {
    await agent.start();
    const pid = agent.proc!.pid!;
    const from = agent.mark();
    const samples: Array<[number, number]> = [];
    const t0 = performance.now();
    const cpu0 = cpuMs(pid);
    let events = 0;
    let nextSample = 0;
    let seed = 7;
    const rand = (k: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed % k;
    };
    while (performance.now() - t0 < SECONDS * 1000) {
      const due = t0 + (events * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const i = rand(SERVICES);
      gens[i]++;
      agent.writeService(name(i), { type: 'static', port: ports[i], servers: servers(i, gens[i]) });
      events++;
      if (performance.now() - t0 >= nextSample) {
        samples.push([(performance.now() - t0) / 60_000, rssMb(pid)]);
        nextSample += SAMPLE_MS;
      }
    }
    await sleep(2000);
    samples.push([(performance.now() - t0) / 60_000, rssMb(pid)]);
    const cpu = cpuMs(pid) - cpu0;
    const secondHalf = samples.filter(([m]) => m >= SECONDS / 120);
    const falseRepairs = agent.events('drift_repaired', from).length;
    const reloads = agent.events('reload', from).length;
    const plans = agent.events('plan', from).length;
    const driftPasses = Math.floor(SECONDS);
    const rssHalf = secondHalf[0]?.[1] ?? NaN;
    const perMin = slope(secondHalf);
    return [
      `Machine: ${machine()}. ${SERVICES} static services x ${SERVERS} servers; ${events} service-file rewrites (one server replaced each) at ${RATE}/s for ${SECONDS} s; drift repair every 1 s (about ${driftPasses} passes over every service); nobody touches HAProxy by hand, so every drift repair is a false one.`,
      '',
      table(
        ['events', 'plans', 'reloads', 'false drift repairs', 'agent CPU per event (ms)', 'RSS at mid-run (MB)', 'RSS slope, second half (MB/min)', 'slope / mid-run RSS per min', 'RSS at end (MB)'],
        [[events, plans, reloads, falseRepairs, ms(cpu / events), rssHalf.toFixed(0), perMin.toFixed(2), `${((perMin / rssHalf) * 100).toFixed(2)} %`, samples[samples.length - 1][1].toFixed(0)]],
      ),
      '',
      `RSS samples (minute, MB): ${samples.map(([m, r]) => `${m.toFixed(1)}:${r.toFixed(0)}`).join(' ')}`,
    ].join('\n');
  } finally {
    await agent.cleanup();
  }
}

export const soak: Bench = { title: 'Soak: false drift repairs and memory over a long churn (`bench/soak.ts`)', run };

if (require.main === module) runAlone(soak);
