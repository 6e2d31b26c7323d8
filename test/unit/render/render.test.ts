import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredService } from '../../../src/model/desired';
import { bindSpec, renderConfig, sectionAtLine, type RenderSettings } from '../../../src/render/render';
import { loadTemplates, SHIPPED_TEMPLATE_DIR } from '../../../src/render/templates';

const settings: RenderSettings = {
  socketPath: '/run/pm/admin.sock',
  stateFile: '/run/pm/server-state',
  bindAddress: '127.0.0.2',
  hardStopAfter: '5m',
  global: ['maxconn 4096'],
  defaults: ['mode tcp', 'timeout connect 5s'],
};

const services: DesiredService[] = [
  {
    name: 'web',
    listen: { port: 8080, listenOptions: ['mode http', 'balance leastconn'], serverOptions: ['check', 'inter 2s'] },
    servers: [
      { address: '10.0.0.1', port: 80 },
      { address: '10.0.0.2', port: 80, weight: 0 },
      { address: '::1', port: 81, weight: 7 },
    ],
  },
  {
    name: 'api',
    listen: { port: 9000, listenOptions: [], serverOptions: [] },
    servers: [{ address: 'api.example', port: 9001, weight: 256 }],
  },
];

describe('loadTemplates + renderConfig', () => {
  const templates = loadTemplates();
  const out = renderConfig(templates, settings, services);
  const lines = out.split('\n');

  test('reads the shipped main template and partials', () => {
    expect(templates.sources).toContain(join(SHIPPED_TEMPLATE_DIR, 'haproxy.cfg.hbs'));
    expect(templates.sources).toContain(join(SHIPPED_TEMPLATE_DIR, 'partials', 'server.hbs'));
  });

  test('is deterministic and independent of service order', () => {
    expect(renderConfig(loadTemplates(), settings, services)).toBe(out);
    expect(renderConfig(templates, settings, [...services].reverse())).toBe(out);
  });

  test('services are sorted by name', () => {
    expect(lines.filter((l) => l.startsWith('listen '))).toEqual(['listen api', 'listen web']);
  });

  test('stats socket line uses the socket path with mode 600', () => {
    expect(lines.map((l) => l.trim())).toContain('stats socket /run/pm/admin.sock mode 600 level admin expose-fd listeners');
    expect(lines.map((l) => l.trim())).toContain('hard-stop-after 5m');
  });

  test('global and defaults lines are rendered in their sections', () => {
    const g = lines.indexOf('global');
    const d = lines.indexOf('defaults');
    expect(g).toBeGreaterThanOrEqual(0);
    expect(d).toBeGreaterThan(g);
    expect(lines.indexOf('    maxconn 4096')).toBeGreaterThan(g);
    expect(lines.indexOf('    maxconn 4096')).toBeLessThan(d);
    expect(lines.slice(d + 1, d + 4)).toEqual(['    load-server-state-from-file global', '    mode tcp', '    timeout connect 5s']);
  });

  test('listen section: bind on the bind address, options, then servers', () => {
    const i = lines.indexOf('listen web');
    expect(lines.slice(i, i + 7)).toEqual([
      'listen web',
      '    bind 127.0.0.2:8080',
      '    mode http',
      '    balance leastconn',
      '    server 10.0.0.1:80 10.0.0.1:80 check inter 2s',
      '    server 10.0.0.2:80 10.0.0.2:80 check inter 2s weight 0',
      '    server v6_..1_81 ::1:81 check inter 2s weight 7',
    ]);
  });

  test('server without options or weight', () => {
    const i = lines.indexOf('listen api');
    expect(lines.slice(i, i + 3)).toEqual(['listen api', '    bind 127.0.0.2:9000', '    server api.example:9001 api.example:9001 weight 256']);
  });

  test('no services renders only global and defaults', () => {
    const text = renderConfig(templates, settings, []);
    expect(text).not.toMatch(/^listen /m);
    expect(text).toMatch(/^defaults$/m);
  });
});

