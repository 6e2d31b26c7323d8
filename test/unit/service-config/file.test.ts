import { decodeServiceFile } from '../../../src/service-config/file';

describe('decodeServiceFile', () => {
  const blob = { type: 'static', port: 80, servers: ['10.0.0.1:80'] };

  test.each([
    ['/d/web.json', JSON.stringify(blob)],
    ['/d/web.yaml', 'type: static\nport: 80\nservers:\n  - 10.0.0.1:80\n'],
    ['/d/web.yml', 'type: static\nport: 80\nservers: ["10.0.0.1:80"]\n'],
    ['/d/web.yaml', JSON.stringify(blob)],
  ])('decodes %s', (path, text) => {
    expect(decodeServiceFile(path, text)).toEqual({ ok: true, raw: blob });
  });

  test('YAML uses the JSON schema: no dates, no sexagesimal, yes/no stay strings', () => {
    expect(decodeServiceFile('/d/a.yaml', 'd: 2024-01-01\nn: 1:30\nb: yes\nt: true')).toEqual({
      ok: true,
      raw: { d: '2024-01-01', n: '1:30', b: 'yes', t: true },
    });
  });

  test('an empty YAML file decodes to undefined (left for validation to reject)', () => {
    expect(decodeServiceFile('/d/a.yml', '')).toEqual({ ok: true, raw: undefined });
  });

  test('JSON is parsed strictly (YAML syntax is an error in a .json file)', () => {
    const r = decodeServiceFile('/d/web.json', 'type: static');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/^cannot decode JSON: \S/);
  });

  test.each([
    ['/d/web.json', '{"port": 80,', /^cannot decode JSON: /],
    ['/d/web.yaml', 'a: [1, 2\n', /^cannot decode YAML: /],
    ['/d/web.yml', 'a: b\n  c: d\n', /^cannot decode YML: /],
    ['/d/web.yaml', '---\na: 1\n---\nb: 2\n', /^cannot decode YAML: /],
  ])('decode error for %s %j', (path, text, pattern) => {
    const r = decodeServiceFile(path, text);
    expect(r.ok).toBe(false);
    const error = r.ok ? '' : r.error;
    expect(error).toMatch(pattern);
    expect(error).not.toContain('\n');
  });
});
