import { serviceNames } from '../../../src/cli/service-etcd';

describe('proxymgr service list with etcd', () => {
  test('names are the last key segments, sorted; keys that name no valid service are set apart', () => {
    const keys = ['/pm/services/web', '/pm/services/team-a/api', '/pm/services/.hidden', '/pm/services/b/', '/pm/services/auth'];
    expect(serviceNames('/pm/services', keys)).toEqual({ names: ['api', 'auth', 'web'], badKeys: ['/pm/services/.hidden', '/pm/services/b/'] });
  });

  test('two keys naming one service: listed once (the agents set it aside as ambiguous)', () => {
    expect(serviceNames('/pm/services', ['/pm/services/a/web', '/pm/services/b/web']).names).toEqual(['web']);
  });
});
