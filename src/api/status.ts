import type { ServiceStatus } from '../agent/service-table';

export class UnknownView extends Error {}

export interface StatusBody {
  num_ok: number;
  num_error: number;
  has_error: boolean;
  good: boolean;
  view?: string;
  /** What is wrong: `service` is absent for problems of the agent as a whole. */
  errors: Array<{ service?: string; problem: string }>;
  /** Sources down but still within their grace period. */
  warnings: Array<{ service: string; problem: string }>;
}

/** `*` matches any run of characters; everything else is literal. */
function matcher(patterns: readonly string[]): (name: string) => boolean {
  const res = patterns.map((p) => new RegExp(`^${p.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')).join('.*')}$`));
  return (name) => res.some((r) => r.test(name));
}

/**
 * The /status verdict. Agent-wide problems (reload failing, HAProxy down, the service
 * config source down beyond its grace) count against every view: they affect all services.
 */
export function statusOf(services: readonly ServiceStatus[], agentProblems: readonly string[], views: Readonly<Record<string, readonly string[]>>, view?: string): StatusBody {
  let chosen = services;
  if (view !== undefined) {
    const patterns = Object.hasOwn(views, view) ? views[view] : undefined;
    if (!patterns) throw new UnknownView(`no view ${view} (configured: ${Object.keys(views).join(', ') || 'none'})`);
    const match = matcher(patterns);
    chosen = services.filter((s) => match(s.name));
  }
  const errors = [
    ...agentProblems.map((problem) => ({ problem })),
    ...chosen.flatMap((s) => s.problems.map((problem) => ({ service: s.name, problem }))),
  ];
  const bad = chosen.filter((s) => !s.ok).length + agentProblems.length;
  return {
    num_ok: chosen.filter((s) => s.ok).length,
    num_error: bad,
    has_error: bad > 0,
    good: bad === 0,
    ...(view !== undefined && { view }),
    errors,
    warnings: chosen.flatMap((s) => s.warnings.map((problem) => ({ service: s.name, problem }))),
  };
}
