import { z } from 'zod';
import { formatIssues, serverEntry } from '../../../src/model/fields';
import { normalizeServers, parseServerSpec, serverAddress, serverName, type Server } from '../../../src/model/server';
import { parseServiceDefinition } from '../../../src/model/service';
import { WATCHER_SCHEMAS } from '../../../src/watchers';
import { MAX_SOCKET_PATH_BYTES, unixAddressProblem, unixServerName } from '../../../src/model/unix-socket';

const unix = (path: string, weight?: number): Server => ({ address: `unix:${path}`, port: 0, ...(weight !== undefined && { weight }) });
// The longest path HAProxy 2.6 takes: 97 bytes.
const longest = `/run/${'x'.repeat(MAX_SOCKET_PATH_BYTES - 5)}`;

describe('parseServerSpec: unix sockets', () => {
  test.each<[string, Server]>([
    ['unix:/run/app.sock', unix('/run/app.sock')],
    ['  unix:/run/app.sock  ', unix('/run/app.sock')],
    ['unix:/run/app.sock 5', unix('/run/app.sock', 5)],
    ['unix:/run/app.sock\t0', unix('/run/app.sock', 0)],
    ['unix:/run/php/php8.2-fpm.sock', unix('/run/php/php8.2-fpm.sock')],
    ['unix:/run/postgresql/.s.PGSQL.5432', unix('/run/postgresql/.s.PGSQL.5432')],
    ['unix:/tmp/a+b@c=d,e~f.sock', unix('/tmp/a+b@c=d,e~f.sock')],
    [`unix:${longest}`, unix(longest)],
    // A host called "unix" is still a host.
    ['unix:80', { address: 'unix', port: 80 }],
  ])('accepts %j', (text, expected) => {
    expect(parseServerSpec(text)).toEqual({ ok: true, value: expected });
  });

  test.each<[string, string]>([
    ['unix:run/app.sock', 'invalid unix socket address "unix:run/app.sock": the socket path must be absolute (unix:/absolute/path)'],
    ['unix:/run//app.sock', 'invalid unix socket address "unix:/run//app.sock": the socket path must be normalised (no //, /./, /../ or trailing /)'],
    ['unix:/run/./app.sock', 'invalid unix socket address "unix:/run/./app.sock": the socket path must be normalised (no //, /./, /../ or trailing /)'],
    ['unix:/run/../app.sock', 'invalid unix socket address "unix:/run/../app.sock": the socket path must be normalised (no //, /./, /../ or trailing /)'],
    ['unix:/run/..', 'invalid unix socket address "unix:/run/..": the socket path must be normalised (no //, /./, /../ or trailing /)'],
    ['unix:/run/', 'invalid unix socket address "unix:/run/": the socket path must be normalised (no //, /./, /../ or trailing /)'],
    ['unix:/', 'invalid unix socket address "unix:/": the socket path must be normalised (no //, /./, /../ or trailing /)'],
    ['unix:/run/app.sock:8080', 'invalid unix socket address "unix:/run/app.sock:8080": the socket path must not contain ":" (a unix socket server takes no port)'],
    ['unix:/run/a#b', 'invalid unix socket address "unix:/run/a#b": the socket path may contain only letters, digits and / . _ - ~ + @ = ,'],
    ['unix:/run/a"b', 'invalid unix socket address "unix:/run/a\\"b": the socket path may contain only letters, digits and / . _ - ~ + @ = ,'],
    ["unix:/run/a'b", 'invalid unix socket address "unix:/run/a\'b": the socket path may contain only letters, digits and / . _ - ~ + @ = ,'],
    ['unix:/run/a;b', 'invalid unix socket address "unix:/run/a;b": the socket path may contain only letters, digits and / . _ - ~ + @ = ,'],
    ['unix:/run/a$b', 'invalid unix socket address "unix:/run/a$b": the socket path may contain only letters, digits and / . _ - ~ + @ = ,'],
    ['unix:/run/é', 'invalid unix socket address "unix:/run/é": the socket path may contain only letters, digits and / . _ - ~ + @ = ,'],
    [`unix:${longest}x`, `invalid unix socket address "unix:${longest}x": the socket path must be at most 97 bytes (HAProxy's limit), got 98`],
    ['unix@/run/app.sock', 'a unix socket server is written "unix:/absolute/path", got "unix@/run/app.sock"'],
    ['/run/app.sock', 'a unix socket server is written "unix:/absolute/path", got "/run/app.sock"'],
    ['UNIX:/run/app.sock', 'a unix socket server is written "unix:/absolute/path", got "UNIX:/run/app.sock"'],
    ['unix:/run/app.sock 257', 'invalid weight "257" (0..256)'],
    ['unix:/run/app.sock 1 2', 'expected "host:port [weight]" or "unix:/path [weight]", got "unix:/run/app.sock 1 2"'],
  ])('rejects %j', (text, error) => {
    expect(parseServerSpec(text)).toEqual({ ok: false, error });
  });
});

