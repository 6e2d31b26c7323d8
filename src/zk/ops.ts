import zookeeper, { type ACL, type Client } from 'node-zookeeper-client';
import { defaultAcl, type AclEntry } from './acl';
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

/** The client library's form of an ACL. */
export function clientAcl(acl: readonly AclEntry[]): ACL[] {
  return acl.map((e) => new zookeeper.ACL(e.perms, new zookeeper.Id(e.scheme, e.id)));
}

// Without an ACL, what proxymgr always created: open to everyone (docs/zookeeper-security.md).
const OPEN = defaultAcl(false);

/**
 * Creates the missing parents of `path`, empty, with `acl`; existing ones are left as they are.
 * Not the client's mkdirp: it creates from the root down, and ZooKeeper checks CREATE on a
 * node's parent before it finds the node exists, so an instance allowed to create children
 * of /services/web only would be refused at /services. `exists` needs no permission.
 */
async function parents(c: Client, path: string, acl: readonly AclEntry[]): Promise<void> {
  const parent = path.slice(0, path.lastIndexOf('/')) || '/';
  if (parent === '/') return;
  if (await call(`exists ${parent}`, (cb) => c.exists(parent, (e, st) => cb(e, st)))) return;
  await parents(c, parent, acl);
  try {
    await call(`create ${parent}`, (cb) => c.create(parent, clientAcl(acl), zookeeper.CreateMode.PERSISTENT, (e) => cb(e)));
  } catch (err) {
    if (!isCode(err, zookeeper.Exception.NODE_EXISTS)) throw err;
  }
}

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
  async exists(c: Client, path: string): Promise<boolean> {
    return (await call<unknown>(`exists ${path}`, (cb) => c.exists(path, (e, st) => cb(e, st)))) != null;
  },
  async children(c: Client, path: string): Promise<string[]> {
    try {
      return await call<string[]>(`list ${path}`, (cb) => c.getChildren(path, (e, ch) => cb(e, ch)));
    } catch (err) {
      if (isCode(err, zookeeper.Exception.NO_NODE)) return [];
      throw err;
    }
  },
  /** Creates `path` (and its missing parents, empty) with `data` and `acl`, or overwrites its data (its ACL unchanged). */
  async put(c: Client, path: string, data: Buffer, acl: readonly AclEntry[] = OPEN): Promise<void> {
    try {
      await call(`set ${path}`, (cb) => c.setData(path, data, -1, (e) => cb(e)));
    } catch (err) {
      if (!isCode(err, zookeeper.Exception.NO_NODE)) throw err;
      await parents(c, path, acl);
      try {
        await call(`create ${path}`, (cb) => c.create(path, data, clientAcl(acl), zookeeper.CreateMode.PERSISTENT, (e) => cb(e)));
      } catch (err2) {
        // Created by someone else in between: overwrite, as a put does.
        if (!isCode(err2, zookeeper.Exception.NODE_EXISTS)) throw err2;
        await call(`set ${path}`, (cb) => c.setData(path, data, -1, (e) => cb(e)));
      }
    }
  },
  /** Creates an ephemeral node with `acl` (missing parents made persistent, with the same ACL); an existing one is replaced. */
  async putEphemeral(c: Client, path: string, data: Buffer, acl: readonly AclEntry[] = OPEN): Promise<void> {
    await parents(c, path, acl);
    await zk.remove(c, path);
    await call(`create ${path}`, (cb) => c.create(path, data, clientAcl(acl), zookeeper.CreateMode.EPHEMERAL, (e) => cb(e)));
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
  /** Creates `path` (missing parents made persistent and empty, with the same ACL) with `data` and `acl`; throws NODE_EXISTS when it is there. */
  async create(c: Client, path: string, data: Buffer, acl: readonly AclEntry[] = OPEN): Promise<void> {
    await parents(c, path, acl);
    await call(`create ${path}`, (cb) => c.create(path, data, clientAcl(acl), zookeeper.CreateMode.PERSISTENT, (e) => cb(e)));
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
