import zookeeper from 'node-zookeeper-client';
import { isValidServiceName } from '../model/service';
import { isCode, zk } from '../zk/ops';
import { ZkSession } from '../zk/session';
import { formatAcl } from '../zk/acl';
import { describeTarget, type ZkTarget } from '../zk/target';
import { checkPrecondition, PreconditionFailed, StoreConflict, type Precondition, type ServiceStore, type StoredService } from './store';

/**
 * `service_config: {type: zookeeper}`: the znode PATH/NAME, its data the JSON blob. The
 * version is the znode's own `version`, and a conditional write or delete is ZooKeeper's
 * own compare-and-set, so it holds against every other writer (another agent's API, the
 * `proxymgr service` CLI).
 */
export class ZooKeeperServiceStore implements ServiceStore {
  private session?: ZkSession;

  constructor(
    private readonly target: ZkTarget,
    private readonly path: string,
  ) {}

  describe(): string {
    return `zookeeper:${this.target.servers}${this.path}`;
  }

  /** Tells a store with other credentials or another ACL apart (SIGHUP); shows no secret. */
  identity(): string {
    return `${describeTarget(this.target)}${this.path} ${this.target.auth?.key() ?? ''} ${formatAcl(this.target.acl)}`;
  }

  async read(name: string): Promise<StoredService | undefined> {
    const c = await this.client();
    const node = await zk.getVersioned(c, this.znode(name));
    if (!node) return undefined;
    let blob: unknown;
    try {
      blob = JSON.parse(node.data.toString('utf8'));
    } catch {
      blob = undefined;
    }
    return { blob, version: String(node.version), origin: `zookeeper:${this.znode(name)}` };
  }

  async write(name: string, blob: unknown, cond?: Precondition): Promise<{ version: string; created: boolean }> {
    const c = await this.client();
    const path = this.znode(name);
    const data = Buffer.from(JSON.stringify(blob));
    const conditional = cond?.ifMatch !== undefined || cond?.ifNoneMatch !== undefined;
    for (;;) {
      const node = await zk.getVersioned(c, path);
      const current = node && String(node.version);
      checkPrecondition(name, current, cond);
      try {
        if (!node) {
          await zk.create(c, path, data, this.target.acl);
          return { version: '0', created: true };
        }
        // Against the version just read: a writer in between fails it, and is seen on the next turn.
        return { version: String(await zk.setVersioned(c, path, data, node.version)), created: false };
      } catch (err) {
        const raced = isCode(err, zookeeper.Exception.NODE_EXISTS) || isCode(err, zookeeper.Exception.BAD_VERSION) || isCode(err, zookeeper.Exception.NO_NODE);
        if (!raced) throw err;
        // Someone else wrote in between: a conditional write fails; an unconditional one tries again.
        if (conditional) throw new PreconditionFailed(name, (await zk.getVersioned(c, path))?.version?.toString());
      }
    }
  }

  async remove(name: string, cond?: Precondition): Promise<boolean> {
    const c = await this.client();
    const path = this.znode(name);
    const node = await zk.getVersioned(c, path);
    checkPrecondition(name, node && String(node.version), cond);
    if (!node) return false;
    try {
      await zk.removeVersioned(c, path, cond?.ifMatch !== undefined && cond.ifMatch !== '*' ? node.version : -1);
      return true;
    } catch (err) {
      if (isCode(err, zookeeper.Exception.NO_NODE)) return false;
      if (isCode(err, zookeeper.Exception.BAD_VERSION)) throw new PreconditionFailed(name, (await zk.getVersioned(c, path))?.version?.toString());
      throw err;
    }
  }

  close(): void {
    this.session?.release();
    this.session = undefined;
  }

  private async client() {
    if (!this.session) this.session = ZkSession.forTarget(this.target);
    await this.session.connected();
    return this.session.client;
  }

  private znode(name: string): string {
    // The name becomes a path segment: never anything but a valid service name.
    if (!isValidServiceName(name)) throw new StoreConflict(`invalid service name ${JSON.stringify(name)}`);
    return `${this.path}/${name}`;
  }
}
