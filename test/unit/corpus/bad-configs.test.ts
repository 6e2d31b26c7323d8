import { ConfigError, parseConfig } from '../../../src/config/load';
import { configCorpus } from '../../corpus/corpus';

const corpus = configCorpus();

describe('bad proxymgr.yml corpus (test/corpus/configs)', () => {
  test('has the cases', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(40);
  });

  test.each(corpus.map((e) => [e.file, e] as const))('%s: parseConfig throws a ConfigError naming the key and the file', (_file, e) => {
    let error: unknown;
    try {
      parseConfig(e.text, e.path);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const ce = error as ConfigError;
    expect(ce.file).toBe(e.path);
    expect(ce.message.startsWith(`${e.path}: `)).toBe(true);
    expect(ce.problems.some((p) => p.startsWith(`${e.key}: `))).toBe(true);
    // No problem line carries a raw control character from the input into a log line.
    for (const p of ce.problems) expect(p).not.toMatch(/pmgrbad/);
  });
});
