// End-to-end: the page as a guided repair (issue 13): one primary action above the fold, one step
// open at a time with the focus on what needs the user next, a closed device chooser at each step
// keeping what the page found, and the simulation left with one click.
// Screenshots: target/e2e/screenshots/5x-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyRescue, DEMO, sharedFixtures } from './keyrescue.mjs';

const LONG = { timeout: 180_000 };
const fx = sharedFixtures();

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 360, height: 740 };

/** The id (or data-testid) of the focused element. */
const focusedId = (kr) => kr.page.evaluate(() => document.activeElement?.id || document.activeElement?.dataset?.testid || document.activeElement?.tagName);

/**
 * The next requestDevice rejects as when the user closes Chrome's chooser. Patched on the stand-in's
 * class, since a simulated replug (Reconnect) installs a new stand-in.
 */
const closeNextChooser = (kr) =>
  kr.page.evaluate(() => {
    const proto = Object.getPrototypeOf(navigator.usb);
    const own = proto.requestDevice;
    proto.requestDevice = function () {
      proto.requestDevice = own;
      return Promise.reject(new DOMException('No device selected.', 'NotFoundError'));
    };
  });

/** Waits until the element with `id` has the focus. */
async function focusOn(kr, id) {
  await kr.page
    .waitForFunction((i) => document.activeElement?.id === i, id, { timeout: 60_000 })
    .catch(async () => assert.fail(`the focus is on ${await focusedId(kr)}, not #${id}`));
}

