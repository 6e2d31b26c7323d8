import type { ActualServer } from '../../../src/model/actual';
import { serverName } from '../../../src/model/server';
import { planRuntime, type DesiredServer, type RuntimePlan, type RuntimeService } from '../../../src/plan/planner';

/** Unix socket servers on the runtime path: HAProxy 2.6 reports them as address `-`, port 0 (see docs/runtime-facts.md). */

const SOCK = 'unix:/run/app.sock';
const S = serverName({ address: SOCK, port: 0 }); // unix_run:app.sock
const IP = '10.0.0.1:80';

function want(address: string, over: Partial<DesiredServer> = {}): DesiredServer {
  const unix = address.startsWith('unix:');
  const [host, port] = unix ? [address, 0] : [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return { name: serverName({ address: host, port }), address: host, port, weight: 1, ...over };
}

/** A server as `show servers state` reports it; a socket one with address `-` and port 0. */
function have(d: DesiredServer, over: Partial<ActualServer> = {}): ActualServer {
  const unix = d.address.startsWith('unix:');
  const maint = over.maint ?? false;
  const drain = over.drain ?? false;
  return {
    backend: 'web',
    name: d.name,
    address: unix ? '-' : d.address,
    port: unix ? 0 : d.port,
    weight: d.weight,
    initialWeight: d.weight,
    maint,
    drain,
    opState: maint ? 0 : 2,
    adminState: (maint ? 1 : 0) | (drain ? 8 : 0),
    ...over,
  };
}

function plan(servers: DesiredServer[], actual: ActualServer[], opts: { serverOptions?: string[]; drainMs?: number } = {}): Pick<RuntimePlan, 'commands' | 'reload'> {
  const svc: RuntimeService = { name: 'web', servers, serverOptions: opts.serverOptions ?? [] };
  const p = planRuntime({ services: [svc], actual: new Map([['web', actual]]), draining: new Map(), now: 0, drainMs: opts.drainMs ?? 0 });
  return { commands: p.commands, reload: p.reload };
}

const sock = want(SOCK);
const ip = want(IP);

describe('planRuntime: unix socket servers', () => {
  test.each<[string, DesiredServer[], ActualServer[], { serverOptions?: string[]; drainMs?: number }, string[]]>([
    ['a new socket server is added as unix@/path, then made ready', [sock], [], {}, [`add server web/${S} unix@/run/app.sock weight 1`, `set server web/${S} state ready`]],
    ['with check: health enabled before ready', [want(SOCK, { weight: 4 })], [], { serverOptions: ['check inter 2s'] }, [`add server web/${S} unix@/run/app.sock check inter 2s weight 4`, `enable health web/${S}`, `set server web/${S} state ready`]],
    ['a running socket server (address "-", port 0) is in line: no addr command', [sock, ip], [have(sock), have(ip)], {}, []],
    ['its weight is set at runtime', [want(SOCK, { weight: 9 })], [have(sock)], {}, [`set server web/${S} weight 9`]],
    ['an operator drain', [want(SOCK, { admin: 'drain' })], [have(sock)], {}, [`set server web/${S} state drain`]],
    ['an operator maint', [want(SOCK, { admin: 'maint' })], [have(sock)], {}, [`set server web/${S} state maint`]],
    ['back from maint', [sock], [have(sock, { maint: true })], {}, [`set server web/${S} state ready`]],
    ['removed: maint, then del', [ip], [have(sock), have(ip)], {}, [`set server web/${S} state maint`, `del server web/${S}`]],
    ['removed with a drain time: drained first', [ip], [have(sock), have(ip)], { drainMs: 5000 }, [`set server web/${S} state drain`]],
    ['a socket replaced by an IP server: add one, delete the other', [ip], [have(sock)], {}, [`add server web/${IP} 10.0.0.1:80 weight 1`, `set server web/${IP} state ready`, `set server web/${S} state maint`, `del server web/${S}`]],
  ])('%s', (_label, desired, actual, opts, commands) => {
    const p = plan(desired, actual, opts);
    expect(p.reload).toEqual([]);
    expect(p.commands.map((c) => c.command)).toEqual(commands);
  });

  test('a socket server name HAProxy runs on an IP (a hand-made change) needs a reload: set server addr takes no socket', () => {
    const p = plan([sock], [have(sock, { address: '10.0.0.9', port: 80 })]);
    expect(p.commands).toEqual([]);
    expect(p.reload).toEqual([{ service: 'web', reason: `server ${S} runs on 10.0.0.9:80, should be unix:/run/app.sock (not changeable at runtime)` }]);
  });
});
