import { priorityFeature } from '../../../../src/model/options/priority';
import { parseServiceDefinition } from '../../../../src/model/service';
import { WATCHER_SCHEMAS } from '../../../../src/watchers';

const parse = (extra: Record<string, unknown>) => parseServiceDefinition('shop', { type: 'static', port: 8080, servers: ['10.0.0.1:80'], ...extra }, WATCHER_SCHEMAS);

describe('priority compile', () => {
  test.each<[string, unknown[], string[]]>([
    [
      'class N is HAProxy class -N',
      [{ match: { path_prefix: ['/checkout', '/cart'] }, class: 10 }],
      ['acl pm_prio1_path path_beg -- /checkout /cart', 'http-request set-priority-class int(-10) if pm_prio1_path'],
    ],
    ['a negative class goes after unmatched requests', [{ match: { path_suffix: ['.jpg'] }, class: -5 }], ['acl pm_prio1_path path_end -- .jpg', 'http-request set-priority-class int(5) if pm_prio1_path']],
    ['class 0 (not -0)', [{ match: { host: ['a.example.com'] }, class: 0 }], ['acl pm_prio1_host req.hdr(host),field(1,:),lower -m str -- a.example.com', 'http-request set-priority-class int(0) if pm_prio1_host']],
    [
      'a header with a value, quoted where needed',
      [{ match: { header: { name: 'X-Priority', value: "it's high" } }, class: 2047 }],
      ["acl pm_prio1_header req.hdr(X-Priority) -m str -- 'it'\\''s high'", 'http-request set-priority-class int(-2047) if pm_prio1_header'],
    ],
    ['a header present', [{ match: { header: { name: 'X-VIP' } }, class: 1 }], ['acl pm_prio1_header req.hdr(X-VIP) -m found', 'http-request set-priority-class int(-1) if pm_prio1_header']],
    [
      'prefix or suffix, and host, and header',
      [{ match: { path_prefix: ['/pay'], path_suffix: ['.json'], host: ['Shop.Example.com'], header: { name: 'X-A', value: '1' } }, class: 3 }],
      [
        'acl pm_prio1_path path_beg -- /pay',
        'acl pm_prio1_path path_end -- .json',
        'acl pm_prio1_host req.hdr(host),field(1,:),lower -m str -- shop.example.com',
        'acl pm_prio1_header req.hdr(X-A) -m str -- 1',
        'http-request set-priority-class int(-3) if pm_prio1_path pm_prio1_host pm_prio1_header',
      ],
    ],
    [
      'the first matching rule wins: rendered last, as HAProxy keeps the last class set',
      [
        { match: { path_prefix: ['/checkout'] }, class: 10 },
        { match: { path_prefix: ['/'] }, class: -1 },
      ],
      [
        'acl pm_prio1_path path_beg -- /checkout',
        'acl pm_prio2_path path_beg -- /',
        'http-request set-priority-class int(1) if pm_prio2_path',
        'http-request set-priority-class int(-10) if pm_prio1_path',
      ],
    ],
    ['paths are quoted (# and quotes are refused by the path rules)', [{ match: { path_prefix: ['/a$b', '/~u'] }, class: 1 }], ["acl pm_prio1_path path_beg -- '/a$b' /~u", 'http-request set-priority-class int(-1) if pm_prio1_path']],
  ])('%s', (_, priority, listen) => {
    const r = parse({ mode: 'http', priority });
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.service.listenOptions).toEqual(['mode http', ...listen]);
  });

  test('nothing without priority', () => {
    expect(priorityFeature.compile({ mode: 'http' }, 'shop')).toEqual({});
  });
});

describe('priority refused, naming the key', () => {
  const rule = (match: unknown, cls: unknown = 1) => ({ mode: 'http', priority: [{ match, class: cls }] });
  test.each<[Record<string, unknown>, RegExp]>([
    [{ priority: [{ match: { path_prefix: ['/a'] }, class: 1 }] }, /^priority: needs "mode": "http"/m],
    [{ mode: 'http', priority: [] }, /^priority: must have at least one rule/m],
    [{ mode: 'http', priority: {} }, /^priority: /m],
    [rule({ path_prefix: ['/a'] }, 2048), /^priority\[0\]\.class: must be -2047\.\.2047/m],
    [rule({ path_prefix: ['/a'] }, -2048), /^priority\[0\]\.class: must be -2047\.\.2047/m],
    [rule({ path_prefix: ['/a'] }, 1.5), /^priority\[0\]\.class: must be an integer/m],
    [{ mode: 'http', priority: [{ match: { path_prefix: ['/a'] } }] }, /^priority\[0\]\.class: required/m],
    [rule({}), /^priority\[0\]\.match: must name at least one/m],
    [rule({ path_prefix: ['/a#b'] }), /^priority\[0\]\.match\.path_prefix\[0\]: must start with \/ and hold no spaces, control characters, #/m],
    [rule({ path_prefix: [] }), /^priority\[0\]\.match\.path_prefix: /m],
    [rule({ path_prefix: ['checkout'] }), /^priority\[0\]\.match\.path_prefix\[0\]: must start with \//m],
    [rule({ path_prefix: ['/a b'] }), /^priority\[0\]\.match\.path_prefix\[0\]/m],
    [rule({ path_suffix: ['.x\n'] }), /^priority\[0\]\.match\.path_suffix\[0\]/m],
    [rule({ host: ['bad host'] }), /^priority\[0\]\.match\.host\[0\]: must be a host name/m],
    [rule({ header: { name: 'X Bad', value: 'a' } }), /^priority\[0\]\.match\.header\.name: must be a header name/m],
    [rule({ header: { name: 'X-A)', value: 'a' } }), /^priority\[0\]\.match\.header\.name: must be a header name/m],
    [rule({ header: { value: 'a' } }), /^priority\[0\]\.match\.header\.name: required/m],
    [rule({ header: { name: 'X-A', value: 'a,b' } }), /^priority\[0\]\.match\.header\.value: must be printable ASCII without commas/m],
    [rule({ header: { name: 'X-A', value: ' a' } }), /^priority\[0\]\.match\.header\.value/m],
    [rule({ header: { name: 'X-A', value: '' } }), /^priority\[0\]\.match\.header\.value/m],
    [rule({ header: { name: 'X-A', value: 'a\nb' } }), /^priority\[0\]\.match\.header\.value/m],
    [rule({ cookie: 'x' }), /^priority\[0\]\.match: .*cookie/im],
    [{ mode: 'http', priority: [{ match: { host: ['a.b'] }, class: 1, weight: 2 }] }, /^priority\[0\]: .*weight/im],
    [{ mode: 'http', priority: Array.from({ length: 101 }, () => ({ match: { host: ['a.b'] }, class: 1 })) }, /^priority: must have at most 100 rules/m],
  ])('%j', (extra, message) => {
    const r = parse(extra);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.join('\n')).toMatch(message);
  });
});
