import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DesiredState, type Override } from '../../../src/agent/desired-state';
import { readOverrides, writeOverrides } from '../../../src/agent/override-file';
import type { ServiceEntry } from '../../../src/agent/service-table';
import { leftSource, StickyOffline, type StickyDeps } from '../../../src/agent/sticky-offline';
import { parseConfig } from '../../../src/config/load';
import type { RuntimeClient, RuntimeReply } from '../../../src/haproxy/runtime-client';
import { silentLogger } from '../../../src/log';
import type { ServiceDefinition } from '../../../src/model/service';
import type { Server } from '../../../src/model/server';

const SERVERS: Server[] = [
  { address: '10.0.0.1', port: 80 },
  { address: '10.0.0.2', port: 80 },
];

function entry(name: string, servers = SERVERS, extra: Partial<ServiceEntry> = {}, sticky = true): ServiceEntry {
  const def = { name, port: name === 'web' ? 8080 : 8081, listenOptions: [], serverOptions: ['check'], allowEmpty: false, ...(sticky && { stickyOffline: true }), watcher: { type: 'static', options: {} } } as ServiceDefinition;
  return { name, origin: `o/${name}`, baseDir: '.', def, errors: [], servers, serversReported: true, ...extra };
}

function desiredWith(entries: Map<string, ServiceEntry>): DesiredState {
  const d = new DesiredState({ entry: (n) => entries.get(n), resolve: (s) => s, running: () => undefined }, silentLogger());
  d.markAll(entries.keys());
  d.refresh();
  return d;
}

const STICKY: Override = { state: 'maint', reason: 'sticky_offline', at: '2026-05-04T13:14:15.000Z', check: 'L4CON Connection refused' };

describe('the override record with a reason', () => {
  test('an operator state replaces the reason; a weight keeps it; ready clears the hold', () => {
    const d = desiredWith(new Map([['web', entry('web')]]));
    const s = '10.0.0.1:80';
    expect(d.setOverride('web', s, STICKY)).toEqual({ ok: true, merged: STICKY });
    expect(d.setOverride('web', s, { weight: 5 })).toEqual({ ok: true, merged: { ...STICKY, weight: 5 } });
    d.refresh();
    expect(d.get('web')!.servers[0]).toEqual({ address: '10.0.0.1', port: 80, admin: 'maint', weight: 5 });
    expect(d.setOverride('web', s, { state: 'maint' })).toEqual({ ok: true, merged: { state: 'maint', weight: 5 } });
    d.setOverride('web', s, STICKY);
    expect(d.setOverride('web', s, { state: 'ready' })).toEqual({ ok: true, merged: { weight: 5 } });
    d.setOverride('web', s, { weight: undefined });
    d.setOverride('web', s, STICKY);
    expect(d.setOverride('web', s, { state: 'ready' })).toEqual({ ok: true, merged: undefined });
    expect(d.overrideOf('web', s)).toBeUndefined();
  });

  test('the file: written with the reason, read back; a file from before the reason loads; a reason without a state is dropped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pmgr-sticky-'));
    const path = join(dir, 'overrides.json');
    writeOverrides(path, new Map([['web', new Map([['10.0.0.1:80', STICKY]])]]));
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ version: 1, overrides: { web: { '10.0.0.1:80': STICKY } } });
    expect(readOverrides(path)).toEqual({ overrides: new Map([['web', new Map([['10.0.0.1:80', STICKY]])]]) });

    writeFileSync(path, JSON.stringify({ version: 1, overrides: { web: { '10.0.0.1:80': { state: 'maint' }, '10.0.0.2:80': { weight: 3 } } } }));
    expect(readOverrides(path)).toEqual({ overrides: new Map([['web', new Map<string, Override>([['10.0.0.1:80', { state: 'maint' }], ['10.0.0.2:80', { weight: 3 }]])]]) });

    writeFileSync(path, JSON.stringify({ version: 1, overrides: { web: { a: { weight: 3, reason: 'sticky_offline', at: 'x' }, b: { reason: 'sticky_offline' } } } }));
    expect(readOverrides(path)).toEqual({ overrides: new Map([['web', new Map([['a', { weight: 3 }]])]]) });

    writeFileSync(path, JSON.stringify({ version: 1, overrides: { web: { a: { state: 'maint', reason: 'other' } } } }));
    expect(readOverrides(path).error).toMatch(/reason/);
  });
});

describe('leftSource: when a sticky_offline hold is dropped', () => {
  test.each<[string, boolean, ServiceEntry | undefined, boolean?]>([
    ['service removed from the source (seen in this run)', true, undefined],
    ['service never seen since start (a source slow to list): kept', false, undefined, false],
    ['server still listed', false, entry('web')],
    ['server no longer listed', true, entry('web', [SERVERS[1]])],
    ['watcher has not reported yet (startup)', false, entry('web', [], { serversReported: false })],
    ['source unreadable (last good list kept, but be careful)', false, entry('web', [SERVERS[1]], { sourceError: 'ZooKeeper down' })],
    ['no valid definition (bad blob before any good one)', false, { ...entry('web', [SERVERS[1]]), def: undefined }],
  ])('%s: %s', (_case, left, e, seen = true) => expect(leftSource(e, '10.0.0.1:80', seen)).toBe(left));
});

