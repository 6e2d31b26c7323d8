import { execFile } from 'node:child_process';

/** The HAProxy branches the test suite runs against (docs/platforms.md); the first is the oldest. */
export const TESTED_HAPROXY = ['2.6', '3.0'] as const;

/** `{major, minor, text}` from `haproxy -v` output ("HAProxy version 2.6.12-1+deb12u2 2025/..."; 1.x said "HA-Proxy"). */
export function parseHaproxyVersion(output: string): { major: number; minor: number; text: string } | undefined {
  const m = /^HA-?Proxy version ((\d+)\.(\d+)\S*)/m.exec(output);
  return m ? { major: Number(m[2]), minor: Number(m[3]), text: m[1] } : undefined;
}

/** A warning for a version older than the oldest tested one, else undefined. */
export function versionWarning(v: { major: number; minor: number; text: string }): string | undefined {
  const [major, minor] = TESTED_HAPROXY[0].split('.').map(Number);
  if (v.major > major || (v.major === major && v.minor >= minor)) return undefined;
  return `HAProxy ${v.text} is older than ${TESTED_HAPROXY[0]}, the oldest version proxymgr is tested with (${TESTED_HAPROXY.join(', ')}): runtime commands and config keywords it uses may be refused`;
}

/** Runs `binary -v`; undefined when it cannot be run or says no version (checkConfig then reports the binary). */
export function readHaproxyVersion(binary: string, timeoutMs = 10_000): Promise<ReturnType<typeof parseHaproxyVersion>> {
  return new Promise((resolve) => {
    execFile(binary, ['-v'], { timeout: timeoutMs }, (err, stdout) => resolve(err ? undefined : parseHaproxyVersion(String(stdout))));
  });
}
