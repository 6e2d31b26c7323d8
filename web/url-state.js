// The overview's filter, sort and expanded services live in location.hash, so a link
// shows what its sender saw. replaceState keeps the back button for real navigation.

export const DEFAULTS = { q: '', health: 'all', source: 'all', sort: 'health', dir: 'asc' };

export function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  const state = { ...DEFAULTS, open: p.getAll('open') };
  for (const k of Object.keys(DEFAULTS)) if (p.has(k)) state[k] = p.get(k);
  if (state.dir !== 'asc' && state.dir !== 'desc') state.dir = DEFAULTS.dir;
  return state;
}

export function writeHash(state) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(DEFAULTS)) if (state[k] !== v) p.set(k, state[k]);
  for (const name of state.open) p.append('open', name);
  const hash = p.toString();
  const url = `${location.pathname}${location.search}${hash ? `#${hash}` : ''}`;
  if (url !== `${location.pathname}${location.search}${location.hash}`) history.replaceState(null, '', url);
}
