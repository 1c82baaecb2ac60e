// End-to-end: a simulated Photon picked in normal mode (running its firmware, blinking cyan). With
// working key requests the repair runs without DFU mode; otherwise "Put it in DFU mode for me"
// (request 50), the second browser prompt (only the same device is accepted), the 14400-baud serial
// port for old firmware, and the buttons when the serial port is refused. axe-core at 0 violations
// in each new state, and the focus on the next control after each action.
// Screenshots (1280 px wide): target/e2e/screenshots/9x-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyRescue, DEMO, sharedFixtures, audit } from './keyrescue.mjs';

const LONG = { timeout: 240_000 };
const SLOW = 60_000;
const WIDE = { width: 1280, height: 900 };
const fx = sharedFixtures();

/**
 * Opens the page with the simulated Photon in normal mode (`fault` picked; `startOption` ticks "Start
 * it in normal mode" for a key fault), signed in as the demo owner, and presses Connect device.
 */
async function connectInNormalMode(name, fault, { startOption = false, axe = false } = {}) {
  const kr = await KeyRescue.open(fx.browser, fx.server, {
    name,
    api: fx.cloud.url,
    viewport: WIDE,
    contextOptions: axe ? { bypassCSP: true } : {},
  });
  await kr.chooseFault(fault);
  if (startOption) {
    await kr.el('sim-normal-mode').check();
  } else {
    // A problem that exists only in normal mode shows the option ticked, and it cannot be unticked.
    assert.equal(await kr.el('sim-normal-mode').isChecked(), true, `${fault}: "Start it in normal mode" ticked`);
    assert.equal(await kr.el('sim-normal-mode').isDisabled(), true, `${fault}: the option is fixed`);
  }
  await kr.waitForText('sim-status', /in normal mode, blinking cyan/);
  await kr.waitForSimReady();
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  await kr.shot('normal-mode');
  await kr.connect();
  return kr;
}

/** Waits for the switch offer `testId` to show and have the focus; returns the explanation. */
async function offered(kr, testId) {
  await kr.visible(testId, SLOW);
  await kr.page.waitForFunction((id) => document.activeElement?.dataset.testid === id, testId, { timeout: 15_000 });
  return kr.text('switch-info');
}

/** Waits until the simulated Photon shows up in DFU mode on the stand-in's bus (Photon DFU id d006). */
async function dfuDeviceOnBus(kr) {
  await kr.page.waitForFunction(
    () => navigator.usb._devices.some((d) => !d._gone && d.productId === 0xd006),
    null,
    { timeout: SLOW },
  );
}

test('a Photon in normal mode with a corrupt key is repaired without DFU mode and comes online', LONG, async () => {
  const kr = await connectInNormalMode('90-normal-no-dfu', 'corrupt-key', { startOption: true });
  await kr.waitForDiagnosis();
  assert.match(await kr.text('slot-private-key'), /corrupt/i);
  const plan = await kr.waitForPlan();
  assert.match(plan, /write a new device key/i);
  await kr.shot('plan');
  await kr.repair();
  await kr.waitForOnline();
  await kr.shot('online');
  const log = await kr.logText();
  assert.match(log, /Photon [0-9a-f]{24} in normal mode, Device OS 2\.3\.1/);
  assert.match(log, /repair path: control requests in normal mode \(no DFU mode, no second prompt\)/);
  assert.match(log, /asked the device to reset \(request 40\)/);
  assert.doesNotMatch(log, /repair path: DFU mode/);
  assert.match(await kr.text('repair-result'), /wrote and verified the device private key \(through control requests in normal mode\)/i);
  await kr.expectClean();
  await kr.close();
});

