import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/agent';

function run(cmd: string, args: string[], cwd: string, timeout = 120_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout, env: { ...process.env, npm_config_loglevel: 'error' } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

// What an operator installs: the npm package, the container image recipe, the systemd unit.
describe('shipping', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'pmgr-ship-'));
    dirs.push(d);
    return d;
  };

  test('npm pack, installed into an empty directory, runs: --version and check on the shipped example', async () => {
    const out = tmp();
    // dist/ is fresh (the integration setup built it); prepack would build it again.
    const pack = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', out], ROOT);
    expect(pack.code).toBe(0);
    const tarball = join(out, pack.out.trim().split('\n').filter((l) => l.endsWith('.tgz')).pop()!);
    const app = tmp();
    writeFileSync(join(app, 'package.json'), '{"name": "pack-test", "private": true}\n');
    const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], app);
    expect(install).toMatchObject({ code: 0 });
    const bin = join(app, 'node_modules', '.bin', 'proxymgr');
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    expect((await run(bin, ['--version'], app)).out.trim()).toBe(version);
    const check = await run(bin, ['check', '-c', join(app, 'node_modules', 'proxymgr', 'proxymgr.example.yml')], app);
    expect(check.out).toMatch(/all good/);
    expect(check.code).toBe(0);
    // The dashboard, the templates and the contrib files are in the package.
    for (const f of ['web/index.html', 'templates/haproxy.cfg.hbs', 'contrib/proxymgr.service', 'contrib/check_proxymgr']) {
      expect(readFileSync(join(app, 'node_modules', 'proxymgr', f), 'utf8').length).toBeGreaterThan(0);
    }
  }, 180_000);

  test('the Dockerfile passes dockerfile-utils lint (which does flag a bad one)', async () => {
    const lint = join(ROOT, 'node_modules', '.bin', 'dockerfile-utils');
    expect(await run(lint, ['lint', join(ROOT, 'Dockerfile')], ROOT)).toEqual({ code: 0, out: '' });
    const bad = join(tmp(), 'Dockerfile');
    writeFileSync(bad, 'FROM debian\nEXPSE 80\n');
    expect((await run(lint, ['lint', bad], ROOT)).code).not.toBe(0);
    // The image must carry everything the agent reads at run time.
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    for (const dir of ['templates', 'web', 'dist', 'node_modules']) expect(text).toMatch(new RegExp(`^COPY .*\\b${dir}\\b`, 'm'));
    expect(text).toMatch(/^USER node$/m);
    expect(text).toMatch(/^HEALTHCHECK .*\n\s+CMD .*\/status/m);
  });

  test('the systemd unit passes systemd-analyze verify (which does flag a bad one)', async () => {
    const dir = tmp();
    // verify wants the ExecStart binary to exist: point it at node for the check.
    const unit = readFileSync(join(ROOT, 'contrib', 'proxymgr.service'), 'utf8').replace('/usr/bin/proxymgr', process.execPath);
    expect(unit).toMatch(/^KillMode=process$/m);
    writeFileSync(join(dir, 'proxymgr.service'), unit);
    expect(await run('systemd-analyze', ['verify', join(dir, 'proxymgr.service')], dir)).toEqual({ code: 0, out: '' });
    writeFileSync(join(dir, 'bad.service'), '[Service]\nExecStart=/bin/true\nKillMod=process\n');
    expect((await run('systemd-analyze', ['verify', join(dir, 'bad.service')], dir)).out).toMatch(/Unknown key 'KillMod'/);
  });
});
