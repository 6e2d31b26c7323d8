/**
 * One word of haproxy.cfg that HAProxy's line parser reads back as exactly `text`.
 *
 * Plain words go out bare, for readable configs. Anything else is single-quoted: inside
 * single quotes HAProxy 2.6 applies no backslash escapes, expands no `$VAR` and keeps
 * spaces and `#`; a `'` is written `\'` between quoted runs (HAProxy joins adjacent runs
 * into one word). `text` must be non-empty and hold no control characters: callers'
 * schemas make sure of both (an empty word is a missing argument to HAProxy, and a
 * newline would end the line).
 */
export function configWord(text: string): string {
  if (/^[A-Za-z0-9_./:@+=,~-]+$/.test(text)) return text;
  return text
    .split("'")
    .map((run) => (run ? `'${run}'` : ''))
    .join("\\'");
}

/** `text` as a log-format string that renders literally: `%` starts a tag there, `%%` is one `%`. */
export function literalLogFormat(text: string): string {
  return configWord(text.replace(/%/g, '%%'));
}
