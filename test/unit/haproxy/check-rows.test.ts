import { parseCheckRows } from '../../../src/haproxy/check-rows';
import { parseStat } from '../../../src/haproxy/state-parse';

// `show stat web 4 -1` from HAProxy 2.6.12: server a passing its check, b refused.
const REPLY = [
  '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,',
  'web,a,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,1,1,0,1,1,0,1,,1,2,1,,0,,2,0,,0,L4OK,,0,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,Layer4 check passed,,1,1,1,,,,127.0.0.1:18101,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,',
  'web,b,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1,1,0,1,1,1,1,,1,2,2,,0,,2,0,,0,L4CON,,0,0,0,0,0,0,0,,,,0,0,0,,,,,-1,Connection refused,,0,0,0,0,,,,Layer4 connection problem,,1,1,0,,,,127.0.0.1:18102,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,',
  '',
  '',
].join('\n');

describe('parseCheckRows', () => {
  test('a real reply: the check fields of each server row', () => {
    expect(parseCheckRows(REPLY)).toEqual([
      { server: 'a', status: 'UP', chkfail: 1, chkdown: 1, checkStatus: 'L4OK', checkText: 'Layer4 check passed' },
      { server: 'b', status: 'DOWN', chkfail: 1, chkdown: 1, checkStatus: 'L4CON', checkText: 'Connection refused' },
    ]);
  });

  test('agrees with the general parser on every field it reads', () => {
    const general = parseStat(REPLY, ['svname', 'status', 'chkfail', 'chkdown', 'check_status', 'last_chk', 'check_desc']);
    expect(parseCheckRows(REPLY).map((r) => [r.server, r.status, r.checkStatus])).toEqual(general.map((g) => [g.svname, g.status, g.check_status]));
  });

  test.each([
    ['empty', ''],
    ['an error reply', 'No such proxy.\n'],
    ['a header without the check columns', '# pxname,svname,status\nweb,a,UP\n'],
  ])('%s: no rows', (_case, text) => expect(parseCheckRows(text)).toEqual([]));

  test('a row cut short (fewer columns than needed) is skipped', () => {
    const [header, a] = REPLY.split('\n');
    expect(parseCheckRows(`${header}\n${a.slice(0, 60)}\n`)).toEqual([]);
  });
});