for (const [label, viewport] of [['1280', DESKTOP], ['360', PHONE]]) {
  test(`${label} px: Connect device is the one primary action, above the fold`, LONG, async () => {
    for (const [name, sim] of [['plain', null], ['simulated', 'photon']]) {
      const kr = await KeyRescue.open(fx.browser, fx.server, { name: `50-above-fold-${label}-${name}`, sim, api: fx.cloud.url, viewport });
      const connect = await kr.visible('connect');
      const box = await connect.boundingBox();
      assert.ok(box.y + box.height <= viewport.height, `Connect ends at ${box.y + box.height} px, within ${viewport.height} px (${name})`);
      const primaries = await kr.page.locator('button.primary').evaluateAll((bs) => bs.filter((b) => b.checkVisibility()).map((b) => b.textContent.trim()));
      assert.deepEqual(primaries, ['Connect device'], `one primary action (${name})`);
      // The secondary choices and the help are there, the help folded.
      if (!sim) await kr.visible('try-simulated');
      assert.equal(await kr.el('led-decoder').evaluate((d) => d.open), false, 'the LED decoder is folded');
      assert.equal(await kr.el('dfu-howto').evaluate((d) => d.open), false, 'the DFU how-to is folded');
      assert.ok((await kr.horizontalOverflow()) <= 0, 'no sideways scrolling');
      await kr.shot('first-screen');
      await kr.expectClean();
      await kr.close();
    }
  });

  test(`${label} px: a browser without WebUSB is told what to use, in the primary action's place`, LONG, async () => {
    const kr = await KeyRescue.open(fx.browser, fx.server, {
      name: `51-no-webusb-${label}`,
      sim: null,
      viewport,
      contextOptions: { initScript: () => Object.defineProperty(Navigator.prototype, 'usb', { get: () => undefined, configurable: true }) },
    });
    const support = await kr.visible('browser-support');
    const box = await support.boundingBox();
    assert.ok(box.y + box.height <= viewport.height, 'the advice is above the fold');
    assert.equal(await kr.el('connect').count(), 0, 'no Connect button that cannot work');
    await kr.shot('no-webusb');
    await kr.expectClean();
    await kr.close();
  });

  test(`${label} px: one step open at a time, done steps folded to one line, Back and Continue, the focus on the open step`, LONG, async () => {
    const kr = await KeyRescue.open(fx.browser, fx.server, { name: `52-one-step-${label}`, api: fx.cloud.url, viewport });
    await kr.waitForSimReady();
    await kr.signIn(DEMO);
    await kr.expectSignedIn(DEMO.email);
    await kr.connect();
    await kr.waitForDiagnosis();
    await kr.waitForStep('Diagnose');
    await focusOn(kr, 'open-step');
    assert.equal(await kr.el('open-step').count(), 1, 'one open step');
    assert.match(await kr.text('open-step'), /^2\. Diagnose/);
    // Connect is done: one line with what it found, folded.
    const done = kr.page.locator('details.step');
    assert.equal(await done.count(), 1);
    assert.match(await done.locator('summary').textContent(), /Connect: Photon [0-9a-f]{24} in DFU mode/);
    assert.equal(await done.evaluate((d) => d.open), false);
    const marks = await kr.el('steps').locator('li').evaluateAll((ls) => ls.map((l) => l.className));
    assert.deepEqual(marks, ['done', 'current', 'upcoming', 'upcoming', 'upcoming', 'upcoming']);
    assert.equal(await kr.el('back').count(), 0, 'nothing to go back to from Diagnose');
    await kr.shot('diagnose');

    await kr.continue();
    await kr.waitForStep('Back up');
    await focusOn(kr, 'open-step');
    assert.match(await done.nth(1).locator('summary').textContent(), /Diagnose: no problem found/);
    await kr.el('back').click();
    await kr.waitForStep('Diagnose');
    await kr.continue();
    await kr.continue();
    await kr.waitForStep('Plan');
    await focusOn(kr, 'open-step');
    assert.equal(await kr.el('open-step').count(), 1);
    assert.match(await kr.page.locator('details.step').nth(2).locator('summary').textContent(), /Back up: \d+ files? held in this page/);
    assert.ok(await kr.el('repair').isEnabled());
    await kr.shot('plan');

    // While the page waits for the cloud it says how long it has waited and what the LED does.
    await kr.page.evaluate(() => {
      window.__waits = [];
      new MutationObserver(() => {
        const m = document.body.innerText.match(/Waiting for the cloud: \d+ s of up to \d+ s\. [^\n]*LED[^\n]*/);
        if (m) window.__waits.push(m[0]);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await kr.repair();
    await kr.waitForOnline();
    await kr.waitForStep('Verify');
    await focusOn(kr, 'open-step');
    assert.ok((await kr.page.evaluate(() => window.__waits)).length > 0, 'the wait showed its elapsed time and the LED to expect');
    // The success screen: the device by name, a local time (not the cloud's ISO text), each slot.
    const success = await kr.text('verify-result');
    assert.match(success, /is online/);
    assert.ok((await kr.text('device-name')).trim(), 'the device is named');
    assert.doesNotMatch(success, /\d{4}-\d\d-\d\dT\d\d:/, 'no raw ISO time');
    const rows = await kr.el('slot-changes').locator('tbody tr').evaluateAll((rs) => rs.map((r) => r.textContent));
    assert.equal(rows.length, 4, 'each slot before → after');
    assert.match(rows[3], /Particle cloud.*holds the device's public key/);
    assert.equal(await kr.page.locator('.verdict-problem:visible').count(), 0, 'no old problem shown as current');
    const all = await kr.el('steps').locator('li').evaluateAll((ls) => ls.map((l) => l.className));
    assert.deepEqual(all, ['done', 'done', 'done', 'done', 'done', 'current']);
    assert.ok((await kr.horizontalOverflow()) <= 0, 'no sideways scrolling');
    await kr.shot('verified');
    await kr.expectClean();
    await kr.close();
  });
}

test('chooser closed at Connect, after a repair and during the cable-pulled recovery: a checklist with Try again, and the state kept', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '53-chooser-closed', api: fx.cloud.url });
  await kr.chooseFault('disconnect-during-write');
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);

  // 1. At Connect.
  await closeNextChooser(kr);
  await kr.connect();
  await kr.visible('no-device-checklist');
  await focusOn(kr, 'error');
  const list = await kr.text('no-device-checklist');
  for (const what of [/blinking yellow/i, /data cable/i, /another USB port/i, /Windows/, /Linux/, /other programs/i]) assert.match(list, what);
  assert.match(await kr.logText(), /No device was picked/);
  await kr.shot('connect-closed');
  await kr.el('try-again').click();
  await kr.waitForDiagnosis();
  assert.equal(await kr.el('error').count(), 0, 'the checklist is gone once a device is picked');
  await kr.waitForPlan();

  // 2. The cable is pulled during the write; the chooser is closed at Reconnect: the recovery stays.
  await kr.repair();
  await kr.waitForError();
  await kr.waitForStep('Repair');
  const repairNow = kr.page.getByRole('button', { name: 'Repair', exact: true });
  assert.equal(await repairNow.count(), 0, 'no Repair button while the device is disconnected');
  assert.equal(await kr.el('connect').isVisible(), false, 'Connect device is folded away');
  await kr.visible('recovery');
  await kr.shot('cable-pulled');
  await closeNextChooser(kr);
  await kr.el('reconnect').click();
  await kr.visible('no-device-checklist');
  await kr.waitForStep('Repair');
  await kr.visible('recovery');
  await kr.shot('reconnect-closed');
  await kr.el('try-again').click();
  await kr.visible('restore-backup', 60_000);
  await focusOn(kr, 'restore-backup');
  await kr.el('restore-backup').click();
  await kr.waitForText('slot-private-key', /blank/i, 60_000);
  await focusOn(kr, 'open-step');
  await kr.shot('restored');
  await kr.expectClean();
  await kr.close();
});

test('chooser closed after a repair (the device left DFU mode): the checklist shows in the Verify step', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '54-connect-after-repair', api: fx.cloud.url });
  await kr.waitForSimReady();
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  await kr.connect();
  await kr.waitForPlan();
  await kr.repair();
  await kr.waitForOnline();
  // The user opens the folded Connect step and presses Connect device: nothing is in DFU mode.
  await kr.page.locator('details.step').first().locator('summary').click();
  await closeNextChooser(kr);
  await kr.connect();
  await kr.visible('no-device-checklist');
  await kr.waitForStep('Verify');
  await kr.visible('verify-result');
  await kr.shot('checklist');
  await kr.expectClean();
  await kr.close();
});

