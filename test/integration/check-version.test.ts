import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AgentFixture, runCli } from '../support/agent';
import { HAPROXY } from '../support/haproxy-bin';
import { freePort } from '../support/net';

// `proxymgr check` reads `haproxy -v` and warns (exit status unchanged) below the oldest tested version.
describe('check and the HAProxy version', () => {
  let agent: AgentFixture | undefined;
  afterEach(() => agent?.cleanup());

  test.each([
    ['2.4.22-0+deb11u1', true],
    ['2.6.12-1+deb12u2', false],
    ['3.0.11-1+deb13u4', false],
  ])('HAProxy %s: warning %s', async (version, warns) => {
    // A stand-in binary: answers -v with the version under test, passes -c on to the real one.
    const fake = join(mkdtempSync(join(tmpdir(), 'pmgr-fake-')), 'haproxy');
    writeFileSync(fake, `#!/bin/sh\nif [ "$1" = -v ]; then echo "HAProxy version ${version} 2025/01/01 - https://haproxy.org/"; exit 0; fi\nexec ${JSON.stringify(HAPROXY)} "$@"\n`);
    chmodSync(fake, 0o755);
    agent = new AgentFixture({ haproxyPath: fake, services: { web: { type: 'static', port: await freePort(), servers: ['127.0.0.1:1'] } } });
    const res = await runCli(['check', '-c', agent.configFile]);
    expect(res.stdout).toMatch(/haproxy -c: configuration valid/);
    expect(res.code).toBe(0);
    if (warns) expect(res.stdout).toContain(`WARN  haproxy -v: HAProxy ${version} is older than 2.6`);
    else expect(res.stdout).not.toMatch(/WARN/);
    rmSync(dirname(fake), { recursive: true, force: true });
  });
});