test('normal mode needing DFU mode: "Put it in DFU mode for me", the second prompt refuses another device, then repair and online', LONG, async () => {
  const kr = await connectInNormalMode('91-normal-switch', 'key-requests-refused', { axe: true });
  const found = [];
  const offer = await offered(kr, 'enter-dfu');
  assert.match(offer, /The repair needs DFU mode: the Photon answers the key requests "not supported"/);
  assert.match(await kr.text('running-facts'), /Photon in normal mode .*Device ID [0-9a-f]{24}; Device OS 2\.3\.1\./);
  assert.equal(await kr.page.getByRole('button', { name: 'Put it in DFU mode for me' }).count(), 1);
  found.push(...(await audit(kr, 'offer')));
  await kr.el('enter-dfu').click();
  const prompt = await offered(kr, 'second-prompt');
  assert.match(prompt, /Chrome asks once more, because a device in DFU mode is a new USB device/);
  assert.match(prompt, /a few seconds, up to 30/);
  assert.match(await kr.logText(), /the device accepted the request to enter DFU mode/);
  found.push(...(await audit(kr, 'second-prompt')));
  await dfuDeviceOnBus(kr);
  // A second Photon, in DFU mode with another device ID, is plugged in beside it: the chooser lists
  // both, neither is granted yet, and the user picks the other one.
  const other = await kr.page.evaluate(async () => {
    const sim = await import(new URL('key-rescue-sim.js', document.baseURI).href);
    window.__secondPhoton = sim.plugSecondPhoton();
    window.__keyRescueSim = sim;
    const id = window.__secondPhoton.serialNumber;
    sim.chooseNextDevice(id);
    return { id, dct: Array.from(window.__secondPhoton.dct()) };
  });
  const onBus = await kr.page.evaluate(() =>
    navigator.usb._devices.filter((d) => !d._gone && d.productId === 0xd006).map((d) => d.serialNumber),
  );
  assert.equal(onBus.length, 2, 'two Photons in DFU mode on the bus');
  assert.ok(onBus.includes(other.id), 'the second Photon is listed');
  const mine = onBus.find((id) => id !== other.id);
  assert.match(await kr.logText(), new RegExp(`Photon ${mine} in normal mode`));
  const grantedBefore = await kr.page.evaluate(async () => (await navigator.usb.getDevices()).map((d) => d.serialNumber));
  assert.ok(!grantedBefore.includes(other.id), 'the second Photon is not granted before it is picked');
  await kr.el('second-prompt').click();
  const { cause } = await kr.waitForError();
  assert.match(cause, new RegExp(other.id));
  await kr.shot('other-device-refused');
  found.push(...(await audit(kr, 'other-device-refused')));
  assert.ok(await kr.el('second-prompt').isVisible(), 'the second prompt is offered again');
  const grantedAfter = await kr.page.evaluate(async () => (await navigator.usb.getDevices()).map((d) => d.serialNumber));
  assert.ok(grantedAfter.includes(other.id), 'the picked Photon is granted, as Chrome grants a picked device');
  // Nothing was read from the other Photon: no control transfer, its DCT as it was.
  const after = await kr.page.evaluate(() => ({
    transfers: window.__secondPhoton.transfers(),
    dct: Array.from(window.__secondPhoton.dct()),
  }));
  assert.equal(after.transfers, 0, 'no transfer to the other Photon');
  assert.deepEqual(after.dct, other.dct, "the other Photon's DCT is untouched");
  // The user picks the right Photon this time.
  await kr.page.evaluate((id) => window.__keyRescueSim.chooseNextDevice(id), mine);
  await kr.el('second-prompt').click();
  await kr.waitForDiagnosis();
  assert.match(await kr.text('slot-private-key'), /corrupt/i);
  await kr.waitForPlan();
  await kr.repair();
  await kr.waitForOnline();
  await kr.shot('online');
  assert.match(await kr.text('repair-result'), /through DFU mode/);
  assert.match(await kr.logText(), /repair path: DFU mode/);
  assert.deepEqual(found, [], 'no axe violation');
  await kr.close();
});

test('old firmware: request 50 is not understood, the serial port at 14400 baud, then the second prompt', LONG, async () => {
  const kr = await connectInNormalMode('92-normal-old-firmware', 'old-firmware', { axe: true });
  const found = [];
  assert.match(await offered(kr, 'enter-dfu'), /Device OS before 0\.8/);
  await kr.el('enter-dfu').click();
  const serial = await offered(kr, 'serial-dfu');
  assert.match(serial, /serial port at 14400 baud/);
  assert.match(serial, /Chrome lists serial ports first/);
  found.push(...(await audit(kr, 'serial-port')));
  await kr.el('serial-dfu').click();
  assert.match(await offered(kr, 'second-prompt'), /Chrome asks once more/);
  assert.match(await kr.logText(), /the serial port was opened at 14400 baud/);
  await dfuDeviceOnBus(kr);
  await kr.el('second-prompt').click();
  await kr.waitForDiagnosis();
  await kr.shot('diagnosed');
  assert.deepEqual(found, [], 'no axe violation');
  await kr.close();
});

test('the serial port refused: the Photon\'s own buttons, and Connect device next', LONG, async () => {
  const kr = await connectInNormalMode('93-normal-buttons', 'serial-refused', { axe: true });
  await offered(kr, 'enter-dfu');
  await kr.el('enter-dfu').click();
  await offered(kr, 'serial-dfu');
  await kr.el('serial-dfu').click();
  const buttons = await offered(kr, 'connect');
  assert.match(buttons, /No serial port was picked\. Put it in DFU mode with its buttons: Hold the SETUP button/);
  assert.match(buttons, /blinks yellow/);
  const found = await audit(kr, 'buttons');
  assert.deepEqual(found, [], 'no axe violation');
  await kr.close();
});

test('busy reaching the cloud: the page stops the attempt (request 70, LED dark blue), then repairs without DFU mode', LONG, async () => {
  const kr = await connectInNormalMode('94-normal-busy', 'busy-connecting');
  await kr.waitForDiagnosis();
  const log = await kr.logText();
  assert.match(log, /busy trying to reach the cloud/);
  assert.match(log, /request 70\): its LED now blinks dark blue/);
  assert.match(log, /repair path: control requests in normal mode/);
  await kr.waitForPlan();
  await kr.repair();
  await kr.waitForOnline();
  await kr.shot('online');
  await kr.expectClean();
  await kr.close();
});

