import { parseHaproxyVersion, versionWarning } from '../../../src/haproxy/version';

describe('parseHaproxyVersion', () => {
  test.each([
    ['HAProxy version 2.6.12-1+deb12u2 2025/04/21 - https://haproxy.org/\nStatus: ...', { major: 2, minor: 6, text: '2.6.12-1+deb12u2' }],
    ['HAProxy version 3.0.11-1+deb13u4 2026/10/15 - https://haproxy.org/', { major: 3, minor: 0, text: '3.0.11-1+deb13u4' }],
    ['HA-Proxy version 1.8.19 2019/02/11', { major: 1, minor: 8, text: '1.8.19' }],
    ['HAProxy version 3.2-dev5 2025/02/07', { major: 3, minor: 2, text: '3.2-dev5' }],
    ['something else', undefined],
  ])('%j', (output, want) => {
    expect(parseHaproxyVersion(output)).toEqual(want);
  });
});

describe('versionWarning', () => {
  test.each([
    ['1.8.19', 1, 8, true],
    ['2.4.22', 2, 4, true],
    ['2.5.0', 2, 5, true],
    ['2.6.0', 2, 6, false],
    ['2.8.5', 2, 8, false],
    ['3.0.11', 3, 0, false],
    ['3.2.0', 3, 2, false],
  ])('%s warns: %s', (text, major, minor, warns) => {
    const w = versionWarning({ major, minor, text });
    if (warns) expect(w).toMatch(new RegExp(`^HAProxy ${text.replace(/\./g, '\\.')} is older than 2\\.6`));
    else expect(w).toBeUndefined();
  });
});
