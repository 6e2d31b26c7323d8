import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';

/**
 * The HAProxy every test runs: PROXYMGR_TEST_HAPROXY (e.g. the 3.0 wrapper that
 * scripts/haproxy-3.0.sh prints), else HAPROXY_BIN (the name the fuzz tests used first),
 * else `haproxy` on PATH. The agent fixture writes it as `haproxy.path`; tests that start
 * or check HAProxy themselves use it too, so one variable moves the whole suite to another version.
 */
export const HAPROXY: string = process.env.PROXYMGR_TEST_HAPROXY || process.env.HAPROXY_BIN || 'haproxy';

let cached: string | undefined;
/** `2.6.12`, `3.0.11-1+deb13u4`: the version of HAPROXY, as `haproxy -v` says. */
export function haproxyVersion(): string {
  cached ??= /^HA-?Proxy version (\S+)/m.exec(execFileSync(HAPROXY, ['-v'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  return cached;
}

/** True when HAPROXY is at least major.minor (`atLeast(3, 0)`), for the few assertions that differ by version. */
export function haproxyAtLeast(major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(haproxyVersion());
  if (!m) return false;
  return Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor);
}

/**
 * process.env with HAPROXY's directory first on PATH when HAPROXY is a file named `haproxy`
 * (the 3.0 wrapper is): configs the tests do not write (examples/, proxymgr.example.yml)
 * say `haproxy` and so run the same version as the rest.
 */
export function haproxyEnv(): NodeJS.ProcessEnv {
  if (!/\/haproxy$/.test(HAPROXY)) return { ...process.env };
  return { ...process.env, PATH: `${dirname(HAPROXY)}:${process.env.PATH ?? ''}` };
}
