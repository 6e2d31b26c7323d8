import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { payloadText, RuntimeClient } from '../../../src/haproxy/runtime-client';

describe('payloadText: what a command with a payload may carry', () => {
  test.each<[string, string, string]>([
    ['lines kept, trailing newlines dropped', 'a\nb\n\n', 'a\nb'],
    ['CRLF becomes LF', 'a\r\nb\r\n', 'a\nb'],
  ])('%s', (_label, input, out) => {
    expect(payloadText(input)).toBe(out);
  });

  test.each<[string, string]>([
    ['empty', '\n'],
    ['an empty line inside (HAProxy ends the payload there)', 'a\n\nb'],
    ['a blank line inside', 'a\n  \nb'],
    ['a lone CR', 'a\rb'],
    ['NUL', 'a\0b'],
  ])('refuses %s', (_label, input) => {
    expect(() => payloadText(input)).toThrow(/runtime payload/);
  });
});

test('withPayload sends `<command> <<`, the payload and an empty line on its own connection; the command stays single-line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rc-'));
  const path = join(dir, 's.sock');
  const got: string[] = [];
  const server = createServer((c) => {
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString();
      if (buf.endsWith('\n\n')) {
        got.push(buf);
        c.end('Transaction created for certificate /c/a.pem!\n\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  try {
    const client = new RuntimeClient(path, 2000);
    await expect(client.withPayload('set ssl cert /c/a.pem', '-----BEGIN X-----\nAAAA\n-----END X-----\n')).resolves.toContain('Transaction created');
    expect(got).toEqual(['set ssl cert /c/a.pem <<\n-----BEGIN X-----\nAAAA\n-----END X-----\n\n']);
    expect(() => client.withPayload('set ssl cert /c/a.pem\nshow info', 'x')).toThrow('single line');
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
