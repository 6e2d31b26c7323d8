import type { EventEmitter } from 'node:events';
import type { Config } from '../config/load';
import type { ReloadReason } from '../model/changes';
import type { DesiredService } from '../model/desired';
import type { Override } from './desired-state';
import type { RuntimeTrigger } from './runtime-updater';
import type { ServiceStatus } from './service-table';

export type { Override } from './desired-state';

export interface AgentOptions {
  /** Run HAProxy (the `run` command). Without it the agent only renders (`check`, `render`). */
  manageHAProxy: boolean;
  /** How long startup waits for every watcher's first report before rendering anyway. */
  initialSyncMs?: number;
}

/** What a start or a reload came to. */
export interface ApplyOutcome {
  reloaded: boolean;
  error?: string;
}

/** What the agent did, for metrics, statsd and the dashboard (listeners must not throw). */
export interface AgentEvents {
  reload: [{ reason: ReloadReason; ok: boolean; seconds: number }];
  runtime: [{ trigger: RuntimeTrigger; commands: number; planSeconds: number; seconds: number }];
  /** From the first unapplied change a source reported to HAProxy running it. */
  propagated: [{ path: 'runtime' | 'reload'; seconds: number }];
  /**
   * What should run, or what runs, may have changed for these services (undefined: any of them): those a source
   * reported, those their change touched (a port given to another), those applied. The dashboard refreshes them.
   */
  changed: [names?: readonly string[]];
  /** A certificate file of a TLS bind changed on disk: sent to HAProxy without a reload, or refused. */
  cert: [{ result: 'updated' | 'refused' }];
}

export interface AgentStats {
  reloads: number;
  failedApplies: number;
  runtimeUpdates: number;
  runtimeCommands: number;
}

/**
 * How the HTTP API, the dashboard, metrics and statsd see the agent: queries that change
 * nothing, one command (an operator's override), and events. HAProxy's live counters
 * come from the runtime client, not from here.
 */
export interface AgentView {
  readonly events: EventEmitter<AgentEvents>;
  readonly stats: Readonly<AgentStats>;
  readonly configuration: Config;
  statuses(now?: number): ServiceStatus[];
  /** One service's status; undefined when there is no such service. */
  status(name: string, now?: number): ServiceStatus | undefined;
  /** Problems of the agent as a whole (not of one service): they make /status bad for every view. */
  problems(now?: number): string[];
  /** What HAProxy should run now, per service, sorted by name. */
  desiredServices(): readonly DesiredService[];
  desiredService(name: string): DesiredService | undefined;
  overrideOf(service: string, server: string): Override | undefined;
  /** An operator's state or weight for one server; false when no such server should run. */
  setOverride(service: string, server: string, override: Override | undefined): boolean;
  /** `unresponsive`: running, but its admin socket does not answer (see HaproxyHealth). */
  haproxy(): { running: boolean; restarts: number; unresponsive?: boolean };
  /** The first sync with the service-config source is done (for /readyz); absent: treated as done once HAProxy runs. */
  ready?(): boolean;
}
