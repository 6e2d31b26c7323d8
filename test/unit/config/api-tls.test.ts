import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, parseConfig } from '../../../src/config/load';
import { TestPki, type Issued } from '../../support/pki';

const SC = 'service_config: {type: file, path: services}\n';

// api.tls is read and checked when proxymgr.yml is: a problem stops a start (or a SIGHUP) by key.
describe('api.tls', () => {
  let pki: TestPki;
  let api: Issued;
  let other: Issued;
  let file: string;
  beforeAll(async () => {
    pki = await TestPki.create();
    api = await pki.issue('api', 'proxymgr.example');
    other = await pki.issue('other', 'someone-else');
    file = join(pki.dir, 'proxymgr.yml');
    writeFileSync(join(pki.dir, 'empty.pem'), '');
  });
  afterAll(() => pki.cleanup());

  const yml = (tls: string) => `${SC}api:\n  listen: "0.0.0.0:8787"\n  tls: ${tls}\n`;
  function problemsOf(text: string): string[] {
    try {
      parseConfig(text, file);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).problems;
    }
    throw new Error('expected a ConfigError');
  }

  test('relative paths resolve against proxymgr.yml; the material is read, and prints as file names only', async () => {
    const cfg = parseConfig(yml('{cert_file: api.crt, key_file: api.key, client_ca_file: ca.pem}'), file);
    expect(cfg.api?.tls).toEqual({ cert_file: api.cert, key_file: api.key, client_ca_file: pki.caCert });
    expect(cfg.apiTls?.files).toEqual(cfg.api?.tls);
    expect(cfg.apiTls?.info.subject).toBe('CN=proxymgr.example');
    expect(cfg.apiTls?.info.serial).toBe(await pki.serialOf(api.cert));
    const printed = JSON.stringify(cfg);
    expect(printed).not.toContain('PRIVATE KEY');
    expect(printed).not.toContain('BEGIN CERTIFICATE');
    const opts = cfg.apiTls!.contextOptions();
    expect(opts.minVersion).toBe('TLSv1.2');
    expect(opts.ca).toBeDefined();
  });

  test('without client_ca_file no CA is given; the same files read twice are the same material', () => {
    const a = parseConfig(yml(`{cert_file: ${api.cert}, key_file: ${api.key}}`), file).apiTls!;
    const b = parseConfig(yml(`{cert_file: ${api.cert}, key_file: ${api.key}}`), file).apiTls!;
    expect(a.contextOptions().ca).toBeUndefined();
    expect(a.sameAs(b)).toBe(true);
    const c = parseConfig(yml(`{cert_file: ${other.cert}, key_file: ${other.key}}`), file).apiTls!;
    expect(a.sameAs(c)).toBe(false);
    expect(a.sameAs(undefined)).toBe(false);
  });

  test.each([
    ['a missing certificate', () => `{cert_file: nope.crt, key_file: ${api.key}}`, /^api\.tls\.cert_file: cannot read .*nope\.crt: ENOENT$/],
    ['a missing key', () => `{cert_file: ${api.cert}, key_file: nope.key}`, /^api\.tls\.key_file: cannot read .*nope\.key: ENOENT$/],
    ['a missing client CA', () => `{cert_file: ${api.cert}, key_file: ${api.key}, client_ca_file: nope.pem}`, /^api\.tls\.client_ca_file: cannot read .*nope\.pem: ENOENT$/],
    ["another certificate's key", () => `{cert_file: ${api.cert}, key_file: ${other.key}}`, /^api\.tls\.key_file: does not match api\.tls\.cert_file /],
    ['a certificate where the key goes', () => `{cert_file: ${api.cert}, key_file: ${api.cert}}`, /^api\.tls\.key_file: .* is not a usable PEM private key/],
    ['a key where the certificate goes', () => `{cert_file: ${api.key}, key_file: ${api.key}}`, /^api\.tls\.cert_file: .* holds no PEM certificate$/],
    ['an empty client CA file', () => `{cert_file: ${api.cert}, key_file: ${api.key}, client_ca_file: empty.pem}`, /^api\.tls\.client_ca_file: .*empty\.pem holds no PEM certificate$/],
  ])('%s is a config error naming the key', (_what, tls, problem) => {
    const problems = problemsOf(yml(tls()));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(problem);
  });

  test('a corrupt certificate is named', () => {
    const bad = join(pki.dir, 'corrupt.crt');
    writeFileSync(bad, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
    expect(problemsOf(yml(`{cert_file: ${bad}, key_file: ${api.key}}`))[0]).toMatch(/^api\.tls\.cert_file: .*corrupt\.crt: not a valid certificate/);
  });

  test('a certificate followed by its chain is accepted (the first one is the server\'s)', () => {
    const chain = join(pki.dir, 'chain.crt');
    writeFileSync(chain, readFileSync(api.cert, 'utf8') + readFileSync(pki.caCert, 'utf8'));
    expect(parseConfig(yml(`{cert_file: ${chain}, key_file: ${api.key}}`), file).apiTls?.info.subject).toBe('CN=proxymgr.example');
  });

  test.each([
    ['{cert_file: a.crt}', 'api.tls.key_file: required'],
    ['{key_file: a.key}', 'api.tls.cert_file: required'],
    ['{cert_file: a.crt, key_file: a.key, ca_file: c.pem}', 'api.tls: Unrecognized key: "ca_file"'],
    ['{cert_file: "", key_file: a.key}', 'api.tls.cert_file: Too small: expected string to have >=1 characters'],
    ['true', 'api.tls: Invalid input: expected object, received boolean'],
  ])('shape: %s', (tls, problem) => {
    expect(problemsOf(yml(tls))).toEqual([problem]);
  });

  test('apiTls: false (a command that serves no API) reads none of the files', () => {
    const cfg = parseConfig(yml('{cert_file: nope.crt, key_file: nope.key}'), file, { apiTls: false });
    expect(cfg.api?.tls?.cert_file).toBe(join(pki.dir, 'nope.crt'));
    expect(cfg.apiTls).toBeUndefined();
  });

  test('without api.tls nothing is read', () => {
    expect(parseConfig(`${SC}api: {listen: "127.0.0.1:8787"}\n`, file).apiTls).toBeUndefined();
  });
});
