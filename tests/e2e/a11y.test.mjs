// End-to-end: axe-core (installed from npm by scripts/setup) at every state of the happy path and
// of the error panels, in the light and the dark theme: no violation of any impact. Also the
// static first screen before the WebAssembly arrives. Screenshots: target/e2e/screenshots/8x-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyRescue, DEMO, MFA, sharedFixtures, audit } from './keyrescue.mjs';

const LONG = { timeout: 300_000 };
const fx = sharedFixtures();

/** Opens the page for an audit: axe is injected by the test, so the page's own CSP is bypassed. */
function openForAudit(name, options = {}) {
  return KeyRescue.open(fx.browser, fx.server, {
    name,
    api: fx.cloud.url,
    ...options,
    contextOptions: { bypassCSP: true, ...(options.contextOptions ?? {}) },
  });
}

test('axe: every state of the happy path, light and dark, with the help opened', LONG, async () => {
  const kr = await openForAudit('80-axe-happy-path');
  const found = [];
  await kr.waitForSimReady();
  found.push(...(await audit(kr, 'first-screen')));
  for (const id of ['led-decoder', 'dfu-howto']) await kr.openHelp(id);
  await kr.el('led-decoder').getByLabel('Colour').selectOption('orange');
  await kr.el('led-decoder').getByLabel('Blinks').fill('1');
  await kr.openHelp('token');
  found.push(...(await audit(kr, 'help-open')));
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  await kr.connect();
  await kr.waitForDiagnosis();
  found.push(...(await audit(kr, 'diagnose')));
  await kr.continue();
  await kr.waitForStep('Back up');
  found.push(...(await audit(kr, 'back-up')));
  await kr.waitForPlan();
  found.push(...(await audit(kr, 'plan')));
  await kr.openHelp('advanced');
  found.push(...(await audit(kr, 'advanced')));
  await kr.repair();
  await kr.waitForOnline();
  found.push(...(await audit(kr, 'verified')));
  assert.deepEqual(found, [], 'no axe violation');
  await kr.close();
});

test('axe: the error panels and checklists, light and dark', LONG, async () => {
  const found = [];
  // A wrong one-time code (the sign-in error panel) and the code step.
  let kr = await openForAudit('81-axe-sign-in-errors');
  await kr.signIn(MFA);
  await kr.visible('otp');
  found.push(...(await audit(kr, 'code-step')));
  await kr.enterOtp('000000');
  await kr.waitForError(15_000);
  found.push(...(await audit(kr, 'wrong-code')));
  await kr.close();

  // The closed chooser's checklist, then the cable pulled during the write and its recovery.
  kr = await openForAudit('82-axe-cable-pulled');
  await kr.chooseFault('disconnect-during-write');
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  await kr.page.evaluate(() => {
    const proto = Object.getPrototypeOf(navigator.usb);
    const own = proto.requestDevice;
    proto.requestDevice = function () {
      proto.requestDevice = own;
      return Promise.reject(new DOMException('No device selected.', 'NotFoundError'));
    };
  });
  await kr.connect();
  await kr.visible('no-device-checklist');
  found.push(...(await audit(kr, 'no-device')));
  await kr.el('try-again').click();
  await kr.waitForPlan();
  await kr.repair();
  await kr.waitForError();
  found.push(...(await audit(kr, 'cable-pulled')));
  await kr.el('reconnect').click();
  await kr.visible('restore-backup', 60_000);
  found.push(...(await audit(kr, 'restore-offered')));
  await kr.close();

  // Another program holds the device; the advanced panel's confirmation and field problems.
  kr = await openForAudit('83-axe-busy-and-advanced');
  await kr.chooseFault('interface-claimed');
  await kr.connect();
  await kr.waitForError();
  found.push(...(await audit(kr, 'interface-claimed')));
  await kr.el('reconnect').click();
  await kr.waitForDiagnosis();
  await kr.openHelp('advanced');
  await kr.el('keys-new').click();
  await kr.visible('confirm');
  found.push(...(await audit(kr, 'confirm-write')));
  await kr.el('confirm-cancel').click();
  await kr.el('server-custom').check();
  await kr.el('keys-server').click();
  await kr.visible('server-host-problem');
  found.push(...(await audit(kr, 'server-field-problem')));
  await kr.close();

  // No WebUSB.
  kr = await openForAudit('84-axe-no-webusb', {
    sim: null,
    contextOptions: { initScript: () => Object.defineProperty(Navigator.prototype, 'usb', { get: () => undefined, configurable: true }) },
  });
  await kr.visible('browser-support');
  found.push(...(await audit(kr, 'no-webusb')));
  await kr.close();
  assert.deepEqual(found, [], 'no axe violation');
});

test('the static first screen shows at once, before the WebAssembly arrives, and the app takes it over', LONG, async () => {
  let release;
  const held = new Promise((resolve) => (release = resolve));
  const kr = await openForAudit('85-static-first-screen', {
    sim: null,
    contextOptions: {
      setup: (page) =>
        page.route('**/*.wasm', async (route) => {
          await held;
          await route.continue();
        }),
    },
  });
  const boot = kr.page.locator('#boot');
  await boot.waitFor({ state: 'visible', timeout: 15_000 });
  assert.match(await boot.textContent(), /Key Rescue/);
  assert.match(await boot.textContent(), /1\. Connect/);
  assert.match(await boot.textContent(), /Loading the repair tool/);
  const found = await audit(kr, 'before-wasm');
  release();
  await kr.visible('connect');
  assert.equal(await kr.page.locator('#boot').count(), 0, 'the app took the static screen over');
  assert.equal(await kr.page.locator('h1').count(), 1, 'one heading');
  found.push(...(await audit(kr, 'after-wasm')));
  assert.deepEqual(found, [], 'no axe violation');
  await kr.close();
});
