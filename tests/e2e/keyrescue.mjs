// Page object for Key Rescue: the user's steps as methods, so the tests read like the user's story.
// Every element is found by the data-testid of the DOM contract (or by its role and name), never by
// CSS layout.
import { before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openPage, screenshot, serveDist, launchBrowser, simCloud } from './harness.mjs';

/** The simulated problems of the fault picker, in order. */
export const FAULTS = [
  'none',
  'corrupt-key',
  'blank-key',
  'wrong-server-key',
  'custom-server',
  'pkcs8-key',
  'disconnect-during-write',
  'interface-claimed',
  'not-your-device',
  'cloud-never-answers',
  'transfer-never-completes',
  'old-firmware',
  'serial-refused',
  'busy-connecting',
  'key-requests-refused',
  'never-reenumerates',
  'key-write-refused',
  'key-read-back-differs',
];

/** The sim-cloud's demo accounts (src/sim/cloud/scenario.rs). */
export const DEMO = { email: 'demo@example.com', password: 'demo-password' };
export const MFA = { email: 'mfa@example.com', password: 'mfa-password', otp: '123456' };
export const STRANGER = { email: 'stranger@example.com', password: 'password' };

const STEP_LABELS = ['Connect', 'Diagnose', 'Back up', 'Plan', 'Repair', 'Verify'];
// Reading a DCT, generating a key, writing, reading back and waiting for the device to come online
// run against a real loopback server: generous waits, never asserted as timings.
const SLOW = 60_000;

/** Pages a test opened and has not closed: a test that fails leaves its page open. */
const open = new Set();

/**
 * For `afterEach`: saves a `<test>-NN-failed` screenshot of every page the last test left open (it
 * failed before closing it), then closes them, so the next test starts clean.
 */
export async function closeLeftovers() {
  for (const kr of [...open]) {
    await kr.shot('failed').catch(() => {});
    await kr.close().catch(() => {});
  }
}

/**
 * The set-up every repair test file shares: before its tests, serves the page and starts the
 * loopback simulated cloud and one browser; after each test, closes the pages it left open; after
 * them all, closes the three. Returns `{ server, cloud, browser }`, filled in once `before` has run.
 */
export function sharedFixtures() {
  const fx = {};
  before(async () => {
    fx.server = await serveDist();
    fx.cloud = await simCloud();
    fx.browser = await launchBrowser();
  });
  afterEach(closeLeftovers);
  after(async () => {
    await fx.browser?.close();
    await fx.cloud?.close();
    await fx.server?.close();
  });
  return fx;
}

/**
 * A download the page cannot make until `allow()`: `setup` (for `contextOptions`) refuses every
 * request whose URL matches `pattern` (a glob or a RegExp) as a refused connection would.
 */
export function refusedUntilAllowed(pattern) {
  let refused = true;
  return {
    setup: (page) => page.route(pattern, (route) => (refused ? route.abort('connectionrefused') : route.continue())),
    allow: () => {
      refused = false;
    },
  };
}

export class KeyRescue {
  /**
   * Opens the page. `sim` puts it in simulated mode (?sim=photon), `api` points it at a cloud
   * (?api=…), `device` is a support link's expected device ID (?device=…).
   */
  static async open(browser, server, { name, sim = 'photon', api, device, viewport, contextOptions } = {}) {
    const url = new URL(server.url);
    if (sim) url.searchParams.set('sim', sim);
    if (api) url.searchParams.set('api', api);
    if (device) url.searchParams.set('device', device);
    const opened = await openPage(browser, url.href, viewport, contextOptions);
    const kr = new KeyRescue(opened, name);
    open.add(kr);
    await kr.page.waitForSelector('h1', { timeout: 15_000 });
    return kr;
  }

  constructor({ page, problems, requests, cspViolations }, name) {
    this.page = page;
    this.problems = problems;
    this.requests = requests;
    this.cspViolations = cspViolations;
    this.name = name;
    this.shots = 0;
  }

  el(testId) {
    return this.page.getByTestId(testId);
  }

  async text(testId) {
    return (await this.el(testId).first().textContent()) ?? '';
  }

  /** Saves a numbered, named full-page screenshot: target/e2e/screenshots/<test>-NN-<what>.png. */
  async shot(what) {
    this.shots += 1;
    return screenshot(this.page, `${this.name}-${String(this.shots).padStart(2, '0')}-${what}`);
  }

  async visible(testId, timeout = 15_000) {
    await this.el(testId).first().waitFor({ state: 'visible', timeout });
    return this.el(testId).first();
  }

