import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { AgentFixture, ROOT, runCli } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { failureOf, firstSseEvent, httpsCall, normalSerial } from '../support/https';
import { freePort, waitUntil } from '../support/net';
import { TestPki } from '../support/pki';

const TOKEN = 'tls-test-token-0123456789abcdef';

/** contrib/check_proxymgr with the given arguments and environment. */
function runCheck(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(join(ROOT, 'contrib', 'check_proxymgr'), args, { env: { ...process.env, ...env } }, (err, stdout) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 3) : 0, out: stdout.trim() });
    });
  });
}

function curl(args: string[]): Promise<{ code: number; err: string }> {
  return new Promise((resolve) => {
    execFile('curl', args, (err, _stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, err: stderr }));
  });
}

/** A plain-HTTP request to the port: what it ends with (an error, or the status it got). */
function plainHttp(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/status', agent: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve(`status ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
    req.end();
  });
}

// Operators who open the API beyond loopback serve it over TLS, renew its certificate without
// restarting the agent, and may ask every client for a certificate of their own CA.
describe('HTTP API over TLS', () => {
  let pki: TestPki;
  let backends: Backends;
  let agent: AgentFixture;
  beforeAll(async () => {
    [pki, backends] = await Promise.all([TestPki.create(), startBackends(1)]);
  });
  afterAll(() => {
    backends.close();
    pki.cleanup();
  });
  afterEach(() => agent.cleanup());

  async function startAgent(tls: string): Promise<{ url: string; port: number }> {
    const [svcPort, apiPort] = [await freePort(), await freePort()];
    agent = new AgentFixture({
      services: { web: { type: 'static', port: svcPort, servers: [`127.0.0.1:${backends.ports[0]}`] } },
      extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"\n  token: ${TOKEN}\n  tls: ${tls}`,
    });
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    return { url: `https://localhost:${apiPort}`, port: apiPort };
  }

  test('HTTPS only; check_proxymgr and the event stream over it; a SIGHUP serves a renewed certificate, a broken key keeps the served one; a renewal on disk alone is picked up', async () => {
    const api = await pki.issue('api', 'localhost');
    const { url, port } = await startAgent(`{cert_file: ${api.cert}, key_file: ${api.key}}`);
    expect(agent.events('api_listening')[0]).toMatchObject({ scheme: 'https', certificate: { subject: 'CN=localhost' } });
    const first = normalSerial(await pki.serialOf(api.cert));

    // Served over HTTPS with the configured certificate, to a client that trusts the CA.
    const status = await httpsCall(`${url}/status`, { ca: pki.caCert });
    expect(status.status).toBe(200);
    expect(status.serial).toBe(first);
    expect(JSON.parse(status.text)).toMatchObject({ good: true, num_ok: 1 });
    // Nothing in clear text: a plain HTTP request gets no answer.
    expect(await plainHttp(port)).toMatch(/^error /);
    // A client that does not trust the CA refuses the server.
    expect(await failureOf(httpsCall(`${url}/status`))).toMatch(/self[- ]signed|unable to get local issuer|UNABLE_TO_VERIFY/i);
    // TLS 1.2 is enough; a client offering at most TLS 1.1 is refused by the server (its alert, not the client's own refusal).
    expect((await httpsCall(`${url}/livez`, { ca: pki.caCert, maxVersion: 'TLSv1.2' })).status).toBe(200);
    const old = await curl(['-sS', '--tls-max', '1.1', '--cacert', pki.caCert, `${url}/livez`]);
    expect(old.code).not.toBe(0);
    expect(old.err).toMatch(/alert protocol version/);

    // A mutation still needs the token.
    const path = `${url}/api/services/web/servers/${encodeURIComponent(`127.0.0.1:${backends.ports[0]}`)}/weight`;
    expect((await httpsCall(path, { ca: pki.caCert, method: 'POST', body: { weight: 50 } })).status).toBe(401);
    expect((await httpsCall(path, { ca: pki.caCert, method: 'POST', body: { weight: 50 }, token: TOKEN })).status).toBe(200);

    // The Nagios check and the dashboard's stream over HTTPS.
    expect(await runCheck(['--cacert', pki.caCert, url])).toEqual({ code: 0, out: 'OK - 1 services ok | ok=1 error=0' });
    expect(await runCheck([url], { PROXYMGR_CA_FILE: pki.caCert })).toEqual({ code: 0, out: 'OK - 1 services ok | ok=1 error=0' });
    expect((await runCheck([url])).code).toBe(2);
    expect(await firstSseEvent(`${url}/events`, pki.caCert)).toBe('hello');
    const metrics = (await httpsCall(`${url}/metrics`, { ca: pki.caCert })).text;
    expect(metrics).toMatch(/^proxymgr_api_certificate_expiry_timestamp_seconds \d+$/m);

    // Renewed in place, then SIGHUP: the new certificate from the next handshake on, same agent, same listener.
    const pid = agent.proc!.pid;
    let from = agent.mark();
    await pki.issue('api', 'localhost');
    const second = normalSerial(await pki.serialOf(api.cert));
    expect(second).not.toBe(first);
    agent.proc!.kill('SIGHUP');
    const reloaded = await agent.waitLog((l) => l.event === 'api_tls_reloaded', 15_000, from);
    // The file watch may notice the renewal as well; whichever comes first, the other finds nothing new.
    expect(['sighup', 'file_changed']).toContain(reloaded.reason);
    expect(normalSerial(String(reloaded.serial))).toBe(second);
    expect((await httpsCall(`${url}/status`, { ca: pki.caCert })).serial).toBe(second);
    expect(agent.proc!.pid).toBe(pid);
    expect(agent.events('api_listening', from)).toEqual([]);

    // A key that is not the certificate's: the SIGHUP is refused by key, the served certificate stays.
    from = agent.mark();
    const other = await pki.issue('other', 'localhost');
    copyFileSync(other.key, api.key);
    agent.proc!.kill('SIGHUP');
    const invalid = await agent.waitLog((l) => l.event === 'config_invalid', 15_000, from);
    expect(String(invalid.error)).toContain('api.tls.key_file: does not match api.tls.cert_file');
    // The file watch reaches the same verdict on its own.
    const watched = await agent.waitLog((l) => l.event === 'api_tls_reload_failed', 15_000, from);
    expect(JSON.stringify(watched.problems)).toContain('api.tls.key_file: does not match api.tls.cert_file');
    expect((await httpsCall(`${url}/status`, { ca: pki.caCert })).serial).toBe(second);

    // Renewed on disk with no SIGHUP at all: the file watch serves it within seconds.
    from = agent.mark();
    await pki.issue('api', 'localhost');
    const third = normalSerial(await pki.serialOf(api.cert));
    await waitUntil('the renewed certificate served', async () => (await httpsCall(`${url}/status`, { ca: pki.caCert })).serial === third, 20_000, 250);
    expect(agent.events('api_tls_reloaded', from).map((l) => l.reason)).toEqual(['file_changed']);
    expect(agent.proc!.pid).toBe(pid);
  });

  test('a key that is not the certificate\'s stops the start and `check`, by key (exit 2)', async () => {
    const [api, other] = await Promise.all([pki.issue('api-bad', 'localhost'), pki.issue('other-bad', 'localhost')]);
    agent = new AgentFixture({ extraYaml: `api:\n  listen: "127.0.0.1:${await freePort()}"\n  tls: {cert_file: ${api.cert}, key_file: ${other.key}}` });
    for (const cmd of ['run', 'check']) {
      const res = await runCli([cmd, '-c', agent.configFile]);
      expect([cmd, res.code]).toEqual([cmd, 2]);
      expect(res.stderr).toContain(`api.tls.key_file: does not match api.tls.cert_file (${other.key} is not the key of ${api.cert})`);
    }
  });

  test('turned on by SIGHUP: the API restarts on HTTPS (same agent), and back to HTTP when it is taken out', async () => {
    const api = await pki.issue('api-on', 'localhost');
    const [svcPort, apiPort] = [await freePort(), await freePort()];
    agent = new AgentFixture({
      services: { web: { type: 'static', port: svcPort, servers: [`127.0.0.1:${backends.ports[0]}`] } },
      extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"`,
    });
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    expect(await plainHttp(apiPort)).toBe('status 200');
    const plain = readFileSync(agent.configFile, 'utf8');
    const pid = agent.proc!.pid;

    let from = agent.mark();
    writeFileSync(agent.configFile, `${plain}  tls: {cert_file: ${api.cert}, key_file: ${api.key}}\n`);
    agent.proc!.kill('SIGHUP');
    expect(await agent.waitLog((l) => l.event === 'api_listening', 15_000, from)).toMatchObject({ scheme: 'https' });
    expect((await httpsCall(`https://localhost:${apiPort}/status`, { ca: pki.caCert })).status).toBe(200);
    expect(await plainHttp(apiPort)).toMatch(/^error /);

    from = agent.mark();
    writeFileSync(agent.configFile, plain);
    agent.proc!.kill('SIGHUP');
    expect(await agent.waitLog((l) => l.event === 'api_listening', 15_000, from)).toMatchObject({ scheme: 'http' });
    expect(await plainHttp(apiPort)).toBe('status 200');
    expect(agent.proc!.pid).toBe(pid);
  });

  test('with client_ca_file: no client certificate or one of another CA is refused in the handshake; a CA-signed one is served and mutations still need the token', async () => {
    const api = await pki.issue('api-m', 'localhost');
    const [ops, stranger] = await Promise.all([pki.issue('client', 'ops', { usage: 'clientAuth' }), pki.issue('stranger', 'ops', { usage: 'clientAuth', otherCa: true })]);
    const { url } = await startAgent(`{cert_file: ${api.cert}, key_file: ${api.key}, client_ca_file: ${pki.caCert}}`);
    expect(agent.events('api_listening')[0]).toMatchObject({ scheme: 'https+client-cert' });

    // Refused at the TLS layer: no HTTP status at all.
    expect(await failureOf(httpsCall(`${url}/status`, { ca: pki.caCert }))).toMatch(/certificate required/);
    expect(await failureOf(httpsCall(`${url}/status`, { ca: pki.caCert, cert: stranger.cert, key: stranger.key }))).toMatch(/unknown ca|ECONNRESET|socket hang up/i);

    const mine = { ca: pki.caCert, cert: ops.cert, key: ops.key };
    expect((await httpsCall(`${url}/status`, mine)).status).toBe(200);
    expect(await firstSseEvent(`${url}/events`, pki.caCert, { cert: ops.cert, key: ops.key })).toBe('hello');
    // The certificate says which machine; the token still says what it may change.
    const path = `${url}/api/services/web/servers/${encodeURIComponent(`127.0.0.1:${backends.ports[0]}`)}/state`;
    const from = agent.mark();
    expect((await httpsCall(path, { ...mine, method: 'POST', body: { state: 'drain' } })).status).toBe(401);
    expect((await httpsCall(path, { ...mine, method: 'POST', body: { state: 'drain' }, token: TOKEN })).status).toBe(200);
    // The audit line is written once the reply is sent.
    await agent.waitLog((l) => l.event === 'audit' && l.status === 200, 5000, from);
    const audits = agent.events('audit', from);
    expect(audits.map((a) => [a.client_cert, a.token, a.status])).toEqual([
      ['ops', null, 401],
      ['ops', 'default', 200],
    ]);
    expect(await runCheck(['--cacert', pki.caCert, '--cert', ops.cert, '--key', ops.key, url])).toEqual({ code: 0, out: 'OK - 1 services ok | ok=1 error=0' });
    expect((await runCheck(['--cacert', pki.caCert, url])).code).toBe(2);
  });
});