test('never comes back after request 50: the second prompt finds nothing, and the buttons are beside it', LONG, async () => {
  const kr = await connectInNormalMode('95-normal-never-back', 'never-reenumerates');
  await offered(kr, 'enter-dfu');
  await kr.el('enter-dfu').click();
  await offered(kr, 'second-prompt');
  await kr.el('second-prompt').click();
  await kr.visible('error', SLOW);
  assert.match(await kr.logText(), /No device was picked/);
  assert.match(await kr.text('normal-mode'), /Not in the list after 30 seconds\? Unplug it, plug it in again, then: Hold the SETUP button/);
  await kr.shot('nothing-found');
  await kr.close();
});

test('a key write that reads back different over control requests is rolled back and shown, and Repair again brings it online without DFU mode', LONG, async () => {
  const kr = await connectInNormalMode('9a-normal-read-back-differs', 'key-read-back-differs', { startOption: true });
  await kr.waitForDiagnosis();
  assert.match(await kr.text('slot-private-key'), /corrupt/i);
  await kr.waitForPlan();
  await kr.repair();
  const { cause, hint } = await kr.waitForError();
  await kr.shot('rolled-back');
  assert.match(cause, /writing the device private key over control requests in normal mode failed/i);
  assert.match(cause, /read back differs/i);
  assert.match(cause, /restored/i, 'the page says the backed-up bytes were put back');
  assert.match(hint, /retry the repair/i);
  assert.doesNotMatch(hint, /retry the repair.*retry the repair/is, 'the next step is said once');
  assert.equal(await kr.el('verify-result').count(), 0, 'no verification after a failed write');
  let log = await kr.logText();
  assert.match(log, /after the failure: .*restored/i);
  assert.doesNotMatch(log, /repair path: DFU mode/);

  // The recovery the panel names: Repair again, on the same path, with the same backup.
  await kr.repair();
  await kr.waitForOnline();
  await kr.shot('online');
  log = await kr.logText();
  assert.match(log, /wrote the device private key \(1216 bytes at 0x0022, control requests in normal mode\) and read it back identical/);
  assert.match(await kr.text('repair-result'), /through control requests in normal mode/i);
  await kr.expectClean();
  await kr.close();
});

test('after a repair in DFU mode the Photon restarts in normal mode and, already granted, reports its own cloud connection beside the cloud', LONG, async () => {
  const kr = await connectInNormalMode('9b-dfu-repair-witness', 'key-requests-refused', { axe: true });
  await offered(kr, 'enter-dfu');
  await kr.el('enter-dfu').click();
  await offered(kr, 'second-prompt');
  await dfuDeviceOnBus(kr);
  await kr.el('second-prompt').click();
  await kr.waitForDiagnosis();
  await kr.waitForPlan();
  await kr.repair();
  await kr.waitForOnline();
  // The second witness: request 300 over the runtime personality the first prompt granted (no
  // third prompt), shown in the Verify step beside the cloud's answer.
  await kr.waitForText('device-witness', /The device itself reports it is connected to the cloud \(asked over USB, request 300\)\./, SLOW);
  assert.match(await kr.text('verify-result'), /is online: the cloud accepted its keys/);
  assert.match(await kr.logText(), /the device reports its cloud connection: Connected \(request 300\)/);
  assert.match(await kr.text('repair-result'), /through DFU mode/);
  const found = await audit(kr, 'witness');
  assert.deepEqual(found, [], 'no axe violation');
  await kr.close();
});

// Issue 15: every other key fault of the picker repaired over control requests, without DFU mode,
// and online (the corrupt key is the test above).
for (const [fault, slot, diagnosed, planned] of [
  ['blank-key', 'slot-private-key', /blank|erased/i, /write a new device key: the private key slot is blank/i],
  ['pkcs8-key', 'slot-private-key', /PKCS#8/, /write a new device key: the firmware cannot use the private key/i],
  ['wrong-server-key', 'slot-server-key', /not particle|custom|corrupt|wrong/i, /write the cloud server key/i],
  ['custom-server', 'slot-address', /cloud\.example\.com/, /write the cloud server key/i],
  ['none', 'slot-private-key', /valid/i, /send the device's public key/i],
]) {
  test(`a Photon in normal mode with fault ${fault} is repaired over control requests and comes online`, LONG, async () => {
    const kr = await connectInNormalMode(`9c-normal-${fault}`, fault, { startOption: true });
    await kr.waitForDiagnosis();
    assert.match(await kr.text(slot), diagnosed);
    const plan = await kr.waitForPlan();
    assert.match(plan, planned);
    await kr.repair();
    await kr.waitForOnline();
    await kr.shot('online');
    const log = await kr.logText();
    assert.match(log, /repair path: control requests in normal mode \(no DFU mode, no second prompt\)/);
    assert.match(log, /asked the device to reset \(request 40\)/);
    assert.doesNotMatch(log, /repair path: DFU mode/);
    await kr.expectClean();
    await kr.close();
  });
}
