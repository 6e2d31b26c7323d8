import https from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentFixture } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { freePort, waitUntil } from '../support/net';
import { TestPki, type Issued } from '../support/pki';

/** One HTTPS request on a new connection (a full TLS handshake): the body and the serial of the certificate presented. */
function httpsGet(port: number, ca: Buffer, servername = 'localhost', path = '/'): Promise<{ body: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, ca, servername, agent: false, timeout: 5000 }, (res) => {
      const serial = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber.toUpperCase();
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve({ body, serial }) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** The protocol ALPN settles on when the client offers `protocols`. */
function alpnOf(port: number, ca: Buffer, protocols: string[]): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: protocols }, () => {
      const p = s.alpnProtocol ?? false;
      s.end();
      resolve(p);
    });
    s.on('error', reject);
  });
}

/** How a renewal tool writes a certificate: a new file beside it, renamed into place. */
function renew(target: string, content: string): void {
  const tmp = `${target}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, target);
}

const metric = async (apiPort: number, line: RegExp) => line.exec(await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text())?.[1];

describe('bind_tls: TLS on a service port, certificates renewed without a reload', () => {
  let pki: TestPki;
  let backends: Backends;
  let agent: AgentFixture;
  let ca: Buffer;
  const serial = async (i: Issued) => (await pki.serialOf(i.cert)).toUpperCase();

  beforeAll(async () => {
    pki = await TestPki.create();
    ca = readFileSync(pki.caCert);
    backends = await startBackends(2);
  }, 30_000);
  afterAll(async () => {
    await backends.close();
    pki.cleanup();
  });
  afterEach(() => agent?.cleanup());

  test('serves HTTPS; a renewed file is served within a second under load with the same HAProxy, no failed handshake; a broken file is refused and the old one kept; ALPN h2', async () => {
    const [port, apiPort] = [await freePort(), await freePort()];
    const [v1, v2] = [await pki.issue('v1'), await pki.issue('v2')];
    const certs = join(pki.dir, 'live');
    mkdirSync(certs);
    const site = join(certs, 'site.pem');
    copyFileSync(v1.pem, site);
    agent = new AgentFixture({
      services: { web: { type: 'static', port, mode: 'http', bind_tls: { cert_files: [site], alpn: ['h2', 'http/1.1'], min_version: 'TLSv1.2' }, servers: [`127.0.0.1:${backends.ports[0]}`] } },
      extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"`,
    });
    await agent.start();
    expect(readFileSync(agent.configPath, 'utf8')).toContain(`bind 127.0.0.1:${port} ssl crt ${site} alpn h2,http/1.1 ssl-min-ver TLSv1.2\n`);
    const first = await httpsGet(port, ca);
    expect(first).toEqual({ body: `${backends.id(backends.ports[0])}\n`, serial: await serial(v1) });
    expect(await alpnOf(port, ca, ['h2'])).toBe('h2');
    expect(await alpnOf(port, ca, ['http/1.1'])).toBe('http/1.1');
    expect(await alpnOf(port, ca, ['h2', 'http/1.1'])).toBe('h2');

    // Continuous load: two loops of new TLS connections, every failure counted.
    const pid = await agent.haproxyPid();
    // `start`: when the connection began; `at`: when its answer came (a handshake in flight during the swap may end after a newer one).
    const seen: Array<{ start: number; at: number; serial: string }> = [];
    const failures: string[] = [];
    let running = true;
    const loop = async () => {
      while (running) {
        const start = performance.now();
        try {
          const r = await httpsGet(port, ca);
          seen.push({ start, at: performance.now(), serial: r.serial });
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const loops = [loop(), loop()];
    try {
      await waitUntil('requests flowing', () => seen.length >= 20, 10_000);
      const from = agent.mark();
      const want = await serial(v2);
      const t0 = performance.now();
      renew(site, readFileSync(v2.pem, 'utf8'));
      await waitUntil('the renewed certificate served', () => seen.some((s) => s.at > t0 && s.serial === want), 10_000);
      const swapMs = Math.round(seen.find((s) => s.at > t0 && s.serial === want)!.at - t0);
      const updated = await agent.waitLog((l) => l.event === 'cert_updated', 5000, from);
      expect(updated).toMatchObject({ path: site, services: ['web'], serial: want });
      const n = seen.length;
      await waitUntil('more requests after the swap', () => seen.length >= n + 20, 10_000);
      // Once served, the new certificate is the only one: no connection begun after that gets the old.
      const servedAt = seen.find((s) => s.at > t0 && s.serial === want)!.at;
      expect(seen.filter((s) => s.start > servedAt && s.serial !== want)).toEqual([]);
      expect(failures).toEqual([]);
      expect(await agent.haproxyPid()).toBe(pid);
      expect(agent.events('reload', from)).toEqual([]);
      console.log(`frontend-tls: renewed certificate served ${swapMs} ms after the rename; ${seen.length} requests, ${failures.length} failed`);

      // A broken file (a certificate without its key) is refused, named, and v2 keeps serving.
      const broken = agent.mark();
      renew(site, readFileSync(v1.cert, 'utf8'));
      const refused = await agent.waitLog((l) => l.event === 'cert_refused', 5000, broken);
      expect(refused).toMatchObject({ path: site, services: ['web'] });
      expect(String(refused.error)).toMatch(/no private key/);
      const status = (await (await fetch(`http://127.0.0.1:${apiPort}/status`, { headers: { accept: 'application/json' } })).json()) as { errors: Array<{ service?: string; problem: string }> };
      expect(status.errors).toContainEqual({ service: 'web', problem: expect.stringContaining(`bind_tls: ${site}: no private key`) });
      const m = seen.length;
      await waitUntil('requests after the broken write', () => seen.length >= m + 10, 10_000);
      expect(seen.slice(m).every((s) => s.serial === want)).toBe(true);
      expect(failures).toEqual([]);
      expect(await agent.haproxyPid()).toBe(pid);

      // Sound again: served, the problem cleared, counted.
      const v3 = await pki.issue('v3');
      renew(site, readFileSync(v3.pem, 'utf8'));
      const want3 = await serial(v3);
      await waitUntil('v3 served', () => seen.some((s) => s.serial === want3), 10_000);
      await agent.waitLog((l) => l.event === 'cert_recovered', 5000, broken);
      expect(failures).toEqual([]);
      expect(await agent.haproxyPid()).toBe(pid);
      expect(agent.events('reload', from)).toEqual([]);
      expect(await metric(apiPort, /^proxymgr_cert_updates_total\{result="updated"\} (\d+)$/m)).toBe('2');
      expect(await metric(apiPort, /^proxymgr_cert_updates_total\{result="refused"\} (\d+)$/m)).toBe('1');
    } finally {
      running = false;
      await Promise.all(loops);
    }
  }, 90_000);

  test('cert_dir: new content swaps at runtime; a new file is a new name and reloads; a bad new file is refused without a reload', async () => {
    const port = await freePort();
    const dir = join(pki.dir, 'dir');
    mkdirSync(dir);
    const [a1, a2, b] = [await pki.issue('a1'), await pki.issue('a2'), await pki.issue('b', 'b.test', { san: 'DNS:b.test' })];
    copyFileSync(a1.pem, join(dir, 'a.pem'));
    agent = new AgentFixture({ services: { web: { type: 'static', port, mode: 'http', bind_tls: { cert_dir: dir }, servers: [`127.0.0.1:${backends.ports[0]}`] } } });
    await agent.start();
    expect(readFileSync(agent.configPath, 'utf8')).toContain(`bind 127.0.0.1:${port} ssl crt ${dir}\n`);
    expect((await httpsGet(port, ca)).serial).toBe(await serial(a1));
    const pid = await agent.haproxyPid();

    const from = agent.mark();
    renew(join(dir, 'a.pem'), readFileSync(a2.pem, 'utf8'));
    await waitUntil('a2 served', async () => (await httpsGet(port, ca)).serial === (await serial(a2)), 10_000);
    expect(await agent.waitLog((l) => l.event === 'cert_updated', 5000, from)).toMatchObject({ path: join(dir, 'a.pem'), services: ['web'] });
    expect(agent.events('reload', from)).toEqual([]);
    expect(await agent.haproxyPid()).toBe(pid);

    // A bad new file: refused (haproxy -c would fail on it), nothing reloads.
    const bad = agent.mark();
    writeFileSync(join(dir, '.c.tmp'), readFileSync(b.cert, 'utf8'));
    renameSync(join(dir, '.c.tmp'), join(dir, 'c.pem'));
    expect(await agent.waitLog((l) => l.event === 'cert_refused', 5000, bad)).toMatchObject({ path: dir, services: ['web'] });
    expect(agent.events('reload', bad)).toEqual([]);

    // Fixed, and another new file: the directory's names changed, so the service reloads and serves b.test by SNI.
    const added = agent.mark();
    renew(join(dir, 'c.pem'), readFileSync(a2.pem, 'utf8'));
    renew(join(dir, 'b.pem'), readFileSync(b.pem, 'utf8'));
    const reload = await agent.waitLog((l) => l.event === 'reload', 10_000, added);
    expect(reload).toMatchObject({ kind: 'runtime_fallback', services: ['web'] });
    expect(agent.events('cert_dir_changed', added)[0]).toMatchObject({ dir, services: ['web'] });
    expect((await httpsGet(port, ca, 'b.test')).serial).toBe(await serial(b));
    expect((await httpsGet(port, ca)).serial).toBe(await serial(a2));
  }, 60_000);

  test('a shared port takes its default service TLS: the routed services are served over it', async () => {
    const port = await freePort();
    const v = await pki.issue('shared');
    const [b1, b2] = backends.ports;
    agent = new AgentFixture({
      services: {
        site: { type: 'static', port, mode: 'http', bind_tls: { cert_files: [v.pem] }, servers: [`127.0.0.1:${b1}`] },
        api: { type: 'static', port, mode: 'http', match: { path_prefix: ['/api'] }, servers: [`127.0.0.1:${b2}`] },
      },
    });
    await agent.start();
    expect(readFileSync(agent.configPath, 'utf8')).toContain(`frontend port:${port}\n    mode http\n    bind 127.0.0.1:${port} ssl crt ${v.pem}\n`);
    expect(await httpsGet(port, ca, 'localhost', '/')).toEqual({ body: `${backends.id(b1)}\n`, serial: await serial(v) });
    expect(await httpsGet(port, ca, 'localhost', '/api/x')).toEqual({ body: `${backends.id(b2)}\n`, serial: await serial(v) });
  }, 30_000);

  test('a blob naming a missing or keyless file is refused, naming the service, the field and the file', async () => {
    const port = await freePort();
    const v = await pki.issue('solo');
    agent = new AgentFixture({
      services: {
        nokey: { type: 'static', port, bind_tls: { cert_files: [v.cert] }, servers: [`127.0.0.1:${backends.ports[0]}`] },
        gone: { type: 'static', port: await freePort(), bind_tls: { cert_files: ['/nonexistent/x.pem'] }, servers: [`127.0.0.1:${backends.ports[0]}`] },
      },
    });
    await agent.start();
    const invalid = agent.events('service_invalid');
    expect(invalid.find((l) => l.service === 'nokey')?.errors).toEqual([`bind_tls.cert_files[0]: ${v.cert}: no private key (the file must hold the certificate and its key)`]);
    expect(invalid.find((l) => l.service === 'gone')?.errors).toEqual(['bind_tls.cert_files[0]: /nonexistent/x.pem: ENOENT']);
  }, 30_000);
});
