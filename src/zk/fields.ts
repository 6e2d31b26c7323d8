import { z } from 'zod';

const HOSTS = /^[A-Za-z0-9.\-:[\]]+:\d{1,5}(,[A-Za-z0-9.\-:[\]]+:\d{1,5})*$/;
const ZNODE = /^(\/[^/\x00-\x1f\x7f]+)+$/;
const relative = (p: string) => p.split('/').some((seg) => seg === '.' || seg === '..');

/** Splits `host:port[,host:port...][/chroot]` at the first `/` (a host or port never holds one). */
export function splitConnectString(s: string): { hosts: string; chroot?: string } {
  const i = s.indexOf('/');
  return i < 0 ? { hosts: s } : { hosts: s.slice(0, i), chroot: s.slice(i) };
}

/**
 * Why a connect string is unusable, or undefined. The chroot is checked here because the
 * client library asserts on a bad one (it would throw out of `createClient`) and ZooKeeper
 * refuses `.`/`..` only when a path is used; a trailing `/` would silently mean no chroot.
 */
export function connectStringProblem(s: string): string | undefined {
  const { hosts, chroot } = splitConnectString(s);
  if (!HOSTS.test(hosts)) return 'must be host:port[,host:port...][/chroot]';
  if (chroot === undefined) return undefined;
  if (!ZNODE.test(chroot)) return `chroot ${JSON.stringify(chroot)} must be an absolute znode path such as /proxymgr (no trailing slash)`;
  if (relative(chroot)) return `chroot ${JSON.stringify(chroot)} must not contain . or .. segments`;
  return undefined;
}

/**
 * `host:port[,host:port...][/chroot]`: the chroot, if any, prefixes every path proxymgr uses.
 * The pattern stays a regex so that `proxymgr schema` can carry it into the JSON Schema.
 */
export const zkConnectString = z
  .string()
  .regex(/^[A-Za-z0-9.\-:[\]]+:\d{1,5}(,[A-Za-z0-9.\-:[\]]+:\d{1,5})*(\/[^/\x00-\x1f\x7f]+)*$/, 'must be host:port[,host:port...][/chroot] (the chroot absolute, no trailing slash)')
  .refine((s) => !relative(splitConnectString(s).chroot ?? ''), 'the chroot must not contain . or .. segments');

/** An absolute znode path without a trailing slash. */
export const znodePath = z
  .string()
  .regex(ZNODE, 'must be an absolute znode path such as /services/web (no trailing slash)')
  // ZooKeeper refuses relative segments when the path is used; say so when it is defined.
  .refine((p) => !relative(p), 'must not contain . or .. segments');

/** The name of an ensemble in proxymgr.yml (`zookeeper.ensembles`), as blobs and flags name it. */
export const ensembleName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, _ . -');
