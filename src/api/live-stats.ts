import type { Agent } from '../agent/agent';
import { parseStat } from '../haproxy/state-parse';

export interface LiveServer {
  status: string;
  sessions_current: number;
  sessions_total: number;
  bytes_in: number;
  bytes_out: number;
  connection_errors: number;
  response_errors: number;
}

/** `backend/server` -> HAProxy's status and counters; empty when HAProxy cannot be asked. */
export async function haproxyStats(agent: Agent): Promise<Map<string, LiveServer>> {
  const out = new Map<string, LiveServer>();
  if (!agent.client) return out;
  try {
    const [reply] = await agent.client.batch(['show stat -1 4 -1']);
    if (!reply.ok) return out;
    const n = (v: string | undefined) => Number(v ?? 0) || 0;
    for (const r of parseStat(reply.output)) {
      out.set(`${r.pxname}/${r.svname}`, {
        status: r.status,
        sessions_current: n(r.scur),
        sessions_total: n(r.stot),
        bytes_in: n(r.bin),
        bytes_out: n(r.bout),
        connection_errors: n(r.econ),
        response_errors: n(r.eresp),
      });
    }
  } catch {
    // HAProxy restarting: report no live data rather than fail the request.
  }
  return out;
}

