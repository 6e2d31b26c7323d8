import { execFile } from 'node:child_process';
import { unlink } from 'node:fs/promises';
import { sectionAtLine } from '../render/render';
import { siblingTempPath, writeAndSync } from '../util/atomic-write';

export interface ConfigProblem {
  /** The service (proxy section) the message points at, when it points at one. */
  service?: string;
  message: string;
}

export interface CheckResult {
  ok: boolean;
  /** [ALERT] lines when not ok; [WARNING] lines either way. */
  problems: ConfigProblem[];
  warnings: ConfigProblem[];
  output: string;
}

/** Runs `haproxy -c -f FILE` and pins each alert and warning on the service it names. */
export function checkConfig(binary: string, file: string, text: string, timeoutMs = 30_000): Promise<CheckResult> {
  return new Promise((resolve) => {
    execFile(binary, ['-c', '-f', file], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      const { alerts, warnings } = attributeMessages(output, file, text);
      if (err && alerts.length === 0) {
        // Failed without a specific alert: report the raw output, attributed to nobody.
        const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `HAProxy binary not found: ${binary}` : output.trim() || err.message;
        alerts.push({ message: why });
      }
      resolve({ ok: !err, problems: alerts, warnings, output });
    });
  });
}

/** `haproxy -c` on a text that is not written anywhere yet: a temporary file beside `near`, removed afterwards. */
export async function checkConfigText(binary: string, near: string, text: string, tag = 'check'): Promise<CheckResult> {
  const file = siblingTempPath(near, tag);
  try {
    await writeAndSync(file, text);
    return await checkConfig(binary, file, text);
  } finally {
    await unlink(file).catch(() => undefined);
  }
}

// Closing lines that repeat what the specific messages said; they point at no service.
// "too many fatal errors (50), stopping now" carries the line HAProxy stopped at, which
// belongs to whatever section comes next (often a sound one): pinning it there would set
// a good service aside. The 50 alerts before it name the culprits; once those are set
// aside, the next check reads on.
const SUMMARY = /Error\(s\) found in configuration file|Fatal errors found in configuration|Configuration file is valid|Some protocols failed to start their listeners|too many fatal errors \(\d+\), stopping now/;

/** Splits HAProxy output into alerts and warnings, each with the service it refers to if any. */
export function attributeMessages(output: string, file: string, text: string): { alerts: ConfigProblem[]; warnings: ConfigProblem[] } {
  const alerts: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  for (const line of output.split('\n')) {
    const m = /^\[(ALERT|WARNING|NOTICE)\]\s*(?:\(\d+\)\s*)?:\s*(.*)$/s.exec(line.trim());
    if (!m || m[1] === 'NOTICE') continue;
    const message = m[2];
    if (SUMMARY.test(message)) continue;
    const problem: ConfigProblem = { message, service: serviceOf(message, file, text) };
    (m[1] === 'ALERT' ? alerts : warnings).push(problem);
  }
  return { alerts, warnings };
}

function serviceOf(message: string, file: string, text: string): string | undefined {
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const at = new RegExp(`\\[${escaped}:(\\d+)\\]`).exec(message);
  if (at) {
    const section = sectionAtLine(text, Number(at[1]));
    if (section) return section;
  }
  const named = /\b(?:proxy|backend|frontend|listen)\s+'([^']+)'/i.exec(message) ?? /Starting (?:proxy|frontend|backend) ([^\s:]+):/i.exec(message);
  return named?.[1];
}
