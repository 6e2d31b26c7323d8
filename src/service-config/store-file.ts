import { createHash } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isValidServiceName } from '../model/service';
import { writeFileAtomic } from '../util/atomic-write';
import { decodeServiceFile } from './file';
import { checkPrecondition, StoreConflict, type Precondition, type ServiceStore, type StoredService } from './store';

const EXTENSIONS = ['.json', '.yaml', '.yml'];

/** A file's version: the first 16 hex digits of the sha256 of its bytes. */
export function contentVersion(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

/**
 * `service_config: {type: file}`: NAME.json in the directory, written atomically (a
 * temporary sibling renamed over it). A service already kept as NAME.yaml or NAME.yml is
 * rewritten in that file (JSON is YAML), so it is never claimed by two files. Calls are
 * serialized, so a compare-and-set of this store cannot interleave with another.
 */
export class FileServiceStore implements ServiceStore {
  private readonly dir: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  describe(): string {
    return `file:${this.dir}`;
  }

  read(name: string): Promise<StoredService | undefined> {
    return this.serial(async () => {
      const cur = await this.current(name);
      if (!cur) return undefined;
      const decoded = decodeServiceFile(cur.path, cur.bytes.toString('utf8'));
      return { blob: decoded.ok ? decoded.raw : undefined, version: cur.version, origin: cur.path };
    });
  }

  write(name: string, blob: unknown, cond?: Precondition): Promise<{ version: string; created: boolean }> {
    return this.serial(async () => {
      const cur = await this.current(name);
      checkPrecondition(name, cur?.version, cond);
      const text = `${JSON.stringify(blob, null, 2)}\n`;
      await writeFileAtomic(cur?.path ?? join(this.dir, `${name}.json`), text);
      return { version: contentVersion(text), created: !cur };
    });
  }

  remove(name: string, cond?: Precondition): Promise<boolean> {
    return this.serial(async () => {
      const cur = await this.current(name);
      checkPrecondition(name, cur?.version, cond);
      if (!cur) return false;
      await unlink(cur.path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      return true;
    });
  }

  close(): void {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** The one file that defines `name`, its bytes and version; StoreConflict when two do. */
  private async current(name: string): Promise<{ path: string; bytes: Buffer; version: string } | undefined> {
    if (!isValidServiceName(name)) throw new StoreConflict(`invalid service name ${JSON.stringify(name)}`);
    const found: Array<{ path: string; bytes: Buffer }> = [];
    for (const ext of EXTENSIONS) {
      const path = join(this.dir, `${name}${ext}`);
      try {
        found.push({ path, bytes: await readFile(path) });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    if (found.length > 1) throw new StoreConflict(`service ${name} is defined twice: ${found.map((f) => f.path).join(' and ')}; remove one by hand`);
    return found[0] && { ...found[0], version: contentVersion(found[0].bytes) };
  }
}
