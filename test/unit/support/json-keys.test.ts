import { duplicateKeys } from '../../support/json-keys';

// The detector every integration test applies to the agent's log lines (test/support/agent.ts).
describe('duplicateKeys', () => {
  test.each([
    ['{}', []],
    ['{"a":1,"b":2}', []],
    ['{"level":30,"service":"web","service":"web"}', ['service']],
    ['{"a":{"x":1,"x":2},"b":{"x":3}}', ['a.x']],
    ['{"a":[{"k":1},{"k":2}]}', []],
    ['{"a":[{"k":1,"k":2}]}', ['a.k']],
    ['{"a":1,"\\u0061":2}', ['a']],
    ['{"s":"has \\"quotes\\" and {braces} and \\\\","t":"a:b","s2":"\\"x\\":1"}', []],
    ['{"msg":"\\"service\\": ","service":"x"}', []],
    ['[{"a":1},{"a":1}]', []],
    ['{ "a" : 1 , "a" : 2 }', ['a']],
    ['{"a":"x","b":{"c":{"a":1}},"a":"y"}', ['a']],
  ])('%s', (text, expected) => {
    JSON.parse(text);
    expect(duplicateKeys(text)).toEqual(expected);
  });
});
