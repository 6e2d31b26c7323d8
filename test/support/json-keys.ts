/**
 * Duplicate keys in a JSON text. JSON.parse keeps the last of two equal keys without a
 * word (and a reviver only ever sees the survivor), so this scans the text itself: a
 * small tokenizer that keeps the keys of each open object. Keys compare after decoding
 * escapes (`"a"` and `"\u0061"` are the same key). Returns one `path.key` per duplicate,
 * e.g. `service` or `changes.web.added`; empty for a text without any. The text must
 * already be valid JSON (call JSON.parse first); this does not validate it.
 */
export function duplicateKeys(text: string): string[] {
  const found: string[] = [];
  // One frame per open object or array; an object frame keeps its keys and the key being read.
  const stack: Array<{ keys?: Set<string>; key?: string }> = [];
  const path = () =>
    stack
      .filter((f) => f.keys !== undefined && f.key !== undefined)
      .map((f) => f.key)
      .join('.');
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      // A string is a key when it is followed by ':' (whitespace aside).
      let k = j + 1;
      while (k < text.length && /\s/.test(text[k])) k++;
      if (top?.keys && text[k] === ':') {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) {
          top.key = key;
          found.push(path());
        }
        top.keys.add(key);
        top.key = key;
      }
      i = j + 1;
    } else if (c === '{') {
      stack.push({ keys: new Set() });
      i++;
    } else if (c === '[') {
      stack.push({});
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      i++;
    } else {
      i++;
    }
  }
  return found;
}