/** `show stat web 4 -1` as HAProxy 2.6 answers it, the columns the agent reads in their real places. */
function statReply(rows: Array<{ server: string; status: string; check: string; text?: string; chkfail?: number; chkdown?: number }>): string {
  const header = '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,';
  const lines = rows.map((r) => {
    const f = new Array<string>(66).fill('0');
    [f[0], f[1], f[17], f[21], f[22], f[32], f[36], f[56], f[65]] = ['web', r.server, r.status, String(r.chkfail ?? 0), String(r.chkdown ?? 0), '2', r.check, r.text ?? '', ''];
    return f.join(',');
  });
  return [header, ...lines, ''].join('\n');
}

class FakeClient {
  pid = 100;
  stat = '';
  sent: string[][] = [];
  async batch(commands: readonly string[]): Promise<RuntimeReply[]> {
    this.sent.push([...commands]);
    return commands.map((command) => ({ command, ok: true, message: '', output: command === 'show info' ? `Name: HAProxy\nPid: ${this.pid}\n` : this.stat }));
  }
}

describe('StickyOffline', () => {
  function setup(stickyWeb = true) {
    const entries = new Map([
      ['web', entry('web', SERVERS, {}, stickyWeb)],
      ['plain', entry('plain', SERVERS, {}, false)],
    ]);
    const desired = desiredWith(entries);
    const client = new FakeClient();
    const set: Array<[string, string, Override | undefined]> = [];
    const deps: StickyDeps = {
      client: client as unknown as RuntimeClient,
      log: silentLogger(),
      config: () => parseConfig('service_config: {type: file, path: s}\n', '/x/proxymgr.yml'),
      desired,
      entry: (n) => entries.get(n),
      runs: () => true,
      set: (service, server, o) => {
        set.push([service, server, o]);
        const ok = desired.setOverride(service, server, o).ok;
        desired.refresh();
        return ok;
      },
    };
    return { sticky: new StickyOffline(deps), client, set, entries, desired };
  }
  const a = '10.0.0.1:80';
  const b = '10.0.0.2:80';

  test('reads only the sticky services; a server seen passing and then down is held, once, with the check; a new process starts over', async () => {
    const { sticky, client, set } = setup();
    client.stat = statReply([{ server: a, status: 'UP', check: 'L4OK' }, { server: b, status: 'UP', check: 'INI' }]);
    await sticky.poll();
    expect(client.sent).toEqual([['show info', 'show stat web 4 -1']]);
    client.stat = statReply([{ server: a, status: 'DOWN', check: 'L4CON', text: 'Connection refused', chkfail: 1, chkdown: 1 }, { server: b, status: 'DOWN', check: 'L4CON', chkfail: 1, chkdown: 1 }]);
    await sticky.poll();
    expect(set).toEqual([['web', a, { state: 'maint', reason: 'sticky_offline', at: expect.stringMatching(/^\d{4}-/), check: 'L4CON Connection refused' }]]);
    // Held: HAProxy now says MAINT; nothing more is done.
    client.stat = statReply([{ server: a, status: 'MAINT', check: '', chkfail: 1, chkdown: 1 }, { server: b, status: 'DOWN', check: 'L4CON', chkfail: 1, chkdown: 1 }]);
    await sticky.poll();
    expect(set).toHaveLength(1);

    // b passes in process 100; a new process (a reload) then reads b down first thing: not caught.
    client.stat = statReply([{ server: b, status: 'UP', check: 'L4OK', chkfail: 1, chkdown: 1 }]);
    await sticky.poll();
    client.pid = 101;
    client.stat = statReply([{ server: b, status: 'DOWN', check: 'L4CON', chkfail: 1, chkdown: 1 }]);
    await sticky.poll();
    expect(set).toHaveLength(1);
  });

  test('no sticky service: nothing is read at all', async () => {
    const { sticky, client } = setup(false);
    await sticky.poll();
    expect(client.sent).toEqual([]);
  });

  test('a held server that left its source is released; one an operator held is kept', async () => {
    const { sticky, entries, desired, set } = setup();
    desired.setOverride('web', a, STICKY);
    desired.setOverride('web', b, { state: 'maint' });
    entries.set('web', entry('web', []));
    await sticky.poll();
    expect(set).toEqual([['web', a, undefined]]);
    expect(desired.overrideOf('web', b)).toEqual({ state: 'maint' });
  });

  test('a hold of a service not seen since start is kept; once seen, the service leaving drops it', async () => {
    const { sticky, entries, desired, set } = setup();
    desired.setOverride('web', a, STICKY);
    const web = entries.get('web')!;
    entries.delete('web');
    await sticky.poll();
    expect(set).toEqual([]);
    entries.set('web', web);
    await sticky.poll();
    expect(set).toEqual([]);
    entries.delete('web');
    await sticky.poll();
    expect(set).toEqual([['web', a, undefined]]);
  });
});
