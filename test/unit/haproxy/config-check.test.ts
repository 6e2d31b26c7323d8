import { attributeMessages } from '../../../src/haproxy/config-check';

const FILE = '/tmp/x.cfg';
// Line numbers (1-based): 1 global, 5 defaults, 8 listen api, 12 listen web.
const TEXT = [
  'global', //                      1
  '    stats socket /s mode 600', // 2
  '    maxconn 10', //              3
  '', //                            4
  'defaults', //                    5
  '    mode tcp', //                6
  '', //                            7
  'listen api', //                  8
  '    bind 127.0.0.1:9000', //     9
  '    server a 10.0.0.1:80', //    10
  '', //                            11
  'listen web', //                  12
  '    bind 127.0.0.1:8080', //     13
  '    bogus', //                   14
  '    server b 10.0.0.2:80', //    15
].join('\n');

const alert = (line: number, rest = "unknown keyword 'bogus' in 'listen' section") =>
  `[ALERT]    (1234) : config : parsing [${FILE}:${line}] : ${rest}`;

describe('attributeMessages', () => {
  test.each([
    [10, 'api'],
    [14, 'web'],
    [12, 'web'],
  ])('alert at line %i is attributed to %s', (line, service) => {
    expect(attributeMessages(alert(line), FILE, TEXT)).toEqual({
      alerts: [{ service, message: `config : parsing [${FILE}:${line}] : unknown keyword 'bogus' in 'listen' section` }],
      warnings: [],
    });
  });

  test.each([3, 6])('alert at line %i (global/defaults) has no service', (line) => {
    const { alerts } = attributeMessages(alert(line, "unknown keyword 'bogus' in 'global' section"), FILE, TEXT);
    expect(alerts).toHaveLength(1);
    expect(alerts[0].service).toBeUndefined();
  });

  test('a line reference into another file is not used', () => {
    const out = `[ALERT]    (1) : config : parsing [/other.cfg:14] : unknown keyword 'bogus'`;
    expect(attributeMessages(out, FILE, TEXT).alerts[0].service).toBeUndefined();
  });

  test.each([
    ["[WARNING]  (1) : config : proxy 'web' has no 'bind' directive. Please declare it as a backend if this was intended.", 'web'],
    ["[WARNING]  (1) : config : Proxy 'api': something odd", 'api'],
    ["[ALERT]    (1) : config : backend 'db' has no server available!", 'db'],
    ['[ALERT]    (1) : Starting proxy web: cannot bind socket (Address already in use) [127.0.0.1:8080]', 'web'],
  ])('named proxy: %s', (out, service) => {
    const r = attributeMessages(out, FILE, TEXT);
    expect([...r.alerts, ...r.warnings].map((p) => p.service)).toEqual([service]);
  });

  test('warnings and alerts are split; summary lines and NOTICE are dropped; CRLF tolerated', () => {
    const out = [
      "[NOTICE]   (1) : haproxy version is 2.6.12",
      "[NOTICE]   (1) : path to executable is /usr/sbin/haproxy",
      "[WARNING]  (1) : config : proxy 'api' uses something deprecated",
      alert(14),
      `[ALERT]    (1) : config : Error(s) found in configuration file : ${FILE}`,
      '[ALERT]    (1) : config : Fatal errors found in configuration.',
      'some unrelated line',
      '',
    ].join('\r\n');
    const r = attributeMessages(out, FILE, TEXT);
    expect(r.alerts.map((a) => a.service)).toEqual(['web']);
    expect(r.warnings).toEqual([{ service: 'api', message: "config : proxy 'api' uses something deprecated" }]);
  });

  test("HAProxy's cap on fatal errors names the line it stopped at, not a culprit: dropped", () => {
    // The line (10) is in 'api', which is sound; the alert before it names 'web'.
    const out = [alert(14), `[ALERT]    (1) : config : parsing [${FILE}:10]: too many fatal errors (50), stopping now.`].join('\n');
    expect(attributeMessages(out, FILE, TEXT).alerts.map((a) => a.service)).toEqual(['web']);
  });

  test('empty output gives nothing', () => {
    expect(attributeMessages('', FILE, TEXT)).toEqual({ alerts: [], warnings: [] });
  });

  test('regex characters in the file name are matched literally', () => {
    const file = '/tmp/a+b(1).cfg';
    const out = `[ALERT]    (1) : config : parsing [${file}:10] : x`;
    expect(attributeMessages(out, file, TEXT).alerts[0].service).toBe('api');
    expect(attributeMessages(out.replace('a+b', 'aab'), file, TEXT).alerts[0].service).toBeUndefined();
  });
});
