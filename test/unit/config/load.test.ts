import { ZkDirectory } from '../../../src/zk/target';
import { EtcdDirectory } from '../../../src/etcd/target';
import { ConfigError, parseConfig } from '../../../src/config/load';
import { DEFAULT_DEFAULTS, DEFAULT_GLOBAL } from '../../../src/config/schema';

const FILE = '/etc/pm/proxymgr.yml';
const SC = 'service_config: {type: file, path: services}\n';

function problemsOf(text: string, path = FILE): string[] {
  try {
    parseConfig(text, path);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).file).toBe(path);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  test('fills defaults and resolves service_config.path against the file directory', () => {
    expect(parseConfig(SC, FILE)).toEqual({
      file: FILE,
      haproxy: {
        path: 'haproxy',
        config_path: '/etc/haproxy/haproxy.cfg',
        socket_path: '/run/proxymgr/admin.sock',
        bind_address: '127.0.0.1',
        template_dir: undefined,
        global: DEFAULT_GLOBAL,
        defaults: DEFAULT_DEFAULTS,
        hard_stop_after: '5m',
        ready_timeout_ms: 10000,
        stop_timeout_ms: 10000,
        unresponsive_replace_ms: 10000,
        state_file: '/etc/haproxy/server-state',
        overrides_file: '/run/proxymgr/overrides.json',
      },
      reload: { quiet_ms: 100, max_wait_ms: 1000, min_interval_ms: 1000, jitter_ms: 250 },
      runtime: { enabled: true, drain_ms: 0, drift_interval_ms: 30000, timeout_ms: 5000, sticky_offline_interval_ms: 1000 },
      service_config: { type: 'file', path: '/etc/pm/services' },
      log: { level: 'info' },
      dns: {},
      status: { source_grace_ms: 30000, views: {} },
      snapshot: undefined,
      zookeeper: { ensembles: {} },
      zk: new ZkDirectory(),
      etcd: { clusters: {} },
      etcdDir: new EtcdDirectory(),
    });
  });

  test('status views take service names and * patterns; statsd gets defaults', () => {
    const cfg = parseConfig(`${SC}\nstatus: {views: {front: [web, "web-*"]}}\nstatsd: {port: 9125}`, FILE);
    expect(cfg.status.views).toEqual({ front: ['web', 'web-*'] });
    expect(cfg.statsd).toEqual({ host: '127.0.0.1', port: 9125, prefix: 'proxymgr.', interval_ms: 10000 });
    expect(() => parseConfig(`${SC}\nstatus: {views: {front: ["web\\nbind"]}}`, FILE)).toThrow(/status\.views\.front\[0\]: must be a service name/);
  });

  test('relative paths resolve against the file directory; absolute ones are kept', () => {
    const cfg = parseConfig(
      [
        'haproxy:',
        '  path: ./bin/haproxy',
        '  config_path: run/haproxy.cfg',
        '  socket_path: ../sock/admin.sock',
        '  template_dir: tpl',
        'service_config: {type: file, path: /srv/services}',
      ].join('\n'),
      FILE,
    );
    expect(cfg.haproxy.path).toBe('/etc/pm/bin/haproxy');
    expect(cfg.haproxy.config_path).toBe('/etc/pm/run/haproxy.cfg');
    expect(cfg.haproxy.socket_path).toBe('/etc/sock/admin.sock');
    expect(cfg.haproxy.template_dir).toBe('/etc/pm/tpl');
    expect(cfg.service_config.type === 'file' && cfg.service_config.path).toBe('/srv/services');
  });

  test.each([
    ['haproxy', 'haproxy'],
    ['haproxy-2.6', 'haproxy-2.6'],
    ['/usr/sbin/haproxy', '/usr/sbin/haproxy'],
    ['bin/haproxy', '/etc/pm/bin/haproxy'],
  ])('haproxy.path %j -> %j', (given, expected) => {
    expect(parseConfig(`haproxy: {path: ${given}}\n${SC}`, FILE).haproxy.path).toBe(expected);
  });

  test('a zookeeper service config keeps its znode path as written', () => {
    expect(parseConfig('service_config: {type: zookeeper, servers: "zk1:2181,zk2:2181", path: /service_config}', FILE).service_config).toEqual({
      type: 'zookeeper',
      servers: 'zk1:2181,zk2:2181',
      path: '/service_config',
    });
  });

  test.each([
    ['127.0.0.1', '127.0.0.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['::1', '::1'],
    ['::', '::'],
    ['0:0::1', '::1'],
    ['2001:DB8::5', '2001:db8::5'],
  ])('bind_address %j is taken, spelled %j', (given, kept) => {
    expect(parseConfig(`haproxy: {bind_address: "${given}"}\n${SC}`, FILE).haproxy.bind_address).toBe(kept);
  });

  test('a bare number for hard_stop_after is milliseconds, as in HAProxy', () => {
    expect(parseConfig(`haproxy: {hard_stop_after: 300}\n${SC}`, FILE).haproxy.hard_stop_after).toBe('300ms');
  });

  test('explicit values override defaults', () => {
    const cfg = parseConfig(`haproxy: {bind_address: "::1", global: [], hard_stop_after: 30s}\nreload: {quiet_ms: 5}\nlog: {level: debug}\n${SC}`, FILE);
    expect([cfg.haproxy.bind_address, cfg.haproxy.global, cfg.haproxy.hard_stop_after, cfg.reload.quiet_ms, cfg.reload.max_wait_ms, cfg.log.level]).toEqual([
      '::1', [], '30s', 5, 1000, 'debug',
    ]);
  });

  test.each([
    [`haproxy: {bogus: 1}\n${SC}`, 'haproxy: Unrecognized key: "bogus"'],
    [`reload: {quiet: 1}\n${SC}`, 'reload: Unrecognized key: "quiet"'],
    [`extra: true\n${SC}`, '(top level): Unrecognized key: "extra"'],
    [`service_config: {type: file, path: x, glob: "*"}`, 'service_config: Unrecognized key: "glob"'],
  ])('unknown key is named: %j', (text, problem) => {
    expect(problemsOf(text)).toEqual([problem]);
  });

  test.each([
    [`reload: {quiet_ms: "100"}\n${SC}`, 'reload.quiet_ms: must be an integer (milliseconds)'],
    [`reload: {max_wait_ms: 1.5}\n${SC}`, 'reload.max_wait_ms: must be an integer (milliseconds)'],
    [`haproxy: {bind_address: localhost}\n${SC}`, 'haproxy.bind_address: must be an IP address'],
    [`haproxy: {bind_address: "[::1]"}\n${SC}`, 'haproxy.bind_address: must be an IP address'],
    [`haproxy: {bind_address: "fe80::1%eth0"}\n${SC}`, 'haproxy.bind_address: must not have a zone id (%...)'],
    [`haproxy: {hard_stop_after: 5 minutes}\n${SC}`, 'haproxy.hard_stop_after: must be an HAProxy time such as 500ms, 30s or 5m'],
    [`haproxy: {global: [maxconn 1, "a\\nb"]}\n${SC}`, 'haproxy.global[1]: must not contain control characters (newline, tab, NUL, ...)'],
    [`haproxy: {defaults: ["mode tcp\\tx"]}\n${SC}`, 'haproxy.defaults[0]: must not contain control characters (newline, tab, NUL, ...)'],
    [`haproxy: {socket_path: "/${'a'.repeat(90)}"}\n${SC}`, 'haproxy.socket_path: must be at most 90 characters (unix socket path limit)'],
    [`haproxy: {config_path: "/etc/my haproxy.cfg"}\n${SC}`, 'haproxy.config_path: must not contain whitespace'],
    ['service_config: {type: consul, path: x}', 'service_config.type: type must be one of: file, zookeeper, etcd'],
    ['service_config: {type: zookeeper, servers: "zk1:2181", path: services}', 'service_config.path: must be an absolute znode path such as /services/web (no trailing slash)'],
    ['service_config: {type: zookeeper, servers: "zk1", path: /services}', 'service_config.servers: must be host:port[,host:port...][/chroot] (the chroot absolute, no trailing slash)'],
  ])('invalid value: %j', (text, problem) => {
    expect(problemsOf(text)).toEqual([problem]);
  });

  test.each([
    [`haproxy: [1]\n${SC}`, 'haproxy: '],
    [`haproxy: {global: maxconn 1}\n${SC}`, 'haproxy.global: '],
    [`haproxy: {ready_timeout_ms: 600001}\n${SC}`, 'haproxy.ready_timeout_ms: '],
    [`log: {level: loud}\n${SC}`, 'log.level: '],
    [`service_config: {type: file}`, 'service_config.path: '],
    ['', 'service_config: '],
    ['- a\n- b', '(top level): '],
  ])('wrong type or missing value: %j', (text, prefix) => {
    const problems = problemsOf(text);
    expect(problems).toHaveLength(1);
    expect(problems[0].startsWith(prefix)).toBe(true);
  });

  test('YAML syntax error -> ConfigError', () => {
    const problems = problemsOf('haproxy: [\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^invalid YAML: /);
  });

  test('ConfigError message carries the file and the problems', () => {
    expect(() => parseConfig(`haproxy: {bogus: 1}\n${SC}`, FILE)).toThrow(`${FILE}: haproxy: Unrecognized key: "bogus"`);
  });

  test('a relative socket path that resolves to more than 100 bytes is rejected', () => {
    const dir = `/${'d'.repeat(90)}`; // resolves to 106 bytes; the raw value is short
    const problems = problemsOf(`haproxy: {socket_path: run/admin.sock}\n${SC}`, `${dir}/proxymgr.yml`);
    expect(problems).toEqual([`haproxy.socket_path: resolves to ${dir}/run/admin.sock, longer than 90 bytes (unix socket limit)`]);
  });

  test('a relative path resolved into a directory with whitespace is rejected', () => {
    const problems = problemsOf(`haproxy: {config_path: haproxy.cfg, socket_path: /run/a.sock}\n${SC}`, '/my dir/proxymgr.yml');
    expect(problems).toEqual([
      'haproxy.config_path: resolves to "/my dir/haproxy.cfg", which contains whitespace',
      'haproxy.state_file: resolves to "/my dir/server-state", which contains whitespace',
    ]);
  });
});

