import { z } from 'zod';
import { configText, port, formatIssues, PARSE_OPTIONS } from './fields';
import { balancesFirst, compileProxyOptions, proxyOptionKeys, proxyOptionProblems, type ProxyOptions } from './proxy-options';
import type { FileNeed, ProxySection } from './options/feature';
import { matchSchema, type Match } from './routing';
import { bindTlsOf, bindTlsProblems, bindTlsSchema, type BindTls, type BindTlsInput } from './bind-tls';

/** What one service blob asks for, validated. Watcher-specific keys stay in `watcher`. */
export interface ServiceDefinition {
  name: string;
  port: number;
  listenOptions: string[];
  serverOptions: string[];
  /** `mode` as the blob says it (undefined: haproxy.defaults decide); `http` is needed to share a port. */
  mode?: 'tcp' | 'http';
  /** Routing on a shared HTTP port; without it the service is that port's default. */
  match?: Match;
  /** When false (the default) a watcher reporting zero servers keeps the previous ones. */
  allowEmpty: boolean;
  /**
   * `sticky_offline`: a server its health check marks down is held in maint (an operator
   * override, saved) until an operator sets it ready. No HAProxy line: the agent acts on it,
   * so it is not part of the listen spec and flipping it never reloads.
   */
  stickyOffline?: true;
  /** Sections of its own the typed keys ask for (a `cache`, an `fcgi-app`). */
  sections?: ProxySection[];
  /** Files the typed keys name (`tls.ca_file`, ...): checked where the blob is accepted, not here (the model is pure). */
  files?: FileNeed[];
  /** `bind_tls`: TLS terminated on the port (bind options, not proxy lines). */
  bindTls?: BindTls;
  watcher: WatcherSpec;
}

export interface WatcherSpec {
  type: string;
  options: Record<string, unknown>;
}

/** The watcher-specific keys each watcher type accepts, by type name. */
export type WatcherSchemas = Readonly<Record<string, z.ZodRawShape>>;

// HAProxy proxy names allow letters, digits, '-', '_', '.', ':'; we leave out ':'
// so that a name is also a safe file name and URL path segment.
const SERVICE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;

export function isValidServiceName(name: string): boolean {
  return SERVICE_NAME.test(name);
}

// Keys of which a blob must give exactly one (a zookeeper watcher's `server` or `ensemble`),
// marked on the key's own schema so that every caller of parseServiceDefinition checks them.
const exclusiveGroups = new WeakMap<z.ZodType, string>();

/** Marks a watcher key as one of a group of which a blob must have exactly one. */
export function oneOf<T extends z.ZodType>(schema: T, group: string): T {
  exclusiveGroups.set(schema, group);
  return schema;
}

function oneOfProblems(shape: z.ZodRawShape, data: Record<string, unknown>): string[] {
  const byGroup = new Map<string, string[]>();
  for (const [key, schema] of Object.entries(shape)) {
    const g = exclusiveGroups.get(schema as z.ZodType);
    if (g !== undefined) byGroup.set(g, [...(byGroup.get(g) ?? []), key]);
  }
  const problems: string[] = [];
  for (const keys of byGroup.values()) {
    const present = keys.filter((k) => data[k] !== undefined);
    if (present.length === 0) problems.push(`${keys[0]}: required (or ${keys.slice(1).join(' or ')})`);
    else if (present.length > 1) problems.push(`${present[1]}: not together with ${present[0]} (one of ${keys.join(', ')})`);
  }
  return problems;
}

const common = {
  port,
  ...proxyOptionKeys,
  match: matchSchema.optional(),
  bind_tls: bindTlsSchema.optional(),
  listen_options: z.array(configText).max(1000).default([]),
  server_options: z.array(configText).max(100).default([]),
  allow_empty: z.boolean().default(false),
  sticky_offline: z.boolean().default(false),
};
const commonKeys = new Set(['type', ...Object.keys(common)]);

function serviceSchema(type: string, shape: z.ZodRawShape) {
  return z.strictObject({ type: z.literal(type), ...common, ...shape });
}

// Building a zod schema is cheap, but its first parse compiles a fast path: a schema built
// per blob paid that on every service change (about a quarter of the agent's CPU per event).
const compiled = new WeakMap<z.ZodRawShape, Map<string, ReturnType<typeof serviceSchema>>>();

function cachedSchema(type: string, shape: z.ZodRawShape) {
  let byType = compiled.get(shape);
  if (!byType) compiled.set(shape, (byType = new Map()));
  let schema = byType.get(type);
  if (!schema) byType.set(type, (schema = serviceSchema(type, shape)));
  return schema;
}

/**
 * A JSON Schema (draft 2020-12) of service blobs, one branch per watcher type, for
 * editors and CI linting of service repositories (`proxymgr schema`). It describes the
 * input; `proxymgr check` remains the full validation (hostnames, cross-field rules).
 */