test('the simulation is left with one click: the stand-in is gone and the banner with it', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '55-leave-simulation', sim: null });
  await kr.el('try-simulated').click();
  await kr.waitForSimReady();
  await kr.visible('test-cloud-banner');
  await kr.el('leave-simulation').click();
  await kr.visible('try-simulated');
  assert.equal(await kr.el('test-cloud-banner').count(), 0, 'no test-cloud banner for Particle\'s cloud');
  assert.equal(await kr.el('sim-fault').count(), 0);
  assert.equal(await kr.page.evaluate(() => Object.getOwnPropertyDescriptor(navigator, 'usb')), undefined, 'the stand-in is uninstalled');
  await focusOn(kr, 'connect');
  await kr.shot('left');
  await kr.expectClean();
  await kr.close();
});

test('screen readers: the log appends lines, the open step is announced once, everything sits in a landmark', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '56-screen-readers', api: fx.cloud.url });
  await kr.waitForSimReady();
  const log = kr.el('log');
  assert.equal(await log.getAttribute('role'), 'log');
  await kr.page.evaluate(() => {
    window.__firstLine = document.querySelector('[data-testid="log"]').firstElementChild;
  });
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  await kr.connect();
  await kr.waitForDiagnosis();
  assert.ok(
    await kr.page.evaluate(() => document.querySelector('[data-testid="log"]').firstElementChild === window.__firstLine),
    'the first line is the same element: lines are appended, not rewritten',
  );
  assert.ok((await log.locator(':scope > div').count()) > 3, 'one element per line');
  await kr.waitForText('step-status', /^Step 2 of 6: Diagnose\.$/);
  assert.equal(await kr.el('step-status').getAttribute('role'), 'status');
  // Landmarks: the test-cloud banner is one; nothing visible sits outside one (axe checks the rest).
  assert.equal(await kr.el('test-cloud-banner').evaluate((e) => e.tagName), 'ASIDE');
  const outside = await kr.page.evaluate(() =>
    [...document.body.children]
      .filter((e) => e.checkVisibility() && !e.matches('header, main, aside, footer, nav, .skip, script, noscript'))
      .map((e) => e.tagName + (e.className ? '.' + e.className : '')),
  );
  assert.deepEqual(outside, [], 'every visible part of the page is in a landmark');
  await kr.expectClean();
  await kr.close();
});

