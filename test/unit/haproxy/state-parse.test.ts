import type { ActualServer } from '../../../src/model/actual';
import { ADMIN, parseInfo, parseServersState, parseStat, replySeverity } from '../../../src/haproxy/state-parse';

const HEADER =
  '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change ' +
  'srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn ' +
  'srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port';

/** `show servers state` as HAProxy 2.6 prints it (version line, header, servers, trailing blank line). */
const state = (...lines: string[]) => ['1', HEADER, ...lines].join('\n') + '\n\n';

/** One server line; `admin` is srv_admin_state. */
const line = (name: string, addr: string, port: number, opts: { op?: number; admin?: number; uw?: number; iw?: number; be?: string } = {}) =>
  `2 ${opts.be ?? 'web'} 1 ${name} ${addr} ${opts.op ?? 2} ${opts.admin ?? 0} ${opts.uw ?? 1} ${opts.iw ?? 1} 1 6 3 4 6 0 0 0 - ${port} - 0 0 - - 0`;

const server = (over: Partial<ActualServer>): ActualServer => ({
  backend: 'web',
  name: 'a',
  id: 1,
  address: '127.0.0.1',
  port: 9001,
  weight: 1,
  initialWeight: 1,
  maint: false,
  drain: false,
  opState: 2,
  adminState: 0,
  ...over,
});

describe('parseServersState', () => {
  test('real HAProxy 2.6 output', () => {
    const text = [
      '1',
      HEADER,
      '2 web 1 a 127.0.0.1 2 0 1 1 1 6 3 4 6 0 0 0 - 9001 - 0 0 - - 0',
      '2 web 2 b 127.0.0.2 0 1 5 1 3 1 0 0 0 0 0 0 - 9002 - 0 0 - - 0',
      '',
    ].join('\n');
    expect(parseServersState(text)).toEqual([
      server({ name: 'a', address: '127.0.0.1', port: 9001, weight: 1, initialWeight: 1, opState: 2, adminState: 0 }),
      server({ name: 'b', id: 2, address: '127.0.0.2', port: 9002, weight: 5, initialWeight: 1, opState: 0, adminState: 1, maint: true }),
    ]);
  });

  test("the FastCGI placeholder server is not HAProxy's to report: left out", () => {
    const text = state(line('proxymgr.placeholder', '127.0.0.1', 1, { admin: 0x05, op: 0 }), line('a', '127.0.0.1', 9001));
    expect(parseServersState(text).map((s) => s.name)).toEqual(['a']);
  });

  const flagsOf = (admin: number) => {
    const [s] = parseServersState(state(line('a', '10.0.0.1', 80, { admin })));
    expect(s).toEqual(server({ address: '10.0.0.1', port: 80, adminState: admin, maint: s.maint, drain: s.drain }));
    return { maint: s.maint, drain: s.drain };
  };

  test.each<[string, number, { maint: boolean; drain: boolean }]>([
    ['none', 0, { maint: false, drain: false }],
    ['FMAINT (forced by the CLI)', 0x01, { maint: true, drain: false }],
    ['IMAINT (inherited)', 0x02, { maint: true, drain: false }],
    ['CMAINT | FMAINT (`disabled` in the config)', 0x05, { maint: true, drain: false }],
    ['FDRAIN', 0x08, { maint: false, drain: true }],
    ['IDRAIN', 0x10, { maint: false, drain: true }],
    ['RMAINT (DNS failed)', 0x20, { maint: true, drain: false }],
    ['FMAINT | FDRAIN', 0x09, { maint: true, drain: true }],
    ['IDRAIN | IMAINT', 0x12, { maint: true, drain: true }],
    ['all bits', 0x7f, { maint: true, drain: true }],
    ['unknown bit 0x80 only', 0x80, { maint: false, drain: false }],
  ])('admin state %s (%i) -> flags', (_label, admin, flags) => {
    expect(flagsOf(admin)).toEqual(flags);
  });

  // HAProxy's own SRV_ADMF_MAINT mask is 0x23 (FMAINT | IMAINT | RMAINT). CMAINT (0x04) only
  // remembers `disabled` from the config and stays set after `set server state ready` clears
  // FMAINT; 0x40 (HMAINT, FQDN_CHANGED in later versions) means "FQDN set from the CLI", never
  // maintenance. Neither alone takes a server out of rotation, nor makes it deletable.
  test.each<[string, number]>([
    ['CMAINT alone (disabled, then set ready)', 0x04],
    ['HMAINT alone (FQDN set from the CLI)', 0x40],
    ['CMAINT | HMAINT', 0x44],
  ])('admin state %s (%i) is not maint', (_label, admin) => {
    expect(flagsOf(admin)).toEqual({ maint: false, drain: false });
  });

  test('ADMIN bits are the HAProxy 2.6 SRV_ADMF_* values', () => {
    expect(ADMIN).toEqual({ FMAINT: 1, IMAINT: 2, CMAINT: 4, FDRAIN: 8, IDRAIN: 16, RMAINT: 32, FQDN_SET: 64 });
  });

  test('IPv6 address, dynamic server name, several backends', () => {
    const text = state(
      line('v6_2001.db8..1_8080', '2001:db8::1', 8080, { uw: 3, iw: 3, be: 'api' }),
      line('10.0.0.1:80', '10.0.0.1', 80, { op: 1, admin: 0x08, uw: 0 }),
    );
    expect(parseServersState(text)).toEqual([
      server({ backend: 'api', name: 'v6_2001.db8..1_8080', address: '2001:db8::1', port: 8080, weight: 3, initialWeight: 3 }),
      server({ name: '10.0.0.1:80', address: '10.0.0.1', port: 80, weight: 0, opState: 1, adminState: 8, drain: true }),
    ]);
  });

  test('columns are found by header name, not position', () => {
    const header = '# be_id srv_name srv_port srv_addr be_name srv_op_state srv_admin_state srv_uweight srv_iweight';
    const text = ['1', header, '7 a 8080 10.1.1.1 web 2 8 4 2', ''].join('\n');
    expect(parseServersState(text)).toEqual([server({ id: undefined, address: '10.1.1.1', port: 8080, weight: 4, initialWeight: 2, adminState: 8, drain: true })]);
  });

  test('short lines and comment lines after the header are skipped', () => {
    const text = state('2 web 1 a 127.0.0.1 2 0', '# another comment', line('b', '10.0.0.2', 81));
    expect(parseServersState(text)).toEqual([server({ name: 'b', address: '10.0.0.2', port: 81 })]);
  });

  test.each<[string, string]>([
    ['empty input', ''],
    ['blank lines', '\n\n'],
    ['header only', `1\n${HEADER}\n`],
    ['header only, trailing blank line', `1\n${HEADER}\n\n`],
    ['version line only', '1\n'],
    ['an error reply', "Can't find backend.\n"],
  ])('%s -> no servers', (_label, text) => {
    expect(parseServersState(text)).toEqual([]);
  });

  test('a header without a needed column is an error naming it', () => {
    expect(() => parseServersState('1\n# be_id be_name srv_name srv_addr\n2 web a 10.0.0.1\n')).toThrow('show servers state: no column srv_op_state');
  });
});

