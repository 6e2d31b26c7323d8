import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { AgentFixture } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { TestEtcd } from '../support/etcd';
import { freePort, sample, waitUntil } from '../support/net';
import { TestPki } from '../support/pki';
import { RuntimeClient } from '../../src/haproxy/runtime-client';

type Status = { good: boolean; errors: Array<{ service?: string; problem: string }> };

// etcd with its own users (auth enabled) and with TLS and client certificates.
describe('etcd credentials and TLS', () => {
  let backends: Backends;
  let agent: AgentFixture | undefined;

  beforeAll(async () => {
    backends = await startBackends(2);
  });
  afterAll(async () => {
    await backends.close();
  });
  afterEach(async () => {
    await agent?.cleanup();
    agent = undefined;
  });

  async function status(apiPort: number): Promise<Status> {
    return (await (await fetch(`http://127.0.0.1:${apiPort}/status`, { headers: { accept: 'application/json' } })).json()) as Status;
  }

  describe('with auth enabled', () => {
    let etcd: TestEtcd;
    let root: Etcd3;
    const ROOT = 'root:root-pw-41';
    const SIDECAR = 'sidecar:sidecar-pw-97';

    beforeAll(async () => {
      etcd = await new TestEtcd().start();
      const as = ['--user', ROOT];
      await etcd.ctl(['user', 'add', ROOT]);
      await etcd.ctl(['role', 'add', 'root']);
      await etcd.ctl(['user', 'grant-role', 'root', 'root']);
      // The sidecars' identity may read the registry, nothing else and never write.
      await etcd.ctl(['role', 'add', 'reader']);
      await etcd.ctl(['role', 'grant-permission', 'reader', '--prefix=true', 'read', '/proxymgr/']);
      await etcd.ctl(['user', 'add', SIDECAR]);
      await etcd.ctl(['user', 'grant-role', 'sidecar', 'reader']);
      await etcd.ctl(['auth', 'enable']);
      root = etcd.client(etcd.endpoint, ROOT);
      await root.put('/proxymgr/instances/web/a').value(`127.0.0.1:${backends.ports[0]}`);
      await root.put('/secret/instances/b').value(`127.0.0.1:${backends.ports[1]}`);
      void as;
    });
    afterAll(async () => {
      root?.close();
      await etcd?.cleanup();
    });

    test('the sidecar reads as its own user; a prefix it may not read is that service\'s error; a wrong password is named, never shown, and a SIGHUP with the right one recovers', async () => {
      const port = await freePort();
      const apiPort = await freePort();
      await root.put('/proxymgr/services/web').value(JSON.stringify({ type: 'etcd', endpoints: [etcd.endpoint], prefix: '/proxymgr/instances/web', port }));
      await root.put('/proxymgr/services/hidden').value(JSON.stringify({ type: 'etcd', endpoints: [etcd.endpoint], prefix: '/secret/instances', port: await freePort() }));
      agent = new AgentFixture({
        serviceConfig: { type: 'etcd', cluster: 'main', prefix: '/proxymgr/services' },
        extraYaml: `etcd:\n  clusters:\n    main:\n      endpoints: [${etcd.endpoint}]\n      auth: {credentials_file: etcd.auth}\napi:\n  listen: "127.0.0.1:${apiPort}"\nstatus:\n  source_grace_ms: 500`,
      });
      const authFile = join(agent.dir, 'etcd.auth');
      writeFileSync(authFile, 'sidecar:not-the-password\n');
      await agent.start();
      await agent.waitLog((l) => l.event === 'api_listening');
      // A wrong password: the service config is an agent error that names the user's failure, not the password.
      await waitUntil('the agent to report the service config error', async () => (await status(apiPort)).errors.some((e) => e.service === undefined), 10_000, 100);
      const bad = await status(apiPort);
      const problem = bad.errors.find((e) => e.service === undefined)!.problem;
      console.log(`wrong etcd password: ${problem}`);
      expect(problem).toMatch(/etcd cluster main .*\/proxymgr\/services\/: cannot read \(.*(authentication failed|invalid user ID or password)/i);
      writeFileSync(authFile, `${SIDECAR}\n`);
      agent.proc!.kill('SIGHUP');
      await waitUntil('web to serve after the SIGHUP', () => sample(port, 1).then(() => true, () => false), 10_000, 100);
      expect(await sample(port, 2)).toEqual(new Set([backends.id(backends.ports[0])]));
      // The prefix outside the sidecar's role: that service alone is in error, with etcd's reason.
      await waitUntil('the hidden service to be in error', async () => (await status(apiPort)).errors.some((e) => e.service === 'hidden'), 10_000, 100);
      const hidden = (await status(apiPort)).errors.find((e) => e.service === 'hidden')!;
      expect(hidden.problem).toMatch(/permission denied/);
      expect((await status(apiPort)).errors.filter((e) => e.service !== 'hidden')).toEqual([]);
      const everything = JSON.stringify(agent.logs) + agent.stderr.join('\n') + JSON.stringify(await status(apiPort));
      expect(everything).not.toContain('sidecar-pw-97');
      expect(everything).not.toContain('not-the-password');
    });
  });

  describe('over TLS with client certificates', () => {
    let etcd: TestEtcd;
    let pki: TestPki;
    let ec: Etcd3;

    beforeAll(async () => {
      pki = await TestPki.create();
      const server = await pki.issue('etcd-server', 'localhost');
      const client = await pki.issue('etcd-client', 'proxymgr', { usage: 'clientAuth' });
      etcd = new TestEtcd();
      etcd.tls = { certFile: server.cert, keyFile: server.key, caFile: pki.caCert, client: { certFile: client.cert, keyFile: client.key } };
      await etcd.start();
      ec = etcd.client();
    });
    afterAll(async () => {
      ec?.close();
      await etcd?.cleanup();
      pki?.cleanup();
    });

    test('a cluster with a CA and a client certificate reads over TLS; the same endpoints in a blob get its TLS; without a client certificate the error says why', async () => {
      const port = await freePort();
      const apiPort = await freePort();
      const hostPort = etcd.endpoint.replace(/^https:\/\//, '');
      await ec.put('/pm/services/web').value(JSON.stringify({ type: 'etcd', endpoints: [hostPort], prefix: '/pm/instances/web', port }));
      await ec.put('/pm/instances/web/a').value(JSON.stringify({ address: '127.0.0.1', port: backends.ports[0] }));
      const cluster = (withClient: boolean) =>
        `etcd:\n  clusters:\n    secure:\n      endpoints: [${hostPort}]\n      tls: {ca_file: ${pki.caCert}${withClient ? `, cert_file: ${etcd.tls!.client!.certFile}, key_file: ${etcd.tls!.client!.keyFile}` : ''}}\napi:\n  listen: "127.0.0.1:${apiPort}"\nstatus:\n  source_grace_ms: 500`;
      agent = new AgentFixture({ serviceConfig: { type: 'etcd', cluster: 'secure', prefix: '/pm/services' }, extraYaml: cluster(true) });
      await agent.start();
      expect(await sample(port, 2)).toEqual(new Set([backends.id(backends.ports[0])]));
      await ec.put('/pm/instances/web/b').value(JSON.stringify({ address: '127.0.0.1', port: backends.ports[1] }));
      const client = new RuntimeClient(agent.socketPath);
      await waitUntil('the second instance over TLS', async () => (await client.showServersState('web')).length === 2, 10_000, 20);
      await agent.cleanup();

      agent = new AgentFixture({ serviceConfig: { type: 'etcd', cluster: 'secure', prefix: '/pm/services' }, extraYaml: cluster(false) });
      await agent.start();
      await agent.waitLog((l) => l.event === 'api_listening');
      await waitUntil('the agent to report the service config error', async () => (await status(apiPort)).errors.some((e) => e.service === undefined), 15_000, 100);
      const problem = (await status(apiPort)).errors.find((e) => e.service === undefined)!.problem;
      console.log(`etcd TLS without a client certificate: ${problem}`);
      expect(problem).toMatch(/cannot read \(.*certificate/);
    });
  });
});
