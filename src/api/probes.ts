import type { AgentView } from '../agent/view';

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

/**
 * `/readyz`: HAProxy runs, the first sync with the service-config source is done, and the
 * agent as a whole has no problem (a failing reload, the service-config source down beyond
 * its grace). A service's own error does not make the agent unready: the others still serve.
 */
export function readiness(agent: AgentView): Readiness {
  const reasons: string[] = [];
  if (!agent.haproxy().running) reasons.push('HAProxy is not running');
  if (agent.ready && !agent.ready()) reasons.push('the first sync with the service-config source is not done');
  for (const p of agent.problems()) if (!reasons.includes(p)) reasons.push(p);
  return { ready: reasons.length === 0, reasons };
}