describe('zookeeper ensembles', () => {
  const YML = [
    'zookeeper:',
    '  ensembles:',
    '    main:',
    '      servers: "zk1:2181,zk2:2181/proxymgr"',
    '      auth: {scheme: digest, credentials_env: ZK_SIDECAR}',
    '    registry: {servers: "zk9:2181", acl: "world:anyone:read"}',
    'service_config: {type: zookeeper, ensemble: main, path: /services}',
  ].join('\n');

  test('credentials are read at load, from the environment given; the config prints without them', () => {
    const cfg = parseConfig(YML, FILE, { env: { ZK_SIDECAR: 'sidecar:load-test-pw' } });
    expect(cfg.zk.serviceConfig).toBe(cfg.zk.get('main'));
    expect(cfg.zk.get('main')?.auth?.user).toBe('sidecar');
    expect(cfg.zk.get('registry')?.auth).toBeUndefined();
    expect(cfg.service_config).toEqual({ type: 'zookeeper', ensemble: 'main', path: '/services' });
    expect(JSON.stringify(cfg)).not.toContain('load-test-pw');
  });

  test('a credential that cannot be read stops the load by key; zkCredentials: false skips reading it', () => {
    expect(() => parseConfig(YML, FILE, { env: {} })).toThrow('zookeeper.ensembles.main.auth: environment variable ZK_SIDECAR is not set or empty');
    expect(parseConfig(YML, FILE, { env: {}, zkCredentials: false }).zk.get('main')?.auth).toBeUndefined();
  });
});