describe('IPv6 bind address and unix socket servers', () => {
  test.each([
    ['127.0.0.1', 80, '127.0.0.1:80'],
    ['0.0.0.0', 8080, '0.0.0.0:8080'],
    ['::1', 8080, '[::1]:8080'],
    ['::', 8080, '[::]:8080'],
    ['2001:db8::5', 1, '[2001:db8::5]:1'],
  ])('bindSpec(%j, %d) = %j', (address, port, bind) => {
    expect(bindSpec(address, port)).toBe(bind);
  });

  test('a v6 bind address is bracketed on listen and shared frontend binds; socket servers render as unix@/path', () => {
    const v6: RenderSettings = { ...settings, bindAddress: '::1' };
    const svc = (name: string, port: number, match?: DesiredService['listen']['match']): DesiredService => ({
      name,
      listen: { port, listenOptions: ['mode http'], serverOptions: ['check'], mode: 'http', ...(match && { match }) },
      servers: [{ address: 'unix:/run/app.sock', port: 0, weight: 3 }, { address: '10.0.0.1', port: 80 }, { address: 'unix:/tmp/a=b.sock', port: 0 }],
    });
    const text = renderConfig(loadTemplates(), v6, [svc('solo', 8080), svc('a', 9000, { host: ['a.example'] }), svc('b', 9000)]);
    const lines = text.split('\n').map((l) => l.trim());
    expect(lines.filter((l) => l.startsWith('bind '))).toEqual(['bind [::1]:9000', 'bind [::1]:8080']);
    expect(lines).toContain('server unix_run:app.sock unix@/run/app.sock check weight 3');
    expect(lines).toContain('server 10.0.0.1:80 10.0.0.1:80 check');
    // Not escaped as HTML would be (`=` stays `=`).
    expect(lines).toContain('server unix-tmp:a_b.sock_3bb0887e unix@/tmp/a=b.sock check');
  });
});

describe('balance first', () => {
  test('servers keep the given order and get ids in it; other services get none', () => {
    const t = loadTemplates(SHIPPED_TEMPLATE_DIR);
    const first: DesiredService = {
      name: 'first',
      listen: { port: 7000, listenOptions: ['balance first'], serverOptions: [], declaredOrder: true },
      servers: [
        { address: '10.0.0.3', port: 80 },
        { address: '10.0.0.2', port: 80, weight: 2 },
        { address: '10.0.0.1', port: 80, backup: true },
      ],
    };
    const out = renderConfig(t, settings, [first, ...services]);
    expect(out).toContain(
      ['    server 10.0.0.3:80 10.0.0.3:80 id 10', '    server 10.0.0.2:80 10.0.0.2:80 weight 2 id 20', '    server 10.0.0.1:80 10.0.0.1:80 backup id 30'].join('\n'),
    );
    expect(out.split('\n').filter((l) => / id \d+/.test(l))).toHaveLength(3);
  });
});

describe('loadTemplates with an override dir', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pm-tpl-'));
    mkdirSync(join(dir, 'partials'));
    writeFileSync(join(dir, 'partials', 'server.hbs'), '    server {{name}} {{address}} # custom\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('a partial in the override dir replaces the shipped one; the rest stays shipped', () => {
    const t = loadTemplates(dir);
    expect(t.sources).toContain(join(dir, 'partials', 'server.hbs'));
    expect(t.sources).not.toContain(join(SHIPPED_TEMPLATE_DIR, 'partials', 'server.hbs'));
    expect(t.sources).toContain(join(SHIPPED_TEMPLATE_DIR, 'haproxy.cfg.hbs'));
    const lines = renderConfig(t, settings, services).split('\n');
    expect(lines).toContain('    server api.example:9001 api.example:9001 # custom');
    expect(lines).toContain('listen api');
    expect(lines.some((l) => l.includes('weight 256'))).toBe(false);
  });
});

describe('sectionAtLine', () => {
  const text = renderConfig(loadTemplates(), settings, services);
  const lines = text.split('\n');
  const lineOf = (s: string) => lines.indexOf(s) + 1;

  test.each([
    ['listen api', 'api'],
    ['    bind 127.0.0.2:9000', 'api'],
    ['listen web', 'web'],
    ['    balance leastconn', 'web'],
    ['    server v6_..1_81 ::1:81 check inter 2s weight 7', 'web'],
  ])('line %j -> %s', (line, section) => {
    expect(lineOf(line)).toBeGreaterThan(0);
    expect(sectionAtLine(text, lineOf(line))).toBe(section);
  });

  test.each(['global', '    maxconn 4096', 'defaults', '    mode tcp'])('line %j (global/defaults) -> undefined', (line) => {
    expect(lineOf(line)).toBeGreaterThan(0);
    expect(sectionAtLine(text, lineOf(line))).toBeUndefined();
  });

  test('hand-written config; line numbers are 1-based; past the end stays in the last section', () => {
    const cfg = ['global', '  daemon', 'defaults', '  mode tcp', 'listen a', '  bind :1', 'frontend f', '  bind :2', 'backend b', '  server x 1.1.1.1:1', 'defaults', '  mode http'].join('\n');
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 99].map((n) => sectionAtLine(cfg, n))).toEqual([
      undefined, undefined, undefined, undefined, 'a', 'a', 'f', 'f', 'b', 'b', undefined, undefined, undefined,
    ]);
    expect(sectionAtLine(cfg, 0)).toBeUndefined();
  });
});

