// End-to-end: the advanced panel asks before every write, checks a custom server's fields before
// anything is written, shows its errors inside itself, and the diagnosis follows each command.
// Screenshots: target/e2e/screenshots/7x-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyRescue, DEMO, sharedFixtures } from './keyrescue.mjs';

const LONG = { timeout: 180_000 };
const fx = sharedFixtures();

/** Waits until the element with `id` has the focus (it moves there once rendered). */
const focusOn = (kr, id) =>
  kr.page
    .waitForFunction((i) => document.activeElement?.id === i, id, { timeout: 15_000 })
    .catch(async () => assert.fail(`the focus is on ${await kr.page.evaluate(() => document.activeElement?.id)}, not #${id}`));

test('advanced panel: a write is confirmed first, Cancel writes nothing, and the diagnosis follows the new key', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '70-advanced-confirm', api: fx.cloud.url });
  await kr.waitForSimReady();
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  await kr.connect();
  await kr.waitForDiagnosis();
  const before = await kr.text('slot-private-key');
  await kr.openHelp('advanced');

  await kr.el('keys-new').click();
  await kr.visible('confirm');
  assert.match(await kr.text('confirm'), /Write a new key pair to the device\?/);
  await kr.page.waitForFunction(() => document.activeElement?.id === 'confirm-write', null, { timeout: 15_000 });
  await kr.shot('asked');
  await kr.el('confirm-cancel').click();
  assert.equal(await kr.el('confirm').count(), 0);
  assert.match(await kr.logText(), /Nothing was written\./);
  assert.equal(await kr.text('slot-private-key'), before, 'nothing changed');

  await kr.el('keys-new').click();
  await kr.el('confirm-write').click();
  await kr.waitForText('advanced-result', /Wrote a new key/, 60_000);
  // The diagnosis was read again: the private key line names the new key's fingerprint.
  await kr.page.waitForFunction(
    (b) => (document.querySelector('[data-testid="slot-private-key"]')?.textContent ?? b) !== b,
    before,
    { timeout: 60_000 },
  );
  const fingerprint = (await kr.text('advanced-result')).match(/public key is ([0-9a-f ]+)/)?.[1].trim();
  assert.ok(fingerprint && (await kr.text('slot-private-key')).includes(fingerprint), 'the diagnosis shows the key just written');
  await kr.shot('written');
  await kr.expectClean();
  await kr.close();
});

for (const [label, viewport] of [['1280', { width: 1280, height: 800 }], ['360', { width: 360, height: 740 }]]) test(`${label} px: advanced panel: custom server fields are checked before anything is written, and errors show inside the panel`, LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: `71-advanced-custom-server-${label}`, api: fx.cloud.url, viewport });
  await kr.waitForSimReady();
  await kr.el('diagnose-only').click();
  await kr.connect();
  await kr.waitForDiagnosis();
  const advanced = await kr.openHelp('advanced');
  const log = await kr.logText();
  await kr.el('server-custom').check();
  await kr.el('keys-server').click();
  await kr.visible('server-host-problem');
  await focusOn(kr, 'server-host');
  await kr.el('server-host').fill('10.0.0.1');
  await kr.el('server-port').fill('0');
  await kr.el('keys-server').click();
  await kr.visible('server-port-problem');
  await focusOn(kr, 'server-port');
  await kr.el('server-port').fill('5683');
  await kr.el('keys-server').click();
  await kr.visible('server-file-problem');
  await focusOn(kr, 'server-file');
  await kr.shot('fields');
  assert.equal(await kr.el('confirm').count(), 0, 'nothing asked, nothing written');
  assert.equal(await kr.logText(), log, 'nothing was read or written');

  // A command that fails shows its error inside the panel, and no earlier success.
  await kr.el('keys-address').click();
  await kr.waitForText('advanced-result', /Server address/i, 60_000);
  await kr.el('keys-load').click();
  const error = await kr.visible('error');
  assert.ok(await advanced.evaluate((d, e) => d.contains(e), await error.elementHandle()), 'the error is inside the panel');
  assert.equal((await kr.text('advanced-result')).trim(), '', 'the previous success is gone');
  assert.ok((await kr.horizontalOverflow()) <= 0, 'no sideways scrolling');
  await kr.shot('error-inside');
  await kr.expectClean();
  await kr.close();
});
