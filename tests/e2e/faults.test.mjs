// End-to-end: every problem in the simulated Photon's fault picker, each leading to the diagnosis,
// plan or error panel that fits it. Screenshots: target/e2e/screenshots/3x-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyRescue, FAULTS, DEMO, sharedFixtures } from './keyrescue.mjs';

// A whole repair against a real loopback server; generous, and never a timing assertion.
const LONG = { timeout: 180_000 };

const fx = sharedFixtures();

/** Opens the page with `fault` picked, signed in as the demo owner, and connects. */
async function connectWith(fault, n) {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: `3${n}-fault-${fault}`, api: fx.cloud.url });
  await kr.chooseFault(fault);
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  await kr.shot('picked');
  await kr.connect();
  return kr;
}

/** Diagnosis then plan, with screenshots; returns the plan's text. */
async function diagnoseAndPlan(kr) {
  await kr.waitForDiagnosis();
  await kr.shot('diagnosed');
  const plan = await kr.waitForPlan();
  await kr.shot('plan');
  return plan;
}

/** Runs the planned repair and expects the device online. */
async function repairToOnline(kr) {
  await kr.repair();
  await kr.waitForOnline();
  await kr.shot('online');
}

test('the fault picker offers exactly the simulated problems, "none" first', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '30-fault-picker', api: fx.cloud.url });
  const picker = kr.page.getByLabel('Simulated problem');
  await picker.waitFor({ state: 'visible', timeout: 15_000 });
  const values = await picker.locator('option').evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(values, FAULTS);
  await kr.shot('picker');
  await kr.expectClean();
  await kr.close();
});

