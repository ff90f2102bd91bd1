// The console's shell: sign-in, the session, hash routes (#/overview, #/models, ...) and the page
// in view, which polls its data until another page replaces it.
import { h, clear } from './dom.js';
import { get, post, del, setCsrf, settled, ApiError } from './api.js';
import { pages } from './pages.js';

const view = document.getElementById('view');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signOut = document.getElementById('sign-out');

let session = null;
let current = null;  // {stop()} of the page in view

function stopPage() {
  if (current && current.stop) current.stop();
  current = null;
}

function showSignIn(message) {
  stopPage();
  session = null;
  setCsrf('');
  nav.hidden = true;
  signOut.hidden = true;
  who.textContent = '';
  const input = h('input', { type: 'password', name: 'key', id: 'key', autocomplete: 'off', required: true,
    placeholder: 'master key or a key with a console role' });
  const error = h('p', { class: 'error', id: 'sign-in-error', role: 'alert' }, message || '');
  const form = h('form', { class: 'sign-in', id: 'sign-in' },
    h('h1', null, 'Sign in'),
    h('label', { for: 'key' }, 'API key'),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
    error,
    h('p', { class: 'hint' }, 'The master key (auth.master_key) or a key with role: viewer or role: admin.'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const opened = await post('session', { key: input.value });
      input.value = '';
      start(opened);
    } catch (e) {
      error.textContent = e.message;
    }
  });
  clear(view).append(form);
  input.focus();
}

function start(opened) {
  session = opened;
  setCsrf(opened.csrf);
  document.body.dataset.role = opened.role;
  nav.hidden = false;
  signOut.hidden = false;
  who.textContent = `${opened.key === null ? 'master key' : opened.key} · ${opened.role}`;
  if (!location.hash || location.hash === '#/' || location.hash === '#') location.hash = '#/overview';
  else route();
}

function route() {
  if (!session) return;
  stopPage();
  const name = (location.hash.replace(/^#\/?/, '').split('/')[0]) || 'overview';
  const page = pages[name] || pages.overview;
  for (const link of nav.querySelectorAll('a')) {
    link.classList.toggle('active', link.getAttribute('href') === `#/${name}`);
  }
  const root = h('section', { class: `page page-${name}`, id: `page-${name}` });
  clear(view).append(root);
  current = page(root, {
    session,
    // Any call the page makes that finds the session gone brings the sign-in back.
    failed(e) {
      if (e instanceof ApiError && e.status === 401) showSignIn('Your session ended; sign in again.');
    },
  });
}

signOut.addEventListener('click', async () => {
  stopPage();
  await settled();  // the page's last polls answered while the session still holds
  try { await del('session'); } catch { /* signed out either way */ }
  showSignIn('Signed out.');
});

window.addEventListener('hashchange', route);

(async () => {
  try {
    const opened = await get('session');
    if (opened.role) start(opened);
    else showSignIn('');
  } catch {
    showSignIn('');
  }
})();
