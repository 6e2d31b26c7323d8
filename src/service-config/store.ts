/**
 * Writes service blobs to the service-config source itself (a file in the directory, a
 * znode), so the source stays the single truth and the agent picks a change up through
 * its normal watch. Used by the HTTP API's `PUT/GET/DELETE /api/services/NAME`.
 */
export interface ServiceStore {
  describe(): string;
  /** What tells two stores apart when `describe` does not (other credentials); never shown. */
  identity?(): string;
  /** The blob as stored and its version (opaque: a znode version, a content hash); undefined when there is none. */
  read(name: string): Promise<StoredService | undefined>;
  /** Writes `blob` if the precondition holds (else throws PreconditionFailed); `created` when there was none before. */
  write(name: string, blob: unknown, cond?: Precondition): Promise<{ version: string; created: boolean }>;
  /** Removes the blob if the precondition holds; false when there was none. */
  remove(name: string, cond?: Precondition): Promise<boolean>;
  close(): void;
}

export interface StoredService {
  blob: unknown;
  version: string;
  /** Where it lives (a file, a znode), for messages. */
  origin: string;
}

/** HTTP's If-Match (a version, or `*`: there must be one) and If-None-Match `*` (there must be none). */
export interface Precondition {
  ifMatch?: string;
  ifNoneMatch?: '*';
}

/** The precondition does not hold: the blob changed (or appeared, or went) since the caller read it. */
export class PreconditionFailed extends Error {
  constructor(
    readonly name: string,
    /** The version there is now; undefined when there is none. */
    readonly current: string | undefined,
  ) {
    super(current === undefined ? `service ${name} does not exist` : `service ${name} is at version ${current}`);
    this.name = 'PreconditionFailed';
  }
}

/** The source holds the service in a way the store cannot write safely (e.g. two files claim it). */
export class StoreConflict extends Error {}

/** Throws PreconditionFailed unless `cond` holds for the version there is now (`current`). */
export function checkPrecondition(name: string, current: string | undefined, cond: Precondition | undefined): void {
  if (!cond) return;
  if (cond.ifNoneMatch === '*' && current !== undefined) throw new PreconditionFailed(name, current);
  if (cond.ifMatch !== undefined) {
    if (current === undefined) throw new PreconditionFailed(name, current);
    if (cond.ifMatch !== '*' && cond.ifMatch !== current) throw new PreconditionFailed(name, current);
  }
}
