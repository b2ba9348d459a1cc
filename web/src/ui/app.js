// What every page shares: the session. The server keeps the session in an HttpOnly
// cookie (set by POST /api/v1/auth/login), so same-origin fetches carry it; an answer of
// 401 means there is none (or it expired): go to the login page and come back.

/// fetch(), but a 401 sends the browser to the login form.
export async function api(url, options) {
  const r = await fetch(url, options);
  if (r.status === 401) {
    location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
    throw new Error('not logged in');
  }
  return r;
}

/// Resolves with the logged-in user; without a session, goes to the login form (and
/// never resolves).
export async function requireSession() {
  const r = await api('/api/v1/auth/me');
  return r.json();
}

/// Ends the session and shows the login form.
export async function logout() {
  await fetch('/api/v1/auth/logout', { method: 'POST' }).catch(() => {});
  location.assign('/login');
}

/// Wires the login form of /login.
export function loginForm(form, message) {
  form.addEventListener('submit', async event => {
    event.preventDefault();
    message.textContent = '';
    const body = JSON.stringify({
      username: form.username.value,
      password: form.password.value,
    });
    const r = await fetch('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body,
    });
    if (r.ok) {
      const next = new URLSearchParams(location.search).get('next');
      // Only a path of this site: never an absolute URL someone put in the link.
      location.assign(next && next.startsWith('/') && !next.startsWith('//') ? next : '/');
      return;
    }
    const answer = await r.json().catch(() => ({}));
    message.textContent = r.status === 429
      ? `Too many failed logins; retry in ${r.headers.get('Retry-After') || 'a few'} s.`
      : (answer.message || `Login failed (${r.status}).`);
    form.password.value = '';
    form.password.focus();
  });
}

const form = document.getElementById('login');
if (form) loginForm(form, document.getElementById('message'));
const out = document.getElementById('logout');
if (out) out.addEventListener('click', logout);
