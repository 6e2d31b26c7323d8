import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bindCertProblems, certDirFiles, checkBindCertFiles, checkPem, readPemFile } from '../../../src/agent/bind-cert-files';
import { parseServiceDefinition } from '../../../src/model/service';
import { WATCHER_SCHEMAS } from '../../../src/watchers/index';
import { TestPki, type Issued } from '../../support/pki';

let pki: TestPki;
let a: Issued;
let b: Issued;
beforeAll(async () => {
  pki = await TestPki.create();
  [a, b] = [await pki.issue('a'), await pki.issue('b')];
}, 30_000);
afterAll(() => pki.cleanup());

const file = (name: string, text: string) => {
  const p = join(pki.dir, name);
  writeFileSync(p, text);
  return p;
};
const read = (p: string) => readFileSync(p, 'utf8');

describe('checkPem', () => {
  test('a certificate and its key: serial, expiry and fingerprint as HAProxy prints them', async () => {
    const c = checkPem(read(a.pem));
    if (!c.ok) throw new Error(c.error);
    expect(c.serial).toBe((await pki.serialOf(a.cert)).toUpperCase());
    expect(c.fingerprint).toMatch(/^[0-9A-F]{40}$/);
    expect(Date.parse(c.notAfter)).toBeGreaterThan(Date.now());
  });

  test('text around and blank lines between blocks are dropped (a runtime payload ends at an empty line)', () => {
    const c = checkPem(`# renewed\n${read(a.cert)}\n\n\n${read(a.key)}\n`);
    if (!c.ok) throw new Error(c.error);
    expect(c.blocks).not.toMatch(/\n\s*\n/);
    expect(c.blocks.startsWith('-----BEGIN CERTIFICATE-----')).toBe(true);
  });

  test.each<[string, () => string, RegExp]>([
    ['nothing', () => '', /no certificate/],
    ['a key alone', () => read(a.key), /no certificate/],
    ['a certificate alone', () => read(a.cert), /no private key/],
    ["another certificate's key", () => read(a.cert) + read(b.key), /does not match/],
    ['two keys', () => read(a.pem) + read(b.key), /more than one private key/],
    ['a truncated certificate', () => read(a.pem).replace(/^(-----BEGIN CERTIFICATE-----\n).{0,200}/, '$1AAAA'), /unreadable certificate/],
    ['an encrypted key', () => read(a.cert) + '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n', /encrypted/],
  ])('refuses %s', (_what, text, error) => {
    const c = checkPem(text());
    expect(c.ok).toBe(false);
    expect(c.ok ? '' : c.error).toMatch(error);
  });
});

test('readPemFile: a missing file or a directory is an error, not a throw', () => {
  expect(readPemFile(join(pki.dir, 'nope.pem'))).toEqual({ ok: false, error: 'ENOENT' });
  expect(readPemFile(pki.dir)).toEqual({ ok: false, error: 'not a regular file' });
});

test('certDirFiles lists what HAProxy loads from a crt directory', () => {
  const d = join(pki.dir, 'dir-list');
  mkdirSync(d);
  for (const n of ['b.pem', 'a.pem', '.tmp.pem', 'a.pem.key', 'a.pem.ocsp']) writeFileSync(join(d, n), 'x');
  mkdirSync(join(d, 'sub'));
  expect(certDirFiles(d)).toEqual([`${d}/a.pem`, `${d}/b.pem`]);
});

describe('checkBindCertFiles: after the pure parse, where blobs are accepted', () => {
  const parse = (bind_tls: unknown) => parseServiceDefinition('web', { type: 'static', port: 8443, servers: [], bind_tls }, WATCHER_SCHEMAS);

  test('sound files pass the parse through unchanged', () => {
    const parsed = parse({ cert_files: [a.pem, b.pem] });
    expect(checkBindCertFiles(parsed)).toBe(parsed);
  });

  test('errors name the field and the file', () => {
    const certOnly = file('cert-only.pem', read(a.cert));
    expect(checkBindCertFiles(parse({ cert_files: [a.pem, certOnly, join(pki.dir, 'gone.pem')] }))).toEqual({
      ok: false,
      errors: [`bind_tls.cert_files[1]: ${certOnly}: no private key (the file must hold the certificate and its key)`, `bind_tls.cert_files[2]: ${pki.dir}/gone.pem: ENOENT`],
    });
  });

  test('a directory: must exist, hold a certificate, and every file in it must be one', () => {
    const d = join(pki.dir, 'dir-check');
    mkdirSync(d);
    expect(bindCertProblems(undefined, d)).toEqual([`bind_tls.cert_dir: ${d}: holds no certificate file`]);
    writeFileSync(join(d, 'a.pem'), read(a.pem));
    writeFileSync(join(d, '.partial'), 'half');
    expect(bindCertProblems(undefined, d)).toEqual([]);
    writeFileSync(join(d, 'bad.pem'), read(b.cert));
    expect(bindCertProblems(undefined, d)).toEqual([`bind_tls.cert_dir: ${d}/bad.pem: no private key (the file must hold the certificate and its key)`]);
    expect(bindCertProblems(undefined, a.pem)).toEqual([`bind_tls.cert_dir: ${a.pem}: not a directory`]);
    expect(bindCertProblems(undefined, join(d, 'none'))).toEqual([`bind_tls.cert_dir: ${d}/none: ENOENT`]);
  });
});