describe("a service's own sections (cache, fcgi-app)", () => {
  const withSections: DesiredService = {
    name: 'php',
    listen: {
      port: 9100,
      listenOptions: ['mode http', 'use-fcgi-app php'],
      serverOptions: ['proto fcgi'],
      sections: [
        { kind: 'fcgi-app', name: 'php', lines: ['docroot /srv/www', 'index index.php'] },
        { kind: 'cache', name: 'pm_c_php', lines: ['total-max-size 4'] },
      ],
    },
    servers: [{ address: '127.0.0.1', port: 9000 }],
  };
  const text = renderConfig(loadTemplates(), settings, [...services, withSections]);
  const lines = text.split('\n');

  test('follow the proxy section, each with its lines, a blank line before each', () => {
    const at = lines.indexOf('listen php');
    expect(lines.slice(at, at + 12)).toEqual([
      'listen php',
      '    bind 127.0.0.2:9100',
      '    mode http',
      '    use-fcgi-app php',
      '    server 127.0.0.1:9000 127.0.0.1:9000 proto fcgi',
      '',
      'fcgi-app php',
      '    docroot /srv/www',
      '    index index.php',
      '',
      'cache pm_c_php',
      '    total-max-size 4',
    ]);
  });

  test("a line in them is pinned on the service; the next service's lines are its own", () => {
    expect(sectionAtLine(text, lines.indexOf('    docroot /srv/www') + 1)).toBe('php');
    expect(sectionAtLine(text, lines.indexOf('    total-max-size 4') + 1)).toBe('php');
    expect(sectionAtLine(text, lines.indexOf('listen web') + 1)).toBe('web');
  });
});

describe('an fcgi service with no servers', () => {
  const listen = { port: 9200, listenOptions: ['mode http', 'use-fcgi-app php'], serverOptions: ['proto fcgi check'], sections: [{ kind: 'fcgi-app' as const, name: 'php', lines: ['docroot /srv'] }] };
  test('gets the placeholder server, in maint, with the service\'s server options', () => {
    const text = renderConfig(loadTemplates(), settings, [{ name: 'php', listen, servers: [] }]);
    expect(text).toContain('    server proxymgr.placeholder 127.0.0.1:1 proto fcgi check disabled\n');
  });
  test('not once it has a server, and never without an fcgi-app', () => {
    expect(renderConfig(loadTemplates(), settings, [{ name: 'php', listen, servers: [{ address: '10.0.0.1', port: 9000 }] }])).not.toContain('placeholder');
    expect(renderConfig(loadTemplates(), settings, [{ name: 'web', listen: { port: 9201, listenOptions: [], serverOptions: [] }, servers: [] }])).not.toContain('placeholder');
  });
});

// HAProxy 2.6 lets `add server` use only the CA and certificate files it loaded from the config.
describe('a service whose server tokens name files, with no servers', () => {
  const render = (serverOptions: string[], servers: Array<{ address: string; port: number }> = []) =>
    renderConfig(loadTemplates(), settings, [{ name: 'web', listen: { port: 9300, listenOptions: [], serverOptions }, servers }]);

  test.each([
    [['ssl verify required ca-file /etc/pki/ca.pem']],
    [['ssl verify none crt /etc/pki/client.pem']],
    [['ssl verify required ca-file /ca.pem crl-file /crl.pem']],
  ])('%j gets the placeholder server in maint, so HAProxy loads them', (serverOptions) => {
    expect(render(serverOptions)).toContain(`    server proxymgr.placeholder 127.0.0.1:1 ${serverOptions.join(' ')} disabled\n`);
  });

  test('not once it has a server, nor when no token names a file', () => {
    expect(render(['ssl verify required ca-file /ca.pem'], [{ address: '10.0.0.1', port: 443 }])).not.toContain('placeholder');
    expect(render(['ssl verify none sni str(crt.internal) check-sni crt.internal'])).not.toContain('placeholder');
    expect(render(['check'])).not.toContain('placeholder');
  });
});
