// The web console in Firefox ESR (Debian's firefox-esr, driven by puppeteer-core over WebDriver
// BiDi; no browser downloaded): the pages a person reads, after known traffic, must show what the
// backend holds; the XSS-shaped names render as text; the session cookie is HttpOnly and
// SameSite=Strict; an admin creates and revokes a key, and reloads the config (a broken file's
// validation error shown, then the mended one applied); nothing breaks the Content-Security-Policy
// and nothing is logged as an error. The Chromium test (console.test.mjs) goes further (engines,
// request detail, key edits, reload, the dark theme); this one is what must hold in a second
// engine. Screenshots go to SWITCHYARD_SCREENSHOT_DIR/firefox.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { startGateway, consoleConfig, chat, MASTER, VIEWER, CALLER, XSS, XSS_KEY, UPSTREAM_SECRET } from './harness.mjs';

const FIREFOX = process.env.SWITCHYARD_FIREFOX || '/usr/bin/firefox-esr';

test('the console works in Firefox ESR', { timeout: 90000 }, async (t) => {
  const gateway = await startGateway((simUrl, dir) => consoleConfig(simUrl, dir));
  const shots = join(process.env.SWITCHYARD_SCREENSHOT_DIR || join(gateway.dir, 'shots'), 'firefox');
  mkdirSync(shots, { recursive: true });
  let browser = null;
  t.after(async () => {
    if (browser) await browser.close();
    await gateway.stop();
  });

  // Known traffic: 3 answered for `caller`, 1 for the XSS-named key on the XSS-named model.
  for (let i = 0; i < 3; i += 1) assert.equal(await chat(gateway.root, CALLER, 'm', `firefox-req-${i}`), 200);
  assert.equal(await chat(gateway.root, XSS_KEY, XSS, 'firefox-xss-0', XSS), 200);

  browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: join(gateway.dir, 'firefox-profile'),
    defaultViewport: { width: 1280, height: 900 },
  });
  const page = await browser.newPage();
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('dialog', async (dialog) => {
    if (dialog.type() === 'confirm') { await dialog.accept(); return; }  // revoking a key asks first
    problems.push(`dialog ${dialog.type()}: ${dialog.message()}`);
    await dialog.dismiss();
  });
  await page.evaluateOnNewDocument(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  // Waits for an element matching `selector` whose text contains `text` (or, given a RegExp's
  // source and flags, matches it).
  const waitText = (selector, text, timeout = 10000) => page.waitForFunction(
    (sel, wanted, flags) => [...document.querySelectorAll(sel)].some((e) => (
      flags === null ? e.textContent.includes(wanted) : new RegExp(wanted, flags).test(e.textContent))),
    { timeout, polling: 100 }, selector, text instanceof RegExp ? text.source : text,
    text instanceof RegExp ? text.flags : null);
  const count = (selector) => page.$$eval(selector, (all) => all.length);
  const signIn = async (key) => {
    await page.$eval('#key', (input) => { input.value = ''; });
    await page.type('#key', key);
    await page.click('#sign-in button[type=submit]');
  };

  const first = await page.goto(`${gateway.root}/ui/`);
  assert.match(first.headers()['content-security-policy'], /default-src 'self'/);
  await page.waitForSelector('#sign-in');

  // A wrong key is refused on the page; the viewer signs in.
  await signIn('sk-wrong-key-0000000001');
  await waitText('#sign-in-error', 'not the master key');
  await signIn(VIEWER);
  await waitText('#who', 'viewer · viewer');
  const session = (await page.cookies()).find((c) => c.name === 'switchyard_session');
  assert.ok(session, 'a session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie), '');

  // Overview: the four requests, a chart drawn.
  await waitText('#tile-total .tile-value', /^4$/);
  await page.waitForSelector('#charts svg path.line');
  await page.screenshot({ path: join(shots, 'overview.png'), fullPage: true });

  // Models, keys, requests and spend, each with what the backend holds; names as text.
  await page.click('nav a[href="#/models"]');
  await waitText('h2.model-name', XSS);
  await waitText('#models td', 'sim-m');
  await page.screenshot({ path: join(shots, 'models.png'), fullPage: true });
  await page.click('nav a[href="#/keys"]');
  await waitText('#keys td', XSS);
  assert.equal(await count('#new-key'), 0, 'no create form for a viewer');
  await page.click('nav a[href="#/requests"]');
  await waitText('#requests td', 'firefox-req-0');
  await waitText('#requests td', 'firefox-xss-0');
  await page.screenshot({ path: join(shots, 'requests.png'), fullPage: true });
  await page.click('nav a[href="#/spend"]');
  await waitText('#spend td', 'caller');
  await waitText('#spend td', XSS);
  await page.waitForSelector('#cost-options svg rect.bar', { timeout: 15000 });
  await page.screenshot({ path: join(shots, 'spend.png'), fullPage: true });
  await page.click('nav a[href="#/config"]');
  await waitText('#config-text', '********');
  const configText = await page.$eval('#config-text', (e) => e.textContent);
  assert.ok(!configText.includes(UPSTREAM_SECRET) && !configText.includes(VIEWER) && !configText.includes(MASTER));
  assert.equal(await count('img'), 0, 'no element came out of a name');

  // The admin creates a key (its secret shown once), which works, then revokes it.
  await page.click('#sign-out');
  await page.waitForSelector('#sign-in');
  await signIn(MASTER);
  await waitText('#who', 'master key · admin');
  await page.click('nav a[href="#/keys"]');
  await page.waitForSelector('#new-key-name');
  await page.type('#new-key-name', 'made-in-firefox');
  await page.click('#new-key button[type=submit]');
  await waitText('#new-key-secret', 'sk-sy-');
  const secret = await page.$eval('#new-key-secret', (e) => e.textContent);
  assert.match(secret, /^sk-sy-[0-9a-f]{40}$/);
  await waitText('#keys td', 'made-in-firefox');
  await page.screenshot({ path: join(shots, 'keys.png'), fullPage: true });
  assert.equal(await chat(gateway.root, secret, 'm', 'firefox-new-key'), 200);
  await page.click('button.danger[data-key="made-in-firefox"]');
  await page.waitForFunction(() => ![...document.querySelectorAll('#keys td')].some((e) => e.textContent === 'made-in-firefox'),
    { timeout: 10000, polling: 100 });
  assert.equal(await chat(gateway.root, secret, 'm', 'firefox-revoked-key'), 401);

  // A reload of a config file with an error shows the validation error and keeps generation 1;
  // the file mended, the reload applies it as generation 2.
  const configPath = join(gateway.dir, 'gateway.yaml');
  const good = readFileSync(configPath, 'utf8');
  writeFileSync(configPath, `${good.trimEnd()}\n  - name: broken\n    deployments: [{upstream: no-such-upstream}]\n`);
  await page.click('nav a[href="#/config"]');
  await page.waitForSelector('#reload');
  await page.click('#reload');
  await waitText('#reload-result .error', 'no-such-upstream');
  await waitText('#generation', 'generation 1');
  await page.screenshot({ path: join(shots, 'config-error.png'), fullPage: true });
  writeFileSync(configPath, good);
  await page.click('#reload');
  await waitText('#reload-result', 'generation 2');

  assert.deepEqual(await page.evaluate(() => window.__violations), [], 'no Content-Security-Policy violation');
  assert.deepEqual(problems, [], 'no console errors, page errors or dialogs');
});
