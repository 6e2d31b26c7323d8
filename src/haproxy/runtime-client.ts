import { connect } from 'node:net';
import { parseInfo, parseServersState, replySeverity, type ActualServer } from './state-parse';

/**
 * Sends one command to HAProxy's admin socket and returns the whole reply.
 * Non-interactive mode: HAProxy answers and closes, so the reply ends at EOF.
 */
export function runtimeCommand(socketPath: string, command: string, timeoutMs = 2000): Promise<string> {
  return runtimeCommandBytes(socketPath, command, timeoutMs).then((b) => b.toString('utf8'));
}

/** `runtimeCommand`, the reply as bytes (a large reply parsed without one big string). */
export function runtimeCommandBytes(socketPath: string, command: string, timeoutMs = 2000): Promise<Buffer> {
  // One deadline bounds the whole exchange: connect, write and reading the reply to EOF.
  if (/[\r\n]/.test(command)) return Promise.reject(new Error('runtime command must be a single line'));
  return exchangeBytes(socketPath, `${command}\n`, timeoutMs);
}

/** `show info` as a key/value map (Pid, Uptime_sec, CurrConns, ...). */
export async function showInfo(socketPath: string, timeoutMs?: number): Promise<Record<string, string>> {
  return parseInfo(await runtimeCommand(socketPath, 'show info', timeoutMs));
}

export interface RuntimeReply {
  command: string;
  output: string;
  ok: boolean;
  /** The reply without its `[N]: ` severity prefix. */
  message: string;
}

const PROMPT = '\n> ';

/** An exchange that did not finish within its deadline (HAProxy wedged, stopped, overloaded). */
export class RuntimeTimeout extends Error {
  readonly code = 'ETIMEDOUT';
}

/**
 * The runtime API client: batches go out one at a time (a queue), each on one
 * connection in `prompt` mode with all commands pipelined, so every command gets
 * its own framed reply. In non-interactive mode `;`-joined replies cannot be told
 * apart (`del server` prints no blank line; docs/runtime-facts.md).
 */
export class RuntimeClient {
  private queue: Promise<unknown> = Promise.resolve();
  readonly stats = { batches: 0, commands: 0, failed: 0, /** exchanges (batches and queries) that hit their deadline */ timeouts: 0 };
  /** Called whenever an exchange hits its deadline (the HAProxy health watch listens). */
  readonly timeoutListeners = new Set<(err: RuntimeTimeout) => void>();

  constructor(
    readonly socketPath: string,
    /** How long one exchange may take; changeable (SIGHUP). */
    public timeoutMs = 5000,
  ) {}

  /** Runs `commands` in order; resolves one reply per command (never rejects for a refused command). */
  batch(commands: readonly string[]): Promise<RuntimeReply[]> {
    const run = () => this.send(commands);
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * One read-only command on its own connection, outside the batch queue, so that a
   * read (stats, a health probe) never waits behind a batch, with its own deadline.
   * Rejects on timeout or connection error; HAProxy's reply is returned as is.
   */
  query(command: string, timeoutMs = this.timeoutMs): Promise<string> {
    return this.watch(runtimeCommand(this.socketPath, command, timeoutMs));
  }

  /** `query`, the reply as bytes: a large reply (`show stat` of 20,000 servers is 5 MB) parsed without one big string. */
  queryBytes(command: string, timeoutMs = this.timeoutMs): Promise<Buffer> {
    return this.watch(runtimeCommandBytes(this.socketPath, command, timeoutMs));
  }

  /**
   * One command that carries a multi-line payload (`set ssl cert <name> <<`), alone on
   * its own connection in non-interactive mode, queued behind the batches. HAProxy reads
   * the payload up to the first empty line, so the payload may hold none (`payloadText`
   * refuses it); the command line itself keeps the single-line rule. The reply is
   * HAProxy's text as is (these commands print no severity): the caller reads it.
   */
  withPayload(command: string, payload: string): Promise<string> {
    const line = escapeCommand(command);
    const text = payloadText(payload);
    const run = () => this.watch(exchange(this.socketPath, `${line} <<\n${text}\n\n`, this.timeoutMs));
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private watch<T>(p: Promise<T>): Promise<T> {
    return p.catch((err: unknown) => {
      if (err instanceof RuntimeTimeout) {
        this.stats.timeouts++;
        for (const l of this.timeoutListeners) l(err);
      }
      throw err;
    });
  }

  async showServersState(backend?: string): Promise<ActualServer[]> {
    const [reply] = await this.batch([backend ? `show servers state ${backend}` : 'show servers state']);
    if (!reply.ok) throw new Error(`show servers state: ${reply.message}`);
    return parseServersState(reply.output);
  }

  /** `show servers state` of several backends in one round trip; a backend HAProxy does not know maps to undefined. */
  async serversStateOf(backends: readonly string[]): Promise<Map<string, ActualServer[] | undefined>> {
    const replies = await this.batch(backends.map((b) => `show servers state ${b}`));
    const out = new Map<string, ActualServer[] | undefined>();
    backends.forEach((b, i) => out.set(b, replies[i].ok ? parseServersState(replies[i].output) : undefined));
    return out;
  }

  private async send(commands: readonly string[]): Promise<RuntimeReply[]> {
    if (commands.length === 0) return [];
    const lines = commands.map(escapeCommand);
    const payload = ['prompt', 'set severity-output number', ...lines, 'quit'].join('\n') + '\n';
    const raw = await this.watch(exchange(this.socketPath, payload, this.timeoutMs));
    // Replies come back in order, each followed by the prompt; [0] answers `prompt`, [1] the severity switch.
    const parts = raw.split(PROMPT);
    this.stats.batches++;
    this.stats.commands += commands.length;
    return commands.map((command, i) => {
      const output = parts[i + 2];
      if (output === undefined) {
        this.stats.failed++;
        return { command, output: '', ok: false, message: 'no reply (connection closed early)' };
      }
      const { severity, message } = replySeverity(output);
      const ok = severity === undefined ? !/^(Unknown command|Permission denied)/.test(message) : severity > 3;
      if (!ok) this.stats.failed++;
      return { command, output, ok, message };
    });
  }
}

/** `;` separates commands and `\` escapes on the CLI; neither may split one of ours. */
export function escapeCommand(command: string): string {
  if (/[\r\n]/.test(command)) throw new Error(`runtime command must be a single line: ${JSON.stringify(command)}`);
  return command.replace(/[\\;]/g, (c) => `\\${c}`);
}

/**
 * A payload as HAProxy's CLI reads it: lines up to the first empty one. CRLF becomes LF
 * and the trailing newline goes (the terminator adds its own); an empty line inside, a
 * NUL or a lone CR would end or corrupt it, so those are refused.
 */
export function payloadText(payload: string): string {
  const text = payload.replace(/\r\n/g, '\n').replace(/\n+$/, '');
  if (text === '') throw new Error('runtime payload is empty');
  if (/[\r\0]/.test(text)) throw new Error('runtime payload holds a NUL or a lone CR');
  if (/\n\s*\n/.test(text)) throw new Error('runtime payload holds an empty line (HAProxy would end the payload there)');
  return text;
}

function exchange(socketPath: string, payload: string, timeoutMs: number): Promise<string> {
  return exchangeBytes(socketPath, payload, timeoutMs).then((b) => b.toString('utf8'));
}

function exchangeBytes(socketPath: string, payload: string, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect({ path: socketPath });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new RuntimeTimeout(`runtime API timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(payload));
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
