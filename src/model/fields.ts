import { z } from 'zod';
import { canonicalHost, isValidHost, parseServerSpec, MAX_WEIGHT, type Server } from './server';
import { isUnixAddress, unixAddressProblem } from './unix-socket';

/**
 * A string that ends up on a line of haproxy.cfg. A newline (or any control
 * character) would let a service blob inject its own config lines, so none pass.
 * C1 controls and the Unicode line separators go too: HAProxy echoes them in its
 * alerts, which then no longer read as one line (found by the fuzz test).
 */
const CONTROL = '\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029';
const hasControl = new RegExp(`[${CONTROL}]`);

export const configText = z
  .string()
  .max(4096, 'must be at most 4096 characters')
  .regex(new RegExp(`^[^${CONTROL}]*$`), 'must not contain control characters (newline, tab, NUL, ...)');

export const port = z.int('must be an integer').min(1, 'must be 1..65535').max(65535, 'must be 1..65535');

export const weight = z.int('must be an integer').min(0, `must be 0..${MAX_WEIGHT}`).max(MAX_WEIGHT, `must be 0..${MAX_WEIGHT}`);

/** A DNS server as `IP[:port]` (`[v6]:port` for IPv6), the form c-ares' setServers takes. */
export const nameserver = z.string().regex(/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\])(:\d{1,5})?$/, 'must be IP[:port] ([v6]:port for IPv6)');

export const host = z.string().refine(isValidHost, 'must be an IP address or a hostname').transform(canonicalHost);

const serverObject = z.strictObject({ address: host, port, weight: weight.optional(), backup: z.boolean().optional() });

/** `unix:/absolute/path` (see unix-socket.ts). */
export const unixAddress = z.string().superRefine((a, ctx) => {
  const problem = unixAddressProblem(a);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** A socket has no port: the key is refused rather than ignored, so a mistaken shape is seen. */
const unixServerObject = z.strictObject({
  address: unixAddress,
  port: z.never('a unix socket server takes no port').optional(),
  weight: weight.optional(),
  backup: z.boolean().optional(),
});

/**
 * A server as `"host:port"`, `"unix:/path"`, `{"address","port","weight"}` or
 * `{"address": "unix:/path", "weight"}`. Dispatched by hand
 * rather than with z.union so the error says what is wrong, not "Invalid input".
 */
export const serverEntry = z.unknown().transform((value, ctx): Server => {
  if (typeof value === 'string') {
    // parseServerSpec splits on any whitespace; a newline or tab in one entry is a mistake, not a separator.
    if (hasControl.test(value)) {
      ctx.addIssue({ code: 'custom', message: `must not contain control characters (newline, tab, NUL, ...): ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    const parsed = parseServerSpec(value);
    if (parsed.ok) return parsed.value;
    ctx.addIssue({ code: 'custom', message: parsed.error });
    return z.NEVER;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const address = (value as { address?: unknown }).address;
    // `unix@/path` and a bare path are meant as sockets too: told the one spelling, not "not a hostname".
    const unix = typeof address === 'string' && (isUnixAddress(address) || /^(unix@|\/)/i.test(address));
    const parsed = (unix ? unixServerObject : serverObject).safeParse(value, { reportInput: true });
    if (parsed.success) {
      // `backup: false` is the default: leave it out so equal servers compare equal.
      const { backup, ...rest } = parsed.data;
      const server: Server = { ...rest, port: rest.port ?? 0 };
      return backup ? { ...server, backup } : server;
    }
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issueMessage(issue), path: issue.path });
    return z.NEVER;
  }
  ctx.addIssue({ code: 'custom', message: 'must be "host:port", "unix:/path", {"address", "port", "weight"} or {"address": "unix:/path", "weight"}' });
  return z.NEVER;
});

/**
 * Parse options for a schema whose issues go to `formatIssues`: zod keeps each issue's
 * input only when asked, and a missing key is told apart by its input (undefined).
 */
export const PARSE_OPTIONS = { reportInput: true } as const;

/** `a.b[2].c: message` lines for the issues zod found, most useful first. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const where = issue.path.length ? formatPath(issue.path) : '(top level)';
    return printable(`${where}: ${issueMessage(issue)}`);
  });
}

/**
 * zod 4 reports a missing key as `invalid_type` with input undefined, under the
 * field's own message ("must be an integer"): it says "required" instead. Issues
 * parsed without `reportInput` carry no input and keep their message.
 */
function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && 'input' in issue && issue.input === undefined) return 'required';
  return issue.message;
}

/** Errors quote what they got (an unknown key, a bad value): control characters in it are escaped, so a terminal or a log reader sees them, not their effect. */
function printable(text: string): string {
  return text.replace(new RegExp(`[${CONTROL}]`, 'g'), (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}
