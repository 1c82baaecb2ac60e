// End-to-end: repairing the simulated Photon against the loopback simulated cloud, as a user would,
// and the sign-in variants (MFA, access token), somebody else's device and a support link for
// another device. Screenshots: target/e2e/screenshots/2x-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { KeyRescue, DEMO, MFA, STRANGER, sharedFixtures } from './keyrescue.mjs';

// A whole repair against a real loopback server; generous, and never a timing assertion.
const LONG = { timeout: 180_000 };

const fx = sharedFixtures();

/** What the sim-cloud itself knows about a device (its test control route). */
async function cloudDevice(id) {
  const res = await fetch(`${fx.cloud.url}/__sim/devices/${id}`);
  assert.equal(res.status, 200, `the sim-cloud knows device ${id}`);
  return res.json();
}

/** Saves a download started by clicking `locator`; returns its text. */
async function download(page, locator) {
  const [file] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), locator.click()]);
  const text = fs.readFileSync(await file.path(), 'latin1');
  return { name: file.suggestedFilename(), text };
}

test('Photon happy path: sign in, connect, diagnose, back up, plan, repair, and the device comes online', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, {
    name: '20-happy-path',
    api: fx.cloud.url,
    contextOptions: { permissions: ['clipboard-read', 'clipboard-write'] },
  });
  await kr.shot('landing');

  // A loopback cloud is never silent.
  const banner = await kr.visible('test-cloud-banner');
  assert.match(await banner.textContent(), new RegExp(new URL(fx.cloud.url).port), 'the banner names the test cloud');
  assert.equal(await kr.page.getByLabel('Simulated problem').inputValue(), 'none', 'no problem is simulated by default');

  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  assert.equal(await kr.el('password').count(), 0, 'the password field is gone after signing in');
  await kr.shot('signed-in');

  await kr.watchProgress();
  await kr.connect();
  const id = await kr.waitForDiagnosis();
  await kr.shot('connected');
  // Reading the key slots is a transfer the page shows a progress bar for.
  const progress = await kr.progressSeen();
  assert.ok(progress.length > 0, 'a progress bar was shown while the keys were read');
  assert.ok(progress.every((p) => p.role === 'progressbar'), 'the progress bar has role=progressbar');
  assert.ok(progress.some((p) => p.now === '100'), 'the progress bar reached 100');
  assert.match(await kr.text('identity'), /photon/i, 'the identity names the platform');

  // Diagnose: the demo Photon's keys are fine; the cloud just does not know its public key yet.
  assert.match(await kr.text('slot-private-key'), /valid/i);
  assert.doesNotMatch(await kr.text('slot-private-key'), /corrupt|blank|pkcs#8/i);
  // Checked at the end, so a wrong word here does not hide the rest of the path.
  const serverKey = await kr.text('slot-server-key');
  const address = await kr.text('slot-address');
  assert.match(await kr.text('cloud-status'), /(you|this account) (can|may) send its key/i);
  await kr.shot('diagnosed');

  // The redacted report (Diagnose step) and the backup (Back up step) can be downloaded before
  // anything is written.
  const report = await download(kr.page, kr.el('report-json'));
  const json = JSON.parse(report.text);
  assert.ok(JSON.stringify(json).toLowerCase().includes(id), 'the report names the device');
  assert.doesNotMatch(report.text, /-----BEGIN [A-Z ]*PRIVATE KEY|"private_key_(der|hex|pem)"\s*:\s*"/i, 'the report holds no private key');
  const readable = await download(kr.page, kr.el('report-text'));
  assert.match(readable.text, new RegExp(id, 'i'), 'the readable report names the device');
  await kr.continue();
  await kr.waitForStep('Back up');
  await kr.visible('backup-downloads', 60_000);
  const backups = kr.el('backup-downloads').locator('a, button');
  assert.ok((await backups.count()) >= 1, 'at least one backup file is offered');
  const backup = await download(kr.page, backups.first());
  assert.ok(backup.text.length > 0, `backup ${backup.name} is not empty`);
  await kr.shot('backed-up');

  // Plan: only send the public key again; nothing is written to the device.
  const plan = await kr.waitForPlan();
  assert.match(plan, /send the device's public key/i);
  assert.doesNotMatch(plan, /write a new device key|write the cloud server key/i);
  await kr.waitForStep('Plan');
  await kr.shot('plan');

  await kr.repair();
  await kr.waitForOnline();
  await kr.waitForStep('Verify');
  await kr.shot('verified-online');

  // The cloud agrees: it holds a public key for the device and sees it online.
  const known = await cloudDevice(id);
  assert.equal(known.online, true, 'the sim-cloud sees the device online');
  assert.ok(known.public_key_der_hex, 'the sim-cloud holds the device public key');

  // The log can be read and copied; the next device can follow.
  const log = await kr.logText();
  assert.match(log, /online/i);
  await kr.el('copy-log').click();
  const copied = await kr.page.evaluate(() => navigator.clipboard.readText());
  assert.ok(copied.includes(id), 'Copy log puts the log, with the device ID, on the clipboard');
  assert.doesNotMatch(copied, /-----BEGIN [A-Z ]*PRIVATE KEY|access_token|demo-password/, 'the copied log holds no secret');
  await kr.visible('repair-another');

  assert.deepEqual(kr.foreignRequests([fx.cloud.url]), [], 'no request left the page origin and the loopback cloud');
  await kr.expectClean();
  await kr.close();

  // The healthy Photon's server key and address were not flagged: in simulated mode the simulated
  // cloud's key plays Particle's (src/sim/browser.rs), as it does for the plan.
  assert.doesNotMatch(serverKey, /corrupt|blank|not particle|custom|wrong|unknown/i, 'the server key line flags nothing');
  assert.doesNotMatch(address, /corrupt|blank|not particle|custom|wrong|unknown|example\.com/i, 'the address line flags nothing');
});

test('MFA sign-in: a wrong one-time code is refused, the right one signs in, and sign-out forgets it', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '21-mfa-sign-in', api: fx.cloud.url });
  await kr.signIn(MFA);
  await kr.visible('otp');
  assert.equal(await kr.el('signed-in').count(), 0, 'not signed in before the code');
  await kr.shot('code-asked');

  await kr.enterOtp('000000');
  const { cause } = await kr.waitForError(15_000);
  assert.match(cause, /one-time code was not accepted/i);
  await kr.shot('wrong-code');

  await kr.enterOtp(MFA.otp);
  await kr.expectSignedIn(MFA.email);
  await kr.shot('signed-in');

  await kr.signOut();
  assert.equal(await kr.el('signed-in').count(), 0, 'signed out');
  await kr.shot('signed-out');
  await kr.expectClean({ cloud: fx.cloud.url, cloudStatuses: [400, 401, 403] });
  await kr.close();
});

