// End-to-end: the sign-in as one progressive form (the code step focused, with a way back; the
// token behind a link; missing fields named before anything is sent), Cancel during a sign-in,
// and "send the key later" honoured, the key then sent from what the device read back.
// Screenshots: target/e2e/screenshots/6x-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyRescue, DEMO, MFA, sharedFixtures } from './keyrescue.mjs';

const LONG = { timeout: 180_000 };
const fx = sharedFixtures();

async function focusOn(kr, id) {
  await kr.page
    .waitForFunction((i) => document.activeElement?.id === i, id, { timeout: 60_000 })
    .catch(async () => assert.fail(`the focus is on ${await kr.page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName)}, not #${id}`));
}

for (const [label, viewport] of [['1280', { width: 1280, height: 800 }], ['360', { width: 360, height: 740 }]]) test(`${label} px: sign-in: missing fields are named and focused before anything is sent; the code step is focused and has a way back; the token is behind a link`, LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: `60-progressive-sign-in-${label}`, api: fx.cloud.url, viewport });
  await kr.visible('signin');
  assert.equal(await kr.el('token-input').isVisible(), false, 'the token field is behind a link');
  assert.equal(await kr.el('otp').count(), 0, 'no code field before it is asked for');
  const before = kr.requests.filter((u) => u.includes('/oauth/')).length;
  await kr.el('signin-submit').click();
  await kr.visible('email-missing');
  await focusOn(kr, 'email');
  assert.equal(kr.requests.filter((u) => u.includes('/oauth/')).length, before, 'nothing was sent');
  await kr.el('email').fill(MFA.email);
  await kr.el('signin-submit').click();
  await kr.visible('password-missing');
  await focusOn(kr, 'password');
  await kr.shot('missing');
  await kr.el('password').fill(MFA.password);
  await kr.el('signin-submit').click();
  await kr.visible('otp');
  await focusOn(kr, 'otp');
  assert.equal(await kr.el('password').count(), 0, 'one step at a time');
  await kr.shot('code');
  await kr.el('otp-back').click();
  await focusOn(kr, 'email');
  await kr.signIn(MFA);
  await kr.enterOtp(MFA.otp);
  await kr.expectSignedIn(MFA.email);
  await focusOn(kr, 'open-step');
  assert.ok((await kr.horizontalOverflow()) <= 0, 'no sideways scrolling');
  await kr.shot('signed-in');
  await kr.expectClean({ cloud: fx.cloud.url, cloudStatuses: [400, 401, 403] });
  await kr.close();
});

test('Cancel during a sign-in stops it at once, and its late answer is dropped', LONG, async () => {
  let release;
  const held = new Promise((resolve) => (release = resolve));
  const kr = await KeyRescue.open(fx.browser, fx.server, {
    name: '61-cancel-sign-in',
    api: fx.cloud.url,
    contextOptions: {
      setup: (page) =>
        page.route('**/oauth/token', async (route) => {
          await held;
          await route.continue();
        }),
    },
  });
  await kr.waitForSimReady();
  await kr.signIn(DEMO);
  await kr.visible('signin-cancel');
  assert.ok(await kr.el('connect').isDisabled(), 'busy while signing in');
  await kr.el('signin-cancel').click();
  await kr.page.waitForFunction(() => document.querySelector('[data-testid="connect"]')?.disabled === false, null, { timeout: 15_000 });
  assert.equal(await kr.el('signin-cancel').count(), 0);
  assert.match(await kr.logText(), /Sign-in cancelled/);
  release();
  await kr.page.waitForTimeout(1000); // the late answer arrives; nothing may change
  assert.equal(await kr.el('signed-in').count(), 0, 'the cancelled sign-in did not sign in');
  await kr.shot('cancelled');
  await kr.close();
});

for (const [n, signedIn] of [[2, true], [3, false]]) {
  test(`send the key later (${signedIn ? 'signed in' : 'signed out, then signing in'}): the key is not sent at Repair, then sent from the key read back`, LONG, async () => {
    const kr = await KeyRescue.open(fx.browser, fx.server, { name: `6${n}-send-later-${signedIn ? 'signed-in' : 'signed-out'}`, api: fx.cloud.url });
    await kr.chooseFault('corrupt-key');
    if (signedIn) {
      await kr.signIn(DEMO);
      await kr.expectSignedIn(DEMO.email);
    } else {
      await kr.el('diagnose-only').click();
    }
    await kr.connect();
    await kr.waitForDiagnosis();
    await kr.waitForPlan();
    await kr.el('send-later').check();
    await kr.page.waitForFunction(() => !/send the device's public key/i.test(document.querySelector('[data-testid="plan"]')?.textContent ?? 'x'), null, { timeout: 15_000 });
    const plan = await kr.text('plan');
    assert.match(plan, /write a new device key/i);
    assert.doesNotMatch(plan, /send the device's public key/i, 'the key is not sent now');
    await kr.shot('plan');
    await kr.repair();
    await kr.waitForStep('Verify', 60_000);
    await kr.visible('verify-result', 60_000);
    assert.match(await kr.text('repair-result'), /not sent/i);
    if (signedIn) {
      await kr.visible('send-now', 60_000);
    } else {
      await kr.visible('send-now-sign-in', 60_000);
      assert.equal(await kr.el('send-now').count(), 0, 'no Send button that cannot work');
      await kr.shot('sign-in-to-send');
      await kr.signIn(DEMO);
      await kr.expectSignedIn(DEMO.email);
      await focusOn(kr, 'send-now');
    }
    await kr.shot('send-now');
    await kr.el('send-now').click();
    await kr.waitForOnline();
    await kr.shot('online');
    await kr.expectClean();
    await kr.close();
  });
}
