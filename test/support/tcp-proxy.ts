import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 to one target, to cut a client off from a server that keeps
 * running (the server can be changed meanwhile, which a stopped one cannot).
 */
export class TcpProxy {
  private server?: Server;
  private readonly open = new Set<Socket>();
  /** Every socket it ever made or accepted, so that `close` leaves none behind. */
  private readonly all = new Set<Socket>();
  private isCut = false;
  private isHung = false;
  port = 0;
  /** Connections accepted and relayed (refused ones not counted). */
  accepted = 0;
  /**
   * When set, a new connection is relayed only if this accepts its first bytes (an HTTP
   * request's head): etcd's peers name themselves in every raft request (`X-Server-From`),
   * so a test can cut one member off from the others on their shared peer ports.
   */
  admit?: (head: string) => boolean;

  constructor(
    private readonly targetPort: number,
    private readonly targetHost = '127.0.0.1',
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((client) => this.relay(client));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as { port: number }).port;
    // A test's relay must never keep the test process alive on its own.
    this.server.unref();
    return this;
  }

  /** Ends every relayed connection with a reset, and resets new ones at once until `restore`. */
  cut(): void {
    this.isCut = true;
    for (const s of this.open) s.resetAndDestroy();
    this.open.clear();
  }

  /**
   * Stops relaying without closing anything, and accepts new connections only to hold them
   * silent: a server that hangs (SIGSTOP, a dead VM) or a path that drops packets looks so.
   */
  hang(): void {
    this.isHung = true;
    for (const s of this.open) {
      s.unpipe();
      s.pause();
    }
  }

  /** Resets every relayed connection; new ones are relayed as usual (through `admit`, if set). */
  resetAll(): void {
    for (const s of this.open) s.resetAndDestroy();
    this.open.clear();
  }

  /** Relays again; connections cut off or held by `hang` are reset. */
  restore(): void {
    if (this.isHung) this.cut();
    this.isCut = false;
    this.isHung = false;
  }

  async close(): Promise<void> {
    this.cut();
    for (const s of this.all) if (!s.destroyed) s.resetAndDestroy();
    this.all.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private relay(client: Socket): void {
    this.track(client);
    if (this.isCut) {
      client.resetAndDestroy();
      return;
    }
    if (this.isHung) {
      this.open.add(client);
      client.on('error', () => this.open.delete(client)).on('close', () => this.open.delete(client));
      client.pause();
      return;
    }
    if (this.admit) {
      const admit = this.admit;
      let head = '';
      const onData = (chunk: Buffer) => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n') && head.length < 8192) return;
        client.off('data', onData);
        client.pause();
        if (admit(head)) this.pipe(client, Buffer.from(head, 'latin1'));
        else client.resetAndDestroy();
      };
      client.on('data', onData).on('error', () => undefined);
      return;
    }
    this.pipe(client);
  }

  private pipe(client: Socket, head?: Buffer): void {
    this.accepted++;
    const upstream = this.track(connect({ port: this.targetPort, host: this.targetHost }));
    if (head) upstream.write(head);
    this.open.add(client);
    this.open.add(upstream);
    // Either side going ends both, as a broken path would.
    const end = () => {
      this.open.delete(client);
      this.open.delete(upstream);
      if (!client.destroyed) client.resetAndDestroy();
      if (!upstream.destroyed) upstream.resetAndDestroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private track(s: Socket): Socket {
    s.unref();
    this.all.add(s);
    s.once('close', () => this.all.delete(s));
    return s;
  }
}
