import { escapeCommand } from '../../../src/haproxy/runtime-client';

describe('escapeCommand', () => {
  test.each<[string, string, string]>([
    ['plain command unchanged', 'set server web/a state ready', 'set server web/a state ready'],
    ['empty', '', ''],
    ['semicolon', 'set server web/a;b state ready', 'set server web/a\\;b state ready'],
    ['backslash', 'add server web/a\\b 10.0.0.1:80', 'add server web/a\\\\b 10.0.0.1:80'],
    ['several of both', 'a;b\\c;;\\', 'a\\;b\\\\c\\;\\;\\\\'],
    ['an escaped semicolon gets both escaped', '\\;', '\\\\\\;'],
    ['other punctuation untouched', 'set var txn.x str(a,b) "q" \'s\' #', 'set var txn.x str(a,b) "q" \'s\' #'],
    ['tabs untouched', 'a\tb', 'a\tb'],
  ])('%s', (_label, input, expected) => {
    expect(escapeCommand(input)).toBe(expected);
  });

  test.each<[string, string]>([
    ['newline', 'show info\nshow stat'],
    ['trailing newline', 'show info\n'],
    ['carriage return', 'show info\rshow stat'],
  ])('%s throws', (_label, input) => {
    expect(() => escapeCommand(input)).toThrow(`runtime command must be a single line: ${JSON.stringify(input)}`);
  });
});

describe('RuntimeClient deadlines', () => {
  test('a socket that accepts and never answers: batch and query reject at their deadline, counted and reported', async () => {
    const { createServer } = await import('node:net');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { RuntimeClient, RuntimeTimeout } = await import('../../../src/haproxy/runtime-client');
    const dir = mkdtempSync(join(tmpdir(), 'rc-'));
    const path = join(dir, 's.sock');
    const held: Array<import('node:net').Socket> = [];
    const server = createServer((c) => held.push(c));
    await new Promise<void>((r) => server.listen(path, r));
    try {
      const client = new RuntimeClient(path, 100);
      const seen: string[] = [];
      client.timeoutListeners.add((e) => seen.push(e.message));
      const t0 = performance.now();
      await expect(client.batch(['show info'])).rejects.toBeInstanceOf(RuntimeTimeout);
      expect(performance.now() - t0).toBeLessThan(1000);
      await expect(client.query('show stat', 50)).rejects.toThrow('timed out after 50 ms');
      expect(client.stats.timeouts).toBe(2);
      expect(seen).toEqual(['runtime API timed out after 100 ms', 'runtime API timed out after 50 ms']);
    } finally {
      for (const c of held) c.destroy();
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
