import { z } from 'zod';
import { serverEntry } from '../model/fields';
import { dedupServers, type Server } from '../model/server';
import type { WatcherType } from './watcher';

/**
 * `"servers": ["10.0.0.1:80", {"address": "10.0.0.2", "port": 80, "weight": 5}]`: a fixed list,
 * reported in its order (`balance first` follows it; other services sort it by name).
 */
export const staticWatcher: WatcherType = {
  options: { servers: z.array(serverEntry).max(10_000) },
  create(options, ctx) {
    const servers = dedupServers(options.servers as Server[]);
    let timer: NodeJS.Immediate | undefined;
    return {
      start() {
        timer = setImmediate(() => ctx.onUpdate(servers));
      },
      async stop() {
        if (timer) clearImmediate(timer);
      },
    };
  },
};
