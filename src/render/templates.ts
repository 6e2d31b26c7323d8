import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, basename } from 'node:path';
import Handlebars from 'handlebars';

export interface CompiledTemplates {
  main: Handlebars.TemplateDelegate;
  /** One service's section alone (the `service` partial), for rendering services one at a time. */
  section: Handlebars.TemplateDelegate;
  /** Every file that was read, shipped or overridden, for logs and `check`. */
  sources: string[];
}

export const SHIPPED_TEMPLATE_DIR = join(__dirname, '..', '..', 'templates');
const MAIN = 'haproxy.cfg.hbs';

/**
 * Loads the main template and its partials from the shipped directory; a file of
 * the same name in `overrideDir` (main or `partials/*.hbs`) replaces the shipped one.
 */
export function loadTemplates(overrideDir?: string): CompiledTemplates {
  const hb = Handlebars.create();
  const sources: string[] = [];
  const pick = (rel: string): string => {
    const own = overrideDir ? join(overrideDir, rel) : undefined;
    const path = own && existsSync(own) ? own : join(SHIPPED_TEMPLATE_DIR, rel);
    sources.push(path);
    return readFileSync(path, 'utf8');
  };
  const partialNames = new Set<string>();
  for (const dir of [SHIPPED_TEMPLATE_DIR, overrideDir]) {
    const p = dir ? join(dir, 'partials') : undefined;
    if (p && existsSync(p)) for (const f of readdirSync(p)) if (f.endsWith('.hbs')) partialNames.add(basename(f, '.hbs'));
  }
  for (const name of [...partialNames].sort()) {
    hb.registerPartial(name, hb.compile(pick(join('partials', `${name}.hbs`)), { noEscape: true, strict: true }));
  }
  // noEscape: this is HAProxy config, not HTML; safety comes from validating every value at the door.
  const main = hb.compile(pick(MAIN), { noEscape: true, strict: true });
  const section = hb.compile('{{> service}}', { noEscape: true, strict: true });
  return { main, section, sources };
}