describe('parseInfo', () => {
  test('show info key/value lines', () => {
    const text = [
      'Name: HAProxy',
      'Version: 2.6.12-1',
      'Release_date: 2023/03/28',
      'Nbthread: 4',
      'Pid: 4242',
      'Uptime: 0d 0h01m02s',
      'Uptime_sec: 62',
      'node: host:with:colons',
      'description: ',
      '',
    ].join('\n');
    expect(parseInfo(text)).toEqual({
      Name: 'HAProxy',
      Version: '2.6.12-1',
      Release_date: '2023/03/28',
      Nbthread: '4',
      Pid: '4242',
      Uptime: '0d 0h01m02s',
      Uptime_sec: '62',
      node: 'host:with:colons',
      description: '',
    });
  });

  test('the first ": " separates; lines without one are ignored', () => {
    expect(parseInfo('a: b: c\nno separator\n: empty key\nx:y\n')).toEqual({ a: 'b: c' });
  });

  test('empty input', () => {
    expect(parseInfo('')).toEqual({});
  });
});

describe('parseStat', () => {
  const csv = [
    '# pxname,svname,qcur,qmax,scur,smax,slim,stot,status,weight,',
    'web,FRONTEND,,,0,1,2000,3,OPEN,,',
    'web,10.0.0.1:80,0,0,0,1,,3,UP,1,',
    'web,BACKEND,0,0,0,1,200,3,UP,1,',
    '',
  ].join('\n');

  test('one record per row keyed by header names; the trailing empty column is dropped', () => {
    expect(parseStat(csv)).toEqual([
      { pxname: 'web', svname: 'FRONTEND', qcur: '', qmax: '', scur: '0', smax: '1', slim: '2000', stot: '3', status: 'OPEN', weight: '' },
      { pxname: 'web', svname: '10.0.0.1:80', qcur: '0', qmax: '0', scur: '0', smax: '1', slim: '', stot: '3', status: 'UP', weight: '1' },
      { pxname: 'web', svname: 'BACKEND', qcur: '0', qmax: '0', scur: '0', smax: '1', slim: '200', stot: '3', status: 'UP', weight: '1' },
    ]);
  });

  test('rows shorter than the header fill with empty strings', () => {
    expect(parseStat('# pxname,svname,status,\nweb,a\n')).toEqual([{ pxname: 'web', svname: 'a', status: '' }]);
    expect(parseStat('# pxname,svname,status,scur,\nweb,a,UP,3\n', ['svname', 'scur'])).toEqual([{ svname: 'a', scur: '3' }]);
  });

  test.each<[string, string]>([
    ['empty input', ''],
    ['no header', 'web,FRONTEND,OPEN\n'],
    ['header only', '# pxname,svname,status,\n'],
  ])('%s -> no records', (_label, text) => {
    expect(parseStat(text)).toEqual([]);
  });
});

describe('replySeverity', () => {
  test.each<[string, string, { severity?: number; message: string }]>([
    ['success with a message', '[6]: New server registered.\n', { severity: 6, message: 'New server registered.' }],
    ['error', '[3]: No such server.\n', { severity: 3, message: 'No such server.' }],
    ['emergency', '[0]: boom\n', { severity: 0, message: 'boom' }],
    ['empty reply (success)', '', { message: '' }],
    ['whitespace only', '\n\n', { message: '' }],
    ['no space after the colon', '[5]:done', { severity: 5, message: 'done' }],
    ['extra spaces after the colon', '[6]:   spaced out  ', { severity: 6, message: 'spaced out' }],
    ['severity, empty message', '[6]: \n', { severity: 6, message: '' }],
    ['leading blank line', '\n[4]: warn\n', { severity: 4, message: 'warn' }],
    ['multi-line message', '[3]: Error: line one\n  line two\nline three\n\n', { severity: 3, message: 'Error: line one\n  line two\nline three' }],
    ['no severity prefix', 'Unknown command: foo\n', { message: 'Unknown command: foo' }],
    ['prefix not at the start', 'note [3]: x', { message: 'note [3]: x' }],
    ['two-digit number is not a severity', '[10]: x', { message: '[10]: x' }],
  ])('%s', (_label, output, expected) => {
    expect(replySeverity(output)).toEqual(expected);
  });
});
