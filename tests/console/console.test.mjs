// The web console in a real browser: Debian's headless Chromium driven by playwright-core against
// the real gateway and switchyard-sim. Known traffic first, then every page must show it; the
// XSS-shaped key and model names must render as text; a viewer cannot change anything; a POST
// without the CSRF token is refused; the cookie is HttpOnly and SameSite=Strict; the CSP header is
// there and nothing on the page breaks it; no console errors. Screenshots of each page go to
// SWITCHYARD_SCREENSHOT_DIR (ctest: build/<preset>/console-screenshots). The Spend page draws
// `switchyard cost`'s comparison (an all-local option from the cost model of a local upstream with
// the XSS-shaped name, with its break-even); an admin lowers a key's limit on the Keys page and the next requests see it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  startGateway, CHROMIUM, chromiumArgs, consoleConfig, chat, MASTER, VIEWER, CALLER, XSS, XSS_KEY, UPSTREAM_SECRET,
} from './harness.mjs';

// A real llama-server on the tiny model, supervised as engine `llama-1` (scripts/test exports
// SWITCHYARD_LLAMA_SERVER and SWITCHYARD_TINY_MODEL; SWITCHYARD_SKIP_LLAMA=1 leaves the engine out).
const WITH_ENGINE = process.env.SWITCHYARD_SKIP_LLAMA !== '1';

