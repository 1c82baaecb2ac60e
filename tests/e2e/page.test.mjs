// End-to-end: the release page, served on loopback, in headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { serveDist, launchBrowser, openPage, screenshot } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await serveDist();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('the release page mounts the app with its title', async () => {
  const { page, problems } = await openPage(browser, server.url);
  await page.waitForSelector('h1', { timeout: 15000 });
  assert.equal(await page.title(), 'Key Rescue — repair Particle device keys in the browser');
  assert.equal(await page.textContent('h1'), 'Key Rescue');
  // Served from 127.0.0.1, Chromium is a secure context with WebUSB.
  assert.match(await page.textContent('[data-testid=browser-support]'), /can talk to USB devices/);
  assert.ok(server.requests.some((p) => p.endsWith('.wasm')), 'the wasm module was loaded');
  const file = await screenshot(page, '01-landing');
  assert.ok(fs.statSync(file).size > 1000, 'screenshot written');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the simulated Photon answers through the orchestrator', async () => {
  const { page, problems } = await openPage(browser, server.url);
  await page.getByRole('button', { name: 'Try with a simulated Photon' }).click();
  await page.waitForFunction(
    () => document.querySelector('[data-testid=log]')?.textContent.includes('Simulated Photon ready'),
    null,
    { timeout: 10000 },
  );
  assert.equal(await page.textContent('[aria-current=step]'), 'Connect');
  await screenshot(page, '02-simulated-probe');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the page fits a 360 px wide phone screen', async () => {
  const { page, problems } = await openPage(browser, server.url, { width: 360, height: 740 });
  await page.waitForSelector('h1');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
  await screenshot(page, '03-narrow');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the LED decoder says which fix applies to the blinks the user counted', async () => {
  const { page, problems } = await openPage(browser, server.url);
  const decoder = page.getByTestId('led-decoder');
  await decoder.waitFor({ timeout: 15000 });
  // One click away, folded at first.
  assert.equal(await decoder.evaluate((d) => d.open), false, 'the decoder starts folded');
  await decoder.locator('summary').click();
  const verdict = page.getByTestId('led-verdict');
  const read = async (colour, blinks) => {
    await decoder.getByLabel('Colour').selectOption(colour);
    await decoder.getByLabel('Blinks').fill(String(blinks));
    await page.waitForFunction(
      ([c, b]) => document.querySelector('#led-colour, [data-testid=led-decoder] select')?.value === c &&
        document.querySelector('[data-testid=led-decoder] input')?.value === String(b),
      [colour, blinks],
    );
    return verdict.textContent();
  };
  // One orange burst between fast cyan: the device key is bad; this page fixes it.
  assert.match(await read('orange', 1), /this page can help.*decrypt/is);
  await screenshot(page, '04-led-orange-1');
  // Two orange bursts: no internet; not a key problem.
  const network = await read('orange', 2);
  assert.match(network, /this page cannot fix that/i);
  assert.match(network, /wi-fi/i);
  await screenshot(page, '05-led-orange-2');
  // The DFU how-to is on the landing page.
  assert.match(await page.getByTestId('dfu-howto').textContent(), /yellow/i);
  assert.deepEqual(problems, []);
  await page.close();
});

test('a browser without WebUSB is told what to use instead, with advice for Firefox, Safari and iOS', async () => {
  // Firefox and Safari have no navigator.usb at all.
  const { page, problems } = await openPage(browser, server.url, undefined, {
    initScript: () => Object.defineProperty(Navigator.prototype, 'usb', { get: () => undefined, configurable: true }),
  });
  const support = page.getByTestId('browser-support');
  await support.waitFor({ timeout: 15000 });
  const text = await support.textContent();
  assert.match(text, /cannot talk to USB devices/i);
  assert.match(text, /chrome|edge/i, 'it names a browser that works');
  const advice = await page.locator('section', { has: support }).textContent();
  for (const which of [/firefox/i, /safari/i, /iphone|ipad|ios/i]) assert.match(advice, which);
  await screenshot(page, '06-no-webusb');
  assert.deepEqual(problems, []);
  await page.close();
});