describe('unix server names', () => {
  test.each([
    ['unix:/run/app.sock', 'unix_run:app.sock'],
    ['unix:/run/php/php8.2-fpm.sock', 'unix_run:php:php8.2-fpm.sock'],
    ['unix:/a_b/c', 'unix_a_b:c'],
    ['unix:/.hidden', 'unix_.hidden'],
    // Characters a name cannot hold: replaced, and a hash of the path keeps the name unique.
    ['unix:/tmp/a+b.sock', 'unix-tmp:a_b.sock_df154365'],
    ['unix:/tmp/a~b.sock', 'unix-tmp:a_b.sock_4054038b'],
  ])('%s -> %s', (address, name) => {
    expect(unixServerName(address)).toBe(name);
    expect(serverName({ address, port: 0 })).toBe(name);
  });

  test('names hold only what HAProxy allows in a server name', () => {
    for (const path of ['/run/app.sock', '/tmp/a+b@c=d,e~f.sock', longest]) expect(unixServerName(`unix:${path}`)).toMatch(/^[A-Za-z0-9_.:-]+$/);
  });

  test('paths that sanitize alike keep apart names; none meets an IP or hostname name', () => {
    const paths = ['/a/b', '/a_b', '/a.b', '/a-b', '/a+b', '/a~b', '/a@b', '/a=b', '/a,b', '/a/b/c', '/a/b_c', '/a_b/c'];
    const names = paths.map((p) => unixServerName(`unix:${p}`));
    expect(new Set(names).size).toBe(paths.length);
    const others = [
      { address: '10.0.0.1', port: 80 },
      { address: 'unix', port: 80 },
      { address: 'unix-a.example', port: 80 },
      { address: '::1', port: 80 },
    ].map(serverName);
    for (const n of names) expect(others).not.toContain(n);
  });

  test('HAProxy reads the address as unix@/path', () => {
    expect(serverAddress(unix('/run/app.sock'))).toBe('unix@/run/app.sock');
    expect(serverAddress({ address: '::1', port: 80 })).toBe('::1:80');
  });

  test('normalizeServers dedupes a socket listed twice, the last winning', () => {
    expect(normalizeServers([unix('/run/b.sock', 1), { address: '10.0.0.1', port: 80 }, unix('/run/b.sock', 7)])).toEqual([
      { address: '10.0.0.1', port: 80 },
      unix('/run/b.sock', 7),
    ]);
  });

  test('unixAddressProblem is undefined for a good address', () => {
    expect(unixAddressProblem('unix:/run/app.sock')).toBeUndefined();
  });
});

describe('serverEntry: unix sockets (static lists, the API)', () => {
  const parse = (v: unknown) => {
    const r = z.array(serverEntry).safeParse([v], { reportInput: true });
    return r.success ? { ok: true, value: r.data[0] } : { ok: false, errors: formatIssues(r.error.issues) };
  };

  test.each<[unknown, Server]>([
    ['unix:/run/app.sock', unix('/run/app.sock')],
    ['unix:/run/app.sock 5', unix('/run/app.sock', 5)],
    [{ address: 'unix:/run/app.sock' }, unix('/run/app.sock')],
    [{ address: 'unix:/run/app.sock', weight: 5 }, unix('/run/app.sock', 5)],
    [{ address: 'unix:/run/app.sock', backup: true }, { ...unix('/run/app.sock'), backup: true }],
    [{ address: 'unix:/run/app.sock', backup: false }, unix('/run/app.sock')],
    [{ address: '10.0.0.1', port: 80 }, { address: '10.0.0.1', port: 80 }],
  ])('accepts %j', (value, expected) => {
    expect(parse(value)).toEqual({ ok: true, value: expected });
  });

  test.each<[unknown, string[]]>([
    [{ address: 'unix:/run/app.sock', port: 80 }, ['[0].port: a unix socket server takes no port']],
    [{ address: 'unix:/run/app.sock', port: null }, ['[0].port: a unix socket server takes no port']],
    [{ address: 'unix:run/app.sock' }, ['[0].address: the socket path must be absolute (unix:/absolute/path)']],
    [{ address: 'unix:/a/../b' }, ['[0].address: the socket path must be normalised (no //, /./, /../ or trailing /)']],
    [{ address: 'unix@/run/app.sock' }, ['[0].address: a unix socket address is written unix:/absolute/path']],
    [{ address: '/run/app.sock' }, ['[0].address: a unix socket address is written unix:/absolute/path']],
    [{ address: 'unix:/run/app.sock', weight: 300 }, ['[0].weight: must be 0..256']],
    [{ address: 'unix:/run/app.sock', name: 'x' }, ['[0]: Unrecognized key: "name"']],
    ['unix:/run/a\nb', ['[0]: must not contain control characters (newline, tab, NUL, ...): "unix:/run/a\\nb"']],
  ])('rejects %j', (value, errors) => {
    expect(parse(value)).toEqual({ ok: false, errors });
  });
});

describe('a service blob with unix socket servers', () => {
  const parse = (servers: unknown[]) => parseServiceDefinition('web', { type: 'static', port: 8080, servers }, WATCHER_SCHEMAS);

  test('is taken, in the declared order', () => {
    const r = parse(['unix:/run/b.sock 2', { address: 'unix:/run/a.sock', weight: 5 }, '[::1]:80']);
    expect(r.ok && r.service.watcher.options.servers).toEqual([unix('/run/b.sock', 2), unix('/run/a.sock', 5), { address: '::1', port: 80 }]);
  });

  test('a bad entry is named by its index', () => {
    expect(parse(['unix:/run/a.sock', { address: 'unix:/run/b.sock', port: 9000 }, 'unix:/run//c.sock'])).toEqual({
      ok: false,
      errors: ['servers[1].port: a unix socket server takes no port', 'servers[2]: invalid unix socket address "unix:/run//c.sock": the socket path must be normalised (no //, /./, /../ or trailing /)'],
    });
  });
});
