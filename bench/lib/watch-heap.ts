/**
 * The heap one watched service costs in the watcher's own cache, without the rest of an agent:
 * a child process (node --expose-gc) opens one shared client, starts a cache on the first
 * service (so that the library's one-time costs fall in the baseline), collects garbage,
 * reads heapUsed, then starts caches on all the others, waits until each has its servers,
 * collects again and reads again. An agent's heap readings move by megabytes with garbage
 * collection; this one collects before each reading, so the difference per service shows.
 *
 *   node --expose-gc watch-heap.js etcd http://127.0.0.1:2379 /bench/scale 100 20
 *   node --expose-gc watch-heap.js zookeeper 127.0.0.1:2181 /bench/scale 100 20
 * prints {"before": MB, "after": MB, "caches": N}
 */
import { execFile } from 'node:child_process';
import { EtcdClient } from '../../src/etcd/client';
import { PrefixCache } from '../../src/etcd/prefix-cache';
import { ChildrenCache } from '../../src/zk/children-cache';
import { ZkSession } from '../../src/zk/session';

/** The name of scale service `i`, shared with the bench that writes them. */
export const serviceName = (i: number): string => `svc${String(i).padStart(3, '0')}`;

export interface WatchHeap {
  before: number;
  after: number;
  caches: number;
}

/** Runs this file in a child process and returns what it measured. */
export function watchHeap(kind: 'etcd' | 'zookeeper', where: string, root: string, services: number, servers: number): Promise<WatchHeap> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', __filename, kind, where, root, String(services), String(servers)], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`watch-heap ${kind}: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as WatchHeap);
    });
  });
}

const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

async function heapMb(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(100);
  }
  return process.memoryUsage().heapUsed / 2 ** 20;
}

async function main(kind: string, where: string, root: string, services: number, servers: number): Promise<WatchHeap> {
  const full = new Set<number>();
  const handler = (i: number) => ({
    onChange: (entries: ReadonlyMap<string, Buffer>) => void (entries.size === servers && full.add(i)),
    onError: () => undefined,
  });
  let start: (i: number) => { stop(): void };
  let close: () => void;
  if (kind === 'etcd') {
    const client = EtcdClient.acquire({ endpoints: [where] });
    start = (i) => {
      const c = new PrefixCache(client, `${root}/${serviceName(i)}`, handler(i));
      c.start();
      return c;
    };
    close = () => client.release();
  } else {
    const session = ZkSession.forTarget({ servers: where });
    session.setMaxListeners(0); // every cache listens to the session; the agent has as many
    await session.connected();
    start = (i) => {
      const c = new ChildrenCache(session, `${root}/${serviceName(i)}`, handler(i));
      c.start();
      return c;
    };
    close = () => session.release();
  }
  const caches = [start(0)];
  while (!full.has(0)) await sleep(20);
  const before = await heapMb();
  for (let i = 1; i < services; i++) caches.push(start(i));
  const t0 = Date.now();
  while (full.size < services) {
    if (Date.now() - t0 > 60_000) throw new Error(`only ${full.size} of ${services} caches filled after 60 s`);
    await sleep(50);
  }
  await sleep(500);
  const after = await heapMb();
  for (const c of caches) c.stop();
  close();
  return { before, after, caches: services - 1 };
}

if (require.main === module) {
  const [kind, where, root, services, servers] = process.argv.slice(2);
  main(kind, where, root, Number(services), Number(servers)).then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
