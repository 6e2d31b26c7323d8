import { connect } from 'node:net';

/**
 * Sends one command to HAProxy's admin socket and returns the whole reply.
 * Non-interactive mode: HAProxy answers and closes, so the reply ends at EOF.
 */
export function runtimeCommand(socketPath: string, command: string, timeoutMs = 2000): Promise<string> {
  if (/[\r\n]/.test(command)) return Promise.reject(new Error('runtime command must be a single line'));
  return new Promise((resolve, reject) => {
    const sock = connect({ path: socketPath });
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`runtime command timed out after ${timeoutMs} ms: ${command}`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${command}\n`));
    sock.on('data', (d: string) => (out += d));
    sock.on('end', () => {
      clearTimeout(timer);
      resolve(out);
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** `show info` as a key/value map (Pid, Uptime_sec, CurrConns, ...). */
export async function showInfo(socketPath: string, timeoutMs?: number): Promise<Record<string, string>> {
  const reply = await runtimeCommand(socketPath, 'show info', timeoutMs);
  const info: Record<string, string> = {};
  for (const line of reply.split('\n')) {
    const idx = line.indexOf(': ');
    if (idx > 0) info[line.slice(0, idx)] = line.slice(idx + 2);
  }
  return info;
}
