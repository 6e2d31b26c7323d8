import pino from 'pino';
import { EventFeed, type FeedEntry } from '../../../src/api/feed';

describe('EventFeed', () => {
  test('keeps decision events from the log stream, drops the rest and the process fields', () => {
    const feed = new EventFeed(10);
    const seen: FeedEntry[] = [];
    feed.on('entry', (e) => seen.push(e));
    const log = pino({ base: { app: 'proxymgr' }, timestamp: pino.stdTimeFunctions.isoTime }, feed.stream);
    log.info({ event: 'reload', reason: 'added: web', kind: 'service_added' }, 'reloaded HAProxy: added: web');
    log.info({ event: 'api_listening', port: 1 }, 'HTTP API listening');
    log.info('no event at all');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ event: 'reload', reason: 'added: web', msg: 'reloaded HAProxy: added: web', level: 30 });
    expect(seen[0]).not.toHaveProperty('app');
    expect(seen[0]).not.toHaveProperty('pid');
    expect(feed.recent()).toEqual(seen);
  });

  test('is a ring: the oldest entries go first', () => {
    const feed = new EventFeed(3);
    for (let i = 0; i < 5; i++) feed.stream.write(`${JSON.stringify({ event: 'plan', msg: `m${i}`, time: 't', level: 30 })}\n`);
    expect(feed.recent().map((e) => e.msg)).toEqual(['m2', 'm3', 'm4']);
  });

  test('a line that is not JSON is ignored', () => {
    const feed = new EventFeed();
    feed.stream.write('"event":"reload" but not json\n');
    expect(feed.recent()).toEqual([]);
  });
});
