import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseConfig } from '../../src/config/load';
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

  test('README\'s install: npm pack, then npm install -g ./proxymgr-<version>.tgz (into an empty prefix) runs: --version and check on the shipped example', async () => {
    const out = tmp();
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    // README's Installing section says exactly this (the prefix aside).
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('npm pack');
    expect(readme).toContain('npm install -g ./proxymgr-<version>.tgz');
    // dist/ is fresh (the integration setup built it); prepack would build it again.
    const pack = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', out], ROOT);
    expect(pack.code).toBe(0);
    const name = pack.out.trim().split('\n').filter((l) => l.endsWith('.tgz')).pop()!;
    expect(name).toBe(`proxymgr-${version}.tgz`);
    // A global install, as the README says; --prefix keeps it in an empty directory.
    const prefix = tmp();
    const install = await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', `./${name}`], out);
    expect(install).toMatchObject({ code: 0 });
    const bin = join(prefix, 'bin', 'proxymgr');
    const pkg = join(prefix, 'lib', 'node_modules', 'proxymgr');
    expect((await run(bin, ['--version'], prefix)).out.trim()).toBe(version);
    const check = await run(bin, ['check', '-c', join(pkg, 'proxymgr.example.yml')], prefix);
    expect(check.out).toMatch(/all good/);
    expect(check.code).toBe(0);
    // The dashboard, the templates and the contrib files are in the package.
    for (const f of ['web/index.html', 'templates/haproxy.cfg.hbs', 'templates/partials/prometheus.hbs', 'contrib/proxymgr.service', 'contrib/check_proxymgr']) {
      expect(readFileSync(join(pkg, f), 'utf8').length).toBeGreaterThan(0);
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
    expect(text).toMatch(/^HEALTHCHECK .*\n\s+CMD .*\/readyz'\)\.then\(r=>process\.exit\(r\.status===200\?0:1\)/m);
  });

  test('the image creates, for the node user, every directory its default paths write to', () => {
    // The runtime stage, up to USER node, with line continuations joined.
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
    const stage = text.slice(text.lastIndexOf('\nFROM '));
    const beforeUser = stage.slice(0, stage.search(/^USER node$/m));
    const words = (re: RegExp) => [...beforeUser.matchAll(re)].flatMap((m) => m[1].trim().split(/\s+/));
    const made = words(/mkdir -p ((?:\/\S+\s*)+)/g);
    const owned = words(/chown (?:-R )?node:node ((?:\/\S+\s*)+)/g);
    const workdir = /^WORKDIR (\S+)$/m.exec(stage)![1];
    const writes = (yml: string, file: string) => {
      // Every file the agent or HAProxy writes: haproxy.*_path and haproxy.*_file (the binary's `path` aside).
      const h = parseConfig(yml, file).haproxy as Record<string, unknown>;
      const files = Object.entries(h).filter(([k, v]) => /_(path|file)$/.test(k) && typeof v === 'string');
      expect(files.map(([k]) => k)).toEqual(expect.arrayContaining(['config_path', 'socket_path', 'state_file']));
      return files.map(([, p]) => dirname(p as string));
    };
    // CMD's proxymgr.yml (mounted) with the default paths, and the shipped example (run/ beside it).
    const cmdConfig = /^CMD \[.*"-c", "([^"]+)"\]$/m.exec(stage)![1];
    const example = join(workdir, 'proxymgr.example.yml');
    const dirs = new Set([
      ...writes('service_config: {type: file, path: services}\n', cmdConfig),
      ...writes(readFileSync(join(ROOT, 'proxymgr.example.yml'), 'utf8'), example),
    ]);
    expect([...dirs].sort()).toEqual(['/etc/haproxy', '/opt/proxymgr/run', '/run/proxymgr']);
    for (const d of dirs) {
      expect([d, made.includes(d)]).toEqual([d, true]);
      expect([d, owned.includes(d)]).toEqual([d, true]);
    }
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
