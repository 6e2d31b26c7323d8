import { parseServiceDefinition } from '../../../../src/model/service';
import { compileProxyOptions } from '../../../../src/model/proxy-options';
import { WATCHER_SCHEMAS } from '../../../../src/watchers';
import { errorsOf } from './helpers';

const parse = (tls: unknown, extra: Record<string, unknown> = {}) =>
  parseServiceDefinition('web', { type: 'static', port: 8080, servers: ['10.0.0.1:443'], tls, ...extra }, WATCHER_SCHEMAS);

describe('tls', () => {
  test.each([
    [{ ca_file: '/etc/pki/ca.pem' }, 'ssl verify required ca-file /etc/pki/ca.pem'],
    [{ verify: 'required', ca_file: '/etc/pki/ca.pem' }, 'ssl verify required ca-file /etc/pki/ca.pem'],
    [{ verify: 'none' }, 'ssl verify none'],
    [{ verify: 'none', sni: 'api.internal' }, 'ssl verify none sni str(api.internal) check-sni api.internal'],
    [{ ca_file: '/etc/pki/ca.pem', sni: 'API.Internal' }, 'ssl verify required ca-file /etc/pki/ca.pem sni str(api.internal) check-sni api.internal'],
    [
      { ca_file: '/etc/pki/ca.pem', sni: 'db-1.prod', client_cert: '/etc/pki/client.pem' },
      'ssl verify required ca-file /etc/pki/ca.pem crt /etc/pki/client.pem sni str(db-1.prod) check-sni db-1.prod',
    ],
    [{ verify: 'none', client_cert: '/etc/pki/client.pem' }, 'ssl verify none crt /etc/pki/client.pem'],
    [{ ca_file: '/etc/ssl/certs/ca-certificates.crt' }, 'ssl verify required ca-file /etc/ssl/certs/ca-certificates.crt'],
    [{ ca_file: '/a/b_c.d@e+f=g,h~i:j-k' }, 'ssl verify required ca-file /a/b_c.d@e+f=g,h~i:j-k'],
  ])('%j -> server tokens %s', (tls, tokens) => {
    const r = parse(tls);
    expect(r.ok && r.service.serverOptions).toEqual([tokens]);
  });

  test('the files it names are listed for the door check, with the field', () => {
    const r = parse({ ca_file: '/etc/pki/ca.pem', client_cert: '/etc/pki/client.pem' });
    expect(r.ok && r.service.files).toEqual([
      { field: 'tls.ca_file', path: '/etc/pki/ca.pem', kind: 'ca' },
      { field: 'tls.client_cert', path: '/etc/pki/client.pem', kind: 'cert-and-key' },
    ]);
    const none = parse({ verify: 'none' });
    expect(none.ok && none.service.files).toBeUndefined();
    const without = parseServiceDefinition('web', { type: 'static', port: 8080, servers: ['10.0.0.1:80'] }, WATCHER_SCHEMAS);
    expect(without.ok && without.service.files).toBeUndefined();
  });

  test('tokens come after the other typed server tokens and before server_options', () => {
    const r = parse({ ca_file: '/ca.pem' }, { check: { interval_ms: 500 }, server_options: ['pool-max-conn 5'] });
    expect(r.ok && r.service.serverOptions).toEqual(['check inter 500ms ssl verify required ca-file /ca.pem', 'pool-max-conn 5']);
  });

  test('works in tcp and http mode alike (TLS is below HTTP)', () => {
    expect(errorsOf({ mode: 'tcp', tls: { ca_file: '/ca.pem' } })).toEqual([]);
    expect(errorsOf({ mode: 'http', tls: { ca_file: '/ca.pem' } })).toEqual([]);
    expect(compileProxyOptions({ tls: { verify: 'none' } }).listen).toEqual([]);
  });

  test.each([
    [{}, /^tls\.ca_file: required to verify the servers' certificates \(or set "verify": "none"/],
    [{ verify: 'required' }, /^tls\.ca_file: required/],
    [{ sni: 'api.internal' }, /^tls\.ca_file: required/],
    [{ verify: 'none', ca_file: '/ca.pem' }, /^tls\.ca_file: not used with "verify": "none"/],
    [{ verify: 'optional', ca_file: '/ca.pem' }, /^tls\.verify: must be required or none/],
    [{ verify: true, ca_file: '/ca.pem' }, /^tls\.verify: must be required or none/],
    [{ ca_file: 'ca.pem' }, /^tls\.ca_file: must be an absolute path/],
    [{ ca_file: './ca.pem' }, /^tls\.ca_file: must be an absolute path/],
    [{ ca_file: '/etc/pki/' }, /^tls\.ca_file: must be an absolute path to a file/],
    [{ ca_file: '/' }, /^tls\.ca_file: must be an absolute path/],
    [{ ca_file: '/etc//ca.pem' }, /^tls\.ca_file: must be an absolute path/],
    [{ ca_file: '/etc/my ca.pem' }, /^tls\.ca_file: must be an absolute path .*no spaces/],
    [{ ca_file: "/etc/ca'.pem" }, /^tls\.ca_file: must be an absolute path/],
    [{ ca_file: '/etc/ca.pem;show info' }, /^tls\.ca_file: must be an absolute path/],
    [{ ca_file: '/etc/ca.pem#x' }, /^tls\.ca_file: must be an absolute path/],
    [{ ca_file: '/etc/ca.pem\nlisten x' }, /^tls\.ca_file: must be an absolute path/],
    [{ ca_file: `/${'a'.repeat(1024)}` }, /^tls\.ca_file: must be at most 1024/],
    [{ ca_file: 42 }, /^tls\.ca_file: /],
    [{ verify: 'none', client_cert: 'client.pem' }, /^tls\.client_cert: must be an absolute path/],
    [{ verify: 'none', sni: '10.0.0.1' }, /^tls\.sni: must be a host name, not an IP address/],
    [{ verify: 'none', sni: '::1' }, /^tls\.sni: must be a host name/],
    [{ verify: 'none', sni: 'a,b' }, /^tls\.sni: must be a host name/],
    [{ verify: 'none', sni: 'a)b' }, /^tls\.sni: must be a host name/],
    [{ verify: 'none', sni: 'api.internal.' }, /^tls\.sni: must be a host name/],
    [{ verify: 'none', sni: '-api' }, /^tls\.sni: must be a host name/],
    [{ verify: 'none', sni: '*.internal' }, /^tls\.sni: must be a host name/],
    [{ verify: 'none', sni: '' }, /^tls\.sni: must be a host name/],
    [{ verify: 'none', sni: `${'a'.repeat(64)}.internal` }, /^tls\.sni: must be a host name/],
    [{ verify: 'none', sni: 'x'.repeat(254) }, /^tls\.sni: must be at most 253/],
    [{ verify: 'none', key_file: '/k.pem' }, /^tls: .*key_file/],
    [true, /^tls: /],
    ['on', /^tls: /],
  ])('tls %j is refused, naming the field', (tls, message) => {
    expect(errorsOf({ tls }).join('\n')).toMatch(message);
  });
});
