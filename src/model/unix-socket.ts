import { createHash } from 'node:crypto';

/**
 * Backends on UNIX domain sockets. A server's address is then `unix:/absolute/path`
 * (its one spelling everywhere: static lists, servers files, ZooKeeper, the API) and its
 * port is 0: a socket has none. HAProxy reads the address as `unix@/absolute/path`.
 */
export const UNIX_PREFIX = 'unix:';

/**
 * HAProxy 2.6 refuses a socket path longer than 97 bytes ("too long (max 97)"), for
 * servers as for binds: it keeps room in sun_path (108 bytes) for a temporary suffix.
 */
export const MAX_SOCKET_PATH_BYTES = 97;

/**
 * What a path may hold. Nothing HAProxy's config parser or its runtime API treats
 * specially (whitespace splits words, `#` starts a comment, quotes and `\` quote, `$`
 * expands a variable, `;` separates runtime commands) and no `:`, so that
 * `unix:/run/app.sock:8080` (a port by mistake) is an error, not a path.
 */
const PATH_CHARS = /^[A-Za-z0-9/._~+@=,-]+$/;
/** Characters of a path kept as they are in its server name; `/` becomes `:`. */
const NAME_CHARS = /[^A-Za-z0-9._-]/g;

export function isUnixAddress(address: string): boolean {
  return address.startsWith(UNIX_PREFIX);
}

/** The socket path of a `unix:/path` address. */
export function unixPath(address: string): string {
  return address.slice(UNIX_PREFIX.length);
}

/**
 * Checks a `unix:/absolute/path` address; returns why it is not one, or undefined.
 * The path must be written the one way the kernel resolves it (no `//`, `.` or `..`
 * segments, no trailing `/`): two spellings of one socket would be two servers.
 */
export function unixAddressProblem(address: string): string | undefined {
  if (!isUnixAddress(address)) return 'a unix socket address is written unix:/absolute/path';
  const path = unixPath(address);
  if (!path.startsWith('/')) return 'the socket path must be absolute (unix:/absolute/path)';
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) return `the socket path must be at most ${MAX_SOCKET_PATH_BYTES} bytes (HAProxy's limit), got ${bytes}`;
  if (path.includes(':')) return 'the socket path must not contain ":" (a unix socket server takes no port)';
  if (!PATH_CHARS.test(path)) return 'the socket path may contain only letters, digits and / . _ - ~ + @ = ,';
  if (path === '/' || path.endsWith('/') || path.includes('//') || /\/\.\.?(\/|$)/.test(path)) {
    return 'the socket path must be normalised (no //, /./, /../ or trailing /)';
  }
  return undefined;
}

/**
 * The HAProxy server name of a socket: `unix_` and the path with `/` turned into `:`
 * (`unix:/run/php/fpm.sock` -> `unix_run:php:fpm.sock`), which maps back to the path, so
 * two sockets never share a name. A path with characters a server name cannot hold
 * (`~ + @ = ,`) has them replaced by `_` and a hash of the whole path appended, under
 * another prefix (`unix-`) so that it cannot meet an exact name. Neither can meet the
 * name of an IP or hostname server: those never hold `_`, and IPv6 ones start with `v6_`.
 */
export function unixServerName(address: string): string {
  const path = unixPath(address);
  let lossy = false;
  const body = path.slice(1).replace(NAME_CHARS, (c) => {
    if (c === '/') return ':';
    lossy = true;
    return '_';
  });
  if (!lossy) return `unix_${body}`;
  return `unix-${body}_${createHash('sha256').update(path).digest('hex').slice(0, 8)}`;
}

/** The address as a haproxy.cfg `server` line and the runtime API's `add server` read it. */
export function unixHaproxyAddress(address: string): string {
  return `unix@${unixPath(address)}`;
}
