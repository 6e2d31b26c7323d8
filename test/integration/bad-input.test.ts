import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentFixture } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { freePort, get, waitUntil } from '../support/net';
import { hugeBlob, MARKER, serviceCorpus } from '../corpus/corpus';

/**
 * Issue 9: the whole bad-service corpus in a running agent's service directory,
 * next to one good service. The agent stays up, the good service serves, every
 * bad file is reported by name (`service_invalid`, naming the field), and none of
 * them reaches haproxy.cfg.
 */
describe('bad input in a running agent', () => {
  const corpus = serviceCorpus();
  let backends: Backends;
  let agent: AgentFixture;
  let port: number;

  beforeAll(async () => {
    backends = await startBackends(1);
    port = await freePort();
    agent = new AgentFixture({ services: { good: { type: 'static', port, servers: [`127.0.0.1:${backends.ports[0]}`] } } });
    for (const e of corpus) copyFileSync(e.path, join(agent.servicesDir, e.file));
    await agent.start();
  });
  afterAll(async () => {
    await agent?.cleanup();
    await backends?.close();
  });

  const cfg = () => readFileSync(agent.configPath, 'utf8');
  const listenNames = () => [...cfg().matchAll(/^listen (\S+)$/gm)].map((m) => m[1]);
  const reported = (name: string) => agent.events('service_invalid').filter((l) => l.service === name);

  test('starts with only the good service, which serves', async () => {
    expect(agent.events('start')).toHaveLength(1);
    expect(listenNames()).toEqual(['good']);
    expect((await get(port)).trim()).toBe(backends.id(backends.ports[0]));
  });

  test('every corpus file is reported invalid by service name, with an error naming the field', async () => {
    await waitUntil('every corpus service reported', () => corpus.every((e) => reported(e.service).length > 0), 10_000);
    const wrong = corpus.filter((e) => !reported(e.service).some((l) => (l.errors as string[]).some((m) => e.error.test(m)) && l.origin === join(agent.servicesDir, e.file)));
    expect(wrong.map((e) => `${e.file}: ${JSON.stringify(reported(e.service).map((l) => l.errors))}`)).toEqual([]);
    expect(agent.events('service_defined').map((l) => l.service)).toEqual(['good']);
  });

  test('haproxy.cfg holds none of them: no injected marker, no bad service section', () => {
    const text = cfg();
    expect(text).not.toContain(MARKER);
    expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    for (const e of corpus) if (e.service.length > 2) expect(text).not.toContain(`listen ${e.service}\n`);
  });

  test('bad files written while it runs (over 1 MB, a newline and a tab in the file name) are reported too; it stays up and serves', async () => {
    const from = agent.mark();
    writeFileSync(join(agent.servicesDir, 'huge.json'), hugeBlob());
    writeFileSync(join(agent.servicesDir, `new\nline ${MARKER}.json`), JSON.stringify({ type: 'static', port: 18996, servers: ['127.0.0.1:9'] }));
    writeFileSync(join(agent.servicesDir, `tab\tname.json`), JSON.stringify({ type: 'static', port: 18995, servers: ['127.0.0.1:9'] }));
    // writeFileSync of 1 MB is not atomic: a read in the middle of it may see a cut JSON first; the re-read after the write names the size.
    const huge = await agent.waitLog((l) => l.event === 'service_invalid' && l.service === 'huge' && JSON.stringify(l.errors).includes('larger than'), 5000, from);
    expect(huge.errors).toEqual(['larger than 1048576 bytes']);
    const nl = await agent.waitLog((l) => l.event === 'service_invalid' && l.service === `new\nline ${MARKER}`, 5000, from);
    expect((nl.errors as string[])[0]).toMatch(/^invalid service name "new\\nline pmgrbad"/);
    await agent.waitLog((l) => l.event === 'service_invalid' && l.service === 'tab\tname', 5000, from);
    expect(agent.proc!.exitCode).toBeNull();
    expect(agent.events('apply_failed')).toEqual([]);
    expect(agent.events('haproxy_crash')).toEqual([]);
    expect(listenNames()).toEqual(['good']);
    expect(cfg()).not.toContain(MARKER);
    expect((await get(port)).trim()).toBe(backends.id(backends.ports[0]));
  });
});
