// End-to-end: a simulated Core (?sim=core) in DFU mode does not report its device ID, and the page
// has no support link's ?device= for it. The error panel offers the device-ID field, focused; a
// wrong entry is refused next to the field (which keeps the focus), a valid ID of another device is
// refused against the Core's serial number with the field kept, and the Core's own ID connects it
// and reaches the diagnosis. axe-core at 0 violations in each new state, light and dark.
// Screenshots: target/e2e/screenshots/95-core-id-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyRescue, sharedFixtures, audit } from './keyrescue.mjs';

const LONG = { timeout: 180_000 };
const fx = sharedFixtures();
// The simulated Core's device ID (src/sim/device/mod.rs, the Core's default).
const CORE_ID = '53ff6d065075535118311787';

async function focusedTestId(kr) {
  return kr.page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null);
}

async function waitForFocus(kr, testId) {
  await kr.page
    .waitForFunction((id) => document.activeElement?.getAttribute('data-testid') === id, testId, { timeout: 15_000 })
    .catch(async (e) => {
      throw new Error(`${testId} never got the focus (focused: ${await focusedTestId(kr)})`, { cause: e });
    });
}

test('a simulated Core without ?device= asks for its device ID in the page, checks it, and connects', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, {
    name: '95-core-id',
    sim: 'core',
    api: fx.cloud.url,
    contextOptions: { bypassCSP: true },
  });
  await kr.waitForText('sim-status', /simulated Core is plugged in/);
  await kr.waitForSimReady();
  await kr.connect();

  // The Core's DFU serial is not its ID: the error panel asks for it, with the field focused.
  await kr.waitForText('error-cause', /does not tell its device ID/);
  const hint = await kr.text('error-hint');
  assert.doesNotMatch(hint, /`/, 'no backtick in the hint');
  assert.match(hint, /press "Use this ID and connect"\.$/);
  assert.equal(await kr.page.locator('[data-testid="error-hint"] code').first().textContent(), 'particle list');
  const field = kr.page.getByLabel('Device ID of the Core');
  await field.waitFor({ state: 'visible', timeout: 15_000 });
  assert.equal(await field.getAttribute('data-testid'), 'device-id');
  await waitForFocus(kr, 'device-id');
  // One primary action: the field's button; Connect device steps back to a secondary one.
  assert.equal(await kr.page.locator('button.primary', { hasText: /connect/i }).count(), 1);
  assert.match(await kr.el('device-id-connect').getAttribute('class'), /primary/);
  assert.match(await kr.el('connect').getAttribute('class'), /secondary/);
  const found = await audit(kr, 'asks-id');

  // Not a device ID: refused next to the field, nothing sent, the field keeps the focus.
  await field.fill('53ff6d06-5075');
  await kr.page.getByRole('button', { name: 'Use this ID and connect' }).click();
  await kr.waitForText('device-id-problem', /is not a device ID: a device ID is 24 characters/);
  assert.equal(await field.getAttribute('aria-invalid'), 'true');
  await waitForFocus(kr, 'device-id');
  assert.match(await kr.text('error-cause'), /does not tell its device ID/, 'the device was not asked again');
  found.push(...(await audit(kr, 'refused')));

  // A device ID, but not this Core's: its serial number says so, and the field is offered again.
  await field.fill('ffffffffffffffffffffffff');
  await field.press('Enter');
  await kr.waitForText('error-cause', /does not belong to device ffffffffffffffffffffffff/);
  await waitForFocus(kr, 'device-id');
  assert.equal(await field.inputValue(), 'ffffffffffffffffffffffff', 'the field keeps the ID typed');
  found.push(...(await audit(kr, 'mismatch')));

  // The Core's own ID, with spaces and in upper case: connected and diagnosed.
  await field.fill(`  ${CORE_ID.toUpperCase()} `);
  await kr.page.getByRole('button', { name: 'Use this ID and connect' }).click();
  const id = await kr.waitForDiagnosis();
  assert.equal(id, CORE_ID);
  assert.match(await kr.text('identity'), /Core/);
  found.push(...(await audit(kr, 'diagnosed')));

  assert.deepEqual(found, [], 'no axe violation');
  await kr.expectClean();
  await kr.close();
});
