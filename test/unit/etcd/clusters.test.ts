import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { resolveEtcd } from '../../../src/etcd/clusters';
import { EtcdCredentials } from '../../../src/etcd/credentials';
import { describeEtcdTarget, sameEtcdTarget, type EtcdTarget } from '../../../src/etcd/target';

const env = { SIDE: 'sidecar:side-pw', PLAT: 'platform:plat-pw', BAD: 'no-colon' };
const o = { baseDir: '/etc/pm', env };
const show = (t: EtcdTarget | undefined) => t && { name: t.name, endpoints: t.endpoints, user: t.auth?.user, tls: t.tls !== undefined };

describe('resolveEtcd', () => {
  test('clusters with credentials; the service config names one; bare endpoints in a blob get the cluster with exactly those endpoints', () => {
    const { directory, problems } = resolveEtcd(
      {
        main: { endpoints: ['etcd2:2379', 'etcd1:2379'], auth: { credentials_env: 'SIDE' } },
        other: { endpoints: ['http://etcd9:2379'] },
      },
      { type: 'etcd', cluster: 'main', prefix: '/services' },
      o,
    );
    expect(problems).toEqual([]);
    expect(show(directory.serviceConfig)).toEqual({ name: 'main', endpoints: ['http://etcd1:2379', 'http://etcd2:2379'], user: 'sidecar', tls: false });
    // Any order and spelling of the same endpoints is the same cluster.
    expect(directory.forEndpoints(['etcd2:2379', 'http://etcd1:2379'])).toBe(directory.get('main'));
    expect(show(directory.forEndpoints(['etcd7:2379']))).toEqual({ name: undefined, endpoints: ['http://etcd7:2379'], user: undefined, tls: false });
    expect(describeEtcdTarget(directory.get('other')!)).toBe('etcd cluster other (http://etcd9:2379)');
    expect(JSON.stringify(directory)).not.toContain('side-pw');
    expect(inspect(directory.get('main'))).not.toContain('side-pw');
  });

  test('a service config with its own endpoints and auth is an unnamed cluster that blobs with the same endpoints share', () => {
    const { directory, problems } = resolveEtcd({}, { type: 'etcd', endpoints: ['etcd1:2379'], prefix: '/s', auth: { credentials_env: 'PLAT' } }, o);
    expect(problems).toEqual([]);
    expect(show(directory.serviceConfig)).toEqual({ name: undefined, endpoints: ['http://etcd1:2379'], user: 'platform', tls: false });
    expect(directory.forEndpoints(['etcd1:2379'])).toBe(directory.serviceConfig);
    expect(describeEtcdTarget(directory.serviceConfig!)).toBe('etcd http://etcd1:2379');
  });

  test('an endpoint without a scheme in a blob matches a TLS cluster\'s https:// one', () => {
    const { directory } = resolveEtcd({ s: { endpoints: ['etcd1:2379'], tls: { ca_file: '/dev/null' } } }, { type: 'file' }, o);
    // /dev/null holds no certificate, so the TLS files are refused; the endpoints still resolve to https.
    expect(directory.get('s')!.endpoints).toEqual(['https://etcd1:2379']);
  });

  test.each([
    ['both endpoints and cluster', {}, { type: 'etcd', endpoints: ['a:1'], cluster: 'x', prefix: '/s' }, 'service_config: needs exactly one of endpoints, cluster'],
    ['an undefined cluster', {}, { type: 'etcd', cluster: 'nope', prefix: '/s' }, 'service_config.cluster: "nope" is not defined in etcd.clusters'],
    ['auth beside a cluster', { c: { endpoints: ['a:1'] } }, { type: 'etcd', cluster: 'c', prefix: '/s', auth: { credentials_env: 'SIDE' } }, 'service_config.auth: comes from cluster c; set it there'],
    ['two clusters with one endpoint set', { a: { endpoints: ['x:1'] }, b: { endpoints: ['http://x:1'] } }, { type: 'file' }, 'etcd.clusters.b.endpoints: same endpoints as cluster a; define each cluster once'],
    ['an unset variable', { a: { endpoints: ['x:1'], auth: { credentials_env: 'MISSING' } } }, { type: 'file' }, 'etcd.clusters.a.auth: environment variable MISSING is not set or empty'],
    ['a variable without user:password', { a: { endpoints: ['x:1'], auth: { credentials_env: 'BAD' } } }, { type: 'file' }, 'etcd.clusters.a.auth: environment variable BAD must hold user:password (one line)'],
    ['a missing CA file', { a: { endpoints: ['x:1'], tls: { ca_file: 'nope.pem' } } }, { type: 'file' }, 'etcd.clusters.a.tls: etcd TLS: cannot read ca_file /etc/pm/nope.pem: ENOENT'],
    ['http endpoints with tls', { a: { endpoints: ['http://x:1'], tls: { ca_file: '/dev/null' } } }, { type: 'file' }, 'etcd.clusters.a.endpoints: http://x:1 is http:// but tls is configured'],
  ])('%s is refused by key', (_what, clusters, sc, problem) => {
    const { problems } = resolveEtcd(clusters as never, sc as never, o);
    expect(problems).toContain(problem);
    expect(problems.join('\n')).not.toMatch(/side-pw|plat-pw/);
  });

  test('credentials from a file; credentials: false leaves them unread', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pmgr-etcd-auth-'));
    writeFileSync(join(dir, 'etcd.auth'), 'reader:pw-from-file\n');
    const read = resolveEtcd({ a: { endpoints: ['x:1'], auth: { credentials_file: 'etcd.auth' } } }, { type: 'file' }, { baseDir: dir, env });
    expect(read.problems).toEqual([]);
    expect(read.directory.get('a')!.auth!.clientAuth()).toEqual({ username: 'reader', password: 'pw-from-file' });
    const unread = resolveEtcd({ a: { endpoints: ['x:1'], auth: { credentials_file: 'missing' } } }, { type: 'file' }, { baseDir: dir, env, credentials: false });
    expect(unread.problems).toEqual([]);
    expect(unread.directory.get('a')!.auth).toBeUndefined();
  });

  test('targets differ by name, endpoints and identity; a directory compares by all of them', () => {
    const a = resolveEtcd({ c: { endpoints: ['x:1'], auth: { credentials_env: 'SIDE' } } }, { type: 'file' }, o).directory;
    const same = resolveEtcd({ c: { endpoints: ['x:1'], auth: { credentials_env: 'SIDE' } } }, { type: 'file' }, o).directory;
    const rotated = resolveEtcd({ c: { endpoints: ['x:1'], auth: { credentials_env: 'PLAT' } } }, { type: 'file' }, o).directory;
    expect(a.sameAs(same)).toBe(true);
    expect(a.sameAs(rotated)).toBe(false);
    expect(sameEtcdTarget(a.get('c'), rotated.get('c'))).toBe(false);
    expect(sameEtcdTarget(undefined, undefined)).toBe(true);
  });
});

describe('EtcdCredentials', () => {
  test.each([
    ['user:pw', 'user', 'pw'],
    ['  user:p:w\n', 'user', 'p:w'],
  ])('%j parses', (text, user, password) => {
    const r = EtcdCredentials.parse(text);
    expect(r.ok && r.value.clientAuth()).toEqual({ username: user, password });
  });

  test.each([':pw', 'user:', 'nocolon', 'user:pw\nmore'])('%j is refused without echoing it', (text) => {
    const r = EtcdCredentials.parse(text);
    expect(r.ok).toBe(false);
    expect(JSON.stringify(r)).not.toContain('pw');
  });

  test('prints as its user only', () => {
    const r = EtcdCredentials.parse('svc:s3cret');
    if (!r.ok) throw new Error(r.error);
    expect(`${r.value} ${JSON.stringify(r.value)} ${inspect(r.value)}`).not.toContain('s3cret');
  });
});
