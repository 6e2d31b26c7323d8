/**
 * What to do when a certificate file HAProxy serves may have changed on disk. Pure.
 *
 * HAProxy knows a certificate by its file name. New content under a name it knows goes
 * over the runtime API (`set ssl cert` + `commit ssl cert`), with no reload; a name it
 * does not know (a file added to a `crt` directory) or one it knows that is gone from
 * the directory changes what the configuration loads, so it takes the reload path.
 */
export type DiskCert = { ok: true; fingerprint: string } | { ok: false; error: string };

export type CertAction =
  | { kind: 'none' }
  | { kind: 'swap' }
  /** The file is not a certificate HAProxy could serve: keep the one loaded, report this. */
  | { kind: 'refuse'; error: string }
  | { kind: 'reload'; reason: string };

/**
 * One file: `loaded` is the fingerprint of what HAProxy serves under the name (from
 * `show ssl cert <name>`, never remembered), undefined when HAProxy has no such name.
 */
export function certFileAction(path: string, disk: DiskCert, loaded: string | undefined): CertAction {
  if (!disk.ok) return { kind: 'refuse', error: disk.error };
  if (loaded === undefined) return { kind: 'reload', reason: `certificate ${path} is not loaded yet` };
  return loaded === disk.fingerprint ? { kind: 'none' } : { kind: 'swap' };
}

/** A `crt` directory's files against the names HAProxy loaded from it (both as full paths). */
export function certDirChange(onDisk: readonly string[], loaded: readonly string[]): { added: string[]; removed: string[] } {
  const disk = new Set(onDisk);
  const have = new Set(loaded);
  return { added: onDisk.filter((p) => !have.has(p)).sort(), removed: loaded.filter((p) => !disk.has(p)).sort() };
}

/** The names `show ssl cert` lists (a `*` marks one in a transaction), those under `dir` alone. */
export function loadedUnder(listing: string, dir: string): string[] {
  const prefix = `${dir}/`;
  const names = listing
    .split('\n')
    .map((l) => l.trim().replace(/^\*/, ''))
    .filter((l) => l.startsWith(prefix) && !l.slice(prefix.length).includes('/'));
  return [...new Set(names)].sort();
}

/** "SHA1 FingerPrint" of a `show ssl cert <name>` reply; undefined when HAProxy does not know the name. */
export function loadedFingerprint(reply: string): string | undefined {
  const m = /^SHA1 FingerPrint:\s*([0-9A-Fa-f]+)\s*$/m.exec(reply);
  return m ? m[1].toUpperCase() : undefined;
}