test('fault none: a healthy Photon only needs its public key sent again', LONG, async () => {
  const kr = await connectWith('none', 1);
  const plan = await diagnoseAndPlan(kr);
  assert.match(await kr.text('slot-private-key'), /valid/i);
  assert.match(plan, /send the device's public key/i);
  assert.doesNotMatch(plan, /write a new device key|write the cloud server key/i);
  await repairToOnline(kr);
  await kr.expectClean();
  await kr.close();
});

test('fault corrupt-key: the private key is diagnosed corrupt and a new key pair is written', LONG, async () => {
  const kr = await connectWith('corrupt-key', 2);
  const plan = await diagnoseAndPlan(kr);
  assert.match(await kr.text('slot-private-key'), /corrupt/i);
  assert.match(plan, /write a new device key: the private key is corrupt/i);
  assert.match(plan, /send the device's public key/i);
  await kr.watchProgress();
  await repairToOnline(kr);
  const progress = await kr.progressSeen();
  assert.ok(progress.some((p) => p.role === 'progressbar' && p.now === '100'), 'the key write showed a progress bar up to 100');
  assert.match(await kr.text('repair-result'), /wrote and verified the device private key/i);
  await kr.expectClean();
  await kr.close();
});

test('fault blank-key: the private key slot is blank and a new key pair is written', LONG, async () => {
  const kr = await connectWith('blank-key', 3);
  const plan = await diagnoseAndPlan(kr);
  assert.match(await kr.text('slot-private-key'), /blank|erased/i);
  assert.match(plan, /write a new device key: the private key slot is blank/i);
  await repairToOnline(kr);
  await kr.expectClean();
  await kr.close();
});

test("fault wrong-server-key: the server key is not Particle's and Particle's is written back", LONG, async () => {
  const kr = await connectWith('wrong-server-key', 4);
  const plan = await diagnoseAndPlan(kr);
  assert.match(await kr.text('slot-server-key'), /not particle|custom|corrupt|wrong/i);
  assert.match(await kr.text('slot-private-key'), /valid/i, 'the private key is left alone');
  // In simulated mode the simulated cloud's key plays Particle's, so the plan writes that one back.
  assert.match(plan, /write the cloud server key: (the server key (is not particle's|is corrupt)|switching to the simulated cloud's key)/i);
  assert.doesNotMatch(plan, /write a new device key/i);
  await repairToOnline(kr);
  await kr.expectClean();
  await kr.close();
});

test("fault custom-server: the server address is someone else's and Particle's is written back", LONG, async () => {
  const kr = await connectWith('custom-server', 5);
  const plan = await diagnoseAndPlan(kr);
  const address = await kr.text('slot-address');
  assert.match(address, /cloud\.example\.com/, 'the address panel shows the custom host');
  // The folded Diagnose line does not call a custom server fine while the plan rewrites it.
  const folded = await kr.page.locator('details.step summary', { hasText: 'Diagnose:' }).textContent();
  assert.match(folded, /Diagnose: no problem found in the key slots; to check: [^.]*Cloud server address\./);
  assert.match(plan, /write the cloud server key: (.*server address is cloud\.example\.com|switching to the simulated cloud's key and address)/i);
  assert.doesNotMatch(plan, /write a new device key/i, 'the private key is left alone');
  await repairToOnline(kr);
  await kr.expectClean();
  await kr.close();
});

test('fault pkcs8-key: an OpenSSL 3 PKCS#8 key is diagnosed unusable and replaced', LONG, async () => {
  const kr = await connectWith('pkcs8-key', 6);
  const plan = await diagnoseAndPlan(kr);
  assert.match(await kr.text('slot-private-key'), /PKCS#8/);
  assert.match(plan, /write a new device key: the firmware cannot use the private key/i);
  await repairToOnline(kr);
  await kr.expectClean();
  await kr.close();
});

test('fault disconnect-during-write: the error panel says the write failed and the backup restores the device', LONG, async () => {
  const kr = await connectWith('disconnect-during-write', 7);
  await diagnoseAndPlan(kr);
  await kr.repair();
  const { cause, hint } = await kr.waitForError();
  await kr.shot('error');
  assert.match(cause, /writing the .* failed \(the device disconnected\)/i);
  assert.match(cause, /restoring the previous bytes failed too/i, 'the page says the device may hold a half-written key');
  assert.match(hint, /reconnect/i);
  assert.match(hint, /restore backup/i);
  assert.equal(await kr.el('verify-result').count(), 0, 'no verification after a failed write');

  // The user plugs the device back in (DFU mode) and restores the backup the page still holds.
  await kr.el('reconnect').click();
  await kr.visible('restore-backup', 60_000);
  await kr.shot('reconnected');
  await kr.el('restore-backup').click();
  await kr.page.waitForFunction(
    () => /Restored \d+ bytes from the backup/.test(document.querySelector('[data-testid="log"]')?.textContent ?? ''),
    null,
    { timeout: 60_000 },
  );
  await kr.waitForText('slot-private-key', /blank/i, 60_000); // the keys from before the repair
  await kr.shot('restored');
  await kr.expectClean();
  await kr.close();
});

test('fault transfer-never-completes: the key write times out, the panel says the device stopped answering, and Reconnect offers the right choice', LONG, async () => {
  const kr = await connectWith('transfer-never-completes', 10);
  await diagnoseAndPlan(kr);
  await kr.repair();
  // The stand-in never settles the transfer (a wedged bootloader): only the page's own deadline
  // ends the wait (src/usb/mod.rs: at most 15 s for a GETSTATUS); meanwhile Cancel is offered.
  await kr.visible('cancel');
  await kr.shot('waiting');
  const { cause, hint } = await kr.waitForError(60_000);
  await kr.shot('error');
  assert.match(cause, /stopped answering/i);
  assert.match(hint, /unplug/i);
  assert.match(hint, /reconnect/i);
  assert.equal(await kr.el('verify-result').count(), 0, 'no verification after a failed write');

  // Unplugged and plugged in again: the page reads the key slots back before offering anything.
  await kr.el('reconnect').click();
  const found = await kr.waitForText('after-failure', /not changed|differ from the backup/i, 60_000);
  await kr.shot('read-back');
  if (/not changed/i.test(found)) {
    // Nothing reached the device: Repair retries.
    assert.equal(await kr.el('restore-backup').count(), 0, 'no restore for an unchanged device');
    await kr.waitForPlan();
    await repairToOnline(kr);
  } else {
    await kr.el('restore-backup').click();
    await kr.page.waitForFunction(
      () => /Restored \d+ bytes from the backup/.test(document.querySelector('[data-testid="log"]')?.textContent ?? ''),
      null,
      { timeout: 60_000 },
    );
    await kr.waitForText('slot-private-key', /blank/i, 60_000); // the keys from before the repair
    await kr.shot('restored');
  }
  await kr.expectClean();
  await kr.close();
});

test('fault interface-claimed: another program holds the device, the panel says to close it, and Reconnect works', LONG, async () => {
  const kr = await connectWith('interface-claimed', 8);
  const { cause, hint } = await kr.waitForError();
  await kr.shot('error');
  assert.match(cause, /held by another program/i);
  assert.match(hint, /close other tabs, dfu-util and the particle cli/i);
  assert.equal(await kr.el('diagnosis').count(), 0, 'nothing was diagnosed');
  // The other program is closed; Reconnect reaches the device.
  await kr.el('reconnect').click();
  await kr.waitForDiagnosis();
  assert.equal(await kr.el('error').count(), 0, 'the error panel is gone');
  await kr.shot('reconnected');
  await kr.expectClean();
  await kr.close();
});

test("fault not-your-device: the cloud says the device is not in the demo account, so the key is not sent", LONG, async () => {
  const kr = await connectWith('not-your-device', 9);
  await kr.waitForDiagnosis();
  await kr.waitForText('cloud-status', /not in this account/i, 60_000);
  await kr.shot('diagnosed');
  const plan = await kr.waitForPlan();
  await kr.shot('plan');
  assert.match(plan, /not in this account|sign in|send .*later/i);
  const repair = kr.el('repair');
  assert.ok((await repair.count()) === 0 || (await repair.isDisabled()), 'Repair cannot send the key');
  await kr.visible('send-later');
  await kr.expectClean({ cloud: fx.cloud.url, cloudStatuses: [403] });
  await kr.close();
});

test('a problem picked while the simulated Photon is still starting is the problem the Photon has', LONG, async () => {
  // The page asks the loopback cloud for its server key before the simulated Photon is ready; hold
  // that answer back for a moment so the pick lands while the Photon is starting.
  let release;
  const held = new Promise((resolve) => (release = resolve));
  const kr = await KeyRescue.open(fx.browser, fx.server, {
    name: '3a-fault-picked-early',
    api: fx.cloud.url,
    contextOptions: {
      setup: (page) =>
        page.route('**/__sim/server-key-region', async (route) => {
          await held;
          await route.continue();
        }),
    },
  });
  await kr.chooseFault('blank-key', { waitForReady: false });
  assert.ok(await kr.el('connect').isDisabled(), 'Connect waits for the simulated Photon');
  release();
  await kr.waitForSimReady();
  assert.equal(await kr.el('sim-fault').inputValue(), 'blank-key', 'the picker still shows the pick');
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  await kr.connect();
  await kr.waitForDiagnosis();
  await kr.shot('diagnosed');
  assert.match(await kr.text('slot-private-key'), /blank/i, 'the connected Photon has the picked problem');
  await kr.expectClean();
  await kr.close();
});

test('fault cloud-never-answers: a stalled cloud ends in its error, not an endless wait', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '3b-fault-cloud-never-answers', api: fx.cloud.url });
  await kr.chooseFault('cloud-never-answers');
  await kr.signIn(DEMO);
  // Every request of the simulated mode is left unanswered by the loopback cloud: only the page's
  // own deadline (src/cloud/mod.rs, REQUEST_TIMEOUT_MS, 15 s) ends it. Whichever request comes
  // first (the sign-in, or the diagnosis's lookup once connected), its error must show.
  const saysSo = () => /did not answer within \d+ s/i.test(document.body.innerText);
  const first = await kr.page.waitForFunction(
    () => /did not answer within \d+ s/i.test(document.body.innerText)
      || (document.querySelector('[data-testid="signed-in"]')?.textContent ?? '').includes('@'),
    null,
    { timeout: 60_000 },
  );
  assert.ok(first);
  if (!(await kr.page.evaluate(saysSo))) {
    await kr.connect();
    await kr.page.waitForFunction(saysSo, null, { timeout: 120_000 });
  }
  await kr.shot('cloud-timeout');
  assert.match(await kr.page.evaluate(() => document.body.innerText), /did not answer within 15 s/i);
  await kr.close();
});
