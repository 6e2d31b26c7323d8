import { servicesFromKeys } from '../../../src/service-config/etcd';

const b = (s: string) => Buffer.from(s);

describe('servicesFromKeys', () => {
  test('each key is the service named after its last segment; two keys with one name make it ambiguous; bad names apart', () => {
    const { services, badKeys } = servicesFromKeys(
      new Map([
        ['web', b('1')],
        ['team-a/api', b('2')],
        ['team-a/db', b('3')],
        ['team-b/db', b('4')],
        ['team-b/', b('5')],
        ['bad name', b('6')],
      ]),
    );
    expect(services.get('web')).toEqual({ key: 'web', value: b('1') });
    expect(services.get('api')).toEqual({ key: 'team-a/api', value: b('2') });
    expect(services.get('db')).toEqual({ ambiguous: ['team-a/db', 'team-b/db'] });
    expect([...services.keys()].sort()).toEqual(['api', 'db', 'web']);
    expect(badKeys.sort()).toEqual(['bad name', 'team-b/']);
  });
});
