import { isValidServiceName } from '../model/service';
import { EtcdClient } from '../etcd/client';
import { keyRange } from '../etcd/fields';
import { describeEtcdTarget, type EtcdTarget } from '../etcd/target';
import { checkPrecondition, PreconditionFailed, StoreConflict, type Precondition, type ServiceStore, type StoredService } from './store';

/**
 * `service_config: {type: etcd}`: the key PREFIX/NAME (or the one deeper key whose last
 * segment is NAME), its value the JSON blob. The version is the key's mod_revision, and a
 * conditional write or delete is one etcd transaction comparing it, so it holds against
 * every other writer (another agent's API, `proxymgr service`, etcdctl).
 */
export class EtcdServiceStore implements ServiceStore {
  private client?: EtcdClient;

  constructor(
    private readonly target: EtcdTarget,
    private readonly prefix: string,
  ) {}

  describe(): string {
    return `etcd:${this.target.endpoints.join(',')}${this.prefix}`;
  }

  /** Tells a store with other credentials apart (SIGHUP); shows no secret. */
  identity(): string {
    return `${describeEtcdTarget(this.target)}${this.prefix} ${this.target.auth?.key() ?? ''}`;
  }

  async read(name: string): Promise<StoredService | undefined> {
    const key = await this.keyOf(name);
    const res = await this.etcd().get(key).exec();
    const kv = res.kvs[0];
    if (!kv) return undefined;
    let blob: unknown;
    try {
      blob = JSON.parse(kv.value.toString('utf8'));
    } catch {
      blob = undefined;
    }
    return { blob, version: String(kv.mod_revision), origin: `etcd:${key}` };
  }

  async write(name: string, blob: unknown, cond?: Precondition): Promise<{ version: string; created: boolean }> {
    const key = await this.keyOf(name);
    const value = JSON.stringify(blob);
    const conditional = cond?.ifMatch !== undefined || cond?.ifNoneMatch !== undefined;
    for (;;) {
      const current = await this.version(key);
      checkPrecondition(name, current, cond);
      // Against the revision just read: a writer in between fails the comparison, and is seen on the next turn.
      const res = await this.etcd()
        .if(key, 'Mod', '==', current === undefined ? 0 : Number(current))
        .then(this.etcd().put(key).value(value))
        .commit();
      if (res.succeeded) return { version: String(res.header.revision), created: current === undefined };
      if (conditional) throw new PreconditionFailed(name, await this.version(key));
    }
  }

  async remove(name: string, cond?: Precondition): Promise<boolean> {
    const key = await this.keyOf(name);
    const current = await this.version(key);
    checkPrecondition(name, current, cond);
    if (current === undefined) return false;
    if (cond?.ifMatch !== undefined && cond.ifMatch !== '*') {
      const res = await this.etcd().if(key, 'Mod', '==', Number(current)).then(this.etcd().delete().key(key)).commit();
      if (!res.succeeded) throw new PreconditionFailed(name, await this.version(key));
      return true;
    }
    const res = await this.etcd().delete().key(key).exec();
    return Number(res.deleted) > 0;
  }

  close(): void {
    this.client?.release();
    this.client = undefined;
  }

  private etcd() {
    if (!this.client) this.client = EtcdClient.acquire(this.target);
    return this.client.etcd;
  }

  private async version(key: string): Promise<string | undefined> {
    const kv = (await this.etcd().get(key).exec()).kvs[0];
    return kv && String(kv.mod_revision);
  }

  /** The key that holds `name`: the one under the prefix whose last segment it is, else PREFIX/NAME for a new one. */
  async keyOf(name: string): Promise<string> {
    // The name becomes a key segment: never anything but a valid service name.
    if (!isValidServiceName(name)) throw new StoreConflict(`invalid service name ${JSON.stringify(name)}`);
    const range = keyRange(this.prefix);
    const keys = (await this.etcd().getAll().prefix(range).keys()).filter((k) => k.slice(k.lastIndexOf('/') + 1) === name);
    if (keys.length > 1) throw new StoreConflict(`service ${name} is ambiguous: ${keys.sort().join(' and ')} both name it`);
    return keys[0] ?? `${range}${name}`;
  }
}