test('the console shows the gateway in a browser, safely', { timeout: 90000 }, async (t) => {
  const gateway = await startGateway((simUrl, dir) => consoleConfig(simUrl, dir, { engine: WITH_ENGINE }));
  const shots = process.env.SWITCHYARD_SCREENSHOT_DIR || join(gateway.dir, 'shots');
  mkdirSync(shots, { recursive: true });
  let context = null;
  t.after(async () => {
    if (context) await context.close();
    await gateway.stop();
  });

  // Known traffic: 8 answered for `caller`, 2 for the XSS-named key on the XSS-named model, 2 on
  // the XSS-named local upstream.
  for (let i = 0; i < 8; i += 1) assert.equal(await chat(gateway.root, CALLER, 'm', `browser-req-${i}`), 200);
  for (let i = 0; i < 2; i += 1) {
    assert.equal(await chat(gateway.root, XSS_KEY, XSS, `browser-xss-${i}`, `${XSS} mail jane.doe@example.com`), 200);
  }
  for (let i = 0; i < 2; i += 1) assert.equal(await chat(gateway.root, CALLER, 'lm', `browser-local-${i}`), 200);

  context = await chromium.launchPersistentContext(join(gateway.dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: chromiumArgs(gateway.dir).filter((a) => !a.startsWith('--user-data-dir')),
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] || await context.newPage();
  const problems = [];
  // Refusals the test provokes on purpose show as failed loads in the console: counted out.
  const expected = { 401: 0, 403: 0 };
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const status = /status of (40[13])/.exec(message.text());
    if (status && expected[status[1]] > 0) { expected[status[1]] -= 1; return; }
    problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('dialog', async (dialog) => {
    if (dialog.type() === 'confirm') { await dialog.accept(); return; }
    problems.push(`dialog ${dialog.type()}: ${dialog.message()}`);
    await dialog.dismiss();
  });
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });

  // The page and its headers.
  const first = await page.goto(`${gateway.root}/ui/`);
  const headers = first.headers();
  assert.match(headers['content-security-policy'], /default-src 'self'/);
  assert.match(headers['content-security-policy'], /frame-ancestors 'none'/);
  assert.equal(headers['x-content-type-options'], 'nosniff');
  await page.locator('#sign-in').waitFor();

  // A wrong key is refused on the page.
  expected[401] = 1;
  await page.fill('#key', 'sk-wrong-key-0000000001');
  await page.click('#sign-in button[type=submit]');
  await page.locator('#sign-in-error', { hasText: 'not the master key' }).waitFor();

  // The viewer signs in: an HttpOnly, SameSite=Strict session cookie the page cannot read.
  await page.fill('#key', VIEWER);
  await page.click('#sign-in button[type=submit]');
  await page.locator('#who', { hasText: 'viewer · viewer' }).waitFor();
  const cookies = await context.cookies(`${gateway.root}/ui/`);
  const session = cookies.find((c) => c.name === 'switchyard_session');
  assert.ok(session, JSON.stringify(cookies));
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(session.path, '/ui/');
  assert.ok(session.expires > Date.now() / 1000, 'the cookie expires');
  assert.equal(await page.evaluate(() => document.cookie), '');

  // Overview: live numbers from the samples, charts drawn.
  await page.locator('#tile-total .tile-value', { hasText: /^12$/ }).waitFor({ timeout: 10000 });
  await page.locator('#charts svg path.line').first().waitFor();
  await page.screenshot({ path: join(shots, 'overview.png'), fullPage: true });

  // Models: both models, the XSS name as text.
  await page.click('nav a[href="#/models"]');
  await page.locator('h2.model-name', { hasText: XSS }).waitFor();
  await page.locator('#models td', { hasText: 'sim-m' }).first().waitFor();
  assert.equal(await page.locator('img').count(), 0, 'no element came out of a name');
  await page.screenshot({ path: join(shots, 'models.png'), fullPage: true });

  // Engines: the supervised llama-server, ready; a viewer gets no buttons.
  await page.click('nav a[href="#/engines"]');
  if (WITH_ENGINE) {
    await page.locator('#engines tr', { hasText: 'llama-1' }).locator('td', { hasText: /^ready$/ }).waitFor({ timeout: 30000 });
    assert.equal(await page.locator('button[data-engine]').count(), 0, 'no engine buttons for a viewer');
  } else {
    await page.locator('#engines', { hasText: 'no engines' }).waitFor();
  }
  await page.screenshot({ path: join(shots, 'engines.png'), fullPage: true });

  // Keys, as the viewer: the list (XSS name as text), no create form.
  await page.click('nav a[href="#/keys"]');
  await page.locator('#keys td', { hasText: XSS }).waitFor();
  assert.equal(await page.locator('#new-key').count(), 0);
  assert.equal(await page.locator('button[data-edit-key]').count(), 0, 'no edit buttons for a viewer');
  assert.equal(await page.locator('img').count(), 0);

  // The viewer cannot change anything even by hand, and no POST passes without the CSRF token.
  expected[403] = 2;
  const tries = await page.evaluate(async () => {
    const { csrf } = await (await fetch('api/session')).json();
    const body = JSON.stringify({ name: 'viewer-made' });
    const headers = { 'content-type': 'application/json' };
    const withToken = await fetch('api/keys', { method: 'POST', headers: { ...headers, 'x-csrf-token': csrf }, body });
    const withoutToken = await fetch('api/keys', { method: 'POST', headers, body });
    return [withToken.status, (await withToken.json()).error.code, withoutToken.status, (await withoutToken.json()).error.code];
  });
  assert.deepEqual(tries, [403, 'console_read_only', 403, 'csrf_token_invalid']);

  // Requests: the ledger's rows, filtered; one request's detail.
  await page.click('nav a[href="#/requests"]');
  await page.locator('#requests td', { hasText: 'browser-req-0' }).waitFor({ timeout: 10000 });
  await page.fill('#filter-key', XSS);
  await page.click('#filters button[type=submit]');
  await page.locator('#requests td', { hasText: 'browser-xss-1' }).waitFor();
  assert.equal(await page.locator('#requests td', { hasText: 'browser-req-0' }).count(), 0);
  await page.locator('#requests tr.clickable').first().click();
  await page.locator('#request-detail', { hasText: 'browser-xss-' }).waitFor();
  // The access log keeps content: the prompt shows as it logged it, redacted, the markup as text.
  assert.equal(await page.locator('#request-prompt').textContent(), `user: ${XSS} mail [REDACTED:email]`);
  assert.ok((await page.locator('#request-completion').textContent()).length > 0);
  assert.equal(await page.locator('img').count(), 0);
  await page.screenshot({ path: join(shots, 'requests.png'), fullPage: true });

  // Spend: by key, the XSS name as text.
  await page.click('nav a[href="#/spend"]');
  await page.locator('#spend td', { hasText: 'caller' }).first().waitFor();
  await page.locator('#spend td', { hasText: XSS }).first().waitFor();
  // `switchyard cost`'s comparison as pictures: a bar per option, a cost line per option against
  // monthly tokens, the all-local option's break-even and the period's volume marked.
  const bars = page.locator('#cost-options svg');
  await bars.locator('rect.bar').nth(2).waitFor({ timeout: 15000 });
  const barText = await bars.textContent();
  for (const option of ['all cloud (gpt-4o-mini)', `all local (${XSS})`, 'hybrid']) assert.ok(barText.includes(option), `${option} in ${barText}`);
  const curves = page.locator('#cost-curves svg');
  const drawn = await curves.locator('path.line').evaluateAll((paths) => paths.map((p) => [p.getAttribute('data-option'), p.getAttribute('d').split('L').length]));
  assert.ok(drawn.some(([name, n]) => name === `all local (${XSS})` && n > 100), JSON.stringify(drawn));
  assert.ok(drawn.some(([name]) => name === 'all cloud (gpt-4o-mini)'), JSON.stringify(drawn));
  assert.ok(await curves.locator('circle[data-mark="break-even"]').count() >= 1, 'a break-even is marked');
  assert.equal(await curves.locator('circle[data-mark="volume"]').count(), 1, 'the period\'s volume is marked');
  await curves.locator('text', { hasText: `/month: all local (${XSS})` }).waitFor();
  const api = await page.evaluate(async () => (await fetch('api/cost?hours=24')).json());
  const owned = api.curves.lines.find((l) => l.kind === 'owned');
  assert.ok(owned && owned.break_even_tokens_per_month > 0, JSON.stringify(api.curves.lines.map((l) => l.name)));
  await page.locator('#cost td', { hasText: `all local (${XSS})` }).first().waitFor();
  assert.equal(await page.locator('img').count(), 0);
  await page.screenshot({ path: join(shots, 'spend.png'), fullPage: true });

  // Config: secrets masked.
  await page.click('nav a[href="#/config"]');
  await page.locator('#config-text', { hasText: '********' }).waitFor();
  const configText = await page.locator('#config-text').textContent();
  assert.ok(!configText.includes(UPSTREAM_SECRET) && !configText.includes(VIEWER) && !configText.includes(MASTER));
  assert.equal(await page.locator('#reload').count(), 0, 'no reload for a viewer');

  // Sign out; sign in with the master key: an admin creates and revokes a key.
  await page.click('#sign-out');
  await page.locator('#sign-in').waitFor();
  await page.fill('#key', MASTER);
  await page.click('#sign-in button[type=submit]');
  await page.locator('#who', { hasText: 'master key · admin' }).waitFor();
  await page.click('nav a[href="#/keys"]');
  await page.fill('#new-key-name', 'made-in-browser');
  await page.selectOption('#new-key-role', 'viewer');
  await page.click('#new-key button[type=submit]');
  const secret = await page.locator('#new-key-secret').textContent();
  assert.match(secret, /^sk-sy-[0-9a-f]{40}$/);
  await page.locator('#keys td', { hasText: 'made-in-browser' }).waitFor();
  await page.screenshot({ path: join(shots, 'keys.png'), fullPage: true });
  // The new key works against the model API, and its secret is in no list.
  assert.equal(await chat(gateway.root, secret, 'm', 'browser-new-key'), 200);
  assert.ok(!(await page.locator('#keys').textContent()).includes(secret));
  // Keys of the config file have no edit button; the new one does: its rate lowered to 1 a
  // minute, the next request passes and the one after is refused.
  assert.equal(await page.locator('button[data-edit-key="caller"]').count(), 0);
  await page.locator('button[data-edit-key="made-in-browser"]').click();
  await page.fill('#edit-key-rpm', '1');
  await page.screenshot({ path: join(shots, 'keys-edit.png'), fullPage: true });
  await page.click('#edit-key button[type=submit]');
  await page.locator('#edit-key').waitFor({ state: 'detached' });
  await page.locator('#keys tr', { hasText: 'made-in-browser' }).locator('td', { hasText: /^1 \/ –$/ }).waitFor();
  assert.equal(await chat(gateway.root, secret, 'm', 'browser-edited-key-1'), 200);
  assert.equal(await chat(gateway.root, secret, 'm', 'browser-edited-key-2'), 429);
  await page.locator('button.danger[data-key="made-in-browser"]').click();
  await page.locator('#keys td', { hasText: 'made-in-browser' }).waitFor({ state: 'detached' });
  assert.equal(await chat(gateway.root, secret, 'm', 'browser-revoked-key'), 401);

  // Engines, as the admin: restart llama-1 (a new process, ready again), stop it (requests for
  // its model are refused with engine_stopped, not started again), start it.
  if (WITH_ENGINE) {
    const engine = async () => page.evaluate(async () => (await (await fetch('api/engines')).json()).data.find((e) => e.name === 'llama-1'));
    const row = page.locator('#engines tr', { hasText: 'llama-1' });
    const ready = async () => row.locator('td', { hasText: /^ready$/ }).waitFor({ timeout: 30000 });
    await page.click('nav a[href="#/engines"]');
    await ready();
    const before = await engine();
    await page.locator('button[data-engine="llama-1"][data-action="restart"]').click();
    await page.waitForFunction(async (pid) => {
      const e = (await (await fetch('api/engines')).json()).data.find((x) => x.name === 'llama-1');
      return e.state === 'ready' && e.pid > 0 && e.pid !== pid;
    }, before.pid, { timeout: 30000, polling: 200 });
    await ready();
    const restarted = await engine();
    assert.equal(restarted.restarts, before.restarts + 1);
    assert.equal(await chat(gateway.root, CALLER, 'local-m', 'browser-engine-after-restart'), 200);
    await page.screenshot({ path: join(shots, 'engines-admin.png'), fullPage: true });

    await page.locator('button[data-engine="llama-1"][data-action="stop"]').click();
    await row.locator('td', { hasText: /^stopped$/ }).waitFor({ timeout: 30000 });
    await page.locator('button[data-engine="llama-1"][data-action="start"]').waitFor();
    const refused = await fetch(`${gateway.root}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'local-m', messages: [{ role: 'user', content: 'hello' }], max_tokens: 4 }),
    });
    assert.equal(refused.status, 503);
    assert.equal((await refused.json()).error.code, 'engine_stopped');
    assert.equal((await engine()).state, 'stopped', 'a request does not start a stopped engine');

    await page.locator('button[data-engine="llama-1"][data-action="start"]').click();
    await ready();
    assert.equal(await chat(gateway.root, CALLER, 'local-m', 'browser-engine-after-start'), 200);
  }

  // Config reload by the admin: the same file again, applied as generation 2.
  await page.click('nav a[href="#/config"]');
  await page.click('#reload');
  await page.locator('#reload-result', { hasText: 'generation 2' }).waitFor();
  await page.locator('#generation', { hasText: 'generation 2' }).waitFor();
  await page.screenshot({ path: join(shots, 'config.png'), fullPage: true });
  // The dark theme follows the system's preference.
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.click('nav a[href="#/overview"]');
  await page.locator('#charts svg path.line').first().waitFor();
  await page.screenshot({ path: join(shots, 'overview-dark.png'), fullPage: true });

  const violations = await page.evaluate(() => window.__violations);
  assert.deepEqual(violations, [], 'no Content-Security-Policy violation');
  assert.deepEqual(problems, [], 'no console errors, page errors or dialogs');
});
