import { silentLogger } from '../../../src/log';
import { parseServiceDefinition } from '../../../src/model/service';
import { WATCHER_SCHEMAS } from '../../../src/watchers';
import type { WatcherContext } from '../../../src/watchers/watcher';
import { zookeeperWatcher } from '../../../src/watchers/zookeeper';
import { ZkDirectory } from '../../../src/zk/target';

describe('zookeeper watcher blobs', () => {
  test.each([
    [{ server: 'zk1:2181/pm', path: '/i' }, []],
    [{ ensemble: 'main', path: '/i' }, []],
    [{ path: '/i' }, ['server: required (or ensemble)']],
    [{ server: 'zk1:2181', ensemble: 'main', path: '/i' }, ['ensemble: not together with server (one of server, ensemble)']],
    [{ ensemble: 'main', path: '/i', auth: 'x' }, ['(top level): Unrecognized key: "auth"']],
  ])('%j', (keys, errors) => {
    const r = parseServiceDefinition('web', { type: 'zookeeper', port: 8080, ...keys }, WATCHER_SCHEMAS);
    expect(r.ok ? [] : r.errors).toEqual(errors);
  });

  test('an ensemble proxymgr.yml does not define is a source error naming it; nothing connects', () => {
    const errors: string[] = [];
    const ctx: WatcherContext = {
      service: 'web',
      baseDir: '.',
      defaults: { zk: new ZkDirectory() },
      log: silentLogger(),
      onUpdate: () => undefined,
      onError: (m) => errors.push(m),
    };
    const w = zookeeperWatcher.create({ ensemble: 'prod', path: '/i' }, ctx);
    w.start();
    expect(errors).toEqual(['zookeeper ensemble "prod" is not defined in proxymgr.yml (zookeeper.ensembles); keeping the previous servers']);
    return w.stop();
  });
});