export function serviceJsonSchema(schemas: WatcherSchemas): Record<string, unknown> {
  const branches = Object.keys(schemas)
    .sort()
    .map((type) => {
      const { $schema: _drop, ...branch } = z.toJSONSchema(serviceSchema(type, schemas[type]), { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
      return { title: `${type} watcher`, ...branch };
    });
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://proxymgr/service.schema.json',
    title: 'proxymgr service definition',
    oneOf: branches,
  };
}

export type ServiceParse = { ok: true; service: ServiceDefinition } | { ok: false; errors: string[] };

/**
 * Validates a service blob (already decoded from JSON or YAML). Errors name the
 * field; callers add the service name and where the blob came from.
 */
export function parseServiceDefinition(name: string, raw: unknown, schemas: WatcherSchemas): ServiceParse {
  if (!isValidServiceName(name)) {
    return { ok: false, errors: [`invalid service name ${JSON.stringify(name)}: use letters, digits, '_', '.', '-' (at most 100, not starting with '.' or '-')`] };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, errors: [`expected an object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`] };
  }
  const type = (raw as Record<string, unknown>).type;
  const known = Object.keys(schemas).sort();
  if (typeof type !== 'string') return { ok: false, errors: [`type: required, one of ${known.join(', ')}`] };
  const shape = Object.hasOwn(schemas, type) ? schemas[type] : undefined;
  if (!shape) return { ok: false, errors: [`type: unknown watcher type ${JSON.stringify(type)} (known: ${known.join(', ')})`] };

  const result = cachedSchema(type, shape).safeParse(raw, PARSE_OPTIONS);
  if (!result.success) return { ok: false, errors: formatIssues(result.error.issues) };
  const exclusive = oneOfProblems(shape, result.data as Record<string, unknown>);
  if (exclusive.length) return { ok: false, errors: exclusive };
  const data = result.data as Record<string, unknown> & {
    port: number;
    listen_options: string[];
    server_options: string[];
    allow_empty: boolean;
    sticky_offline: boolean;
  };
  // Routing happens in an HTTP frontend; sharing a port needs mode http on both sides.
  if (data.match !== undefined && data.mode !== 'http') return { ok: false, errors: ['match: needs "mode": "http"'] };
  const crossField = [...proxyOptionProblems(data as ProxyOptions), ...stickyOfflineProblems(data), ...bindTlsProblems(data)];
  if (crossField.length) return { ok: false, errors: crossField };
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) if (!commonKeys.has(key)) options[key] = value;
  // Typed keys first: the blob's own option lines come after them and can refine them.
  const typed = compileProxyOptions(data as ProxyOptions, name);
  return {
    ok: true,
    service: {
      name,
      port: data.port,
      listenOptions: [...typed.listen, ...data.listen_options],
      serverOptions: [...typed.server, ...data.server_options],
      ...(data.mode !== undefined && { mode: data.mode as 'tcp' | 'http' }),
      ...(data.match !== undefined && { match: data.match as Match }),
      allowEmpty: data.allow_empty,
      ...(data.sticky_offline && { stickyOffline: true as const }),
      ...(typed.sections.length && { sections: typed.sections }),
      ...(typed.files && { files: typed.files }),
      ...(data.bind_tls !== undefined && { bindTls: bindTlsOf(data.bind_tls as BindTlsInput) }),
      watcher: { type, options },
    },
  };
}

/**
 * Only a health check marks a server down, so `sticky_offline` without one would never act:
 * it needs `check`, or `attempts`/`offline_timeout_ms` (which turn checks on). Checks written
 * as raw `server_options` do not count: the rule reads the typed keys only.
 */
function stickyOfflineProblems(o: Record<string, unknown>): string[] {
  if (!o.sticky_offline || o.check !== undefined || o.attempts !== undefined || o.offline_timeout_ms !== undefined) return [];
  return ['sticky_offline: needs health checks ("check", or "attempts"): only a failed check takes a server offline'];
}

/** The part of a definition that shapes haproxy.cfg (the watcher only supplies servers). */
export interface ListenSpec {
  port: number;
  listenOptions: string[];
  serverOptions: string[];
  mode?: 'tcp' | 'http';
  match?: Match;
  /** Sections the service owns besides its proxy (`cache`, `fcgi-app`), rendered right after it. */
  sections?: ProxySection[];
  /** TLS on the `bind` line (a shared port takes its default service's). */
  bindTls?: BindTls;
  /**
   * `balance first`: the servers keep the order the source declared them in (a static
   * list, a servers file; ZooKeeper and DNS report name order) and each gets `id` N in
   * that order. Otherwise servers run sorted by name. Follows from `listenOptions`.
   */
  declaredOrder?: true;
}

export function listenSpecOf(def: ServiceDefinition): ListenSpec {
  return {
    port: def.port,
    listenOptions: def.listenOptions,
    serverOptions: def.serverOptions,
    ...(def.mode !== undefined && { mode: def.mode }),
    ...(def.match !== undefined && { match: def.match }),
    ...(def.sections !== undefined && { sections: def.sections }),
    ...(def.bindTls !== undefined && { bindTls: def.bindTls }),
    ...(balancesFirst(def.listenOptions) && { declaredOrder: true as const }),
  };
}

export function watcherKey(spec: WatcherSpec, baseDir: string): string {
  return JSON.stringify([spec.type, baseDir, spec.options]);
}
