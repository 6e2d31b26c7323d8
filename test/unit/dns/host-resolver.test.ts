import pino from 'pino';
import { HostResolver } from '../../../src/dns/host-resolver';
import { silentLogger } from '../../../src/log';
import type { Server } from '../../../src/model/server';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A scripted DNS: `answers[host]` is returned (or thrown, if an Error); every call is recorded. */
function fakeDns(answers: Record<string, string[] | Error>) {
  const calls: string[] = [];
  const lookup = async (host: string): Promise<string[]> => {
    calls.push(host);
    await sleep(1);
    const a = answers[host];
    if (a === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    if (a instanceof Error) throw a;
    return a;
  };
  return { answers, calls, lookup };
}

function setup(answers: Record<string, string[] | Error>, refreshMs = 60_000) {
  const dns = fakeDns(answers);
  const onChange = jest.fn();
  const resolver = new HostResolver(silentLogger(), onChange, refreshMs, dns.lookup);
  return { dns, onChange, resolver };
}

const DB: Server = { address: 'db.example', port: 5432 };

describe('HostResolver', () => {
  test('IP servers pass through unchanged, without a lookup', async () => {
    const { dns, onChange, resolver } = setup({});
    const servers: Server[] = [
      { address: '10.0.0.1', port: 80 },
      { address: '10.0.0.2', port: 81, weight: 3 },
      { address: '2001:db8::1', port: 443 },
      // A unix socket is no name to look up either.
      { address: 'unix:/run/app.sock', port: 0 },
    ];
    const out = resolver.resolve(servers);
    expect(out).toBe(servers);
    expect(out).toEqual(servers);
    expect(out[1]).toBe(servers[1]);
    await resolver.settled();
    expect(dns.calls).toEqual([]);
    expect(onChange).not.toHaveBeenCalled();
  });

  test('a unix socket next to a hostname passes through as it is', async () => {
    const { dns, resolver } = setup({ 'db.example': ['10.0.0.1'] });
    const sock: Server = { address: 'unix:/run/app.sock', port: 0, weight: 2 };
    expect(resolver.resolve([sock, DB])).toEqual([sock]);
    await resolver.settled();
    expect(resolver.resolve([sock, DB])).toEqual([sock, { ...DB, address: '10.0.0.1', name: 'db.example:5432' }]);
    expect(dns.calls).toEqual(['db.example']);
  });

  test('a hostname server is left out until resolved, then has the first sorted IP and the name host:port', async () => {
    const { dns, onChange, resolver } = setup({ 'db.example': ['10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.1'] });
    const ip: Server = { address: '10.9.9.9', port: 80 };
    expect(resolver.resolve([ip, { ...DB, weight: 4 }])).toEqual([ip]);
    expect(dns.calls).toEqual(['db.example']);
    expect(onChange).not.toHaveBeenCalled();

    await resolver.settled();
    expect(onChange).toHaveBeenCalledTimes(1);
    expect(resolver.resolve([ip, { ...DB, weight: 4 }])).toEqual([ip, { address: '10.0.0.1', port: 5432, weight: 4, name: 'db.example:5432' }]);
    // Fresh answer: no new lookup.
    expect(dns.calls).toEqual(['db.example']);
    expect(resolver.unresolved()).toEqual([]);
  });

  test('one lookup per host while in flight, shared by its ports', async () => {
    const { dns, resolver } = setup({ 'db.example': ['10.0.0.1'] });
    resolver.resolve([DB, { address: 'db.example', port: 6432 }]);
    resolver.resolve([DB]);
    expect(dns.calls).toEqual(['db.example']);
    await resolver.settled();
    expect(resolver.resolve([DB, { address: 'db.example', port: 6432 }])).toEqual([
      { address: '10.0.0.1', port: 5432, name: 'db.example:5432' },
      { address: '10.0.0.1', port: 6432, name: 'db.example:6432' },
    ]);
  });

  test('an IPv6 answer is used as the address', async () => {
    const { resolver } = setup({ 'v6.example': ['2001:db8::2'] });
    resolver.resolve([{ address: 'v6.example', port: 80 }]);
    await resolver.settled();
    expect(resolver.resolve([{ address: 'v6.example', port: 80 }])).toEqual([{ address: '2001:db8::2', port: 80, name: 'v6.example:80' }]);
  });

  test('onChange fires when the answers change, not when they stay the same', async () => {
    const refreshMs = 20;
    const { dns, onChange, resolver } = setup({ 'db.example': ['10.0.0.1', '10.0.0.2'] }, refreshMs);
    resolver.resolve([DB]);
    await resolver.settled();
    expect(onChange).toHaveBeenCalledTimes(1);

    // Same set in another order: stale entry refreshed, nothing changed.
    dns.answers['db.example'] = ['10.0.0.2', '10.0.0.1'];
    await sleep(refreshMs + 10);
    expect(resolver.resolve([DB])).toEqual([{ address: '10.0.0.1', port: 5432, name: 'db.example:5432' }]);
    await resolver.settled();
    expect(dns.calls).toEqual(['db.example', 'db.example']);
    expect(onChange).toHaveBeenCalledTimes(1);

    // New answers: the stale address is served until the lookup lands, then onChange.
    dns.answers['db.example'] = ['10.0.0.7'];
    await sleep(refreshMs + 10);
    expect(resolver.resolve([DB])).toEqual([{ address: '10.0.0.1', port: 5432, name: 'db.example:5432' }]);
    await resolver.settled();
    expect(dns.calls).toHaveLength(3);
    expect(onChange).toHaveBeenCalledTimes(2);
    expect(resolver.resolve([DB])).toEqual([{ address: '10.0.0.7', port: 5432, name: 'db.example:5432' }]);
  });

  test('a failing lookup keeps the last addresses and does not call onChange', async () => {
    const refreshMs = 20;
    const { dns, onChange, resolver } = setup({ 'db.example': ['10.0.0.1'] }, refreshMs);
    resolver.resolve([DB]);
    await resolver.settled();
    expect(onChange).toHaveBeenCalledTimes(1);

    dns.answers['db.example'] = Object.assign(new Error('queryA ETIMEOUT db.example'), { code: 'ETIMEOUT' });
    await sleep(refreshMs + 10);
    resolver.resolve([DB]);
    await resolver.settled();
    expect(dns.calls).toEqual(['db.example', 'db.example']);
    expect(resolver.resolve([DB])).toEqual([{ address: '10.0.0.1', port: 5432, name: 'db.example:5432' }]);
    expect(onChange).toHaveBeenCalledTimes(1);
    // It has an address, so it is not reported as unresolved.
    expect(resolver.unresolved()).toEqual([]);
  });

  test('a name that never resolved stays out and is reported unresolved until it resolves', async () => {
    const refreshMs = 20;
    const { dns, onChange, resolver } = setup({}, refreshMs);
    const nx: Server = { address: 'nx.example', port: 80 };
    expect(resolver.resolve([nx])).toEqual([]);
    await resolver.settled();
    expect(resolver.resolve([nx])).toEqual([]);
    expect(resolver.unresolved()).toEqual(['nx.example']);
    expect(onChange).not.toHaveBeenCalled();

    // Retried after the (short) failure back-off; the answer brings it in.
    dns.answers['nx.example'] = ['10.0.0.5'];
    await sleep(refreshMs + 10);
    resolver.resolve([nx]);
    await resolver.settled();
    expect(dns.calls).toEqual(['nx.example', 'nx.example']);
    expect(onChange).toHaveBeenCalledTimes(1);
    expect(resolver.unresolved()).toEqual([]);
    expect(resolver.resolve([nx])).toEqual([{ address: '10.0.0.5', port: 80, name: 'nx.example:80' }]);
  });

  test('a failing name is logged once per failure streak, with the addresses kept', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    const dns = fakeDns({ 'db.example': ['10.0.0.1'] });
    const refreshMs = 10;
    const resolver = new HostResolver(log, () => undefined, refreshMs, dns.lookup);
    const round = async () => {
      await sleep(refreshMs + 5);
      resolver.resolve([DB]);
      await resolver.settled();
    };
    const events = () => logs.map((l) => [l.event, l.error ?? null, l.kept ?? l.addresses]);

    resolver.resolve([DB]);
    await resolver.settled();
    dns.answers['db.example'] = Object.assign(new Error('x'), { code: 'ESERVFAIL' });
    await round();
    await round();
    await round();
    dns.answers['db.example'] = ['10.0.0.2'];
    await round();
    dns.answers['db.example'] = Object.assign(new Error('y'), { code: 'ENOTFOUND' });
    await round();
    expect(dns.calls).toHaveLength(6);
    expect(events()).toEqual([
      ['host_resolved', null, ['10.0.0.1']],
      ['host_unresolved', 'ESERVFAIL', ['10.0.0.1']],
      ['host_resolved', null, ['10.0.0.2']],
      ['host_unresolved', 'ENOTFOUND', ['10.0.0.2']],
    ]);
  });

  test('settled() waits for in-flight lookups', async () => {
    let release: (addresses: string[]) => void = () => undefined;
    const onChange = jest.fn();
    const resolver = new HostResolver(silentLogger(), onChange, 60_000, () => new Promise<string[]>((r) => (release = r)));
    resolver.resolve([DB]);
    setTimeout(() => release(['10.0.0.9']), 40);
    const started = Date.now();
    await resolver.settled();
    expect(Date.now() - started).toBeGreaterThanOrEqual(30);
    expect(onChange).toHaveBeenCalledTimes(1);
    expect(resolver.resolve([DB])).toEqual([{ address: '10.0.0.9', port: 5432, name: 'db.example:5432' }]);
  });

  test('settled() gives up after its timeout when a lookup hangs', async () => {
    const onChange = jest.fn();
    const resolver = new HostResolver(silentLogger(), onChange, 60_000, () => new Promise<string[]>(() => undefined));
    resolver.resolve([DB]);
    const started = Date.now();
    await resolver.settled(30);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(25);
    expect(waited).toBeLessThan(1000);
    expect(onChange).not.toHaveBeenCalled();
    expect(resolver.resolve([DB])).toEqual([]);
  });

  test('settled() returns at once when nothing is in flight', async () => {
    const { resolver } = setup({});
    const started = Date.now();
    await resolver.settled();
    expect(Date.now() - started).toBeLessThan(50);
  });
});