test('an access token signs in instead of a password', LONG, async () => {
  const res = await fetch(`${fx.cloud.url}/__sim/token?email=${encodeURIComponent(DEMO.email)}`, { method: 'POST' });
  const { access_token: token } = await res.json();
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '22-token-sign-in', api: fx.cloud.url });
  await kr.openHelp('token'); // behind "Use an access token instead"
  await kr.visible('token-input');
  assert.equal(await kr.el('remember-token').isChecked(), false, 'the token is kept in memory unless the user asks');
  await kr.el('token-input').fill(token);
  await kr.el('token-submit').click();
  await kr.visible('signed-in');
  assert.equal(await kr.el('token-input').count(), 0, 'the token field is gone after signing in');
  const stored = await kr.page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  assert.ok(!stored.includes(token), 'the token is not stored');
  await kr.shot('signed-in');
  // The token is the demo owner's: the cloud lets it send the demo Photon's key.
  await kr.connect();
  await kr.waitForDiagnosis();
  await kr.waitForText('cloud-status', /(you|this account) (can|may) send its key/i, 60_000);
  await kr.shot('cloud-allows');
  await kr.expectClean();
  await kr.close();
});

test('not the owner: signed in as another account, the page diagnoses but will not send the key', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '23-not-owner', api: fx.cloud.url });
  await kr.signIn(STRANGER);
  await kr.expectSignedIn(STRANGER.email);
  await kr.connect();
  await kr.waitForDiagnosis();
  await kr.waitForText('cloud-status', /not in this account|not yours|does not own|another account/i, 60_000);
  await kr.shot('cloud-refuses');
  // The plan is blocked until the owner signs in, or the user chooses to send the key later.
  const plan = await kr.waitForPlan();
  assert.match(plan, /sign in|owner|send .*later|cloud/i);
  const repair = kr.el('repair');
  assert.ok((await repair.count()) === 0 || (await repair.isDisabled()), 'Repair cannot run as planned');
  await kr.visible('send-later');
  await kr.shot('plan-blocked');
  await kr.expectClean({ cloud: fx.cloud.url, cloudStatuses: [403, 404] });
  await kr.close();
});

