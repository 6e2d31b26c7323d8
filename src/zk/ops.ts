import zookeeper, { type Client } from 'node-zookeeper-client';
import { withTimeout } from './session';

const OP_MS = 10_000;

function call<T>(what: string, fn: (cb: (err: unknown, res?: T) => void) => void): Promise<T> {
  return withTimeout(
    new Promise<T>((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res as T)))),
    OP_MS,
    `ZooKeeper: ${what} timed out`,
  );
}

export const isCode = (err: unknown, code: number) => (err as { getCode?: () => number })?.getCode?.() === code;

/** Promise wrappers, each bounded in time, for the commands that write to ZooKeeper. */
export const zk = {
  async getData(c: Client, path: string): Promise<Buffer | undefined> {
    try {
      return await call<Buffer>(`get ${path}`, (cb) => c.getData(path, (e, d) => cb(e, d)));
    } catch (err) {
      if (isCode(err, zookeeper.Exception.NO_NODE)) return undefined;
      throw err;
    }
  },
  async children(c: Client, path: string): Promise<string[]> {
    try {
      return await call<string[]>(`list ${path}`, (cb) => c.getChildren(path, (e, ch) => cb(e, ch)));
    } catch (err) {
      if (isCode(err, zookeeper.Exception.NO_NODE)) return [];
      throw err;
    }
  },
  /** Creates `path` (and its parents) with `data`, or overwrites it. */
  async put(c: Client, path: string, data: Buffer): Promise<void> {
    try {
      await call(`set ${path}`, (cb) => c.setData(path, data, -1, (e) => cb(e)));
    } catch (err) {
      if (!isCode(err, zookeeper.Exception.NO_NODE)) throw err;
      await call(`create ${path}`, (cb) => c.mkdirp(path, data, (e) => cb(e)));
    }
  },
  /** Creates an ephemeral node (parents made persistent); an existing one is replaced. */
  async putEphemeral(c: Client, path: string, data: Buffer): Promise<void> {
    const parent = path.slice(0, path.lastIndexOf('/')) || '/';
    if (parent !== '/') await call(`create ${parent}`, (cb) => c.mkdirp(parent, (e) => cb(e)));
    await zk.remove(c, path);
    await call(`create ${path}`, (cb) => c.create(path, data, zookeeper.CreateMode.EPHEMERAL, (e) => cb(e)));
  },
  /** The data of `path` with its version (the znode's `stat.version`), or undefined when there is no such node. */
  async getVersioned(c: Client, path: string): Promise<{ data: Buffer; version: number } | undefined> {
    try {
      return await call<{ data: Buffer; version: number }>(`get ${path}`, (cb) => c.getData(path, (e, d, st) => cb(e, e ? undefined : { data: d, version: st.version })));
    } catch (err) {
      if (isCode(err, zookeeper.Exception.NO_NODE)) return undefined;
      throw err;
    }
  },
  /** Sets the data of an existing `path` if its version is `version` (-1: any); resolves to the new version. Throws BAD_VERSION, NO_NODE. */
  async setVersioned(c: Client, path: string, data: Buffer, version: number): Promise<number> {
    const st = await call<{ version: number }>(`set ${path}`, (cb) => c.setData(path, data, version, (e, s) => cb(e, s)));
    return st.version;
  },
  /** Creates `path` (parents made persistent) with `data`; throws NODE_EXISTS when it is there. */
  async create(c: Client, path: string, data: Buffer): Promise<void> {
    const parent = path.slice(0, path.lastIndexOf('/')) || '/';
    if (parent !== '/') await call(`create ${parent}`, (cb) => c.mkdirp(parent, (e) => cb(e)));
    await call(`create ${path}`, (cb) => c.create(path, data, zookeeper.CreateMode.PERSISTENT, (e) => cb(e)));
  },
  /** Removes `path` if its version is `version` (-1: any). Throws BAD_VERSION, NO_NODE. */
  async removeVersioned(c: Client, path: string, version: number): Promise<void> {
    await call(`delete ${path}`, (cb) => c.remove(path, version, (e) => cb(e)));
  },
  /** Removes `path`; a missing node is fine. */
  async remove(c: Client, path: string): Promise<void> {
    try {
      await call(`delete ${path}`, (cb) => c.remove(path, -1, (e) => cb(e)));
    } catch (err) {
      if (!isCode(err, zookeeper.Exception.NO_NODE)) throw err;
    }
  },
};
