import { bindOptions, bindTlsSchema, loadedFromCertDir } from '../../../src/model/bind-tls';
import { listenKey } from '../../../src/model/changes';
import type { DesiredService } from '../../../src/model/desired';
import { listenSpecOf, parseServiceDefinition, type ServiceParse } from '../../../src/model/service';
import { renderConfig, type RenderSettings } from '../../../src/render/render';
import { loadTemplates } from '../../../src/render/templates';
import { WATCHER_SCHEMAS } from '../../../src/watchers/index';

const parse = (extra: Record<string, unknown>, name = 'web'): ServiceParse =>
  parseServiceDefinition(name, { type: 'static', port: 8443, servers: ['10.0.0.1:80'], ...extra }, WATCHER_SCHEMAS);
const errorsOf = (r: ServiceParse) => (r.ok ? [] : r.errors);

describe('bind_tls schema', () => {
  test.each([
    [{ cert_files: ['/etc/certs/a.pem'] }],
    [{ cert_files: ['/etc/certs/a.pem', '/etc/certs/b.pem'], alpn: ['h2', 'http/1.1'], min_version: 'TLSv1.2' }],
    [{ cert_dir: '/etc/certs', min_version: 'TLSv1.3' }],
    [{ cert_dir: '/srv/x_y-z.d/@certs+1', alpn: ['http/1.0'] }],
  ])('accepts %j', (b) => {
    expect(bindTlsSchema.safeParse(b).success).toBe(true);
  });

  test.each([
    [{}, 'exactly one of cert_files or cert_dir'],
    [{ cert_files: ['/a.pem'], cert_dir: '/d' }, 'exactly one of cert_files or cert_dir'],
    [{ cert_files: [] }, 'at least one file'],
    [{ cert_files: ['a.pem'] }, 'absolute path'],
    [{ cert_files: ['/a b.pem'] }, 'absolute path'],
    [{ cert_files: ['/a#b.pem'] }, 'absolute path'],
    [{ cert_files: ["/a'b.pem"] }, 'absolute path'],
    [{ cert_files: ['/a;b.pem'] }, 'absolute path'],
    [{ cert_files: ['/a\nb.pem'] }, 'absolute path'],
    [{ cert_files: ['/etc//a.pem'] }, 'normalized'],
    [{ cert_files: ['/etc/../a.pem'] }, 'normalized'],
    [{ cert_dir: '/etc/certs/' }, 'normalized'],
    [{ cert_dir: '/' }, 'absolute path'],
    [{ cert_files: ['/a.pem', '/a.pem'] }, 'twice'],
    [{ cert_dir: '/d', alpn: ['h3'] }, 'must be one of h2'],
    [{ cert_dir: '/d', alpn: ['h2', 'h2'] }, 'twice'],
    [{ cert_dir: '/d', alpn: [] }, 'at least one protocol'],
    [{ cert_dir: '/d', min_version: 'TLSv1.1' }, 'TLSv1.2 or TLSv1.3'],
    [{ cert_dir: '/d', ciphers: 'x' }, 'Unrecognized key'],
  ])('refuses %j (%s)', (b, message) => {
    const r = bindTlsSchema.safeParse(b);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain(message);
  });
});

