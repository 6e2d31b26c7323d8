import { connect } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { AgentFixture, startWithEnv } from './agent';

// The HTTP API's services calls (/api/services) as a deploy pipeline makes them, for every service-config source.

export const ADMIN = 'services-admin-token-0123456789';
export const READ = 'services-read-token-0123456789';

/** Whether something accepts connections on host:port (a service port on one agent's bind address). */
export function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** One API call with a bearer token; the reply's status, ETag and JSON body. */
export async function call(port: number, method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, etag: res.headers.get('etag'), json: (await res.json()) as Record<string, unknown> };
}

/** proxymgr.yml's `api` block: an admin token (deploy) and a read one (dashboard), from the environment. */
export const apiYaml = (apiPort: number) =>
  [
    'api:',
    `  listen: "127.0.0.1:${apiPort}"`,
    '  tokens:',
    '    - {name: deploy, token_env: PM_SVC_ADMIN, role: admin}',
    '    - {name: dashboard, token_env: PM_SVC_READ, role: read}',
  ].join('\n');

/** Starts the agent with the tokens in its environment (set for its start only) and waits for the API. */
export function startWithTokens(agent: AgentFixture): Promise<void> {
  return startWithEnv(agent, { PM_SVC_ADMIN: ADMIN, PM_SVC_READ: READ });
}

/**
 * Two agents on one service config, their APIs on `apiA` and `apiB`, started with the tokens.
 * The second serves on 127.0.0.2, so both can open the same service port. Each is pushed on
 * `agents` before it starts, so that the caller's cleanup stops it whatever happens.
 */
export async function startTwoAgents(serviceConfig: Record<string, string>, apiA: number, apiB: number, agents: AgentFixture[]): Promise<[AgentFixture, AgentFixture]> {
  const a = new AgentFixture({ serviceConfig, extraYaml: apiYaml(apiA) });
  const b = new AgentFixture({ serviceConfig, extraYaml: apiYaml(apiB) });
  writeFileSync(b.configFile, readFileSync(b.configFile, 'utf8').replace('haproxy:\n', 'haproxy:\n  bind_address: 127.0.0.2\n'));
  agents.push(a, b);
  await startWithTokens(a);
  await startWithTokens(b);
  return [a, b];
}
