// Changing a server's state: the only call the page makes that needs the agent's token.
// The token is asked for once and kept in this tab (sessionStorage); a 401 forgets it and
// asks again, a 403 says the token's role may not do this.
import { $ } from './dom.js';

const TOKEN_KEY = 'proxymgr.token';

function askToken() {
  const dialog = $('token-dialog');
  const input = $('token-input');
  input.value = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      if (dialog.returnValue === 'ok' && input.value) {
        sessionStorage.setItem(TOKEN_KEY, input.value);
        updateTokenButton();
        resolve(input.value);
      } else resolve(null);
    }, { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    input.focus();
  });
}

function updateTokenButton() {
  $('token-button').textContent = sessionStorage.getItem(TOKEN_KEY) ? 'Change API token' : 'Set API token';
}

export function notice(text) {
  const n = $('notice');
  n.textContent = text;
  n.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => (n.hidden = true), 6000);
}

/** POSTs the operator's state for a server; true once the agent took it. */
export async function setServerState(service, server, state) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const token = sessionStorage.getItem(TOKEN_KEY) || (await askToken());
    if (!token) return false;
    let res;
    try {
      res = await fetch(`api/services/${encodeURIComponent(service)}/servers/${encodeURIComponent(server)}/state`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ state }),
      });
    } catch (err) {
      notice(`${server}: the request failed (${err.message})`);
      return false;
    }
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      updateTokenButton();
      notice('The agent refused the token; enter it again.');
      continue;
    }
    const body = await res.json().catch(() => ({}));
    if (res.status === 403) {
      notice(`This token's role may not change server states${body.error ? ` (${body.error})` : ''}; "Change API token" takes another.`);
      return false;
    }
    if (!res.ok) {
      notice(`${server}: ${body.error || res.statusText}`);
      return false;
    }
    notice(`${server} in ${service}: ${state}`);
    return true;
  }
  return false;
}

export function initToken() {
  $('token-button').addEventListener('click', () => askToken());
  updateTokenButton();
}