describe('bind_tls in a service blob', () => {
  test('carried in the definition and the listen spec, not as proxy lines', () => {
    const r = parse({ bind_tls: { cert_files: ['/c/a.pem'], alpn: ['h2'] } });
    if (!r.ok) throw new Error(r.errors.join('; '));
    expect(r.service.bindTls).toEqual({ certFiles: ['/c/a.pem'], alpn: ['h2'] });
    expect(r.service.listenOptions).toEqual([]);
    expect(r.service.watcher.options).not.toHaveProperty('bind_tls');
    expect(listenSpecOf(r.service).bindTls).toEqual({ certFiles: ['/c/a.pem'], alpn: ['h2'] });
  });

  test('errors name the field', () => {
    expect(errorsOf(parse({ bind_tls: { cert_files: ['rel.pem'] } }))[0]).toMatch(/^bind_tls\.cert_files\[0\]: /);
  });

  test('a routed service (match) cannot set the shared port TLS: only its default service can', () => {
    const r = parse({ mode: 'http', match: { path_prefix: ['/api'] }, bind_tls: { cert_dir: '/c' } });
    expect(errorsOf(r)).toEqual([expect.stringMatching(/^bind_tls: not with match/)]);
    expect(parse({ mode: 'http', bind_tls: { cert_dir: '/c' } }).ok).toBe(true);
  });

  test('a changed bind_tls changes the listen key (so it reloads); the same one does not', () => {
    const spec = (b?: unknown) => {
      const r = parse(b === undefined ? {} : { bind_tls: b });
      if (!r.ok) throw new Error(r.errors.join('; '));
      return listenKey(listenSpecOf(r.service));
    };
    const base = spec({ cert_files: ['/c/a.pem'] });
    expect(spec({ cert_files: ['/c/a.pem'] })).toBe(base);
    for (const other of [undefined, { cert_files: ['/c/b.pem'] }, { cert_files: ['/c/a.pem', '/c/b.pem'] }, { cert_files: ['/c/a.pem'], alpn: ['h2'] }, { cert_files: ['/c/a.pem'], min_version: 'TLSv1.3' }, { cert_dir: '/c' }]) {
      expect(spec(other)).not.toBe(base);
    }
  });
});

describe('bindOptions', () => {
  test.each([
    [undefined, ''],
    [{ certFiles: ['/c/a.pem'] }, 'ssl crt /c/a.pem'],
    [{ certFiles: ['/c/a.pem', '/c/b.pem'], alpn: ['h2', 'http/1.1'], minVersion: 'TLSv1.2' as const }, 'ssl crt /c/a.pem crt /c/b.pem alpn h2,http/1.1 ssl-min-ver TLSv1.2'],
    [{ certDir: '/c', minVersion: 'TLSv1.3' as const }, 'ssl crt /c ssl-min-ver TLSv1.3'],
  ])('%j -> %s', (b, line) => {
    expect(bindOptions(b)).toBe(line);
  });
});

test.each([
  ['site.pem', true],
  ['site', true],
  ['.site.pem.tmp', false],
  ['site.key', false],
  ['site.pem.ocsp', false],
  ['site.pem.issuer', false],
  ['site.pem.sctl', false],
])('a crt directory entry %s is loaded: %s', (name, loaded) => {
  expect(loadedFromCertDir(name)).toBe(loaded);
});

describe('rendering', () => {
  const settings: RenderSettings = { socketPath: '/run/s', stateFile: '/run/st', bindAddress: '127.0.0.1', hardStopAfter: '5m', global: [], defaults: ['mode tcp'] };
  const svc = (name: string, listen: Partial<DesiredService['listen']>): DesiredService => ({ name, listen: { port: 8443, listenOptions: [], serverOptions: [], ...listen }, servers: [] });

  test('a service of its own: the options follow the address on its bind line', () => {
    const text = renderConfig(loadTemplates(), settings, [svc('web', { bindTls: { certFiles: ['/c/a.pem'], alpn: ['h2', 'http/1.1'] } }), svc('plain', { port: 8080 })]);
    expect(text).toContain('listen web\n    bind 127.0.0.1:8443 ssl crt /c/a.pem alpn h2,http/1.1\n');
    expect(text).toContain('listen plain\n    bind 127.0.0.1:8080\n');
  });

  test('a shared port: its frontend binds with the default service TLS', () => {
    const text = renderConfig(loadTemplates(), settings, [
      svc('site', { mode: 'http', bindTls: { certDir: '/c', minVersion: 'TLSv1.2' } }),
      svc('api', { mode: 'http', match: { path_prefix: ['/api'] } }),
    ]);
    expect(text).toContain('frontend port:8443\n    mode http\n    bind 127.0.0.1:8443 ssl crt /c ssl-min-ver TLSv1.2\n');
    expect(text).not.toMatch(/backend (site|api)\n\s+bind/);
  });

  test('a shared port without a default service has no TLS', () => {
    const text = renderConfig(loadTemplates(), settings, [svc('api', { mode: 'http', match: { path_prefix: ['/api'] } })]);
    expect(text).toContain('    bind 127.0.0.1:8443\n');
  });
});
