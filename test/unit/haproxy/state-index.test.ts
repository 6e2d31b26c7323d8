import { parseServersState } from '../../../src/haproxy/state-parse';
import { indexServersState, serversIn } from '../../../src/haproxy/state-index';

const HEADER =
  '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change ' +
  'srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn ' +
  'srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port';

interface Line {
  be?: string;
  id?: number;
  name?: string;
  addr?: string;
  op?: number;
  admin?: number;
  uw?: number;
  since?: number;
  check?: string;
  port?: number;
}
const line = (o: Line = {}) =>
  `2 ${o.be ?? 'web'} ${o.id ?? 1} ${o.name ?? 'a'} ${o.addr ?? '10.0.0.1'} ${o.op ?? 2} ${o.admin ?? 0} ${o.uw ?? 1} 1 ${o.since ?? 5} ${o.check ?? '6 3 4 6 0'} 0 0 - ${o.port ?? 80} - 0 0 - - 0`;
/** `show servers state` as HAProxy 2.6 prints it, as bytes. */
const reply = (...lines: string[]) => Buffer.from(['1', HEADER, ...lines].join('\n') + '\n\n');
const digestOf = (...lines: string[]) => indexServersState(reply(...lines)).backends.get('web')?.digest;

describe('indexServersState: the digest', () => {
  const base = [line(), line({ id: 2, name: 'b', addr: '10.0.0.2' })];
  const d0 = digestOf(...base);

  test('is a number for a backend with servers, none for a backend without lines or a reply without header', () => {
    expect(typeof d0).toBe('number');
    expect(Number.isFinite(d0)).toBe(true);
    expect(indexServersState(reply()).backends.size).toBe(0);
    expect(indexServersState(Buffer.from('Unknown command\n')).backends.size).toBe(0);
  });

  test.each<[string, Line]>([
    ['the time since the last change', { since: 999 }],
    ['check results', { check: '1 0 0 0 0' }],
    ['the operational state (a check, not an admin decision)', { op: 0 }],
  ])('ignores %s', (_what, change) => {
    expect(digestOf(line(change), base[1])).toBe(d0);
  });

  test.each<[string, string[]]>([
    ['an admin state (maint)', [line({ admin: 1 }), base[1]]],
    ['an admin state (drain)', [line({ admin: 8 }), base[1]]],
    ['a weight', [line({ uw: 2 }), base[1]]],
    ['an address', [line({ addr: '10.0.0.9' }), base[1]]],
    ['a port', [line({ port: 81 }), base[1]]],
    ['a server id', [line({ id: 7 }), base[1]]],
    ['a server name', [line({ name: 'z' }), base[1]]],
    ['a server removed', [base[0]]],
    ['a server added', [...base, line({ id: 3, name: 'c' })]],
    ['the order of servers', [base[1], base[0]]],
    ['bytes moved between fields', [line({ addr: '10.0.0.1', port: 180 }), base[1]]],
  ])('moves with %s', (_what, lines) => {
    expect(digestOf(...lines)).not.toBe(d0);
  });

  test('is per backend: one backend changing leaves the other digest alone', () => {
    const a = indexServersState(reply(line(), line({ be: 'api', name: 'x' })));
    const b = indexServersState(reply(line({ uw: 5 }), line({ be: 'api', name: 'x', since: 77 })));
    expect(b.backends.get('web')!.digest).not.toBe(a.backends.get('web')!.digest);
    expect(b.backends.get('api')!.digest).toBe(a.backends.get('api')!.digest);
  });

  test('a backend listed in two runs never compares equal (NaN)', () => {
    const idx = indexServersState(reply(line(), line({ be: 'api' }), line({ name: 'b' })));
    expect(idx.backends.get('web')!.digest).toBeNaN();
    expect(serversIn(reply(line(), line({ be: 'api' }), line({ name: 'b' })), idx, 'web')!.map((s) => s.name)).toEqual(['a', 'b']);
  });
});

describe('serversIn', () => {
  test('parses one backend from its lines: the same servers as a per-backend read', () => {
    const lines = [line({ be: 'api', name: 'x', port: 1 }), line(), line({ name: 'b', admin: 8, uw: 3 }), line({ be: 'zed', name: 'q' })];
    const bytes = reply(...lines);
    const idx = indexServersState(bytes);
    expect([...idx.backends.keys()]).toEqual(['api', 'web', 'zed']);
    const all = parseServersState(bytes.toString());
    for (const be of ['api', 'web', 'zed']) expect(serversIn(bytes, idx, be)).toEqual(all.filter((s) => s.backend === be));
    expect(serversIn(bytes, idx, 'nope')).toBeUndefined();
  });

  test('works on a slice of a larger buffer (a reply read in chunks and joined)', () => {
    const bytes = reply(line(), line({ name: 'b' }));
    const padded = Buffer.concat([Buffer.from('xxxx'), bytes]).subarray(4);
    const idx = indexServersState(padded);
    expect(serversIn(padded, idx, 'web')!.map((s) => s.name)).toEqual(['a', 'b']);
    expect(idx.backends.get('web')!.digest).toBe(indexServersState(bytes).backends.get('web')!.digest);
  });
});
