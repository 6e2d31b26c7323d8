import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { AgentView } from '../../../src/agent/view';
import { ApiServer } from '../../../src/api/server';
import { watchTlsFiles } from '../../../src/api/tls-watch';
import { EXPIRY_METRIC } from '../../../src/api/tls';
import { parseConfig } from '../../../src/config/load';
import { httpsCall, normalSerial } from '../../support/https';
import { TestPki } from '../../support/pki';
import { waitUntil } from '../../support/net';

const agent = { haproxy: () => ({ running: true, restarts: 0 }), problems: () => [], statuses: () => [], desiredServices: () => [] } as unknown as AgentView;

// The SIGHUP step in-process: reconfigure() with a re-read config swaps the certificate on the listening server.
describe('ApiServer with api.tls', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await TestPki.create();
  });
  afterAll(() => pki.cleanup());

  test('serves the configured certificate; reconfigure with renewed files serves the new one, with the same files logs nothing', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const file = join(pki.dir, 'proxymgr.yml');
    const text = `service_config: {type: file, path: services}\napi:\n  tls: {cert_file: unit.crt, key_file: unit.key}\n`;
    const issued = await pki.issue('unit', 'localhost');
    const config = parseConfig(text, file);
    const registry = new Registry();
    const api = new ApiServer(agent, undefined, log, undefined, registry);
    try {
      const { port } = await api.listen('127.0.0.1:0', config.apiTls);
      const url = `https://localhost:${port}/livez`;
      expect((await httpsCall(url, { ca: pki.caCert })).serial).toBe(normalSerial(await pki.serialOf(issued.cert)));

      api.reconfigure(parseConfig(text, file));
      expect(lines.filter((l) => l.event === 'api_tls_reloaded')).toEqual([]);

      await pki.issue('unit', 'localhost');
      const renewed = normalSerial(await pki.serialOf(issued.cert));
      api.reconfigure(parseConfig(text, file));
      expect((await httpsCall(url, { ca: pki.caCert })).serial).toBe(renewed);
      expect(lines.filter((l) => l.event === 'api_tls_reloaded').map((l) => [l.reason, normalSerial(String(l.serial))])).toEqual([['sighup', renewed]]);
      // Not a word of the key in the logs.
      expect(JSON.stringify(lines)).not.toContain('PRIVATE KEY');
      // The served certificate's expiry, for an alert on a renewal that did not happen.
      const notAfter = Date.parse(String(lines.filter((l) => l.event === 'api_tls_reloaded')[0].validTo)) / 1000;
      expect(await registry.getSingleMetricAsString(EXPIRY_METRIC)).toContain(`${EXPIRY_METRIC} ${notAfter}`);
    } finally {
      await api.close();
    }
    expect(registry.getSingleMetric(EXPIRY_METRIC)).toBeUndefined();
  });
});

describe('watchTlsFiles', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await TestPki.create();
  });
  afterAll(() => pki.cleanup());

  test('a file replaced by rename is noticed once it settles; nothing after stop', async () => {
    const files = { cert_file: join(pki.dir, 'w.crt'), key_file: join(pki.dir, 'w.key') };
    writeFileSync(files.cert_file, 'a');
    writeFileSync(files.key_file, 'a');
    let calls = 0;
    const stop = watchTlsFiles(files, () => calls++, 20, 100);
    try {
      // Both files rewritten, one after the other, as a renewal does: one call.
      await new Promise((r) => setTimeout(r, 60));
      writeFileSync(`${files.cert_file}.new`, 'bb');
      renameSync(`${files.cert_file}.new`, files.cert_file);
      writeFileSync(files.key_file, 'bbb');
      await waitUntil('the change noticed', () => calls > 0, 5000);
      await new Promise((r) => setTimeout(r, 300));
      expect(calls).toBe(1);
    } finally {
      stop();
    }
    writeFileSync(files.cert_file, 'cccc');
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toBe(1);
  });
});
