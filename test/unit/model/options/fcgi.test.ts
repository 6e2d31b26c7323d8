import { fcgiFeature, PHP_PATH_INFO } from '../../../../src/model/options/fcgi';
import { parseServiceDefinition } from '../../../../src/model/service';
import { WATCHER_SCHEMAS } from '../../../../src/watchers';

const parse = (extra: Record<string, unknown>) => parseServiceDefinition('php', { type: 'static', port: 8080, servers: ['10.0.0.1:9000'], ...extra }, WATCHER_SCHEMAS);
const php = (fcgi: Record<string, unknown>) => ({ mode: 'http', proto: 'fcgi', fcgi });

describe('fcgi compile', () => {
  test.each<[string, Record<string, unknown>, string[]]>([
    ['root only', { root: '/srv/www' }, ['docroot /srv/www']],
    ['index', { root: '/srv/www', index: 'index.php' }, ['docroot /srv/www', 'index index.php']],
    ['path_info true: the usual PHP split', { root: '/srv/www', path_info: true }, ['docroot /srv/www', `path-info '${PHP_PATH_INFO}'`]],
    ['path_info false: none', { root: '/srv/www', path_info: false }, ['docroot /srv/www']],
    ['path_info regex', { root: '/srv/www', path_info: '^(/[^/]+\\.cgi)(/.*)?$' }, ['docroot /srv/www', "path-info '^(/[^/]+\\.cgi)(/.*)?$'"]],
    ['a root with a space is quoted', { root: '/srv/my www' }, ["docroot '/srv/my www'"]],
    [
      'params are literal: % doubled, spaces and quotes quoted',
      { root: '/srv/www', params: { APP_ENV: 'prod', GREETING: "it's 100% \"fine\"", HOME_REF: '$HOME' } },
      ['docroot /srv/www', 'set-param APP_ENV prod', `set-param GREETING 'it'\\''s 100%% "fine"'`, "set-param HOME_REF '$HOME'"],
    ],
  ])('%s', (_, fcgi, lines) => {
    expect(fcgiFeature.compile(php(fcgi), 'php')).toEqual({
      listen: ['use-fcgi-app php'],
      server: ['proto fcgi'],
      sections: [{ kind: 'fcgi-app', name: 'php', lines }],
    });
  });

  test('nothing without proto fcgi', () => {
    expect(fcgiFeature.compile({ mode: 'http' }, 'php')).toEqual({});
  });

  test('a service blob gets the proxy line, the server token and the section named after it', () => {
    const r = parse({ ...php({ root: '/srv/www', index: 'index.php' }), server_options: ['slowstart 5s'] });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.service.listenOptions).toEqual(['mode http', 'use-fcgi-app php']);
    expect(r.service.serverOptions).toEqual(['proto fcgi', 'slowstart 5s']);
    expect(r.service.sections).toEqual([{ kind: 'fcgi-app', name: 'php', lines: ['docroot /srv/www', 'index index.php'] }]);
  });
});

describe('fcgi keys refused, naming the key', () => {
  test.each<[Record<string, unknown>, RegExp]>([
    [{ proto: 'fcgi', fcgi: { root: '/srv' } }, /^proto: needs "mode": "http"/m],
    [{ proto: 'fcgi', fcgi: { root: '/srv' } }, /^fcgi: needs "mode": "http"/m],
    [{ mode: 'http', fcgi: { root: '/srv' } }, /^fcgi: needs "proto": "fcgi"/m],
    [{ mode: 'http', proto: 'fcgi' }, /^fcgi: required with "proto": "fcgi"/m],
    [{ mode: 'http', proto: 'h2' }, /^proto: must be fcgi/m],
    [php({}), /^fcgi\.root: required/m],
    [php({ root: 'srv/www' }), /^fcgi\.root: must be an absolute path/m],
    [php({ root: '/srv\nlisten evil' }), /^fcgi\.root: must be an absolute path/m],
    [php({ root: '/srv', index: 'a b.php' }), /^fcgi\.index: must be a file name/m],
    [php({ root: '/srv', index: '../x.php' }), /^fcgi\.index: must be a file name/m],
    [php({ root: '/srv', path_info: "^(/.+')$" }), /^fcgi\.path_info: .*without ' \(quote\)/m],
    [php({ root: '/srv', path_info: '^(/.+\\.php' }), /^fcgi\.path_info: must be a valid regular expression/m],
    [php({ root: '/srv', path_info: '^/.+\\.php$' }), /^fcgi\.path_info: must capture the script name/m],
    [php({ root: '/srv', path_info: '^(/x)\\' }), /^fcgi\.path_info: must be a valid regular expression/m],
    [php({ root: '/srv', path_info: '^(/x)\n' }), /^fcgi\.path_info/m],
    [php({ root: '/srv', path_info: 1 }), /^fcgi\.path_info: must be true, false or a regular expression/m],
    [php({ root: '/srv', params: { app_env: 'x' } }), /^fcgi\.params\.app_env: must be an upper-case name/m],
    [php({ root: '/srv', params: { 'A B': 'x' } }), /^fcgi\.params\.A B: must be an upper-case name/m],
    [php({ root: '/srv', params: { A: '' } }), /^fcgi\.params\.A: must not be empty/m],
    [php({ root: '/srv', params: { A: 'x\ny' } }), /^fcgi\.params\.A: must be printable ASCII/m],
    [php({ root: '/srv', params: { A: 'caf\u00e9' } }), /^fcgi\.params\.A: must be printable ASCII/m],
    [php({ root: '/srv', params: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`P${i}`, 'x'])) }), /^fcgi\.params: must have at most 100/m],
    [php({ root: '/srv', bogus: 1 }), /^fcgi: .*bogus/im],
  ])('%j', (extra, message) => {
    const r = parse(extra);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.join('\n')).toMatch(message);
  });
});
