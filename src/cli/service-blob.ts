import { readFileSync } from 'node:fs';
import type { Config } from '../config/load';
import { parseServiceDefinition } from '../model/service';
import { WATCHER_SCHEMAS } from '../watchers';
import { undefinedRegistries } from '../config/registry-names';

export type ServiceAction = 'put' | 'get' | 'list' | 'delete';

/** Reads and validates a blob for `put`; a bad one is refused (a string: why) before anything is written. */
export function blobFor(config: Config, name: string, file: string): Buffer | string {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return `${file}: ${(err as Error).message}`;
  }
  const parsed = parseServiceDefinition(name, raw, WATCHER_SCHEMAS);
  const errors = parsed.ok ? undefinedRegistries(config, parsed.service.watcher) : parsed.errors;
  if (errors.length) return `service ${name} (${file}) is invalid:\n${errors.map((e) => `  - ${e}`).join('\n')}`;
  return Buffer.from(JSON.stringify(raw));
}
