import { parseConfig } from '../../../src/config/load';
import { IncrementalRenderer } from '../../../src/render/incremental';
import { renderConfig, type RenderSettings } from '../../../src/render/render';
import { loadTemplates } from '../../../src/render/templates';

const settings: RenderSettings = {
  socketPath: '/run/pm/admin.sock',
  stateFile: '/run/pm/server-state',
  bindAddress: '127.0.0.1',
  hardStopAfter: '5m',
  global: ['maxconn 4096'],
  defaults: ['mode tcp'],
};
const services = [{ name: 'web', listen: { port: 8080, listenOptions: [], serverOptions: [] }, servers: [{ address: '10.0.0.1', port: 80 }] }];
const SC = 'service_config: {type: file, path: services}';

// haproxy.prometheus_listen: a frontend serving HAProxy's own Prometheus exporter.
describe('haproxy.prometheus_listen', () => {
  const templates = loadTemplates();

  test('unset: no exporter frontend, and the text is what it was without the key', () => {
    const out = renderConfig(templates, settings, services);
    expect(out).not.toMatch(/prometheus/);
    expect(renderConfig(templates, { ...settings, prometheusListen: undefined }, services)).toBe(out);
  });

  test('set: an http frontend on that address serving the exporter at /metrics, before the services', () => {
    const out = renderConfig(templates, { ...settings, prometheusListen: '127.0.0.1:8405' }, services);
    expect(out).toContain(
      [
        'frontend proxymgr:prometheus',
        '    mode http',
        '    bind 127.0.0.1:8405',
        '    no log',
        '    http-request use-service prometheus-exporter if { path /metrics }',
        '',
      ].join('\n'),
    );
    expect(out.indexOf('frontend proxymgr:prometheus')).toBeLessThan(out.indexOf('listen web'));
  });

  test('proxymgr.yml: IP:port only; it reaches the renderer, and changing it changes the reload key', () => {
    const cfg = parseConfig(`haproxy: {prometheus_listen: "127.0.0.1:8405"}\n${SC}`, '/etc/proxymgr/proxymgr.yml');
    expect(cfg.haproxy.prometheus_listen).toBe('127.0.0.1:8405');
    expect(parseConfig(`haproxy: {prometheus_listen: "[::1]:8405"}\n${SC}`, '/x.yml').haproxy.prometheus_listen).toBe('[::1]:8405');
    for (const bad of ['8405', 'localhost:8405', '127.0.0.1', '127.0.0.1:8405\\nbind 0.0.0.0:1']) {
      expect(() => parseConfig(`haproxy: {prometheus_listen: "${bad}"}\n${SC}`, '/x.yml')).toThrow(/haproxy\.prometheus_listen: must be IP:port/);
    }
    const renderer = IncrementalRenderer.forConfig(cfg.haproxy);
    expect(renderer.render([])).toMatch(/^    bind 127\.0\.0\.1:8405$/m);
    const without = IncrementalRenderer.forConfig(parseConfig(SC, '/etc/proxymgr/proxymgr.yml').haproxy);
    expect(without.render([])).not.toMatch(/prometheus/);
    expect(without.key).not.toBe(renderer.key);
  });
});
