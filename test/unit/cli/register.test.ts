import { instanceNode } from '../../../src/cli/instance';
import { validateRegister, type RegisterOptions } from '../../../src/cli/register';

const base: RegisterOptions = { zk: '127.0.0.1:2181', path: '/services/web', address: '10.0.0.5', port: 8080, intervalMs: 2000 };

describe('proxymgr register: options', () => {
  test.each<[string, Partial<RegisterOptions>, string[]]>([
    ['an IP and a port', {}, []],
    ['a unix socket, no port', { address: 'unix:/run/app.sock', port: undefined }, []],
    ['a unix socket with a port', { address: 'unix:/run/app.sock' }, ['--port 8080: a unix socket address takes no port']],
    ['a relative socket path', { address: 'unix:run/app.sock', port: undefined }, ['--address "unix:run/app.sock": the socket path must be absolute (unix:/absolute/path)']],
    ['no port for an IP', { port: undefined }, ['--port: required (except with --address unix:/path)']],
    ['a port out of range', { port: 0 }, ['--port 0: must be 1..65535']],
    ['a bad address', { address: 'a b' }, ['--address "a b": must be an IP address, a hostname or unix:/absolute/path']],
  ])('%s', (_label, over, errors) => {
    expect(validateRegister({ ...base, ...over })).toEqual(errors);
  });
});

describe('proxymgr register: the instance znode', () => {
  test.each<[Partial<RegisterOptions>, string, object]>([
    [{}, '/services/web/10.0.0.5:8080', { address: '10.0.0.5', port: 8080 }],
    [{ weight: 3 }, '/services/web/10.0.0.5:8080', { address: '10.0.0.5', port: 8080, weight: 3 }],
    [{ address: 'unix:/run/php/fpm.sock', port: undefined, weight: 2 }, '/services/web/unix_run:php:fpm.sock', { address: 'unix:/run/php/fpm.sock', weight: 2 }],
  ])('%j', (over, node, data) => {
    const got = instanceNode({ ...base, ...over });
    expect(got.node).toBe(node);
    expect(JSON.parse(got.data.toString())).toEqual(data);
  });
});
