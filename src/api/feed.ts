import { EventEmitter } from 'node:events';

/** The log events an operator wants in the dashboard's feed: decisions and their reasons. */
const FEED_EVENTS = new Set([
  'start',
  'reload',
  'plan',
  'drift_repaired',
  'deferred_delete',
  'apply_failed',
  'error_cleared',
  'service_defined',
  'service_removed',
  'service_invalid',
  'service_rejected',
  'port_conflict',
  'source_error',
  'source_empty',
  'source_recovered',
  'instance_not_alive',
  'haproxy_replaced',
  'admin_socket_missing',
  'override',
  'sticky_offline',
  'sticky_offline_dropped',
  'config_reloaded',
  'zk_session_replaced',
]);

export interface FeedEntry {
  time: string;
  level: number;
  event: string;
  msg: string;
  service?: string;
  [key: string]: unknown;
}

/**
 * The latest decision log lines, kept in memory for the dashboard (a ring of `size`).
 * Fed by `stream`, a pino destination: the log line is the single source of truth.
 */
export class EventFeed extends EventEmitter<{ entry: [FeedEntry] }> {
  private readonly entries: FeedEntry[] = [];

  constructor(private readonly size = 200) {
    super();
  }

  /** A pino destination that keeps the feed events and ignores the rest. */
  readonly stream = {
    write: (line: string): void => {
      // Cheap test first: most lines are not feed events.
      if (!line.includes('"event":"')) return;
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (typeof rec.event !== 'string' || !FEED_EVENTS.has(rec.event)) return;
      const { app: _app, pid: _pid, hostname: _host, ...rest } = rec;
      this.push(rest as FeedEntry);
    },
  };

  push(entry: FeedEntry): void {
    this.entries.push(entry);
    if (this.entries.length > this.size) this.entries.shift();
    this.emit('entry', entry);
  }

  recent(): FeedEntry[] {
    return [...this.entries];
  }
}
