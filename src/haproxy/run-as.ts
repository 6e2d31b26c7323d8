import { readFileSync } from 'node:fs';

export interface RunAs {
  user: string;
  group: string;
}

/** name -> [uid, gid] from /etc/passwd, and gid -> name from /etc/group. */
function accounts(): { users: Map<string, number>; groups: Map<number, string> } {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
    } catch {
      return [];
    }
  };
  return {
    users: new Map(read('/etc/passwd').map((f) => [f[0], Number(f[3])])),
    groups: new Map(read('/etc/group').map((f) => [Number(f[2]), f[0]])),
  };
}

/**
 * Who HAProxy drops to after binding its sockets (`user`/`group` in `global`). Started
 * as root, it must not keep serving as root: by default the Debian package's `haproxy`
 * account, else `nobody`. `user: false` keeps root (not advised). Not root: nothing to
 * drop, unless the operator names a user (HAProxy then says whether it may).
 */
export function runAs(user: string | false | undefined, group: string | undefined, uid = process.getuid?.() ?? -1): RunAs | undefined {
  if (user === false) return undefined;
  if (user === undefined && uid !== 0) return undefined;
  const { users, groups } = accounts();
  const name = user ?? (users.has('haproxy') ? 'haproxy' : 'nobody');
  const gid = users.get(name);
  return { user: name, group: group ?? (gid !== undefined ? groups.get(gid) : undefined) ?? 'nogroup' };
}
