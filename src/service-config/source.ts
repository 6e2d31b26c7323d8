/** Receives service blobs from a service-config source. Blobs are decoded but not validated. */
export interface ServiceConfigHandler {
  /** `origin` says where the blob lives (a file, a znode) for error messages. */
  upsert(name: string, raw: unknown, origin: string, baseDir: string): void;
  remove(name: string): void;
  /** The blob for `name` cannot be used (unreadable, undecodable, ambiguous). */
  invalid(name: string, origin: string, problems: string[]): void;
  /**
   * The source has just delivered a complete listing: a service it did not name is not in it.
   * A source that replaced another calls it once it can list, so a source that cannot
   * (NOAUTH, down) does not empty the agent.
   */
  listed?(): void;
}

export interface ServiceConfigSource {
  /** Resolves once the initial set of services has been delivered. */
  start(handler: ServiceConfigHandler): Promise<void>;
  stop(): Promise<void>;
  describe(): string;
  /** Why the source cannot be read now, and since when (epoch ms); undefined when it can. */
  problem?(): { message: string; since: number } | undefined;
}

/** Blobs larger than this are refused unread: a registry value is a service definition, not a payload. */
export const MAX_BLOB_BYTES = 1024 * 1024;

/** Hands one stored JSON blob (a znode's data, an etcd value) to the handler: decoded, or invalid with why. */
export function deliverJsonBlob(handler: ServiceConfigHandler, name: string, data: Buffer, origin: string, baseDir: string): void {
  if (data.length > MAX_BLOB_BYTES) return handler.invalid(name, origin, [`larger than ${MAX_BLOB_BYTES} bytes`]);
  let blob: unknown;
  try {
    blob = JSON.parse(data.toString('utf8'));
  } catch (err) {
    return handler.invalid(name, origin, [`cannot decode JSON: ${(err as Error).message}`]);
  }
  handler.upsert(name, blob, origin, baseDir);
}
