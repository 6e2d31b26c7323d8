import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkPem } from '../../../src/agent/bind-cert-files';
import { CertSwap } from '../../../src/agent/cert-swap';
import type { AgentEvents } from '../../../src/agent/view';
import type { RuntimeClient, RuntimeReply } from '../../../src/haproxy/runtime-client';
import type { Logger } from '../../../src/log';
import type { DesiredService } from '../../../src/model/desired';
import { TestPki, type Issued } from '../../support/pki';

let pki: TestPki;
let v1: Issued;
let v2: Issued;
beforeAll(async () => {
  pki = await TestPki.create();
  [v1, v2] = [await pki.issue('v1'), await pki.issue('v2')];
}, 30_000);
afterAll(() => pki.cleanup());

const fp = (i: Issued) => {
  const c = checkPem(readFileSync(i.pem, 'utf8'));
  if (!c.ok) throw new Error(c.error);
  return c.fingerprint;
};

/** HAProxy as the swapper sees it: what it serves per name, and how it answers set/commit. */
function harness(loaded: Record<string, string>, opts: { set?: string; commit?: string } = {}) {
  const sent: string[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const reloads: Array<[string, string]> = [];
  const files = new Map<string, () => void>();
  const dirs = new Map<string, (name: string) => void>();
  const reply = (command: string, output: string): RuntimeReply => ({ command, output, ok: true, message: output });
  const client = {
    query: async (cmd: string) => {
      sent.push(cmd);
      if (cmd === 'show ssl cert') return `# filename\n${Object.keys(loaded).join('\n')}\n`;
      const name = cmd.replace('show ssl cert ', '');
      return loaded[name] ? `Filename: ${name}\nSHA1 FingerPrint: ${loaded[name]}\n` : "Can't display the certificate: Not found or the certificate is a bundle!\n";
    },
    withPayload: async (cmd: string, payload: string) => {
      sent.push(`${cmd} <<${payload.length > 0 ? ' PEM' : ''}`);
      return opts.set ?? `Transaction created for certificate ${cmd.slice(13)}!\n`;
    },
    batch: async (cmds: string[]) => {
      sent.push(...cmds);
      return cmds.map((c) => reply(c, c.startsWith('commit') ? (opts.commit ?? `Committing ${c.slice(16)}.\nSuccess!\n`) : 'ok\n'));
    },
  } as unknown as RuntimeClient;
  const log = { info: (o: Record<string, unknown>) => logs.push(o), warn: (o: Record<string, unknown>) => logs.push(o), error: (o: Record<string, unknown>) => logs.push(o) } as unknown as Logger;
  const swap = new CertSwap({
    client,
    log,
    events: new EventEmitter<AgentEvents>(),
    enqueue: (fn) => fn(),
    needReload: (s, why) => reloads.push([s, why]),
    watchFile: (p, on) => (files.set(p, on), () => files.delete(p)),
    watchDir: (d, on) => (dirs.set(d, on), () => dirs.delete(d)),
  });
  const settled = () => new Promise((r) => setTimeout(r, 250));
  return { swap, sent, logs, reloads, files, dirs, settled };
}

const svc = (name: string, bindTls: DesiredService['listen']['bindTls']): DesiredService => ({ name, listen: { port: 1, listenOptions: [], serverOptions: [], bindTls }, servers: [] });

test('the same certificate loaded: nothing is sent', async () => {
  const h = harness({ [v1.pem]: fp(v1) });
  h.swap.sync([svc('web', { certFiles: [v1.pem] })]);
  await h.settled();
  expect(h.sent).toEqual([`show ssl cert ${v1.pem}`]);
  expect(h.swap.problemsOf('web')).toEqual([]);
  h.swap.stop();
});

test('new content under a loaded name: set + commit, cert_updated with the serial', async () => {
  const h = harness({ [v2.pem]: fp(v1) });
  h.swap.sync([svc('web', { certFiles: [v2.pem] }), svc('other', { certFiles: [v2.pem] })]);
  await h.settled();
  expect(h.sent).toEqual([`show ssl cert ${v2.pem}`, `set ssl cert ${v2.pem} << PEM`, `commit ssl cert ${v2.pem}`]);
  expect(h.logs.find((l) => l.event === 'cert_updated')).toMatchObject({ path: v2.pem, services: ['other', 'web'], serial: (await pki.serialOf(v2.cert)).toUpperCase() });
  expect(h.swap.stats.updated).toBe(1);
  expect(h.reloads).toEqual([]);
  h.swap.stop();
});

test('a broken file: refused before sending, named in the problems of its service; sound again clears it', async () => {
  const path = join(pki.dir, 'live.pem');
  writeFileSync(path, readFileSync(v1.cert, 'utf8'));
  const h = harness({ [path]: fp(v1) });
  h.swap.sync([svc('web', { certFiles: [path] })]);
  await h.settled();
  expect(h.sent).toEqual([]);
  expect(h.logs.find((l) => l.event === 'cert_refused')).toMatchObject({ path, services: ['web'] });
  expect(h.swap.problemsOf('web')).toEqual([expect.stringMatching(new RegExp(`^bind_tls: ${path}: no private key`))]);
  expect(h.swap.problemsOf('other')).toEqual([]);
  writeFileSync(path, readFileSync(v1.pem, 'utf8'));
  h.files.get(path)!();
  await h.settled();
  expect(h.swap.problemsOf('web')).toEqual([]);
  expect(h.logs.some((l) => l.event === 'cert_recovered')).toBe(true);
  h.swap.stop();
});

test.each([
  ['set refused', { set: "unable to load certificate\nCan't update x!\n" }, /set ssl cert: unable to load/],
  ['commit refused', { commit: "inconsistencies between private key and certificate loaded\nCan't commit x!\n" }, /commit ssl cert: inconsistencies/],
])('%s: the transaction is aborted and the loaded certificate kept', async (_what, answers, error) => {
  const h = harness({ [v2.pem]: fp(v1) }, answers);
  h.swap.sync([svc('web', { certFiles: [v2.pem] })]);
  await h.settled();
  expect(h.sent[h.sent.length - 1]).toBe(`abort ssl cert ${v2.pem}`);
  expect(String(h.logs.find((l) => l.event === 'cert_refused')?.error)).toMatch(error);
  expect(h.swap.stats.updated).toBe(0);
  h.swap.stop();
});

test('a crt directory: a new sound file reloads its services; a bad one is refused and reloads nothing', async () => {
  const dir = join(pki.dir, 'certs');
  mkdirSync(dir);
  writeFileSync(join(dir, 'a.pem'), readFileSync(v1.pem, 'utf8'));
  const h = harness({ [`${dir}/a.pem`]: fp(v1) });
  h.swap.sync([svc('web', { certDir: dir })]);
  await h.settled();
  expect(h.reloads).toEqual([]);

  writeFileSync(join(dir, 'b.pem'), readFileSync(v2.cert, 'utf8'));
  h.dirs.get(dir)!('b.pem');
  await h.settled();
  expect(h.reloads).toEqual([]);
  expect(h.swap.problemsOf('web')).toEqual([expect.stringContaining(`${dir}/b.pem: no private key`)]);

  writeFileSync(join(dir, 'b.pem'), readFileSync(v2.pem, 'utf8'));
  h.dirs.get(dir)!('b.pem');
  await h.settled();
  expect(h.reloads).toEqual([['web', `bind_tls.cert_dir ${dir}: added ${dir}/b.pem`]]);
  expect(h.swap.problemsOf('web')).toEqual([]);
  h.swap.stop();
});

test('sync drops the watches of services no longer running', async () => {
  const h = harness({ [v1.pem]: fp(v1) });
  h.swap.sync([svc('web', { certFiles: [v1.pem] })]);
  expect([...h.files.keys()]).toEqual([v1.pem]);
  h.swap.sync([svc('plain', undefined)]);
  expect([...h.files.keys()]).toEqual([]);
  h.swap.stop();
});
