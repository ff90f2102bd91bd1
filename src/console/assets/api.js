// The console's calls to its API (<console path>api/...): same-origin, the session cookie sent by
// the browser, the CSRF token added to every change.
let csrf = '';

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function setCsrf(token) { csrf = token || ''; }

// Calls not yet answered: signing out waits for them, so none comes back refused afterwards.
const pending = new Set();
export function settled() { return Promise.allSettled([...pending]); }

export function call(method, path, body) {
  const promise = send(method, path, body);
  pending.add(promise);
  promise.then(() => pending.delete(promise), () => pending.delete(promise));
  return promise;
}

async function send(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`api/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.message || `${response.status} ${response.statusText}`, error.code);
  }
  return data;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body === undefined ? {} : body);
export const patch = (path, body) => call('PATCH', path, body);
export const del = (path) => call('DELETE', path);
