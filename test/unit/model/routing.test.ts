import { globRegex, matchSchema, sharedFrontend } from '../../../src/model/routing';

describe('globRegex', () => {
  test.each([
    ['/*.php', "'^/.*\\.php$'"],
    ['/img/?.png', "'^/img/.\\.png$'"],
    ['/a+b(1)[2]{3}|$^', "'^/a\\+b\\(1\\)\\[2\\]\\{3\\}\\|\\$\\^$'"],
    ['/', "'^/$'"],
  ])('%s -> %s', (glob, regex) => {
    expect(globRegex(glob)).toBe(regex);
  });

  test.each([
    ['/*.php', ['/index.php', '/a/b/c.php', '/.php'], ['/index.phps', '/index.php/x', '/php', '/indexXphp']],
    ['/img/?.png', ['/img/a.png'], ['/img/ab.png', '/img/.png', '/img/a/png']],
    ['/a+b', ['/a+b'], ['/aab', '/ab']],
  ])('%s matches as a glob, nothing more (checked with a JS RegExp of the same text)', (glob, yes, no) => {
    const re = new RegExp(globRegex(glob).slice(1, -1));
    for (const p of yes) expect(`${p}: ${re.test(p)}`).toBe(`${p}: true`);
    for (const p of no) expect(`${p}: ${re.test(p)}`).toBe(`${p}: false`);
  });
});

describe('matchSchema: what HAProxy would read as syntax is refused', () => {
  test.each([
    ['path_prefix', '/a#b'],
    ['path_prefix', "/a'b"],
    ['path_suffix', '.php"'],
    ['path_glob', '/x\\y'],
    ['path_glob', "/*.php'"],
    ['path_glob', '*.php'],
    ['path_prefix', '/a b'],
  ])('%s %j', (key, value) => {
    const r = matchSchema.safeParse({ [key]: [value] });
    expect(r.success).toBe(false);
  });

  test.each([
    ['path_prefix', '/api/v2;x=1'],
    ['path_suffix', '.tar.gz'],
    ['path_glob', '/*/~user/?.html'],
  ])('%s %j is fine', (key, value) => {
    expect(matchSchema.safeParse({ [key]: [value] }).success).toBe(true);
  });
});

describe('sharedFrontend', () => {
  test('globs become one anchored path_reg ACL; rules most specific first', () => {
    const f = sharedFrontend(80, [
      { name: 'web' },
      { name: 'php', match: { path_glob: ['/*.php', '/*.phtml'] } },
      { name: 'pics', match: { path_glob: ['/img/*.png'] } },
      { name: 'api', match: { path_prefix: ['/api'] } },
      { name: 'shop', match: { host: ['shop.example'], path_glob: ['/*.php'] } },
    ]);
    expect(f.acls).toEqual([
      "acl pm_php_glob path_reg '^/.*\\.php$' '^/.*\\.phtml$'",
      "acl pm_pics_glob path_reg '^/img/.*\\.png$'",
      'acl pm_api_prefix path_beg /api',
      'acl pm_shop_host req.hdr(host),field(1,:),lower -m str shop.example',
      "acl pm_shop_glob path_reg '^/.*\\.php$'",
    ]);
    expect(f.rules).toEqual([
      'use_backend shop if pm_shop_host pm_shop_glob',
      'use_backend pics if pm_pics_glob',
      'use_backend php if pm_php_glob',
      'use_backend api if pm_api_prefix',
    ]);
    expect(f.defaultBackend).toBe('web');
  });
});
