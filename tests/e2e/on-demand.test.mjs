// End-to-end: the simulated mode is its own module, loaded only when it starts. A page opened for a
// real device downloads neither it nor the navigator.usb / navigator.serial stand-ins; "Try with a
// simulated Photon" loads them (Connect device waits meanwhile), and a load that fails is an error
// panel, after which the button tries again. Screenshots: target/e2e/screenshots/86-* and 87-*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyRescue, sharedFixtures } from './keyrescue.mjs';

const LONG = { timeout: 120_000 };
const SIM_FILES = /\/(key-rescue-sim\.js|key-rescue-sim_bg\.wasm|navigator-usb\.js|navigator-serial\.js)$/;

const fx = sharedFixtures();

test('a page for a real device loads no simulator; the simulated Photon loads them when asked', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '86-on-demand', sim: null });
  await kr.visible('connect');
  await kr.visible('try-simulated');
  await kr.shot('landing');
  assert.deepEqual(kr.requests.filter((u) => SIM_FILES.test(u)), [], 'no simulator file is requested at start');
  await kr.el('try-simulated').click();
  await kr.waitForSimReady();
  await kr.waitForText('sim-status', /simulated Photon is plugged in/);
  await kr.shot('simulated');
  const loaded = kr.requests.filter((u) => SIM_FILES.test(u)).map((u) => new URL(u).pathname.split('/').pop());
  for (const file of ['key-rescue-sim.js', 'key-rescue-sim_bg.wasm', 'navigator-usb.js', 'navigator-serial.js']) {
    assert.ok(loaded.includes(file), `${file} is loaded with the simulated mode (loaded: ${loaded})`);
  }
  await kr.expectClean();
  await kr.close();
});

test('the simulated mode that cannot be loaded says so, and the button tries again', LONG, async () => {
  let refuse = true;
  const setup = (page) =>
    page.route('**/key-rescue-sim.js', (route) => (refuse ? route.abort('connectionrefused') : route.continue()));
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '87-on-demand-fails', sim: null, contextOptions: { setup } });
  await kr.visible('try-simulated');
  await kr.el('try-simulated').click();
  const { cause, hint } = await kr.waitForError();
  await kr.shot('load-failed');
  assert.match(cause, /simulated mode could not be loaded/i);
  assert.match(hint, /Try with a simulated Photon again/);
  refuse = false;
  await kr.el('try-simulated').click();
  await kr.waitForSimReady();
  await kr.waitForText('sim-status', /simulated Photon is plugged in/);
  await kr.shot('loaded-on-retry');
  // The refused load is the only problem the page met.
  assert.deepEqual(
    kr.problems.filter((p) => !p.includes('key-rescue-sim.js')),
    [],
    'nothing else failed',
  );
  assert.deepEqual(await kr.cspViolations(), [], 'no Content-Security-Policy violations');
  await kr.close();
});
