import { parseServiceDefinition } from '../../../../src/model/service';
import { WATCHER_SCHEMAS } from '../../../../src/watchers';

/** A static service blob with these typed keys: its errors ([] when it parses). */
export function errorsOf(extra: Record<string, unknown>, name = 'web'): string[] {
  const r = parseServiceDefinition(name, { type: 'static', port: 8080, servers: ['10.0.0.1:80'], ...extra }, WATCHER_SCHEMAS);
  return r.ok ? [] : r.errors;
}
