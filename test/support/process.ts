import type { ChildProcess } from 'node:child_process';

/** SIGKILLs a test server and resolves once it has exited; nothing to do if it already has. */
export async function killChild(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  await new Promise((r) => {
    p.once('exit', r);
    p.kill('SIGKILL');
  });
}
