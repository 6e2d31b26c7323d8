// proxymgr dashboard: plain DOM, no framework, no build step (ES modules served as is).
// Every URL is relative ('events', 'api/...'), so the page works behind a reverse proxy
// under a path prefix. Text goes in with textContent only: service names, messages and
// addresses come from outside and are never parsed as HTML.
import { $ } from './dom.js';
import { connect } from './stream.js';
import { COLUMNS, Overview } from './overview.js';
import { ServicePanel } from './service-panel.js';
import { addFeed, resetFeed } from './feed.js';
import { initToken, notice } from './actions.js';
import { readHash, writeHash } from './url-state.js';

const state = readHash();
const panels = new Map();
let stream = null;

const overview = new Overview(
  state,
  {
    open(name, data) {
      const panel = new ServicePanel(name, data, COLUMNS.length);
      const close = panel.close.bind(panel);
      panel.close = () => {
        close();
        panels.delete(name);
      };
      panels.set(name, panel);
      return panel;
    },
  },
  () => {
    writeHash(state);
    stream?.watch(overview.expanded());
  },
);

// The controls show what the URL asked for.
function showControls() {
  $('search').value = state.q;
  $('health-filter').value = state.health;
  $('source-filter').value = state.source;
}
showControls();

// Filters apply as they change; the form is never sent.
$('controls').addEventListener('submit', (e) => e.preventDefault());
$('search').addEventListener('input', (e) => overview.setFilter({ q: e.target.value.trim() }));
$('health-filter').addEventListener('change', (e) => overview.setFilter({ health: e.target.value }));
$('source-filter').addEventListener('change', (e) => overview.setFilter({ source: e.target.value }));
// A pasted link (only the hash changed) restores its view without a reload.
window.addEventListener('hashchange', () => {
  const next = readHash();
  Object.assign(state, { q: next.q, health: next.health, source: next.source });
  showControls();
  overview.filterAll();
  overview.setSort(next.sort, next.dir);
  for (const name of overview.expanded()) if (!next.open.includes(name)) overview.toggle(name);
  for (const name of next.open) if (!panels.has(name)) overview.toggle(name);
});

stream = connect({
  hello(d) {
    resetFeed(d.feed);
  },
  snapshot(d) {
    overview.snapshot(d);
    // A name in the URL the agent does not have stays in the URL until the user changes the view.
    stream?.watch(overview.expanded());
  },
  services: (d) => overview.services(d),
  stats: (d) => overview.stats(d),
  servers: (d) => panels.get(d.service)?.servers(d),
  'server-stats': (d) => panels.get(d.service)?.serverStats(d),
  tick() {
    for (const p of panels.values()) p.loadHistory();
  },
  log: addFeed,
  notice,
});

initToken();
