import { parseStatRows } from '../../../src/api/stat-rows';

// The header and rows as HAProxy 2.6 prints them, cut after `req_tot` and with a `type` column moved
// forward: the parser finds columns by name, wherever they are.
const HEADER = '# pxname,svname,qcur,scur,stot,econ,eresp,status,act,bck,type,req_tot,rate';

describe('parseStatRows', () => {
  test.each([
    ['an HTTP backend counts requests', 'web,BACKEND,0,3,50,1,2,UP,2,1,1,70,5', { proxy: 'web', name: 'BACKEND', status: 'UP', sessions: 3, total: 70, errors: 3, up: 3 }],
    ['a TCP server counts sessions (no req_tot)', 'db,10.0.0.1:5432,0,1,9,,,DOWN,1,0,2,,0', { proxy: 'db', name: '10.0.0.1:5432', status: 'DOWN', sessions: 1, total: 9, errors: 0, up: 0 }],
    ['a status with a space', 'web,a,0,0,0,0,0,no check,1,0,2,0,0', { proxy: 'web', name: 'a', status: 'no check', sessions: 0, total: 0, errors: 0, up: 0 }],
  ])('%s', (_name, line, row) => {
    expect(parseStatRows(`${HEADER}\n${line}\n`)).toEqual([row]);
  });

  test('frontends and listeners are skipped; a line cut short reads as zeros', () => {
    const text = `${HEADER}\nweb,FRONTEND,0,1,1,,,OPEN,,,0,1,0\nweb,sock-1,0,0,0,,,OPEN,,,3,,\nweb,x,0,4\n`;
    expect(parseStatRows(text)).toEqual([]);
  });

  test('no header: nothing (an error reply)', () => {
    expect(parseStatRows('No such proxy.\n')).toEqual([]);
  });

  test('many rows, no trailing newline', () => {
    const lines = Array.from({ length: 500 }, (_, i) => `svc${i},s${i},0,${i},${i * 2},0,0,UP,1,0,2,,0`);
    const rows = parseStatRows(`${HEADER}\n${lines.join('\n')}`);
    expect(rows).toHaveLength(500);
    expect(rows[499]).toEqual({ proxy: 'svc499', name: 's499', status: 'UP', sessions: 499, total: 998, errors: 0, up: 0 });
  });
});
