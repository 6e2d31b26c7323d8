// The line above the overview: how many services, how many in each health, reloads, the
// agent's own problems; and the choices of the source filter, which grow as types appear.
import { $, h, setText } from './dom.js';

/** `rows`: the overview's rows ({data, hidden}). */
export function showSummary(rows, total, problems, reloads) {
  const counts = { ok: 0, degraded: 0, error: 0 };
  let shown = 0;
  for (const r of rows) {
    counts[r.data.health] = (counts[r.data.health] ?? 0) + 1;
    if (!r.hidden) shown++;
  }
  const p = problems.length;
  const agent = p ? `${p} agent problem${p > 1 ? 's' : ''}` : 'agent ok';
  setText($('summary'), `${total} services: ${counts.error} error, ${counts.degraded} degraded, ${counts.ok} ok · ${reloads} reload${reloads === 1 ? '' : 's'} · ${agent}`);
  setText($('shown'), shown === total ? `all ${total} shown` : `${shown} of ${total} shown`);
  $('no-match').hidden = shown > 0 || total === 0;
  for (const o of $('health-filter').options) setText(o, o.value === 'all' ? `all (${total})` : `${o.value} (${counts[o.value] ?? 0})`);
  const box = $('problems');
  const text = problems.join('\n');
  if (box.dataset.text !== text) {
    box.dataset.text = text;
    box.replaceChildren(...problems.map((x) => h('p', { text: `Agent: ${x}` })));
  }
}

/** A source type seen for the first time: an option of the source filter, in order. */
export function addSourceOption(source, selected) {
  const select = $('source-filter');
  const before = [...select.options].find((o) => o.value !== 'all' && o.value > source) ?? null;
  select.insertBefore(h('option', { value: source, text: source === 'none' ? '(none)' : source }), before);
  if (selected === source) select.value = source;
}
