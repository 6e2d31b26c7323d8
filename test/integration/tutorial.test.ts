import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../support/agent';

/** The README's ZooKeeper tutorial, the commands exactly as printed between its markers. */
function tutorial(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /<!-- tutorial:start -->\n```sh\n([\s\S]*?)```\n<!-- tutorial:end -->/.exec(readme);
  if (!block) throw new Error('README.md has no tutorial block');
  return block[1];
}

// A tutorial that does not run as written is worse than none.
describe('the README tutorial', () => {
  test('runs as written on this checkout: both instances serve, one deregisters, HAProxy follows without a reload', async () => {
    const script = tutorial();
    const { code, out } = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile('bash', ['-c', script], { cwd: ROOT, timeout: 150_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}\n${stderr}` }),
      );
    });
    expect({ code, tail: out.slice(-600) }).toMatchObject({ code: 0 });
    const answers = [...out.matchAll(/^hello from backend 127\.0\.0\.1:(\d+) \(GET \/\)$/gm)].map((m) => m[1]);
    // Two answers from both instances, then two from the one left.
    expect(answers).toHaveLength(4);
    expect(new Set(answers.slice(0, 2))).toEqual(new Set(['9101', '9102']));
    expect(answers.slice(2)).toEqual(['9101', '9101']);
    expect(out).toMatch(/^good true$/m);
    expect(out).toMatch(/^applied without reload: web \+0 -1 ~0$/m);
    expect(out).toMatch(/zookeeper: stopped/);
  }, 180_000);
});
