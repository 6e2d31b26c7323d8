import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** The pid of the process whose command line has `arg` as one of its arguments (NaN when none). */
export function pidWithArg(arg: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(arg)) return Number(entry);
    } catch {
      // exited while we looked
    }
  }
  return NaN;
}

/**
 * Established TCP connections of process `pid` to remote port `port` (Linux /proc): its socket
 * inodes from /proc/PID/fd, matched against /proc/net/tcp and tcp6. Says whether a client
 * shares one connection or opens one per watch.
 */
export function connectionsTo(pid: number, port: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed while we looked
    }
  }
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      if (parseInt(f[2].split(':')[1], 16) === port && f[3] === '01' && inodes.has(f[9])) n++;
    }
  }
  return n;
}
