import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { digestId, readCredentials, ZkCredentials } from '../../../src/zk/auth';

const PASSWORD = 'n0t-in-any-log';

describe('ZkCredentials', () => {
  test('digestId is ZooKeeper\'s: user:base64(sha1("user:password")) (values from openssl)', () => {
    expect(digestId('user:password')).toBe('user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=');
    expect(digestId('platform:platform-secret')).toBe('platform:+FLm5D11UcWrSJdNOfVk/+Wzxgo=');
  });

  test.each([
    ['user:password\n', 'user'],
    ['  sidecar:pass:with:colons  ', 'sidecar'],
  ])('parses %j', (text, user) => {
    const r = ZkCredentials.parse(text);
    expect(r.ok && r.value.user).toBe(user);
    expect(r.ok && r.value.authData().toString()).toBe(text.trim());
  });

  test.each(['', 'nopassword', ':password', 'user:', 'user:pass\nother:line'])('refuses %j without repeating it', (text) => {
    const r = ZkCredentials.parse(text);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.error).toMatch(/^must hold user:password/);
  });

  test('prints as its user only, whichever way it is printed', () => {
    const c = (ZkCredentials.parse(`svc:${PASSWORD}`) as { value: ZkCredentials }).value;
    for (const shown of [JSON.stringify({ c }), inspect(c), inspect({ nested: { c } }, { depth: 5 }), `${c}`, String(c)]) {
      expect(shown).not.toContain(PASSWORD);
      expect(shown).toContain('svc');
    }
    expect(Object.keys(c)).not.toContain('secret');
  });

  test('key and sameAs tell identities apart without holding the password', () => {
    const a = (ZkCredentials.parse(`svc:${PASSWORD}`) as { value: ZkCredentials }).value;
    const b = (ZkCredentials.parse(`svc:${PASSWORD}`) as { value: ZkCredentials }).value;
    const other = (ZkCredentials.parse('svc:other') as { value: ZkCredentials }).value;
    expect(a.sameAs(b)).toBe(true);
    expect(a.sameAs(other)).toBe(false);
    expect(a.sameAs(undefined)).toBe(false);
    expect(a.key()).not.toContain(PASSWORD);
  });
});

describe('readCredentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pmgr-auth-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('from an environment variable or a file (relative to the base directory); problems name where, never what', () => {
    writeFileSync(join(dir, 'good'), `svc:${PASSWORD}\n`);
    writeFileSync(join(dir, 'bad'), PASSWORD);
    const env = { ZK_AUTH: `svc:${PASSWORD}`, EMPTY: '' };
    const user = (r: ReturnType<typeof readCredentials>) => (r.ok ? r.value.user : r.error);
    expect(user(readCredentials({ scheme: 'digest', credentials_env: 'ZK_AUTH' }, dir, env))).toBe('svc');
    expect(user(readCredentials({ scheme: 'digest', credentials_file: 'good' }, dir, env))).toBe('svc');
    expect(user(readCredentials({ scheme: 'digest', credentials_file: join(dir, 'good') }, '/elsewhere', env))).toBe('svc');
    const problems = [
      readCredentials({ scheme: 'digest', credentials_env: 'EMPTY' }, dir, env),
      readCredentials({ scheme: 'digest', credentials_env: 'UNSET' }, dir, env),
      readCredentials({ scheme: 'digest', credentials_file: 'missing' }, dir, env),
      readCredentials({ scheme: 'digest', credentials_file: 'bad' }, dir, env),
    ].map(user);
    expect(problems).toEqual([
      'environment variable EMPTY is not set or empty',
      'environment variable UNSET is not set or empty',
      `cannot read file ${dir}/missing (ENOENT)`,
      `file ${dir}/bad must hold user:password (one line)`,
    ]);
    for (const p of problems) expect(p).not.toContain(PASSWORD);
  });
});
