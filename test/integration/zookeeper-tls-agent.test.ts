import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { RuntimeClient } from '../../src/haproxy/runtime-client';
import { digestId } from '../../src/zk/auth';
import { AgentFixture, haproxyPidsFor, runCli } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { startLoad } from '../support/load';
import { freePorts, sample, waitUntil } from '../support/net';
import { makePki, TlsZooKeeper, type Pki } from '../support/zookeeper-tls';
import type { ZkTestClient } from '../support/zookeeper';

// The agent itself (dist/cli.js, HAProxy, ZooKeeper 3.8) over ZooKeeper's secureClientPort,
// with digest credentials on top: paths no one can read without them.

const SIDECAR = 'sidecar:tls-Side-Pa55word';
const SUPER = 'super:tls-Super-Pa55word';
// Readable by the sidecar's identity only; the superuser (ZooKeeper's superDigest) writes past any ACL.
const ACL = `digest:${digestId(SIDECAR)}:read`;
const SECRETS = ['tls-Side-Pa55word', digestId(SIDECAR).split(':')[1]];

type Problem = { service?: string; problem: string };
type Status = { good: boolean; errors: Problem[]; warnings: Problem[] };

/** ZooKeeper's `mntr` counters (four-letter word on the plain clientPort). */
function mntr(port: number): Promise<Record<string, string>> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('connect', () => s.write('mntr'));
    s.on('data', (d) => (out += d.toString()));
    s.on('close', () => resolve(Object.fromEntries(out.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]))));
    s.on('error', () => resolve({}));
    s.setTimeout(2000, () => s.destroy());
  });
}

