import { listenKey } from '../../../src/model/changes';
import { listenSpecOf, parseServiceDefinition, type ServiceDefinition } from '../../../src/model/service';
import { WATCHER_SCHEMAS } from '../../../src/watchers/index';

const base = { type: 'static', port: 8080, servers: ['10.0.0.1:80'] };
const parse = (raw: Record<string, unknown>) => parseServiceDefinition('web', { ...base, ...raw }, WATCHER_SCHEMAS);
const def = (raw: Record<string, unknown>): ServiceDefinition => {
  const r = parse(raw);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.service;
};

describe('the sticky_offline key', () => {
  test.each<[string, Record<string, unknown>, true | undefined]>([
    ['absent: off', { check: {} }, undefined],
    ['false: off', { sticky_offline: false }, undefined],
    ['true with check', { sticky_offline: true, check: { interval_ms: 100, fall: 1, rise: 1 } }, true],
    ['true with an empty check (defaults)', { sticky_offline: true, check: {} }, true],
    ['true with attempts (which turns checks on)', { sticky_offline: true, attempts: 3 }, true],
    ['true with offline_timeout_ms (which turns checks on)', { sticky_offline: true, offline_timeout_ms: 5000 }, true],
  ])('%s', (_case, raw, sticky) => {
    expect(def(raw).stickyOffline).toBe(sticky);
  });

  test.each<[string, Record<string, unknown>, string]>([
    ['true without checks', { sticky_offline: true }, 'sticky_offline: needs health checks ("check", or "attempts"): only a failed check takes a server offline'],
    ['true with checks only as raw server_options', { sticky_offline: true, server_options: ['check'] }, 'sticky_offline: needs health checks ("check", or "attempts"): only a failed check takes a server offline'],
    ['not a boolean', { sticky_offline: 'yes', check: {} }, 'sticky_offline: Invalid input: expected boolean, received string'],
  ])('%s is refused, naming the key', (_case, raw, error) => {
    const r = parse(raw);
    expect(r.ok ? [] : r.errors.map((e) => e.split(':')[0])).toEqual(['sticky_offline']);
    expect(r.ok ? [] : r.errors[0]).toBe(error);
  });

  test('writes no HAProxy line and is not part of the reload key: flipping it reloads nothing', () => {
    const on = def({ sticky_offline: true, check: { interval_ms: 100 } });
    const off = def({ check: { interval_ms: 100 } });
    expect(on.listenOptions).toEqual(off.listenOptions);
    expect(on.serverOptions).toEqual(off.serverOptions);
    expect(listenKey(listenSpecOf(on))).toBe(listenKey(listenSpecOf(off)));
    expect(listenSpecOf(on)).toEqual(listenSpecOf(off));
  });

  test('is not passed to the watcher as one of its options', () => {
    expect(def({ sticky_offline: true, check: {} }).watcher.options).toEqual({ servers: [{ address: '10.0.0.1', port: 80 }] });
  });
});
