import { parseServersFile } from '../../../src/watchers/file';

describe('parseServersFile', () => {
  test('comments, blank lines, weights and CRLF; result is normalized (sorted, deduped)', () => {
    const text = [
      '# backends for web',
      '',
      '10.0.0.2:80   # trailing comment',
      '   ',
      '10.0.0.1:80 5',
      '[::1]:8080 0',
      'db.example:5432',
      '10.0.0.2:80 9',
      '',
    ].join('\r\n');
    expect(parseServersFile(text, 'servers.txt')).toEqual({
      ok: true,
      value: [
        { address: '10.0.0.1', port: 80, weight: 5 },
        { address: '10.0.0.2', port: 80, weight: 9 },
        { address: 'db.example', port: 5432 },
        { address: '::1', port: 8080, weight: 0 },
      ],
    });
  });

  test.each(['', '\n\n', '# only a comment\n', '\r\n'])('no servers in %j', (text) => {
    expect(parseServersFile(text, 'f')).toEqual({ ok: true, value: [] });
  });

  test('one bad line rejects the whole file, with label:lineno', () => {
    const text = '10.0.0.1:80\n# comment\n10.0.0.2:99999\n10.0.0.3:80\n';
    expect(parseServersFile(text, '/srv/web.txt')).toEqual({ ok: false, error: '/srv/web.txt:3: invalid port "99999" (1..65535)' });
  });

  test('line numbers count CRLF lines', () => {
    const result = parseServersFile('10.0.0.1:80\r\n\r\nnope\r\n', 'f');
    expect(result).toEqual({ ok: false, error: 'f:3: missing port in "nope"' });
  });

  test('several bad lines are all listed, up to five, then counted', () => {
    const text = Array.from({ length: 7 }, (_, i) => `bad${i}`).join('\n');
    const result = parseServersFile(text, 'f');
    expect(result.ok).toBe(false);
    const error = result.ok ? '' : result.error;
    expect(error.split('; ').slice(0, 2)).toEqual(['f:1: missing port in "bad0"', 'f:2: missing port in "bad1"']);
    expect(error).toContain('f:5: missing port in "bad4"');
    expect(error).not.toContain('bad5');
    expect(error.endsWith(' (+2 more)')).toBe(true);
  });

  test('too many tokens on a line is an error', () => {
    expect(parseServersFile('10.0.0.1:80 1 2', 'f')).toEqual({ ok: false, error: 'f:1: expected "host:port [weight]", got "10.0.0.1:80 1 2"' });
  });
});
