import { readFileSync } from 'node:fs';
import type { Config } from '../config/load';
import { parseServiceDefinition } from '../model/service';
import { WATCHER_SCHEMAS } from '../watchers';
import { zk } from '../zk/ops';
import { ZkSession } from '../zk/session';

/** `proxymgr service put|get|list|delete`: manage service blobs in the configured ZooKeeper. */
export async function serviceCommand(config: Config, action: 'put' | 'get' | 'list' | 'delete', name?: string, file?: string): Promise<number> {
  const sc = config.service_config;
  if (sc.type !== 'zookeeper') {
    process.stderr.write(`proxymgr service: needs service_config type zookeeper (${config.file} has ${sc.type}); with type file, edit the files in ${sc.path}\n`);
    return 2;
  }
  let blob: Buffer | undefined;
  if (action === 'put') {
    // Validate before anything is written: a bad blob never reaches the fleet.
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file!, 'utf8'));
    } catch (err) {
      process.stderr.write(`proxymgr service put: ${file}: ${(err as Error).message}\n`);
      return 1;
    }
    const parsed = parseServiceDefinition(name!, raw, WATCHER_SCHEMAS);
    if (!parsed.ok) {
      process.stderr.write(`proxymgr service put: service ${name} (${file}) is invalid:\n${parsed.errors.map((e) => `  - ${e}`).join('\n')}\n`);
      return 1;
    }
    blob = Buffer.from(JSON.stringify(raw));
  }
  const session = ZkSession.acquire(sc.servers);
  try {
    await session.connected();
    const c = session.client;
    const path = name === undefined ? sc.path : `${sc.path}/${name}`;
    switch (action) {
      case 'put':
        await zk.put(c, path, blob!);
        process.stdout.write(`service ${name} written to ${path}\n`);
        return 0;
      case 'get': {
        const data = await zk.getData(c, path);
        if (data === undefined) {
          process.stderr.write(`proxymgr service get: no service ${name} at ${path}\n`);
          return 1;
        }
        process.stdout.write(`${data.toString('utf8')}\n`);
        return 0;
      }
      case 'list':
        for (const child of (await zk.children(c, sc.path)).sort()) process.stdout.write(`${child}\n`);
        return 0;
      case 'delete':
        await zk.remove(c, path);
        process.stdout.write(`service ${name} deleted\n`);
        return 0;
    }
  } finally {
    session.release();
  }
}
