import { dedupServers, inNameOrder, isValidHost, normalizeServers, parseServerSpec, sameServers, serverIdAt, serverName, type Server } from '../../../src/model/server';
import { balancesFirst } from '../../../src/model/proxy-options';
import { listenSpecOf, parseServiceDefinition } from '../../../src/model/service';
import { WATCHER_SCHEMAS } from '../../../src/watchers';

describe('parseServerSpec', () => {
  test.each<[string, Server]>([
    ['10.0.0.1:80', { address: '10.0.0.1', port: 80 }],
    ['  10.0.0.1:8080  ', { address: '10.0.0.1', port: 8080 }],
    ['[::1]:443', { address: '::1', port: 443 }],
    ['[2001:db8::5]:1', { address: '2001:db8::5', port: 1 }],
    ['db.example.com:5432', { address: 'db.example.com', port: 5432 }],
    ['localhost:65535', { address: 'localhost', port: 65535 }],
    ['10.0.0.1:80 0', { address: '10.0.0.1', port: 80, weight: 0 }],
    ['10.0.0.1:80\t256', { address: '10.0.0.1', port: 80, weight: 256 }],
    ['[::1]:80 7', { address: '::1', port: 80, weight: 7 }],
    // One spelling per address, so that duplicates are found.
    ['[0:0::1]:80', { address: '::1', port: 80 }],
    ['[FE80::1]:80', { address: 'fe80::1', port: 80 }],
    ['Web.Example.:80', { address: 'web.example', port: 80 }],
  ])('accepts %j', (text, expected) => {
    expect(parseServerSpec(text)).toEqual({ ok: true, value: expected });
  });

  test.each<[string, string]>([
    ['', 'empty server entry'],
    ['   ', 'empty server entry'],
    ['10.0.0.1:0', 'invalid port "0" (1..65535)'],
    ['10.0.0.1:65536', 'invalid port "65536" (1..65535)'],
    ['10.0.0.1:http', 'invalid port "http" (1..65535)'],
    ['10.0.0.1:', 'invalid port "" (1..65535)'],
    ['10.0.0.1:-1', 'invalid port "-1" (1..65535)'],
    ['10.0.0.1', 'missing port in "10.0.0.1"'],
    [':80', 'missing port in ":80"'],
    ['::1:80', 'IPv6 addresses need brackets: "::1:80"'],
    ['[1.2.3.4]:80', 'invalid IPv6 address "1.2.3.4"'],
    ['[fe80::1%eth0]:80', 'invalid IPv6 address "fe80::1%eth0"'],
    ['bad_host:80', 'invalid host "bad_host"'],
    ['10.0.0.1:80 257', 'invalid weight "257" (0..256)'],
    ['10.0.0.1:80 -1', 'invalid weight "-1" (0..256)'],
    ['10.0.0.1:80 1.5', 'invalid weight "1.5" (0..256)'],
    ['10.0.0.1:80 1 2', 'expected "host:port [weight]" or "unix:/path [weight]", got "10.0.0.1:80 1 2"'],
  ])('rejects %j', (text, error) => {
    expect(parseServerSpec(text)).toEqual({ ok: false, error });
  });
});

describe('serverName', () => {
  test.each([
    [{ address: '10.0.0.1', port: 80 }, '10.0.0.1:80'],
    [{ address: 'db.example.com', port: 5432 }, 'db.example.com:5432'],
    [{ address: '::1', port: 443 }, 'v6_..1_443'],
    [{ address: '2001:db8::5', port: 80 }, 'v6_2001.db8..5_80'],
  ])('%j -> %s', (server, name) => {
    expect(serverName(server)).toBe(name);
  });

  test('depends only on address and port (weight does not change it)', () => {
    expect(serverName({ address: '10.0.0.1', port: 80, weight: 5 } as Server)).toBe(serverName({ address: '10.0.0.1', port: 80 }));
  });

  test('v6 names contain no colon', () => {
    expect(serverName({ address: 'fe80::1:2', port: 8080 })).not.toContain(':');
  });
});

describe('normalizeServers', () => {
  test('sorts by server name', () => {
    const out = normalizeServers([
      { address: '10.0.0.2', port: 80 },
      { address: 'b.example', port: 1 },
      { address: '10.0.0.1', port: 81 },
    ]);
    expect(out.map(serverName)).toEqual(['10.0.0.1:81', '10.0.0.2:80', 'b.example:1']);
  });

  test('dedupes by name, the last one winning', () => {
    const out = normalizeServers([
      { address: '10.0.0.1', port: 80, weight: 1 },
      { address: '10.0.0.2', port: 80 },
      { address: '10.0.0.1', port: 80, weight: 9 },
    ]);
    expect(out).toEqual([
      { address: '10.0.0.1', port: 80, weight: 9 },
      { address: '10.0.0.2', port: 80 },
    ]);
  });

  test('does not mutate its input', () => {
    const input: Server[] = [{ address: 'b', port: 1 }, { address: 'a', port: 1 }];
    normalizeServers(input);
    expect(input.map((s) => s.address)).toEqual(['b', 'a']);
  });
});