for (const [label, viewport] of [['1280', DESKTOP], ['360', PHONE]]) {
  test(`${label} px: the LED decoder says nothing before both inputs, refuses counts the firmware never shows, and shows the pattern`, LONG, async () => {
    const kr = await KeyRescue.open(fx.browser, fx.server, { name: `57-led-decoder-${label}`, sim: null, viewport });
    const decoder = await kr.openHelp('led-decoder');
    const colour = decoder.getByLabel('Colour');
    const blinks = decoder.getByLabel('Blinks');
    const verdict = () => kr.text('led-verdict');
    assert.equal((await verdict()).trim(), '', 'no verdict before anything is picked');
    await blinks.fill('1');
    assert.equal((await verdict()).trim(), '', 'no verdict before a colour is picked');
    await colour.selectOption('red');
    await kr.waitForText('led-verdict', /this page can help/i);
    for (const bad of ['0', '-3', '12']) {
      await blinks.fill(bad);
      await kr.waitForText('led-verdict', /a number from 1 to 9/);
    }
    await blinks.fill('');
    await kr.page.waitForFunction(() => document.querySelector('[data-testid="led-verdict"]').textContent.trim() === '');
    await colour.selectOption('orange');
    await blinks.fill('2');
    await kr.waitForText('led-verdict', /cannot fix that/i);
    const leds = decoder.locator('.led-pattern .led');
    assert.equal(await leds.count(), 5, 'two cyan, two orange, one cyan');
    assert.equal(await decoder.locator('.led-pattern .c-orange').count(), 2);
    assert.notEqual(await leds.first().evaluate((e) => getComputedStyle(e).animationName), 'none', 'the LED blinks');
    await kr.page.emulateMedia({ reducedMotion: 'reduce' });
    assert.equal(await leds.first().evaluate((e) => getComputedStyle(e).animationName), 'none', 'still for reduced motion');
    assert.ok((await kr.horizontalOverflow()) <= 0);
    await kr.shot('decoder');
    await kr.expectClean();
    await kr.close();
  });
}

test('chooser closed from Diagnose, Back up and Plan (Connect device pressed again): each step stays open with what it found', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '58-chooser-closed-each-step', api: fx.cloud.url });
  await kr.chooseFault('corrupt-key');
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  await kr.connect();
  await kr.waitForDiagnosis();
  const diagnosed = await kr.text('slot-private-key');
  for (const step of ['Diagnose', 'Back up', 'Plan']) {
    await kr.waitForStep(step);
    // The user opens the folded Connect step and presses Connect device; the list is closed.
    const folded = kr.page.locator('details.step').first();
    if (!(await folded.evaluate((d) => d.open))) await folded.locator('summary').click();
    await closeNextChooser(kr);
    await kr.connect();
    await kr.visible('no-device-checklist');
    await focusOn(kr, 'error');
    await kr.waitForStep(step);
    assert.equal(await kr.text('slot-private-key'), diagnosed, `the diagnosis is kept (${step})`);
    // The Back up step is shown (open or folded) from Back up on.
    if (step !== 'Diagnose') assert.ok((await kr.el('backup-downloads').locator('button').count()) >= 1, `the backup is kept (${step})`);
    await kr.shot(`closed-at-${step.replace(' ', '-').toLowerCase()}`);
    if (step !== 'Plan') await kr.continue();
  }
  assert.ok(await kr.el('repair').isEnabled(), 'the plan can still run');
  await kr.repair();
  await kr.waitForOnline();
  await kr.expectClean();
  await kr.close();
});
