// Small DOM helpers shared by the page's modules. Text only ever goes in through
// textContent (names, messages and addresses come from outside the agent).

export const $ = (id) => document.getElementById(id);

/** An element with attributes (`text` sets textContent, `on*` adds a listener) and children. */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  node.append(...children);
  return node;
}

export function svg(tag, attrs = {}) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/** Sets a node's text only when it differs: most stats events leave most cells as they are. */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

export const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : '');

/** HH:MM in the browser's time zone, for chart ticks. */
export function hhmm(ms) {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

export function ago(iso, now = Date.now()) {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** Numbers for people: integers as is, small rates with one decimal. */
export function num(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (Number.isInteger(v) || Math.abs(v) >= 100) return String(Math.round(v));
  return v.toFixed(1);
}

export const capital = (s) => s[0].toUpperCase() + s.slice(1);
