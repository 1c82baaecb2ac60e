// End-to-end: the page's own module is split into chunks (scripts/build-page, src/ui/split.rs),
// fetched when a step first needs them. At start the page requests none; Connect device fetches the
// connect chunk (opening, identifying and diagnosing a device) while the browser's list is open; a
// diagnosis that made a plan fetches the repair chunk while the user reads it; a repair never
// fetches the advanced panel's, which opening the panel fetches. A chunk that cannot be fetched is
// an error panel in the step, nothing is read or written, and the step's button then tries again.
// Screenshots: target/e2e/screenshots/96*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyRescue, DEMO, sharedFixtures, audit, refusedUntilAllowed } from './keyrescue.mjs';

const LONG = { timeout: 180_000 };
const CHUNK = /\/(split_[a-z]+|chunk_\d+)-[0-9a-f]{16}\.wasm$/;
const chunks = (kr) => kr.requests.filter((u) => CHUNK.test(u)).map((u) => new URL(u).pathname.split('/').pop());
const group = (kr, name) => chunks(kr).filter((f) => f.startsWith(`split_${name}-`));

const fx = sharedFixtures();

test("a Photon's repair fetches the connect and repair chunks when their steps come, never the advanced panel's", LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '96a-chunks-repair', api: fx.cloud.url });
  await kr.waitForSimReady();
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  assert.deepEqual(chunks(kr), [], 'no chunk at start, nor for the sign-in');
  await kr.connect();
  await kr.waitForDiagnosis();
  assert.equal(group(kr, 'connect').length, 1, `the connect chunk, once (fetched: ${chunks(kr)})`);
  await kr.waitForPlan();
  // Fetched once the diagnosis made a plan, while the user reads it, before Repair is pressed.
  await kr.page.waitForFunction(() =>
    performance.getEntriesByType('resource').some((e) => /\/split_repair-[0-9a-f]{16}\.wasm$/.test(e.name)),
  );
  await kr.repair();
  await kr.waitForOnline();
  await kr.shot('online');
  assert.equal(group(kr, 'repair').length, 1, `the repair chunk, once (fetched: ${chunks(kr)})`);
  assert.deepEqual(group(kr, 'advanced'), [], "a repair never fetches the advanced panel's chunk");
  assert.equal(new Set(chunks(kr)).size, chunks(kr).length, 'no chunk is fetched twice');
  // Opening the advanced panel fetches its chunk, before any command is pressed.
  await kr.openHelp('advanced');
  await kr.page.waitForFunction(() =>
    performance.getEntriesByType('resource').some((e) => /\/split_advanced-[0-9a-f]{16}\.wasm$/.test(e.name)),
  );
  await kr.expectClean();
  await kr.close();
});

test('a connect chunk that cannot be fetched is an error panel, and Connect device tries again', LONG, async () => {
  const chunk = refusedUntilAllowed(/\/split_connect-[0-9a-f]{16}\.wasm$/);
  const kr = await KeyRescue.open(fx.browser, fx.server, {
    name: '96b-chunk-connect-fails',
    api: fx.cloud.url,
    // bypassCSP: axe-core is injected as an inline script.
    contextOptions: { setup: chunk.setup, bypassCSP: true },
  });
  await kr.waitForSimReady();
  await kr.connect();
  const { cause, hint } = await kr.waitForError();
  assert.match(cause, /could not download its code for connecting to the device/);
  assert.match(hint, /Nothing was read or written\..*internet connection.*press Connect device again\./);
  assert.equal(await kr.el('identity').count(), 0, 'no device was opened');
  const found = await audit(kr, 'load-failed');
  assert.deepEqual(found, [], 'axe-core: no violations in the error state, light or dark');
  assert.equal(await kr.focused(), 'error', 'the focus is on the error panel');
  chunk.allow();
  await kr.connect();
  await kr.waitForDiagnosis();
  assert.equal(await kr.el('error').count(), 0, 'the error panel goes once the device is connected');
  await kr.shot('connected-on-retry');
  assert.deepEqual(
    // The refused request, and the loader's console line about it.
    kr.problems.filter((p) => !p.includes('split_connect') && !/Failed to fetch[\s\S]*__wasm_split-/.test(p)),
    [],
    'the refused fetch is the only problem',
  );
  await kr.close();
});

test('a repair chunk that cannot be fetched writes nothing, and Repair then repairs', LONG, async () => {
  const chunk = refusedUntilAllowed(/\/split_repair-[0-9a-f]{16}\.wasm$/);
  const kr = await KeyRescue.open(fx.browser, fx.server, {
    name: '96c-chunk-repair-fails',
    api: fx.cloud.url,
    contextOptions: { setup: chunk.setup },
  });
  await kr.waitForSimReady();
  await kr.chooseFault('corrupt-key');
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  await kr.connect();
  await kr.waitForDiagnosis();
  await kr.waitForPlan();
  await kr.repair();
  const { cause, hint } = await kr.waitForError();
  assert.match(cause, /could not download its code for the repair/);
  assert.match(hint, /Nothing was read or written\..*press Repair again\./);
  assert.doesNotMatch(await kr.logText(), /wrote the/, 'nothing was written');
  await kr.shot('repair-not-loaded');
  chunk.allow();
  await kr.repair();
  await kr.waitForOnline();
  assert.match(await kr.logText(), /wrote the device private key .* and read it back identical/);
  await kr.shot('repaired-on-retry');
  await kr.close();
});
