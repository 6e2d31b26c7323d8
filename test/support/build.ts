import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Jest globalSetup: integration tests run the real CLI from dist/, so build it first. */
export default function globalSetup(): void {
  const root = join(__dirname, '..', '..');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}
