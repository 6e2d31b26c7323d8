import { readFileSync } from 'node:fs';
import { runAs } from '../../../src/haproxy/run-as';
import { parseConfig } from '../../../src/config/load';

const hasUser = (name: string) => readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith(`${name}:`));

describe('runAs', () => {
  test('as root, HAProxy drops to the haproxy account, or nobody without one', () => {
    const r = runAs(undefined, undefined, 0);
    expect(r?.user).toBe(hasUser('haproxy') ? 'haproxy' : 'nobody');
    expect(r?.group).toMatch(/^[a-z_][a-z0-9_-]*$/);
  });

  test('not root: nothing to drop unless named', () => {
    expect(runAs(undefined, undefined, 1000)).toBeUndefined();
    expect(runAs('svc', 'svcgrp', 1000)).toEqual({ user: 'svc', group: 'svcgrp' });
  });

  test('false keeps root; an explicit group wins', () => {
    expect(runAs(false, undefined, 0)).toBeUndefined();
    expect(runAs('nobody', 'daemon', 0)).toEqual({ user: 'nobody', group: 'daemon' });
  });
});

describe('least-privilege defaults in proxymgr.yml', () => {
  const SC = 'service_config: {type: file, path: /srv}';
  test('the API listens on loopback unless told otherwise', () => {
    expect(parseConfig(`${SC}\napi: {}`, '/etc/pm/proxymgr.yml').api?.listen).toBe('127.0.0.1:8787');
  });

  test('a user name that could inject a line is refused', () => {
    expect(() => parseConfig(`${SC}\nhaproxy: {user: "root\\n    stats socket /tmp/x"}`, '/etc/pm/proxymgr.yml')).toThrow(/haproxy\.user/);
  });
});
