/**
 * connLoad in a worker thread (bench/lib/conn-load.ts, connLoadInWorker): the load's sockets
 * and callbacks run on their own event loop, so the bench's main thread, which times the
 * events, is not kept waiting behind them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { connLoad } from './conn-load';

const { port, concurrency, maxMs, pauseMs } = workerData as { port: number; concurrency: number; maxMs: number; pauseMs: number };
const load = connLoad(port, concurrency, maxMs, pauseMs);
parentPort!.once('message', () => {
  void load.stop().then((result) => parentPort!.postMessage(result));
});
