// The decision feed: the agent's latest decisions (`log` events), newest first.
import { $, clock, h } from './dom.js';

const FEED_MAX = 100;
const LEVELS = { 30: 'info', 40: 'warn', 50: 'error', 60: 'error' };

function detail(e) {
  if (e.event === 'reload' || e.event === 'start') return `reason: ${e.reason}${e.ms !== undefined ? ` · ${e.ms} ms` : ''}`;
  if (e.event === 'plan' || e.event === 'drift_repaired') {
    const parts = (e.changes || []).map((c) =>
      [c.service, c.added && `+${c.added.join(' +')}`, c.removed && `-${c.removed.join(' -')}`, c.changed && `~${c.changed.length}`].filter(Boolean).join(' '),
    );
    return `${parts.join('; ')} · ${e.runtime_cmds} runtime command(s), no reload`;
  }
  if (e.error) return String(e.error);
  if (e.errors) return e.errors.join('; ');
  return '';
}

export function resetFeed(entries) {
  $('feed').replaceChildren();
  for (const e of entries) addFeed(e);
}

export function addFeed(e) {
  const li = h('li', { 'data-level': LEVELS[e.level] || 'info', 'data-event': e.event },
    h('time', { datetime: e.time, text: clock(e.time) }),
    h('span', { class: 'event', text: e.event }),
    h('span', { text: `${e.service ? `${e.service}: ` : ''}${e.msg}` }),
    h('span', { class: 'detail', text: detail(e) }),
  );
  const feed = $('feed');
  feed.prepend(li);
  while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
}