  /** Waits until the element's text matches `pattern`; returns that text. */
  async waitForText(testId, pattern, timeout = 15_000) {
    const loc = this.el(testId).first();
    await loc.waitFor({ state: 'visible', timeout });
    try {
      await this.page.waitForFunction(
        ([id, source, flags]) => {
          const el = document.querySelector(`[data-testid="${id}"]`);
          return el && new RegExp(source, flags).test(el.textContent);
        },
        [testId, pattern.source, pattern.flags],
        { timeout },
      );
    } catch (e) {
      throw new Error(`[data-testid=${testId}] never matched ${pattern}: it says ${JSON.stringify(await loc.textContent())}`, { cause: e });
    }
    return loc.textContent();
  }

  /** The label of the step marked aria-current="step". */
  async currentStep() {
    const current = this.el('steps').locator('[aria-current="step"]');
    return ((await current.count()) === 1 ? await current.textContent() : '').trim();
  }

  async waitForStep(label, timeout = SLOW) {
    assert.ok(STEP_LABELS.includes(label), `unknown step ${label}`);
    await this.page
      .waitForFunction(
        (l) => document.querySelector('[data-testid="steps"] [aria-current="step"]')?.textContent.includes(l),
        label,
        { timeout },
      )
      .catch(async (e) => {
        throw new Error(`step ${label} never became current (current: ${JSON.stringify(await this.currentStep())}); log: ${await this.logText()}`, { cause: e });
      });
  }

  async logText() {
    const log = this.el('log');
    return (await log.count()) ? ((await log.first().textContent()) ?? '') : '(no log)';
  }

  // --- Simulated mode ---------------------------------------------------------------------------

  /** Waits until the simulated Photon is ready: Connect is disabled while it starts. */
  async waitForSimReady() {
    const button = this.page.getByRole('button', { name: 'Connect device' });
    await button.waitFor({ state: 'visible', timeout: 15_000 });
    await this.page.waitForFunction(() => document.querySelector('[data-testid="connect"]')?.disabled === false, null, { timeout: 30_000 });
  }

  /**
   * Picks a problem for the simulated Photon from the "Simulated problem" picker, once the page has
   * prepared the simulated Photon (as a user who reads the page would). Picking earlier is tested
   * on its own ("a problem picked while the simulated Photon starts").
   */
  async chooseFault(fault, { waitForReady = true } = {}) {
    const picker = this.page.getByLabel('Simulated problem');
    await picker.waitFor({ state: 'visible', timeout: 15_000 });
    if (waitForReady) await this.waitForSimReady();
    assert.equal(await picker.getAttribute('data-testid'), 'sim-fault');
    await picker.selectOption(fault);
    assert.equal(await picker.inputValue(), fault);
  }

  // --- Sign-in ----------------------------------------------------------------------------------

  async signIn({ email, password }) {
    await this.visible('signin');
    await this.el('email').fill(email);
    await this.el('password').fill(password);
    await this.el('signin-submit').click();
  }

  async enterOtp(code) {
    await this.visible('otp');
    await this.el('otp').fill(code);
    await this.el('otp-submit').click();
  }

  async expectSignedIn(email) {
    await this.waitForText('signed-in', new RegExp(email.replace(/[.]/g, '\\.')));
  }

  async signOut() {
    await this.el('signout').click();
    await this.visible('signin');
  }

  // --- The repair steps -------------------------------------------------------------------------

  async connect() {
    const button = this.page.getByRole('button', { name: 'Connect device' });
    assert.equal(await button.getAttribute('data-testid'), 'connect');
    await button.click();
  }

  /** Waits for the identity and diagnosis panels after Connect; returns the device ID shown. */
  async waitForDiagnosis() {
    await this.visible('identity', SLOW);
    await this.visible('diagnosis', SLOW);
    const id = (await this.text('identity')).match(/[0-9a-f]{24}/i)?.[0];
    assert.ok(id, `the identity panel shows a 24-hex device ID: ${await this.text('identity')}`);
    return id.toLowerCase();
  }

  /**
   * Goes on to the Plan step, pressing "Continue" through Diagnose and Back up (the wizard stops at
   * each for the user to read it); returns the plan's text.
   */
  async waitForPlan() {
    const shown = () =>
      this.page.waitForFunction(
        () => ['plan', 'continue'].some((id) => document.querySelector(`[data-testid="${id}"]`)?.checkVisibility()),
        null,
        { timeout: SLOW },
      );
    for (let i = 0; i < 3; i++) {
      await shown();
      if (await this.el('plan').first().isVisible()) break;
      await this.el('continue').click();
    }
    await this.visible('plan', SLOW);
    return this.text('plan');
  }

  /** Presses "Continue" once (the next wizard step opens). */
  async continue() {
    await this.el('continue').click();
  }

  /** Opens a folded help panel (a `<details>` with this data-testid) by its summary. */
  async openHelp(testId) {
    const details = await this.visible(testId);
    if (!(await details.evaluate((d) => d.open))) await details.locator('summary').click();
    return details;
  }

