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
