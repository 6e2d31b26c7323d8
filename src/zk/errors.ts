import zookeeper from 'node-zookeeper-client';
import type { ZkCredentials } from './auth';

/** The ZooKeeper error code of `err` (a client exception), or undefined for anything else (a timeout). */
export function zkCode(err: unknown): number | undefined {
  return (err as { getCode?: () => number })?.getCode?.();
}

export const isNoAuth = (err: unknown) => zkCode(err) === zookeeper.Exception.NO_AUTH;

/** Who the session is, for an error about permissions: the user, never the password. */
function whom(auth: ZkCredentials | undefined): string {
  return auth ? `as ${auth}` : 'without credentials (set auth on the ensemble)';
}

/**
 * One line for an error of operation `op` ("list", "read", "create", ...) on a path: the
 * ZooKeeper code by its usual name, then what it means here. Callers put the ensemble and
 * the path in front. Permission errors say which identity was refused; a missing node under
 * a chroot says so, since ZooKeeper does not create the chroot itself.
 */
export function describeZkError(err: unknown, op: string, auth: ZkCredentials | undefined, chroot?: string): string {
  const E = zookeeper.Exception;
  switch (zkCode(err)) {
    case E.NO_AUTH:
      return `NOAUTH: not allowed to ${op} ${whom(auth)}; the znode's ACL does not grant it`;
    case E.AUTH_FAILED:
      return `AUTH_FAILED: ZooKeeper refused the credentials (${whom(auth)})`;
    case E.INVALID_ACL:
      return `INVALID_ACL: ZooKeeper refused the ACL to ${op} with${auth ? '' : ' (creator needs credentials)'}`;
    case E.NO_NODE:
      return `does not exist${chroot ? ` (under the chroot ${chroot}, which ZooKeeper does not create)` : ''}`;
    case undefined:
      return (err as Error)?.message ?? String(err);
    default:
      return `${op} failed: ${(err as Error).message}`;
  }
}
