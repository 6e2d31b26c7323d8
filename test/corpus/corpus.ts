import { readFileSync, readdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';

/**
 * The bad-input corpus (issue 9): malformed service blobs in test/corpus/services,
 * each file is one service (named after the file, as the file service-config source
 * names them), and test/corpus/services.expected.json says what its error must say:
 * a regex matched against the error lines, anchored on the field it names
 * (`servers[0]: ...`, `port: ...`), or on `invalid service name` when the file
 * name is the bad part, or `cannot decode` for undecodable text.
 * Every payload that tries to inject HAProxy lines uses the marker `pmgrbad`, so a
 * rendered config can be searched for it.
 */
export const CORPUS_DIR = join(__dirname, 'services');
export const CONFIG_CORPUS_DIR = join(__dirname, 'configs');
export const MARKER = 'pmgrbad';

export interface CorpusEntry {
  file: string;
  path: string;
  service: string;
  text: string;
  /** What one of the error lines must match. */
  error: RegExp;
}

export function serviceCorpus(): CorpusEntry[] {
  const expected = JSON.parse(readFileSync(join(__dirname, 'services.expected.json'), 'utf8')) as Record<string, string>;
  const files = readdirSync(CORPUS_DIR).sort();
  const missing = files.filter((f) => !(f in expected));
  const stale = Object.keys(expected).filter((f) => !files.includes(f));
  if (missing.length || stale.length) throw new Error(`corpus out of step with services.expected.json: no expectation for ${missing.join(', ')}; no file for ${stale.join(', ')}`);
  return files.map((file) => ({
    file,
    path: join(CORPUS_DIR, file),
    service: basename(file, extname(file)),
    text: readFileSync(join(CORPUS_DIR, file), 'utf8'),
    error: new RegExp(expected[file], 's'),
  }));
}

export interface ConfigCorpusEntry {
  file: string;
  path: string;
  text: string;
  /** The key the error must name: the first problem line starts with it (`haproxy.global[1]: ...`). */
  key: string;
}

/** test/corpus/configs/*.yml; the first line of each is `# key: <the key its error names>`. */
export function configCorpus(): ConfigCorpusEntry[] {
  return readdirSync(CONFIG_CORPUS_DIR)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((file) => {
      const text = readFileSync(join(CONFIG_CORPUS_DIR, file), 'utf8');
      const m = /^# key: (.+)\n/.exec(text);
      if (!m) throw new Error(`${file}: first line must be "# key: <key>"`);
      return { file, path: join(CONFIG_CORPUS_DIR, file), text, key: m[1] };
    });
}

/** A blob larger than the 1 MB cap of both service-config sources (generated, not committed). */
export function hugeBlob(): string {
  const blob = { type: 'static', port: 18999, listen_options: ['mode tcp'], servers: Array.from({ length: 60_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:9000`) };
  const text = JSON.stringify(blob);
  if (text.length <= 1024 * 1024) throw new Error('hugeBlob is not huge');
  return text;
}

/** Service names that cannot be file names (or are hidden files), for sources that name services otherwise (ZooKeeper children). */
export const ODD_NAMES = ['', '.', '..', '.hidden', 'a/b', 'new\nline', 'tab\tname', 'nul\u0000name', 'listen pmgrbad', 'a'.repeat(101), '\u202eevil', 'name\r'];
