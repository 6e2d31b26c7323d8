import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkServiceFiles } from '../../../src/agent/service-files';
import type { FileNeed } from '../../../src/model/options/feature';
import { TestPki, type Issued } from '../../support/pki';

const ca = (path: string): FileNeed => ({ field: 'tls.ca_file', path, kind: 'ca' });
const client = (path: string): FileNeed => ({ field: 'tls.client_cert', path, kind: 'cert-and-key' });

describe('checkServiceFiles: the door check of CA and client certificate files', () => {
  let pki: TestPki;
  let cli: Issued;
  let other: Issued;
  const at = (name: string) => join(pki.dir, name);
  const write = (name: string, text: string) => (writeFileSync(at(name), text), at(name));

  beforeAll(async () => {
    pki = await TestPki.create();
    cli = await pki.issue('client', 'client', { usage: 'clientAuth' });
    other = await pki.issue('other', 'other', { usage: 'clientAuth' });
  });
  afterAll(() => pki.cleanup());

  test('good files pass: a CA, a bundle of two, a certificate with its key, or the key beside it as FILE.key', () => {
    const bundle = write('bundle.pem', readFileSync(pki.caCert, 'utf8') + readFileSync(pki.otherCaCert, 'utf8'));
    copyFileSync(cli.cert, at('split.crt'));
    copyFileSync(cli.key, at('split.crt.key'));
    expect(checkServiceFiles([ca(pki.caCert), ca(bundle), client(cli.pem), client(at('split.crt'))])).toEqual([]);
    expect(checkServiceFiles(undefined)).toEqual([]);
  });

  test('a missing or unreadable file names the field, the path and the errno', () => {
    expect(checkServiceFiles([ca('/nonexistent/ca.pem')])).toEqual(['tls.ca_file: /nonexistent/ca.pem: not readable (ENOENT)']);
    mkdirSync(at('adir'));
    expect(checkServiceFiles([client(at('adir'))])).toEqual([`tls.client_cert: ${at('adir')}: not a regular file`]);
    if (process.getuid?.() !== 0) {
      const locked = write('locked.pem', readFileSync(pki.caCert, 'utf8'));
      chmodSync(locked, 0o000);
      expect(checkServiceFiles([ca(locked)])).toEqual([`tls.ca_file: ${locked}: not readable (EACCES)`]);
    }
  });

  test.each([
    ['empty', '', /no PEM certificate in it/],
    ['garbage', 'hello\n', /no PEM certificate in it/],
    ['a key only', 'KEY', /no PEM certificate in it/],
    ['a broken certificate', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', /certificate 1 does not parse/],
  ])('a CA file that is %s is refused', (_what, text, message) => {
    const path = write('bad-ca.pem', text === 'KEY' ? readFileSync(cli.key, 'utf8') : text);
    const [problem, ...rest] = checkServiceFiles([ca(path)]);
    expect(rest).toEqual([]);
    expect(problem).toMatch(new RegExp(`^tls\\.ca_file: ${path.replace(/[.]/g, '\\.')}: `));
    expect(problem).toMatch(message);
  });

  test('a client certificate without a key (in it or beside it) is refused, saying where the key goes', () => {
    expect(checkServiceFiles([client(cli.cert)])).toEqual([
      `tls.client_cert: ${cli.cert}: no private key in it, nor in ${cli.cert}.key (not readable (ENOENT)); put the key in the same file, after the certificate`,
    ]);
  });

  test('a key that belongs to another certificate is refused', () => {
    const mixed = write('mixed.pem', readFileSync(cli.cert, 'utf8') + readFileSync(other.key, 'utf8'));
    expect(checkServiceFiles([client(mixed)])).toEqual([`tls.client_cert: ${mixed}: the private key in it does not belong to the certificate`]);
  });

  test('an encrypted key is refused: HAProxy cannot ask for its passphrase', () => {
    const enc = write('enc.pem', `${readFileSync(cli.cert, 'utf8')}-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n`);
    expect(checkServiceFiles([client(enc)])).toEqual([`tls.client_cert: ${enc}: the private key in it is encrypted: HAProxy needs it unencrypted`]);
  });

  test('a key only, or a broken key, is refused', () => {
    expect(checkServiceFiles([client(cli.key)])[0]).toMatch(/no PEM certificate in it/);
    const broken = write('broken-key.pem', `${readFileSync(cli.cert, 'utf8')}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`);
    expect(checkServiceFiles([client(broken)])[0]).toMatch(/^tls\.client_cert: .*: the private key in it does not parse/);
  });

  test('every bad file is reported, in the order of the fields', () => {
    expect(checkServiceFiles([ca('/nope/ca.pem'), client('/nope/client.pem')])).toEqual([
      'tls.ca_file: /nope/ca.pem: not readable (ENOENT)',
      'tls.client_cert: /nope/client.pem: not readable (ENOENT)',
    ]);
  });
});
