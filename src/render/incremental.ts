import type { Config } from '../config/load';
import { runAs } from '../haproxy/run-as';
import type { DesiredService } from '../model/desired';
import { byName, headContext, renderConfig, serviceContext, sharedPortsOf, type RenderSettings } from './render';
import { loadTemplates, type CompiledTemplates } from './templates';

/**
 * Renders haproxy.cfg from a head (global, defaults, shared frontends) and one section
 * per service, keeping each service's section until that service changes (by identity:
 * desired and running entries are replaced, never mutated). After a runtime update of
 * one service at 10,000 services, only that section is rendered again.
 *
 * The text must equal what the main template renders at once. That holds when the
 * template puts the services last, one `service` partial each (as shipped); an operator's
 * own main template may not, so the first render is checked against a full one and, if
 * they differ, every render is a full one from then on.
 */
export class IncrementalRenderer {
  private readonly sections = new Map<string, { of: DesiredService; shared: boolean; text: string }>();
  private assembles?: boolean;
  /** Global settings and templates: a difference from the last reload's needs a reload. */
  readonly key: string;

  constructor(
    readonly templates: CompiledTemplates,
    readonly settings: RenderSettings,
    /** Where the file lives: HAProxy reads it from there only when it starts, so a new path needs a reload too. */
    configPath?: string,
  ) {
    this.key = JSON.stringify([settings, templates.sources, configPath ?? null]);
  }

  /** The renderer for proxymgr.yml's `haproxy:` block (templates read from disk now). */
  static forConfig(h: Config['haproxy']): IncrementalRenderer {
    const settings: RenderSettings = {
      runAs: runAs(h.user, h.group),
      socketPath: h.socket_path,
      stateFile: h.state_file,
      bindAddress: h.bind_address,
      hardStopAfter: h.hard_stop_after,
      global: h.global,
      defaults: h.defaults,
      prometheusListen: h.prometheus_listen,
    };
    return new IncrementalRenderer(loadTemplates(h.template_dir), settings, h.config_path);
  }

  render(services: readonly DesiredService[]): string {
    if (this.assembles === false) return renderConfig(this.templates, this.settings, services);
    const sorted = isSorted(services) ? services : [...services].sort(byName);
    const shared = sharedPortsOf(sorted);
    const parts: string[] = [this.templates.main(headContext(this.settings, shared))];
    for (const s of sorted) {
      const isShared = shared.has(s.listen.port);
      let cached = this.sections.get(s.name);
      if (!cached || cached.of !== s || cached.shared !== isShared) {
        cached = { of: s, shared: isShared, text: this.templates.section(serviceContext(this.settings, s, isShared)) };
        this.sections.set(s.name, cached);
      }
      parts.push(cached.text);
    }
    if (this.sections.size > sorted.length) {
      const names = new Set(sorted.map((s) => s.name));
      for (const name of this.sections.keys()) if (!names.has(name)) this.sections.delete(name);
    }
    const text = parts.join('');
    if (this.assembles === undefined) {
      const full = renderConfig(this.templates, this.settings, sorted);
      this.assembles = full === text;
      if (!this.assembles) {
        this.sections.clear();
        return full;
      }
    }
    return text;
  }

  /** False once the templates turned out not to assemble from sections. */
  get incremental(): boolean {
    return this.assembles !== false;
  }
}

function isSorted(services: readonly DesiredService[]): boolean {
  for (let i = 1; i < services.length; i++) if (services[i - 1].name >= services[i].name) return false;
  return true;
}
