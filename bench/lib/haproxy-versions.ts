import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../test/support/agent';

export interface HaproxyBinary {
  /** `2.6.12-1+deb12u4`, as `-v` says. */
  version: string;
  binary: string;
}

/**
 * Every HAProxy a bench runs against, in one run: BENCH_HAPROXY (colon-separated binaries)
 * when set; else `haproxy` on PATH, plus the 3.0 wrapper that scripts/haproxy-3.0.sh writes
 * when it is there. A binary that does not answer `-v` is left out.
 */
export function haproxyBinaries(): HaproxyBinary[] {
  const wrapper = join(ROOT, '.tmp', 'haproxy-3.0', 'haproxy');
  const asked = process.env.BENCH_HAPROXY?.split(':').filter(Boolean) ?? ['haproxy', ...(existsSync(wrapper) ? [wrapper] : [])];
  const out: HaproxyBinary[] = [];
  for (const binary of asked) {
    try {
      const m = /^HA-?Proxy version (\S+)/m.exec(execFileSync(binary, ['-v'], { encoding: 'utf8' }));
      if (m) out.push({ version: m[1], binary });
    } catch {
      // not installed: no row for it
    }
  }
  return out;
}

/** The short name of a version for a table's first column: `2.6.12`. */
export function shortVersion(v: string): string {
  return v.replace(/-.*$/, '');
}
