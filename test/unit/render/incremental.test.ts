import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredService } from '../../../src/model/desired';
import { IncrementalRenderer } from '../../../src/render/incremental';
import { renderConfig, type RenderSettings } from '../../../src/render/render';
import { loadTemplates } from '../../../src/render/templates';

const settings: RenderSettings = {
  socketPath: '/run/pm/admin.sock',
  stateFile: '/run/pm/server-state',
  bindAddress: '127.0.0.1',
  hardStopAfter: '5m',
  global: [],
  defaults: ['mode tcp'],
};

function fleet(n: number): DesiredService[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `svc${String(i).padStart(3, '0')}`,
    listen: i % 10 === 0 ? { port: 8080, listenOptions: [], serverOptions: ['check'], mode: 'http' as const, match: { path_prefix: [`/p${i}`] } } : { port: 9000 + i, listenOptions: ['balance leastconn'], serverOptions: [] },
    servers: [
      { address: `10.0.${i}.1`, port: 80 },
      { address: `10.0.${i}.2`, port: 80, weight: 3 },
    ],
  }));
}

describe('IncrementalRenderer', () => {
  test('renders exactly what the main template renders at once, through random edits', () => {
    const templates = loadTemplates();
    const r = new IncrementalRenderer(templates, settings);
    let services = fleet(40);
    let seed = 3;
    const rand = (k: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed % k;
    };
    for (let step = 0; step < 200; step++) {
      const i = rand(services.length);
      const op = rand(4);
      if (op === 0) services = services.map((s, k) => (k === i ? { ...s, servers: [...s.servers, { address: `10.9.${step}.1`, port: 81 }] } : s));
      else if (op === 1) services = services.filter((_, k) => k !== i || services.length < 5);
      else if (op === 2) services = [...services, { name: `new${step}`, listen: { port: 20000 + step, listenOptions: [], serverOptions: [] }, servers: [] }];
      else services = services.map((s, k) => (k === i ? { ...s, listen: { ...s.listen, port: 8080, mode: 'http' as const } } : s));
      // Unsorted input sorts like the full render.
      const input = rand(2) ? services : [...services].reverse();
      expect(r.render(input)).toBe(renderConfig(templates, settings, services));
    }
    expect(r.incremental).toBe(true);
  });

  test('only changed services are rendered again', () => {
    const templates = loadTemplates();
    let calls = 0;
    const counted = { ...templates, section: (ctx: unknown) => (calls++, templates.section(ctx)) };
    const r = new IncrementalRenderer(counted, settings);
    const services = fleet(100);
    r.render(services);
    expect(calls).toBe(100);
    calls = 0;
    const next = services.map((s, k) => (k === 42 ? { ...s, servers: [] } : s));
    expect(r.render(next)).toBe(renderConfig(templates, settings, next));
    expect(calls).toBe(1);
  });

  test("an operator's main template that does not put services last falls back to full renders", () => {
    const dir = mkdtempSync(join(tmpdir(), 'pmgr-tpl-'));
    try {
      writeFileSync(join(dir, 'haproxy.cfg.hbs'), '{{> global}}\n{{#each services}}\n{{> service}}\n{{/each}}\n# trailer\n{{> defaults}}\n');
      const templates = loadTemplates(dir);
      const r = new IncrementalRenderer(templates, settings);
      const services = fleet(5);
      expect(r.render(services)).toBe(renderConfig(templates, settings, services));
      expect(r.incremental).toBe(false);
      const next = services.slice(1);
      expect(r.render(next)).toBe(renderConfig(templates, settings, next));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
