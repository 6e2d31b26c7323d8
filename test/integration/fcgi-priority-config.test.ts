import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig } from '../../src/haproxy/config-check';
import { HAPROXY } from '../support/haproxy-bin';
import type { DesiredService } from '../../src/model/desired';
import { parseServiceDefinition } from '../../src/model/service';
import { renderConfig, type RenderSettings } from '../../src/render/render';
import { loadTemplates } from '../../src/render/templates';
import { WATCHER_SCHEMAS } from '../../src/watchers';
import { mulberry32 } from '../support/random';

/**
 * Every value the fcgi and priority keys accept must reach HAProxy as one word that it
 * reads back exactly: quotes, `#`, `$`, `%`, backslashes and spaces included. Random
 * blobs built from such characters are validated, rendered together and `haproxy -c`ed.
 * (A `path_info` regex is the exception: it is checked as a JavaScript regex, and one
 * PCRE refuses is pinned on its service by haproxy -c; the fastcgi test covers that.)
 */
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;

describe(`fcgi and priority values in haproxy.cfg (FUZZ_SEED=${SEED})`, () => {
  const rnd = mulberry32(SEED);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  // The characters HAProxy's line parser treats specially, among plain ones.
  const NASTY = [...`'"#$%\\{}[]()!&|;:,=<>?*^~\` `, 'a', 'Z', '0', '/', '.', '-', '_'];
  const text = (min: number, max: number) => Array.from({ length: min + int(max - min + 1) }, () => pick(NASTY)).join('');
  const trimmed = (s: string) => s.replace(/^[ ,]+|[ ,]+$/g, '').replace(/,/g, '') || 'x';

  const fcgiBlob = () => ({
    mode: 'http',
    proto: 'fcgi',
    fcgi: {
      root: `/${text(0, 12)}`,
      ...(rnd() < 0.5 && { index: pick(['index.php', 'app.php', 'i~n+d@e=x,1.php']) }),
      ...(rnd() < 0.5 && { path_info: pick([true, false, '^(/.+\\.php)(/.*)?$', '^(/[^/#]+\\.cgi)(/.*)?$', '^(/x y\\$ \\#)(.*)$']) }),
      ...(rnd() < 0.7 && { params: Object.fromEntries(Array.from({ length: 1 + int(4) }, (_, i) => [`P_${i}`, text(1, 16)])) }),
    },
  });
  const match = () => {
    const m: Record<string, unknown> = {};
    // Paths hold no spaces, `#`, quotes or backslashes (the routing rules refuse them: HAProxy would read them as syntax).
    const path = (t: string) => t.replace(/[ #'"\\]/g, '');
    if (rnd() < 0.5) m.path_prefix = Array.from({ length: 1 + int(3) }, () => `/${path(text(0, 10))}`);
    if (rnd() < 0.3) m.path_suffix = [`${path(text(1, 8)) || 'x'}`];
    if (rnd() < 0.3) m.host = [pick(['a.example.com', 'Shop.Example.COM', 'x-1.y'])];
    if (rnd() < 0.4 || !Object.keys(m).length) m.header = { name: pick(['X-Priority', 'x_a', 'Cookie']), ...(rnd() < 0.7 && { value: trimmed(text(1, 12)) }) };
    return m;
  };
  const priorityBlob = () => ({ mode: 'http', priority: Array.from({ length: 1 + int(4) }, () => ({ match: match(), class: int(4095) - 2047 })) });

  test('accepted blobs render to a config haproxy -c accepts', async () => {
    const services: DesiredService[] = [];
    const refused: string[] = [];
    for (let i = 0; i < 300; i++) {
      const blob = { type: 'static', port: 20000 + i, servers: ['127.0.0.1:9000'], ...(i % 3 === 0 ? fcgiBlob() : i % 3 === 1 ? priorityBlob() : { ...fcgiBlob(), ...priorityBlob() }) };
      const r = parseServiceDefinition(`s${i}`, blob, WATCHER_SCHEMAS);
      if (!r.ok) {
        refused.push(`${JSON.stringify(blob)}: ${r.errors.join('; ')}`);
        continue;
      }
      services.push({ name: r.service.name, listen: r.service, servers: [{ address: '127.0.0.1', port: 9000 }] });
    }
    // The generators only make values the keys should accept.
    expect(refused).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'pmgr-fcgi-prio-'));
    try {
      const settings: RenderSettings = {
        socketPath: join(dir, 'admin.sock'),
        stateFile: join(dir, 'server-state'),
        bindAddress: '127.0.0.1',
        hardStopAfter: '5s',
        global: ['maxconn 4096'],
        defaults: ['mode tcp', 'balance roundrobin', 'timeout connect 5s', 'timeout client 1m', 'timeout server 1m'],
      };
      const cfg = renderConfig(loadTemplates(), settings, services);
      const file = join(dir, 'haproxy.cfg');
      writeFileSync(file, cfg);
      const result = await checkConfig(HAPROXY, file, cfg);
      expect(result.problems.map((p) => p.message)).toEqual([]);
      expect(result.ok).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