test('support link for another device: the connected Photon is flagged and nothing is written', LONG, async () => {
  const expected = 'aaaaaaaaaaaaaaaaaaaaaaaa';
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '24-device-mismatch', api: fx.cloud.url, device: expected });
  await kr.signIn(DEMO);
  await kr.expectSignedIn(DEMO.email);
  await kr.connect();
  const warning = await kr.visible('device-mismatch', 60_000);
  const text = await warning.textContent();
  assert.match(text, new RegExp(expected), 'the warning names the expected device');
  assert.match(text, /[0-9a-f]{24}/i);
  const shown = [...text.matchAll(/[0-9a-f]{24}/gi)].map((m) => m[0].toLowerCase());
  assert.ok(shown.some((id) => id !== expected), 'the warning names the connected device too');
  await kr.shot('mismatch');
  const repair = kr.el('repair');
  assert.ok((await repair.count()) === 0 || (await repair.isDisabled()), 'Repair is not offered for the wrong device');
  await kr.expectClean();
  await kr.close();
});

test('diagnose only: without signing in the page diagnoses and plans, but sends nothing', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '25-diagnose-only', api: fx.cloud.url });
  await kr.visible('diagnose-only');
  await kr.el('diagnose-only').click();
  await kr.connect();
  await kr.waitForDiagnosis();
  const plan = await kr.waitForPlan();
  assert.match(plan, /sign in|nobody is signed in|send .*later/i);
  assert.equal(await kr.el('signed-in').count(), 0);
  await kr.shot('diagnosed-signed-out');
  assert.deepEqual(
    kr.requests.filter((u) => u.startsWith(fx.cloud.url) && /oauth|provisioning/.test(u)),
    [],
    'diagnose only neither signs in nor sends a key',
  );
  await kr.expectClean();
  await kr.close();
});

test('advanced panel: collapsed at first, and the internal-flash dump downloads the flash of the connected Photon', LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '26-advanced-flash-dump', api: fx.cloud.url });
  const advanced = await kr.visible('advanced');
  assert.equal(await advanced.evaluate((el) => el.tagName), 'DETAILS');
  assert.equal(await advanced.evaluate((el) => el.open), false, 'the advanced panel starts collapsed');
  assert.equal(await kr.el('flash-dump').isVisible(), false);
  await kr.el('diagnose-only').click();
  await kr.connect();
  const id = await kr.waitForDiagnosis();
  await advanced.locator('summary').click();
  await kr.visible('flash-dump');
  await kr.shot('advanced-open');
  const dump = await download(kr.page, kr.el('flash-dump'));
  assert.match(dump.name, new RegExp(`internal_flash_${id}`), 'the file is named after the device');
  assert.ok(dump.text.length >= 64 * 1024, `the dump holds the internal flash (${dump.text.length} bytes)`);
  await kr.waitForText('advanced-result', /saved \d+ bytes of internal flash/i);
  await kr.shot('flash-dumped');
  await kr.expectClean();
  await kr.close();
});

test("advanced panel: offers the CLI's keys commands (save, load, new, send, server, address)", LONG, async () => {
  const kr = await KeyRescue.open(fx.browser, fx.server, { name: '27-advanced-commands', api: fx.cloud.url });
  const advanced = await kr.visible('advanced');
  await advanced.locator('summary').click();
  await kr.shot('advanced-open');
  const names = await advanced.locator('button, input[type=file], label').evaluateAll((els) => els.map((e) => e.textContent.trim() || e.getAttribute('aria-label') || ''));
  for (const command of [/save/i, /load/i, /new/i, /send/i, /server/i, /address/i, /dump/i]) {
    assert.ok(names.some((n) => command.test(n)), `the advanced panel offers ${command} (it has: ${names.join(' | ')})`);
  }
  await kr.expectClean();
  await kr.close();
});
