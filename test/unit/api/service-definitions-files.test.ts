import { ServiceDefinitions } from '../../../src/api/service-definitions';
import type { ServiceStore } from '../../../src/service-config/store';
import { TestPki } from '../../support/pki';
import type { RegistryNames } from '../../../src/config/registry-names';
import { EtcdDirectory } from '../../../src/etcd/target';
import { ZkDirectory } from '../../../src/zk/target';

/** A store that records what it is asked to write. */
function memoryStore(): ServiceStore & { written: string[] } {
  const written: string[] = [];
  return {
    written,
    describe: () => 'memory',
    read: async () => undefined,
    write: async (name) => (written.push(name), { version: '1', created: true }),
    remove: async () => false,
    close: () => undefined,
  };
}

describe('PUT /api/services/NAME checks the files a blob names before writing it', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await TestPki.create();
  });
  afterAll(() => pki.cleanup());

  const put = (api: ServiceDefinitions, tls: unknown) =>
    api.put('web', async () => JSON.stringify({ type: 'static', port: 8443, servers: ['10.0.0.1:443'], tls }), {}, {});

  test('a missing CA file: 400 naming the service and the field; nothing written', async () => {
    const store = memoryStore();
    const r = await put(new ServiceDefinitions(store), { ca_file: '/nonexistent/ca.pem' });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      error: 'service web is invalid: tls.ca_file: /nonexistent/ca.pem: not readable (ENOENT)',
      errors: ['tls.ca_file: /nonexistent/ca.pem: not readable (ENOENT)'],
    });
    expect(store.written).toEqual([]);
  });

  test('good files: written', async () => {
    const store = memoryStore();
    const r = await put(new ServiceDefinitions(store), { ca_file: pki.caCert });
    expect(r.status).toBe(201);
    expect(store.written).toEqual(['web']);
  });
});

describe('PUT /api/services/NAME checks the registries a blob names', () => {
  const registries: RegistryNames = { file: '/etc/proxymgr.yml', zk: new ZkDirectory(), etcdDir: new EtcdDirectory(new Map([['east', { name: 'east', endpoints: ['http://etcd1:2379'] }]])) };
  const put = (api: ServiceDefinitions, cluster: string) =>
    api.put('web', async () => JSON.stringify({ type: 'etcd', cluster, prefix: '/services/web', port: 8080 }), {}, {});

  test('an undefined cluster: 400 naming it and the file; nothing written', async () => {
    const store = memoryStore();
    const r = await put(new ServiceDefinitions(store, registries), 'west');
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ errors: ['cluster: "west" is not defined in /etc/proxymgr.yml (etcd.clusters)'] });
    expect(store.written).toEqual([]);
  });

  test('a defined cluster: written', async () => {
    const store = memoryStore();
    expect((await put(new ServiceDefinitions(store, registries), 'east')).status).toBe(201);
    expect(store.written).toEqual(['web']);
  });
});
