import { renderConfig, type RenderSettings } from '../../../src/render/render';
import { loadTemplates } from '../../../src/render/templates';

const settings: RenderSettings = {
  socketPath: '/run/pm/admin.sock',
  stateFile: '/run/pm/server-state',
  bindAddress: '127.0.0.1',
  hardStopAfter: '5m',
  global: [],
  defaults: ['mode tcp'],
};

// HAProxy 2.6 lets `add server` use only the CA and certificate files it loaded from the config.
describe('a service whose server tokens name files, with no servers', () => {
  const render = (serverOptions: string[], servers: Array<{ address: string; port: number }> = []) =>
    renderConfig(loadTemplates(), settings, [{ name: 'web', listen: { port: 9300, listenOptions: [], serverOptions }, servers }]);

  test.each([
    [['ssl verify required ca-file /etc/pki/ca.pem']],
    [['ssl verify none crt /etc/pki/client.pem']],
    [['ssl verify required ca-file /ca.pem crl-file /crl.pem']],
  ])('%j gets the placeholder server in maint, so HAProxy loads them', (serverOptions) => {
    expect(render(serverOptions)).toContain(`    server proxymgr.placeholder 127.0.0.1:1 ${serverOptions.join(' ')} disabled\n`);
  });

  test('not once it has a server, nor when no token names a file', () => {
    expect(render(['ssl verify required ca-file /ca.pem'], [{ address: '10.0.0.1', port: 443 }])).not.toContain('placeholder');
    expect(render(['ssl verify none sni str(crt.internal) check-sni crt.internal'])).not.toContain('placeholder');
    expect(render(['check'])).not.toContain('placeholder');
  });
});