describe('declared order (balance first)', () => {
  const c = { address: '10.0.0.3', port: 80 };
  const b = { address: '10.0.0.2', port: 80 };
  const a = { address: '10.0.0.1', port: 80 };

  test('dedupServers keeps the declared order; a duplicate keeps the first place and the last fields', () => {
    expect(dedupServers([c, b, a])).toEqual([c, b, a]);
    expect(dedupServers([c, { ...a, weight: 1 }, b, { ...a, weight: 9 }])).toEqual([c, { ...a, weight: 9 }, b]);
  });

  test('inNameOrder: the same array when already sorted, else one cached sorted copy', () => {
    const sorted = [a, b, c];
    expect(inNameOrder(sorted)).toBe(sorted);
    const declared = [c, b, a];
    expect(inNameOrder(declared)).toEqual([a, b, c]);
    expect(inNameOrder(declared)).toBe(inNameOrder(declared));
    expect(declared).toEqual([c, b, a]);
  });

  test('server ids are spaced so a runtime add fits between two', () => {
    expect([0, 1, 2].map(serverIdAt)).toEqual([10, 20, 30]);
  });

  test.each<[string[], boolean]>([
    [['balance first'], true],
    [['mode http', '  balance   first'], true],
    [['balance first', 'balance roundrobin'], false],
    [['balance roundrobin', 'balance first'], true],
    [['balance firstx'], false],
    [[], false],
  ])('balancesFirst(%j) = %s (the last balance line wins)', (lines, expected) => {
    expect(balancesFirst(lines)).toBe(expected);
  });

  test('the listen spec of a balance first service asks for the declared order', () => {
    const parse = (blob: object) => {
      const r = parseServiceDefinition('web', { type: 'static', port: 8080, servers: ['10.0.0.1:80'], ...blob }, WATCHER_SCHEMAS);
      if (!r.ok) throw new Error(r.errors.join('; '));
      return listenSpecOf(r.service);
    };
    expect(parse({ balance: 'first' }).declaredOrder).toBe(true);
    expect(parse({ listen_options: ['balance first'] }).declaredOrder).toBe(true);
    expect(parse({ balance: 'roundrobin' })).not.toHaveProperty('declaredOrder');
    expect(parse({})).not.toHaveProperty('declaredOrder');
  });
});

describe('sameServers', () => {
  const a: Server = { address: '10.0.0.1', port: 80 };
  const b: Server = { address: '10.0.0.2', port: 80, weight: 3 };
  test.each<[string, Server[], Server[], boolean]>([
    ['equal lists', [a, b], [{ ...a }, { ...b }], true],
    ['both empty', [], [], true],
    ['different length', [a, b], [a], false],
    ['different order', [a, b], [b, a], false],
    ['different weight', [b], [{ ...b, weight: 4 }], false],
    ['weight vs none', [a], [{ ...a, weight: 1 }], false],
    ['different port', [a], [{ ...a, port: 81 }], false],
    ['different address', [a], [{ ...a, address: '10.0.0.9' }], false],
    ['put in maint by an operator', [a], [{ ...a, admin: 'maint' }], false],
    ['drain vs maint', [{ ...a, admin: 'drain' }], [{ ...a, admin: 'maint' }], false],
    ['backup vs not', [a], [{ ...a, backup: true }], false],
  ])('%s', (_label, x, y, expected) => {
    expect(sameServers(x, y)).toBe(expected);
  });
});

describe('isValidHost', () => {
  test.each([
    ['10.0.0.1', true],
    ['::1', true],
    ['2001:db8::1', true],
    ['localhost', true],
    ['db-1.example.com', true],
    ['example.com.', true],
    ['a'.repeat(63) + '.com', true],
    ['', false],
    ['a'.repeat(64) + '.com', false],
    ['-bad.example', false],
    ['bad-.example', false],
    ['under_score', false],
    ['two..dots', false],
    ['space host', false],
    ['new\nline', false],
    ['[::1]', false],
    ['fe80::1%eth0', false],
    ['010.0.0.1', false],
    ['1.2.3', false],
  ])('%j -> %s', (host, expected) => {
    expect(isValidHost(host)).toBe(expected);
  });
});