  async repair() {
    const button = this.page.getByRole('button', { name: 'Repair', exact: true });
    assert.equal(await button.getAttribute('data-testid'), 'repair');
    assert.ok(await button.isEnabled(), 'the Repair button is enabled');
    await button.click();
  }

  async waitForOnline() {
    return this.waitForText('verify-result', /online/i, SLOW);
  }

  /** The error panel: role=alert, with its cause and hint. */
  async waitForError(timeout = SLOW) {
    const panel = await this.visible('error', timeout);
    assert.equal(await panel.getAttribute('role'), 'alert', 'the error panel is an alert');
    const cause = (await panel.getByTestId('error-cause').textContent()) ?? '';
    const hint = (await panel.getByTestId('error-hint').textContent()) ?? '';
    assert.ok(cause.trim(), 'the error panel says what happened');
    assert.ok(hint.trim(), 'the error panel says what to do next');
    return { cause, hint };
  }

  /** Starts recording every state of the progress bar (it may show only for a moment). */
  async watchProgress() {
    await this.page.evaluate(() => {
      window.__progress = [];
      const seen = () => {
        const bar = document.querySelector('[data-testid="progress"]');
        if (bar) window.__progress.push({ role: bar.getAttribute('role'), now: bar.getAttribute('aria-valuenow') });
      };
      new MutationObserver(seen).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
  }

  /** The progress bar states recorded since watchProgress(). */
  async progressSeen() {
    return this.page.evaluate(() => window.__progress);
  }

  // --- Keyboard ---------------------------------------------------------------------------------

  /** The data-testid of the focused element (or of its nearest ancestor that has one). */
  async focused() {
    return this.page.evaluate(() => document.activeElement?.closest('[data-testid]')?.dataset.testid ?? null);
  }

  /** Presses Tab until the element with `testId` has the focus; fails after `max` presses. */
  async tabTo(testId, max = 80) {
    for (let i = 0; i < max; i++) {
      if ((await this.focused()) === testId) return i;
      await this.page.keyboard.press('Tab');
    }
    throw new Error(`Tab never reached [data-testid=${testId}] in ${max} presses`);
  }

  /** Whether the focused element draws a visible focus indicator. */
  async focusIsVisible() {
    return this.page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return false;
      const s = getComputedStyle(el);
      return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
    });
  }

  // --- Checks every test makes ------------------------------------------------------------------

  /** How many CSS pixels the page is wider than the window (0 when it fits). */
  async horizontalOverflow() {
    return this.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  }

  /** Hosts (origins) the page requested other than its own origin and `allowed`. */
  foreignRequests(allowed = []) {
    const own = new URL(this.page.url()).origin;
    const ok = new Set([own, ...allowed.map((u) => new URL(u).origin)]);
    return this.requests.filter((u) => !u.startsWith('data:') && !u.startsWith('blob:') && !ok.has(new URL(u).origin));
  }

  /**
   * No console errors, failed requests or CSP violations. `cloudStatuses` lists HTTP error statuses
   * the test expects from the cloud (a 403 for somebody else's device, say); those are not problems.
   */
  async expectClean({ cloud, cloudStatuses = [] } = {}) {
    const expected = (p) => {
      const m = p.match(/^HTTP (\d+): (.*)$/);
      return m && cloud && m[2].startsWith(cloud) && cloudStatuses.includes(Number(m[1]));
    };
    assert.deepEqual(this.problems.filter((p) => !expected(p)), [], 'no console errors or failed requests');
    assert.deepEqual(await this.cspViolations(), [], 'no Content-Security-Policy violations');
  }

  async close() {
    open.delete(this);
    await this.page.context().close();
  }
}

/** axe-core, installed by scripts/setup under the project's Node tools. */
const axePath = path.join(process.env.KR_NODE ?? path.resolve(import.meta.dirname, '..', '..', 'target', 'tools', 'node'), 'node_modules', 'axe-core', 'axe.min.js');

/** axe in the light and the dark theme, then a screenshot; returns "state/theme: rule (targets)" lines. */
export async function audit(kr, state) {
  const found = [];
  for (const scheme of ['light', 'dark']) {
    await kr.page.emulateMedia({ colorScheme: scheme });
    if (!(await kr.page.evaluate(() => typeof window.axe !== 'undefined'))) await kr.page.addScriptTag({ path: axePath });
    const violations = await kr.page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ['violations'] });
      return r.violations.map((v) => `${v.id} [${v.impact}] ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    });
    for (const v of violations) found.push(`${state}/${scheme}: ${v}`);
  }
  await kr.page.emulateMedia({ colorScheme: 'light' });
  await kr.shot(state);
  return found;
}