describe('the agent over ZooKeeper TLS with digest credentials', () => {
  let pki: Pki;
  let zk: TlsZooKeeper;
  let admin: ZkTestClient;
  let backends: Backends;
  const agents: AgentFixture[] = [];

  beforeAll(async () => {
    [pki, backends] = await Promise.all([makePki(), startBackends(3)]);
    zk = new TlsZooKeeper(pki);
    zk.superUser = SUPER;
    await zk.start();
    admin = await zk.client(SUPER);
  }, 30_000);
  afterAll(async () => {
    admin?.close();
    await zk?.cleanup();
    await backends?.close();
    pki?.cleanup();
  });
  /** Set while the outage test has ZooKeeper stopped: a failure there must not leave it down for the next test. */
  let zkDown = false;
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.cleanup();
    if (zkDown) {
      await zk.start();
      admin = await zk.client(SUPER);
      zkDown = false;
    }
  });

  /** An agent whose ensembles all connect to the secure port with the sidecar's credentials; `ca` per ensemble ('good': the CA that signed the server). */
  function agentWith(opts: { ensembles: Record<string, { ca: 'good' | 'other'; servers?: string }>; serviceConfig?: Record<string, string>; apiPort: number; services?: Record<string, unknown> }): AgentFixture {
    const yaml = ['zookeeper:', '  ensembles:'];
    for (const [name, e] of Object.entries(opts.ensembles)) {
      yaml.push(
        `    ${name}:`,
        `      servers: "${e.servers ?? zk.secureConnectString}"`,
        '      auth: {scheme: digest, credentials_file: sidecar.auth}',
        // Relative: resolved against proxymgr.yml's directory.
        `      tls: {ca_file: ${e.ca === 'good' ? 'zk-ca.pem' : 'other-ca.pem'}}`,
      );
    }
    yaml.push('api:', `  listen: "127.0.0.1:${opts.apiPort}"`, 'status:', '  source_grace_ms: 500');
    const a = new AgentFixture({ serviceConfig: opts.serviceConfig, services: opts.services, extraYaml: yaml.join('\n') });
    writeFileSync(join(a.dir, 'sidecar.auth'), `${SIDECAR}\n`);
    copyFileSync(pki.caPem, join(a.dir, 'zk-ca.pem'));
    copyFileSync(pki.otherCaPem, join(a.dir, 'other-ca.pem'));
    agents.push(a);
    return a;
  }

  const status = async (apiPort: number) => (await (await fetch(`http://127.0.0.1:${apiPort}/status`, { headers: { accept: 'application/json' } })).json()) as Status;

  /** /ROOT/services/web (by ensemble name) and /ROOT/services/api (by connect string), their instances, all under ACL. */
  async function tree(root: string, web: { port: number; instances: Record<string, number> }, api?: { port: number; instance: number }): Promise<void> {
    const paths = [root, `${root}/services`, `${root}/instances`, `${root}/instances/web`, ...(api ? [`${root}/instances/api`] : [])];
    for (const p of paths) await admin.create(p, '', ACL);
    for (const [name, port] of Object.entries(web.instances)) await admin.create(`${root}/instances/web/${name}`, { address: '127.0.0.1', port }, ACL);
    await admin.create(`${root}/services/web`, { type: 'zookeeper', ensemble: 'main', path: `${root}/instances/web`, port: web.port }, ACL);
    if (api) {
      await admin.create(`${root}/instances/api/a`, { address: '127.0.0.1', port: api.instance }, ACL);
      // A bare connect string gets the TLS and credentials of the ensemble with those servers.
      await admin.create(`${root}/services/api`, { type: 'zookeeper', server: zk.secureConnectString, path: `${root}/instances/api`, port: api.port }, ACL);
    }
  }

  /** Nothing secret in the whole log, stderr or /status; `seen` is in there, so the search reads the right text. */
  async function expectNoPassword(agent: AgentFixture, seen: string, apiPort?: number): Promise<void> {
    const everything = [...agent.logs.map((l) => JSON.stringify(l)), ...agent.stderr, ...(apiPort ? [JSON.stringify(await status(apiPort))] : [])].join('\n');
    expect(everything).toContain(seen);
    for (const secret of SECRETS) expect(everything).not.toContain(secret);
  }

  test('service config and instances through the secureClientPort with credentials: an instance added serves, one removed goes', async () => {
    const [webPort, apiPort, apiListen] = await freePorts(3);
    const [b1, b2, b3] = backends.ports;
    const root = '/tls-agent1';
    await tree(root, { port: webPort, instances: { a: b1 } }, { port: apiPort, instance: b3 });
    // Closed without credentials, over TLS too.
    const anonymous = await zk.tlsTestClient();
    try {
      expect(await anonymous.tryChildren(`${root}/services`)).toBe('NO_AUTH');
      expect(await anonymous.tryChildren(`${root}/instances/web`)).toBe('NO_AUTH');
    } finally {
      anonymous.close();
    }

    const agent = agentWith({ ensembles: { main: { ca: 'good' } }, serviceConfig: { type: 'zookeeper', ensemble: 'main', path: `${root}/services` }, apiPort: apiListen });
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    expect(await sample(webPort, 3)).toEqual(new Set([backends.id(b1)]));
    expect(await sample(apiPort, 3)).toEqual(new Set([backends.id(b3)]));
    expect(agent.events('source_error')).toEqual([]);
    expect(agent.events('service_config_error')).toEqual([]);
    expect(agent.events('zk_tls_failed')).toEqual([]);
    expect((await status(apiListen)).good).toBe(true);

    const rc = new RuntimeClient(agent.socketPath);
    const serving = async () => (await rc.showServersState('web')).filter((s) => !s.maint).map((s) => s.port).sort((x, y) => x - y);
    const from = agent.mark();
    await admin.create(`${root}/instances/web/b`, { address: '127.0.0.1', port: b2 }, ACL);
    await waitUntil('b to serve', async () => (await serving()).length === 2, 5000);
    expect(await serving()).toEqual([b1, b2].sort((x, y) => x - y));
    await waitUntil('b to answer', async () => (await sample(webPort, 6)).has(backends.id(b2)), 5000);

    await admin.remove(`${root}/instances/web/a`);
    await waitUntil('a to leave', async () => !(await serving()).includes(b1), 5000);
    expect(await serving()).toEqual([b2]);
    expect(await sample(webPort, 6)).toEqual(new Set([backends.id(b2)]));
    // Instance churn went over the runtime API.
    expect(agent.events('reload', from)).toEqual([]);
    await expectNoPassword(agent, `${root}/services/web`, apiListen);
  });

  test('an outage of the TLS ZooKeeper: servers kept and answering, the service named in /status, a change after recovery followed', async () => {
    const [webPort, apiListen] = await freePorts(2);
    const [b1, b2, b3] = backends.ports;
    const root = '/tls-agent2';
    await tree(root, { port: webPort, instances: { a: b1, b: b2 } });
    const agent = agentWith({ ensembles: { main: { ca: 'good' } }, serviceConfig: { type: 'zookeeper', ensemble: 'main', path: `${root}/services` }, apiPort: apiListen });
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    expect(await sample(webPort, 4)).toEqual(new Set([backends.id(b1), backends.id(b2)]));
    const rc = new RuntimeClient(agent.socketPath);
    const serving = async () => (await rc.showServersState('web')).filter((s) => !s.maint).map((s) => s.port).sort((x, y) => x - y);
    const from = agent.mark();

    const load = startLoad(webPort, 2, 30_000);
    admin.close();
    zkDown = true;
    await zk.stop();
    const t0 = Date.now();
    let fewest = Infinity;
    // Past the grace period (500 ms) the source is an error naming the service; the servers stay throughout.
    await waitUntil('/status to name web', async () => {
      fewest = Math.min(fewest, (await serving()).length);
      return (await status(apiListen)).errors.some((e) => e.service === 'web');
    }, 8000, 100);
    while (Date.now() - t0 < 3000) {
      fewest = Math.min(fewest, (await serving()).length);
      await new Promise((r) => setTimeout(r, 100));
    }
    const down = await status(apiListen);
    expect(down.good).toBe(false);
    const web = down.errors.find((e) => e.service === 'web')!;
    expect(web.problem).toMatch(new RegExp(`^zookeeper ensemble main \\(${zk.secureConnectString}\\): disconnected; keeping the previous servers`));
    // A server that refuses connections is an outage, not a TLS failure.
    expect(down.errors.map((e) => e.problem).join('\n')).not.toContain('TLS handshake');
    expect(agent.events('zk_tls_failed', from)).toEqual([]);
    expect(await sample(webPort, 4)).toEqual(new Set([backends.id(b1), backends.id(b2)]));

    await zk.start();
    admin = await zk.client(SUPER);
    zkDown = false;
    const t1 = Date.now();
    await admin.create(`${root}/instances/web/c`, { address: '127.0.0.1', port: b3 }, ACL);
    await waitUntil('c to serve', async () => (await serving()).length === 3, 10_000, 20);
    const arrivedMs = Date.now() - t1;
    await waitUntil('c to answer', async () => (await sample(webPort, 6)).has(backends.id(b3)), 5000);
    await waitUntil('/status good again', async () => (await status(apiListen)).good, 5000);
    const result = await load.stop();
    console.log(`TLS ZooKeeper down ${t1 - t0} ms: requests ok ${result.ok}, failed ${result.failed}; fewest servers ${fewest}; change after return in ${arrivedMs} ms`);
    expect(fewest).toBe(2);
    expect(result.failed).toBe(0);
    expect(result.ok).toBeGreaterThan(20);
    const recovered = agent.events('source_recovered', from).filter((l) => l.service === 'web');
    expect(recovered).toHaveLength(1);
    expect(String(recovered[0].error)).toMatch(/disconnected/);
    expect(agent.events('reload', from)).toEqual([]);
    await expectNoPassword(agent, 'disconnected', apiListen);
  });

  test('a server certificate from another CA: the agent stays up, /status and the log say why, once per reason; a missing ca_file is named at load', async () => {
    const [webPort, apiListen, scApiListen] = await freePorts(3);
    const root = '/tls-agent3';
    await tree(root, { port: webPort, instances: { a: backends.ports[0] } });
    // The service from a file; its instances from the ensemble whose ca_file is the wrong CA.
    const agent = agentWith({
      ensembles: { rogue: { ca: 'other' } },
      apiPort: apiListen,
      services: { web: { type: 'zookeeper', ensemble: 'rogue', path: `${root}/instances/web`, port: webPort } },
    });
    // And an agent whose service config itself is behind the wrong CA: it cannot start.
    const scAgent = agentWith({ ensembles: { rogue: { ca: 'other' } }, serviceConfig: { type: 'zookeeper', ensemble: 'rogue', path: `${root}/services` }, apiPort: scApiListen });
    const t0 = Date.now();
    const scStart = scAgent.start().then(
      () => 'started',
      (err: Error) => err.message,
    );
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    const tlsError = `TLS handshake with ${zk.secureConnectString} failed: self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN): the server certificate is not signed by a CA in ca_file`;
    const expected = `zookeeper ensemble rogue (${zk.secureConnectString}): ${tlsError}; keeping the previous servers`;
    await waitUntil('/status to name web', async () => (await status(apiListen)).errors.length > 0, 5000);
    const early = await status(apiListen);
    expect(early.errors).toEqual([{ service: 'web', problem: expect.stringContaining(expected) }]);

    // Past the watcher's 10 s listing timeout, the client retrying all along. The other agent
    // exits at 10 s (below): from then on the connections ZooKeeper drops are this agent's retries.
    const scOutcome = await scStart;
    const drops = async () => Number((await mntr(zk.port)).zk_connection_drop_count);
    const [d0, w0] = [await drops(), Date.now()];
    await agent.waitLog((l) => l.event === 'source_error' && /timed out/.test(String(l.error)), 10_000);
    // Longer than the TLS retry cap (8 s): the client keeps trying, but backed off.
    while (Date.now() - w0 < 8500) await new Promise((r) => setTimeout(r, 250));
    const retries = (await drops()) - d0;
    const late = await status(apiListen);
    console.log(`wrong CA: ${retries} connections dropped by ZooKeeper in ${Date.now() - w0} ms, zk_tls_failed lines ${agent.events('zk_tls_failed').length}; /status at ${Date.now() - t0} ms: ${late.errors[0]?.problem}`);
    // Without the backoff this is about 100 (12 handshakes a second, a third of a ZooKeeper core per agent).
    expect(retries).toBeGreaterThanOrEqual(1);
    expect(retries).toBeLessThanOrEqual(4);
    expect(agent.events('zk_tls_failed')).toEqual([expect.objectContaining({ service: 'web', server: `ensemble rogue (${zk.secureConnectString})`, error: tlsError })]);
    // The listing queued since start has timed out (after 10 s): its error still carries the reason.
    expect(late.errors).toEqual([{ service: 'web', problem: expect.stringContaining(`${tlsError}); keeping the previous servers`) }]);
    expect(agent.proc!.exitCode).toBeNull();
    expect(agent.haproxyPids().length).toBeGreaterThan(0);

    // The service-config source behind the wrong CA: its start waits 10 s for a session, then the agent exits, saying why.
    console.log(`service config behind the wrong CA: ${scOutcome}`);
    expect(scAgent.proc!.exitCode).toBe(1);
    await waitUntil('the exit message', () => scAgent.stderr.join('\n').includes(`not connected after 10000 ms: ${tlsError}`), 2000);
    expect(haproxyPidsFor(scAgent.configPath)).toEqual([]);

    // A ca_file that does not exist: check and run refuse the configuration, naming the key and the file.
    writeFileSync(agent.configFile, readFileSync(agent.configFile, 'utf8').replace('ca_file: other-ca.pem', 'ca_file: missing-ca.pem'));
    const missing = `zookeeper.ensembles.rogue.tls: ZooKeeper TLS: cannot read ca_file ${join(agent.dir, 'missing-ca.pem')}: ENOENT`;
    const check = await runCli(['check', '-c', agent.configFile, '--no-haproxy']);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain(missing);
    const run = await runCli(['run', '-c', agent.configFile]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(missing);

    await expectNoPassword(agent, tlsError, apiListen);
    await expectNoPassword(scAgent, tlsError);
    expect(check.stdout + check.stderr + run.stdout + run.stderr).not.toContain(SECRETS[0]);
  }, 40_000);
});
