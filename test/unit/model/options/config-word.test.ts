import { configWord, literalLogFormat } from '../../../../src/model/options/config-word';

describe('configWord', () => {
  test.each([
    ['index.php', 'index.php'],
    ['/var/www/html', '/var/www/html'],
    ['a b', "'a b'"],
    ["it's", "'it'\\''s'"],
    ["'", "\\'"],
    ["''", "\\'\\'"],
    ['#x', "'#x'"],
    ['$HOME', "'$HOME'"],
    ['\\n', "'\\n'"],
    ['"q"', `'"q"'`],
    ['^(/.+\\.php)(/.*)?$', "'^(/.+\\.php)(/.*)?$'"],
  ])('%j is written %s', (text, word) => {
    expect(configWord(text)).toBe(word);
  });
});

describe('literalLogFormat', () => {
  test.each([
    ['plain', 'plain'],
    ['50%', "'50%%'"],
    ['%[src]', "'%%[src]'"],
    ['a b', "'a b'"],
  ])('%j is written %s', (text, word) => {
    expect(literalLogFormat(text)).toBe(word);
  });
});
