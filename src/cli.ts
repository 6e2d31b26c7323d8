#!/usr/bin/env node
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from './agent/agent';
import { createMetrics } from './api/metrics';
import { EventFeed } from './api/feed';
import { ConfigError, loadConfig, type Config, type LoadOptions } from './config/load';
import { checkConfigText } from './haproxy/config-check';
import { readHaproxyVersion, versionWarning } from './haproxy/version';
import { createLogger, setLogLevel, silentLogger } from './log';
import { extrasKey, startExtras, statsdFor, type Extras } from './cli/extras';
import { tmpdir } from 'node:os';
import { serviceCommand } from './cli/service-commands';
import { registerCommand, type RegisterFlags } from './cli/register-command';
import { DEFAULT_TTL_S, MIN_TTL_S } from './cli/register-etcd';
import { ETCD_AUTH_ENV, ETCD_AUTH_FILE_ENV, hasEtcdCliCredentials } from './cli/etcd-auth';
import { AUTH_ENV, AUTH_FILE_ENV, cliCredentials, hasCliCredentials, type ZkCliFlags } from './cli/zk-auth';
import { ZkCredentials } from './zk/auth';
import { serviceJsonSchema } from './model/service';
import { WATCHER_SCHEMAS } from './watchers';

const version = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

function load(file: string, opts: LoadOptions = {}): Config {
  try {
    return loadConfig(file, opts);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`proxymgr: invalid configuration ${err.file}\n${err.problems.map((p) => `  - ${p}`).join('\n')}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function run(file: string): Promise<void> {
  const config = load(file);
  // The dashboard's feed reads the decision log lines as they are written.
  const feed = new EventFeed();
  // Always tapped: an API turned on later by SIGHUP shows the decisions from the start.
  const log = createLogger(config.log.level, undefined, feed.stream);
  const agent = new Agent(config, log, { manageHAProxy: true });
  let stopping = false;
  const shutdown = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'shutdown', signal: sig }, 'stopping: HAProxy will finish open connections');
    agent.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  log.info({ event: 'starting', config: config.file, version, service_config: config.service_config }, 'proxymgr starting');
  // Metrics and statsd follow the agent's events: set up before the first start so that it counts.
  const metrics = createMetrics(agent, agent.client);
  let stopStatsd = statsdFor(config, agent, log);
  let extras: Extras | undefined;
  let current = config;
  // SIGHUP applies every key of proxymgr.yml: the agent takes its own (a reload where
  // haproxy.cfg changes), the log level changes in place, and the API, snapshot and statsd
  // restart when their settings changed (a new token or listen address takes effect at once).
  // A SIGHUP during startup waits for it.
  const reread = async () => {
    let next: Config;
    try {
      next = loadConfig(file);
    } catch (err) {
      return void log.error({ event: 'config_invalid', error: (err as Error).message }, 'SIGHUP: configuration not reloaded; keeping the current one');
    }
    setLogLevel(log, next.log.level);
    await agent.reconfigure(next);
    if (JSON.stringify(next.statsd ?? null) !== JSON.stringify(current.statsd ?? null)) {
      await stopStatsd();
      stopStatsd = statsdFor(next, agent, log);
    }
    // A token file's or the API's certificate's contents can change with proxymgr.yml unchanged: the API takes them again every time
    // (the certificate swapped on the listening server: open connections and dashboard streams stay).
    if (extrasKey(next) === extrasKey(current)) extras?.reconfigure(agent.configuration);
    else {
      await extras?.stop();
      extras = await startExtras(agent.configuration, agent, log, feed, metrics).catch((err: Error) => {
        log.error({ event: 'config_apply_failed', error: err.message }, 'SIGHUP: could not start the API or the snapshot with the new settings');
        return undefined;
      });
    }
    current = next;
  };
  let queue: Promise<void> = (async () => {
    await agent.start();
    extras = await startExtras(config, agent, log, feed, metrics);
  })();
  process.on('SIGHUP', () => {
    queue = queue.then(reread, reread);
  });
  await queue;
}

/** `check`: validates proxymgr.yml and every service, then `haproxy -c` on the render. Exit 1 names each problem. */
async function check(file: string, opts: { haproxy: boolean }): Promise<number> {
  const config = load(file);
  const agent = new Agent(config, silentLogger(), { manageHAProxy: false, initialSyncMs: 5000 });
  try {
    await agent.start();
    const statuses = agent.statuses();
    let bad = 0;
    for (const s of statuses) {
      // A one-shot check has no grace period: a source it cannot read is an error.
      const problems = [...s.problems, ...s.warnings];
      if (!problems.length) {
        process.stdout.write(`ok    ${s.name}: port ${s.port}, ${s.type}, ${s.servers} server(s)\n`);
      } else {
        bad++;
        process.stdout.write(`ERROR ${s.name} (${s.origin}):\n${problems.map((p) => `        - ${p}`).join('\n')}\n`);
      }
    }
    // The agent's own problems (the service config unreadable: NOAUTH, down), with no grace period either.
    for (const p of agent.problems(Number.MAX_SAFE_INTEGER)) {
      bad++;
      process.stdout.write(`ERROR ${p}\n`);
    }
    if (opts.haproxy) {
      // Not a problem (exit 0 stays 0): an older HAProxy may work, but nothing here vouches for it.
      const v = await readHaproxyVersion(config.haproxy.path);
      const old = v && versionWarning(v);
      if (old) process.stdout.write(`WARN  haproxy -v: ${old}\n`);
      const text = agent.render();
      const res = await checkConfigText(config.haproxy.path, join(tmpdir(), 'proxymgr-check.cfg'), text);
      if (!res.ok) {
        bad++;
        for (const p of res.problems) process.stdout.write(`ERROR haproxy -c${p.service ? ` (service ${p.service})` : ''}: ${p.message}\n`);
      } else {
        process.stdout.write(`ok    haproxy -c: configuration valid (${statuses.filter((s) => s.ok).length} services)\n`);
      }
    }
    process.stdout.write(bad ? `${bad} problem(s) found\n` : 'all good\n');
    return bad ? 1 : 0;
  } finally {
    await agent.stop();
  }
}

async function render(file: string): Promise<void> {
  // haproxy.cfg owes nothing to the API's certificate: whoever renders need not read its key.
  const config = load(file, { apiTls: false });
  const agent = new Agent(config, silentLogger(), { manageHAProxy: false, initialSyncMs: 5000 });
  try {
    await agent.start();
    process.stdout.write(agent.render());
  } finally {
    await agent.stop();
  }
}

const program = new Command('proxymgr')
  .description('HAProxy control-plane sidecar: services from ZooKeeper, etcd, DNS, files or static lists')
  .version(version);

program
  .command('run')
  .description('run HAProxy and keep it in line with the services')
  .requiredOption('-c, --config <file>', 'proxymgr.yml')
  .action((o: { config: string }) => run(o.config));

program
  .command('check')
  .description('validate proxymgr.yml and every service definition; exit 1 if anything is wrong')
  .requiredOption('-c, --config <file>', 'proxymgr.yml')
  .option('--no-haproxy', 'skip `haproxy -c` on the rendered configuration')
  .action(async (o: { config: string; haproxy: boolean }) => {
    process.exitCode = await check(o.config, o);
  });

program
  .command('render')
  .description('print the haproxy.cfg that would run now')
  .requiredOption('-c, --config <file>', 'proxymgr.yml')
  .action((o: { config: string }) => render(o.config));

program
  .command('schema')
  .description('print the JSON Schema of service definitions (for editors and linting service repositories)')
  .action(() => {
    process.stdout.write(`${JSON.stringify(serviceJsonSchema(WATCHER_SCHEMAS), null, 2)}\n`);
  });

const ZK_AUTH_HELP = `a file holding user:password (default: $${AUTH_FILE_ENV}, else $${AUTH_ENV} itself)`;
const AUTH_HELP = `a file holding user:password (default: $${AUTH_FILE_ENV} or $${ETCD_AUTH_FILE_ENV} for etcd, else $${AUTH_ENV} or $${ETCD_AUTH_ENV} itself, else proxymgr.yml's credentials)`;
const ACL_HELP = 'ACL of the znodes created, e.g. "digest:platform:HASH:all,world:anyone:read" or "creator:all" (default: proxymgr.yml\'s, else creator:all,world:anyone:read with credentials)';

/** proxymgr.yml for a ZooKeeper or etcd CLI command: its own credentials are not read when the command line brings some; the API's key never (it serves no API). */
const loadFor = (file: string, flags: ZkCliFlags) =>
  load(file, { zkCredentials: !hasCliCredentials(flags, process.env), etcdCredentials: !hasEtcdCliCredentials(flags, process.env), apiTls: false });

/**
 * A one-shot command's end: exit with its code now rather than when the event loop drains.
 * After gRPC use (etcd), Node's own teardown was seen to spin forever with nothing left
 * open (docs/etcd-facts.md, "may never exit by itself"). Output is written synchronously (files, and pipes on Linux).
 */
const exitWhenDone = (code: number): never => process.exit(code);

const service = program.command('service').description('manage service definitions in the configured ZooKeeper or etcd');
service
  .command('put <name>')
  .description('validate a service blob, then write it (ZooKeeper: missing parents too, with the configured ACL)')
  .requiredOption('-c, --config <file>', 'proxymgr.yml')
  .requiredOption('-f, --file <blob.json>', 'the service blob')
  .option('--auth-file <file>', AUTH_HELP)
  .option('--acl <spec>', `ZooKeeper: ${ACL_HELP}`)
  .action(async (name: string, o: { config: string; file: string } & ZkCliFlags) => {
    exitWhenDone(await serviceCommand(loadFor(o.config, o), 'put', name, o.file, o));
  });
for (const [action, args, what] of [
  ['get', '<name>', 'print a service blob'],
  ['delete', '<name>', 'delete a service'],
  ['list', '', 'list the services'],
] as const) {
  service
    .command(`${action}${args ? ` ${args}` : ''}`)
    .description(what)
    .requiredOption('-c, --config <file>', 'proxymgr.yml')
    .option('--auth-file <file>', AUTH_HELP)
    .action(async (...a: unknown[]) => {
      const name = args ? (a[0] as string) : undefined;
      const o = (args ? a[1] : a[0]) as { config: string } & ZkCliFlags;
      exitWhenDone(await serviceCommand(loadFor(o.config, o), action, name, undefined, o));
    });
}

program
  .command('register')
  .description('keep this instance registered (an ephemeral znode, or an etcd key on a lease) while a local health check passes')
  .option('--zk <servers>', 'ZooKeeper connection string, host:port[,host:port...][/chroot]')
  .option('--ensemble <name>', 'an ensemble of proxymgr.yml (with -c): its servers, credentials and ACL')
  .option('--etcd <endpoints>', 'etcd endpoints, comma-separated: host:port or http(s)://host:port')
  .option('--etcd-cluster <name>', 'an etcd cluster of proxymgr.yml (with -c): its endpoints, credentials and TLS')
  .option('-c, --config <file>', 'proxymgr.yml, for --ensemble or --etcd-cluster')
  .option('--path <znode>', 'ZooKeeper: the instances znode of the service, e.g. /services/web')
  .option('--prefix <prefix>', 'etcd: the instances key prefix of the service, e.g. /services/web')
  .option('--ttl <seconds>', `etcd: the lease TTL; a killed process's instance goes after it (default ${DEFAULT_TTL_S}, at least ${MIN_TTL_S})`, Number)
  .requiredOption('--address <ip|host|unix:/path>', 'this instance\'s address (a UNIX socket as unix:/absolute/path)')
  .option('--port <port>', 'this instance\'s port (none for a unix socket)', Number)
  .option('--weight <weight>', 'weight 0..256', Number)
  .option('--check <url>', 'http:// URL that must answer < 400 (default: a connect to address:port or to the socket)')
  .option('--interval-ms <ms>', 'how often to check', Number, 2000)
  .option('--auth-file <file>', AUTH_HELP)
  .option('--acl <spec>', `ZooKeeper: ${ACL_HELP}`)
  .action((o: RegisterFlags) => registerCommand(o, loadFor));

program
  .command('zk-digest')
  .description('print the ZooKeeper digest id (digest:USER:HASH) of user:password, for ACLs; reads --auth-file, the environment or one line of stdin')
  .option('--auth-file <file>', ZK_AUTH_HELP)
  .action(async (o: ZkCliFlags) => {
    const given = cliCredentials(o, process.env);
    if (!given.ok) {
      process.stderr.write(`proxymgr zk-digest: ${given.error}\n`);
      return void (process.exitCode = 2);
    }
    let creds = given.value;
    if (!creds) {
      let text = '';
      for await (const chunk of process.stdin) text += String(chunk);
      const parsed = ZkCredentials.parse(text);
      if (!parsed.ok) {
        process.stderr.write(`proxymgr zk-digest: stdin ${parsed.error}\n`);
        return void (process.exitCode = 2);
      }
      creds = parsed.value;
    }
    const id = creds.digestId();
    process.stdout.write(`digest:${id}\n`);
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`proxymgr: ${(err as Error).message}\n`);
  process.exit(1);
});
