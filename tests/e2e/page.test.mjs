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
