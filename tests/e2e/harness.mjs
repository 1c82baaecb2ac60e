// Shared end-to-end harness: serves the built page on loopback and drives Debian's Chromium through
// playwright-core (which downloads no browser). scripts/test builds the page and sets KR_DIST, KR_NODE.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import readline from 'node:readline';

const root = path.resolve(import.meta.dirname, '..', '..');
export const dist = process.env.KR_DIST ?? path.join(root, 'target', 'dist');
export const screenshots = path.join(root, 'target', 'e2e', 'screenshots');
const nodeTools = process.env.KR_NODE ?? path.join(root, 'target', 'tools', 'node');
const { chromium } = createRequire(path.join(nodeTools, 'package.json'))('playwright-core');

const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Serves `dist` on 127.0.0.1 at an ephemeral port; resolves to { url, close, requests }. */
export async function serveDist() {
  const requests = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    requests.push(url.pathname);
    let file = path.normalize(path.join(dist, decodeURIComponent(url.pathname)));
    if (!file.startsWith(dist)) {
      res.writeHead(403).end();
      return;
    }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!fs.existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/`, requests, close: () => new Promise((r) => server.close(r)) };
}

/** Launches headless Chromium with the flags this closed network needs (toolchain.md, 6). */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.KR_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * The loopback simulated cloud: `KR_SIM_CLOUD` when scripts/test started one, otherwise one started
 * here from `KR_SIM_CLOUD_BIN` (default target/debug/sim-cloud). Resolves to { url, close }.
 */
export async function simCloud() {
  if (process.env.KR_SIM_CLOUD) return { url: process.env.KR_SIM_CLOUD.replace(/\/$/, ''), close: async () => {} };
  const bin = process.env.KR_SIM_CLOUD_BIN ?? path.join(root, 'target', 'debug', 'sim-cloud');
  if (!fs.existsSync(bin)) throw new Error(`no sim-cloud at ${bin}: run cargo build --bin sim-cloud, or set KR_SIM_CLOUD`);
  const child = spawn(bin, ['--port', '0', '--test-control'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const port = await new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (line) => resolve(line.trim()));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`sim-cloud exited with ${code} before printing its port`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      child.kill();
    },
  };
}

/**
 * Opens a page that records console errors, failed requests, every requested URL and every
 * Content-Security-Policy violation, for assertions. `options`: Playwright context options, plus
 * `initScript` to run before the page's own scripts and `setup(page)` to run before it loads.
 */
export async function openPage(browser, url, viewport = { width: 1024, height: 800 }, options = {}) {
  const { initScript, setup, ...contextOptions } = options;
  const page = await browser.newPage({ viewport, ...contextOptions });
  // A script to run before the page's own (e.g. to take WebUSB away).
  if (initScript) await page.addInitScript(initScript);
  // Anything else to arrange before the page loads (e.g. page.route to slow a request down).
  if (setup) await setup(page);
  const problems = [];
  const requests = [];
  page.on('request', (req) => requests.push(req.url()));
  // Runs through the DevTools protocol, before the page's own scripts and outside its policy.
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`),
    );
  });
  page.on('console', (msg) => {
    // A failed load is reported with its URL by the response handler below.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  await page.goto(url);
  return { page, problems, requests, cspViolations: () => page.evaluate(() => window.__cspViolations) };
}

export async function screenshot(page, name) {
  fs.mkdirSync(screenshots, { recursive: true });
  const file = path.join(screenshots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
