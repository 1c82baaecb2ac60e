// End-to-end: the page's P-256 code is its own module (key-rescue-ec, src/keys/ec.rs), loaded only
// for a device with EC keys. A Photon's whole repair never requests it; a simulated Electron
// (?sim=electron) loads it when connected, and its new EC key is made, written and read back with
// it; a load that fails is an error panel, and Read the keys again then tries again.
// Screenshots: target/e2e/screenshots/89-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyRescue, DEMO, sharedFixtures, audit, refusedUntilAllowed } from './keyrescue.mjs';

const LONG = { timeout: 180_000 };
const EC_FILES = /\/(key-rescue-ec\.js|key-rescue-ec_bg\.wasm|load-ec\.js)$/;
const ecModule = (kr) => kr.requests.filter((u) => /\/key-rescue-ec(_bg\.wasm|\.js)$/.test(u));

const fx = sharedFixtures();

test("a Photon's whole repair never loads the EC module", LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '89a-ec-photon', api: fx.cloud.url });
  await kr.waitForSimReady();
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  await kr.connect();
  await kr.waitForDiagnosis();
  await kr.waitForPlan();
  await kr.repair();
  await kr.waitForOnline();
  await kr.shot('online');
  assert.deepEqual(ecModule(kr), [], 'no EC module file is requested for a Photon');
  await kr.expectClean();
  await kr.close();
});

test('an Electron loads the EC module when connected; its new EC key is made and read back with it', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '89b-ec-electron', sim: 'electron', api: fx.cloud.url });
  await kr.waitForText('sim-status', /simulated Electron is plugged in/);
  await kr.waitForSimReady();
  assert.deepEqual(ecModule(kr), [], 'nothing of the EC module before a device is connected');
  await kr.connect();
  await kr.waitForDiagnosis();
  await kr.shot('diagnosed');
  const loaded = ecModule(kr).map((u) => new URL(u).pathname.split('/').pop());
  for (const file of ['key-rescue-ec.js', 'key-rescue-ec_bg.wasm']) {
    assert.ok(loaded.includes(file), `${file} is loaded for the Electron (loaded: ${loaded})`);
  }
  assert.match(await kr.text('identity'), /Electron/);
  assert.match(await kr.logText(), /loading the page's code for this device's EC keys/);
  const plan = await kr.waitForPlan();
  assert.match(plan, /write a new device key/i);
  await kr.el('send-later').check();
  await kr.repair();
  // Made with the loaded module (the public point), written, read back and judged with it (the
  // stored point checked, the public key taken from the bytes read back).
  await kr.waitForText('verify-result', /left DFU mode with its repaired keys/, 60_000);
  await kr.shot('repaired');
  const log = await kr.logText();
  assert.match(log, /generated a new EC P-256 key pair in this browser \(public ([0-9a-f]{4} ){3}[0-9a-f]{4}\)/);
  assert.match(log, /wrote the device private key \(192 bytes at 0x0c22, DFU mode\) and read it back identical/);
  const made = log.match(/key pair in this browser \(public ([0-9a-f ]{19})\)/)[1];
  assert.ok(log.includes(`the key on the device (as read back) has public key ${made}`), log);
  assert.deepEqual(kr.problems, [], 'nothing failed');
  assert.deepEqual(await kr.cspViolations(), [], 'no Content-Security-Policy violations');
  await kr.close();
});

test('an EC module that cannot be loaded is an error panel, and Read the keys again tries again', LONG, async () => {
  const ec = refusedUntilAllowed('**/key-rescue-ec_bg.wasm');
  const kr = await KeyRescue.open(fx.browser, fx.server, {
    name: '89c-ec-load-fails',
    sim: 'electron',
    api: fx.cloud.url,
    contextOptions: { setup: ec.setup, bypassCSP: true },
  });
  await kr.waitForSimReady();
  await kr.connect();
  const { cause, hint } = await kr.waitForError();
  const found = await audit(kr, 'load-failed');
  assert.deepEqual(found, [], 'axe-core: no violations in the error state, light or dark');
  assert.match(cause, /could not load its code for this device's EC keys/);
  assert.match(hint, /Nothing was read or written.*Read the keys again/);
  const again = kr.page.getByRole('button', { name: 'Read the keys again' });
  assert.equal(await again.getAttribute('data-testid'), 'diagnose-again');
  ec.allow();
  await again.click();
  await kr.waitForDiagnosis();
  assert.match(await kr.text('slot-private-key'), /blank/i);
  assert.equal(await again.count(), 0, 'the button goes once the keys are read');
  await kr.shot('loaded-on-retry');
  assert.deepEqual(
    kr.problems.filter((p) => !p.includes('key-rescue-ec')),
    [],
    'the refused load is the only problem',
  );
  await kr.close();
});
