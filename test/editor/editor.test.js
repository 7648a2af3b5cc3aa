'use strict';
const { ROOT } = require('../support/paths');
/**
 * The editor as users meet it, in a real browser: Debian's Chromium driven by playwright-core
 * (no browser download), against the Node-RED that `npm start` runs (dev/start.js, in a child
 * process: Node-RED can be initialised only once per process).
 *
 *   npm run test:browser
 *
 * Checks: the palette shows our four flow nodes under "tesla"; a flow node dropped from the
 * palette offers the config nodes; each of the six node types' edit dialog opens, its inputs
 * render, a bad value is flagged, no raw message-catalog key (`telemetry-in.label.vins`) shows
 * anywhere in it, and its help appears in the help sidebar; the validation texts are the
 * catalogs'; telemetry config's checks and preview are the runtime's answers; each example imports
 * through Import ▸ Examples; after filling the broker placeholders the deploy succeeds (no error
 * notification, no runtime error logged but for the account placeholders left empty); within
 * 30 s the debug sidebar shows a message from a simulated car, sent by an imported example;
 * no uncaught error in the page; SIGINT stops the app with exit code 0.
 * Screenshots of failures go to test-results/ (git-ignored), with the app's output
 * (EDITOR_TEST_LOG=file writes that output on every run).
 *
 * CHROMIUM=/path/to/chromium overrides the browser (default /usr/bin/chromium).
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { DEMO_CARS } = require('../../dev/simulator');
const { startApp, stopApp, launchChromium, CHROMIUM } = require('../support/app');

const REPO = ROOT;
const RESULTS = path.join(REPO, 'test-results');
const EXAMPLES_DIR = path.join(REPO, 'examples');
const MODULE = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).name;
const VINS = DEMO_CARS.map((c) => c.vin);
const FLOW_TYPES = ['telemetry-in', 'vehicle-data', 'telemetry-config', 'vehicle-command'];
const PALETTE_LABELS = {
  'telemetry-in': 'telemetry in',
  'vehicle-data': 'vehicle data',
  'telemetry-config': 'telemetry config',
  'vehicle-command': 'vehicle command',
};
/** How a freshly dropped node is labelled on the canvas (telemetry-config: its default action). */
const NEW_NODE_LABELS = {
  'telemetry-in': 'telemetry in',
  'vehicle-data': 'vehicle data',
  'telemetry-config': 'telemetry status',
  'vehicle-command': 'vehicle command',
};
const SHORT = 10000; // most UI steps: well under a second; generous for a loaded CI machine
const TYPES = ['telemetry-broker', 'telemetry-in', 'tesla-account', 'vehicle-data', 'telemetry-config'];
/** Text that is a message-catalog key, not its words: `telemetry-in.label.vins`, `node-red:common.label.name`. */
const RAW_KEY = new RegExp(`(^|[^\\w/-])((${TYPES.join('|')})\\.[A-Za-z]|node-red:|common\\.label\\.)`);

// ---------------------------------------------------------------------------------------------
// helpers

/** The opening words of a node's help (its data-help-name block's first paragraph), as text. */
function helpPhrase(type) {
  const html = fs.readFileSync(path.join(REPO, 'nodes', 'locales', 'en-US', `${type}.html`), 'utf8');
  const block = new RegExp(`data-help-name="${type}">([\\s\\S]*?)</script>`).exec(html);
  assert.ok(block, `${type}.html has a data-help-name block`);
  const para = /<p>([\s\S]*?)<\/p>/.exec(block[1]);
  assert.ok(para, `${type}'s help has a paragraph`);
  const text = para[1]
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&ndash;/g, '–')
    .replace(/&mdash;/g, '—')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
  return text.split(' ').slice(0, 7).join(' ');
}

/** A node's message catalog, as the build wrote it. */
function catalog(type) {
  return JSON.parse(fs.readFileSync(path.join(REPO, 'nodes', 'locales', 'en-US', `${type}.json`), 'utf8'))[type];
}

function readExamples() {
  return fs
    .readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const nodes = JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, file), 'utf8'));
      const tab = nodes.find((n) => n.type === 'tab');
      return { file, label: file.replace(/\.json$/, ''), nodes, tab };
    });
}

// ---------------------------------------------------------------------------------------------

describe('editor in a browser (npm start + Chromium)', function () {
  this.timeout(60000);

  const appLog = [];
  const pageErrors = [];
  let app;
  let urls;
  let userDir;
  let browser;
  let page;
  let scratchTab; // the flow tab the palette nodes are dropped on
  let deployLogMark = null; // length of the app's output when Deploy was clicked
  const examples = readExamples();

  before(async function () {
    this.timeout(120000);
    assert.ok(fs.existsSync(CHROMIUM), `no browser at ${CHROMIUM} (apt-get install chromium)`);
    assert.ok(fs.existsSync(path.join(REPO, 'nodes', 'telemetry-in.js')), 'not built: run `npm run build` first');
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tesla-editor-test-'));
    app = startApp(userDir, appLog);
    [urls, browser] = await Promise.all([app.ready, launchChromium()]);
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    context.setDefaultTimeout(SHORT);
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(urls.editorUrl);
    // the editor is ready when the palette is built and the deployed flows are shown
    await page.locator('#red-ui-palette-container-tesla').waitFor({ timeout: 30000 });
    await page.locator('#red-ui-workspace-chart g.red-ui-flow-node').first().waitFor({ timeout: 30000 });
  });

  afterEach(async function () {
    if (this.currentTest.state !== 'failed') return;
    fs.mkdirSync(RESULTS, { recursive: true });
    const name = this.currentTest.title
      .replace(/[^a-z0-9]+/gi, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 80);
    if (page) await page.screenshot({ path: path.join(RESULTS, `editor-${name}.png`), fullPage: true }).catch(() => {});
    fs.writeFileSync(path.join(RESULTS, 'editor-app.log'), appLog.join(''));
    // leave no edit dialog open for the next test
    for (let i = 0; page && i < 5 && (await trayCount().catch(() => 0)) > 0; i++) {
      const cancel = page.locator('#node-config-dialog-cancel, #node-dialog-cancel').filter({ visible: true }).first();
      await cancel.click({ timeout: 2000 }).catch(() => {});
      await page.waitForTimeout(500);
    }
  });

  after(async function () {
    this.timeout(30000);
    if (browser) await browser.close().catch(() => {});
    const exit = await stopApp(app);
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
    if (process.env.EDITOR_TEST_LOG) fs.writeFileSync(process.env.EDITOR_TEST_LOG, appLog.join(''));
    // Ctrl-C stops everything cleanly: exit code 0 within 15 s
    if (exit) assert.deepEqual(exit, { code: 0, signal: null }, `dev/start.js did not stop cleanly on SIGINT:\n${appLog.join('').slice(-2000)}`);
  });

  // ---- editor helpers (need `page`)

  // Edit trays stack: a config node's tray opens over the flow node's, which is detached from the
  // page meanwhile and comes back when the config tray closes.
  const NODE_TRAY = '#node-dialog-cancel';
  const CONFIG_TRAY = '#node-config-dialog-cancel';

  /** The edit tray in front. */
  const topTray = () => page.locator('#red-ui-editor-stack .red-ui-tray').filter({ visible: true }).last();

  async function trayCount() {
    return page.locator('#red-ui-editor-stack .red-ui-tray').count();
  }

  async function noTrays(timeout) {
    await page.waitForFunction(() => document.querySelectorAll('#red-ui-editor-stack .red-ui-tray').length === 0, null, { timeout });
  }

  /** Drag a palette node onto the canvas at (dx, dy) from the canvas' top left. */
  async function dragFromPalette(type, dx, dy) {
    const source = page.locator(`#red-ui-palette-container-tesla .red-ui-palette-node[data-palette-type="${type}"]`);
    await source.scrollIntoViewIfNeeded();
    const from = await source.boundingBox();
    const chart = await page.locator('#red-ui-workspace-chart').boundingBox();
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(from.x + from.width / 2 + 30, from.y + from.height / 2, { steps: 5 });
    await page.mouse.move(chart.x + dx, chart.y + dy, { steps: 15 });
    await page.mouse.up();
  }

  /** The canvas node of the active flow labelled `label`. */
  const canvasNode = (label) => page.locator('#red-ui-workspace-chart g.red-ui-flow-node').filter({ has: page.locator('text', { hasText: label }) });

  /** Type a value into an input as a user does (select all, type, leave the field). */
  async function typeInto(selector, value) {
    const input = page.locator(selector);
    await input.click();
    await input.press('ControlOrMeta+a');
    if (value === '') await input.press('Delete');
    else await input.pressSequentially(String(value));
    await input.press('Tab');
  }

  /** Enter `bad` into `selector`: flagged with `cls`; then `good`: the flag goes away. */
  async function expectFlagged(selector, bad, good, cls = 'input-error') {
    await typeInto(selector, bad);
    await page.locator(`${selector}.${cls}`).waitFor({ state: 'attached' });
    await typeInto(selector, good);
    await page.locator(`${selector}:not(.${cls})`).waitFor({ state: 'attached' });
  }

  /** Repeat `step` (an action that answers whether it worked) until it does. */
  async function until(step, what, timeout = SHORT) {
    const end = Date.now() + timeout;
    for (;;) {
      if (await step()) return;
      if (Date.now() > end) throw new Error(`timed out: ${what}`);
      await page.waitForTimeout(250);
    }
  }

  async function expectVisible(selectors) {
    for (const s of selectors) await page.locator(s).waitFor({ state: 'visible' });
  }

  /** Every word of the tray in front (text, hidden rows too, placeholders, titles) is a catalog's text, not its key. */
  async function expectNoRawKeys(what) {
    const texts = await topTray().evaluate((tray) => {
      const out = [];
      const walker = document.createTreeWalker(tray, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        if (!n.parentElement.closest('style, script') && n.nodeValue.trim()) out.push(n.nodeValue.trim());
      }
      for (const el of tray.querySelectorAll('[placeholder], [title]')) {
        for (const a of ['placeholder', 'title']) if (el.getAttribute(a)) out.push(el.getAttribute(a));
      }
      // A key missing from the catalog leaves its element empty (or shows the key): none may be.
      const empty = [];
      for (const el of tray.querySelectorAll('[data-i18n]')) {
        for (const key of el.getAttribute('data-i18n').split(';')) {
          const attr = /^\[(\w+)\]/.exec(key);
          const value = attr && attr[1] !== 'html' ? el.getAttribute(attr[1]) : el.textContent;
          if (!value || !value.trim()) empty.push(key);
        }
      }
      return { out, empty };
    });
    assert.ok(texts.out.length > 10, `${what}: the dialog has words (${texts.out.length})`);
    assert.deepEqual(
      texts.out.filter((t) => RAW_KEY.test(t)),
      [],
      `${what}: raw message keys in the dialog`,
    );
    assert.deepEqual(texts.empty, [], `${what}: elements whose catalog text is missing`);
  }

  /** The tray's help button shows the type's help in the help sidebar. */
  async function expectHelp(type) {
    await topTray().locator('.red-ui-tray-footer-left button:has(i.fa-book)').click();
    await page.locator('#red-ui-tab-help.active').waitFor({ state: 'attached' });
    await page
      .locator('#red-ui-sidebar-content .red-ui-help')
      .filter({ hasText: helpPhrase(type) })
      .first()
      .waitFor();
  }

  /** Options of a config-node select, and its edit (pencil) and add (+) buttons. */
  async function configSelect(prop) {
    const select = page.locator(`#node-input-${prop}`);
    await select.waitFor();
    assert.equal(await select.evaluate((e) => e.tagName), 'SELECT', `#node-input-${prop} became a select`);
    await page.locator(`#node-input-btn-${prop}-edit`).waitFor();
    await page.locator(`#node-input-btn-${prop}-add`).waitFor();
    return select.locator('option').allInnerTexts();
  }

  async function openNode(label) {
    await canvasNode(label).first().dblclick();
    await page.locator(NODE_TRAY).waitFor();
  }

  /** Cancel the config node's tray: back to the flow node's. */
  async function cancelConfig() {
    await page.locator(CONFIG_TRAY).click();
    await page.locator(CONFIG_TRAY).waitFor({ state: 'detached' });
    await page.locator(NODE_TRAY).waitFor();
  }

  async function cancelNode() {
    // A click that lands while the tray above is still sliding away can be lost: try again,
    // a bounded number of times, before failing.
    for (let attempt = 1; ; attempt++) {
      if ((await trayCount()) === 0) return;
      if (attempt === 1) await page.locator(NODE_TRAY).click();
      else
        await page
          .locator(NODE_TRAY)
          .click({ timeout: 5000 })
          .catch(() => {});
      try {
        await noTrays(5000);
        return;
      } catch (e) {
        if (attempt === 3) throw e;
      }
    }
  }

  async function notifications() {
    return page
      .locator('#red-ui-notifications .red-ui-notification')
      .evaluateAll((els) =>
        els.map((e) => ({ text: e.innerText.replace(/\s+/g, ' ').trim(), error: e.classList.contains('red-ui-notification-error') })),
      );
  }

  // ---- the tests

  it('palette: the four flow nodes under "tesla", the config nodes not in the palette', async function () {
    const category = page.locator('#red-ui-palette-container-tesla');
    assert.equal((await category.locator('.red-ui-palette-header').innerText()).trim(), 'tesla');
    const nodes = category.locator('.red-ui-palette-node');
    for (const type of FLOW_TYPES) {
      const node = nodes.and(page.locator(`[data-palette-type="${type}"]`));
      await node.scrollIntoViewIfNeeded();
      await node.waitFor();
      assert.equal(await node.getAttribute('data-palette-label'), PALETTE_LABELS[type]);
    }
    assert.deepEqual((await nodes.evaluateAll((els) => els.map((e) => e.dataset.paletteType))).sort(), [...FLOW_TYPES].sort());
    for (const type of ['telemetry-broker', 'tesla-account']) {
      assert.equal(await page.locator(`#red-ui-palette .red-ui-palette-node[data-palette-type="${type}"]`).count(), 0, type);
    }
  });

  it('the flow nodes drop from the palette onto a new flow', async function () {
    const tabs = page.locator('#red-ui-workspace-tabs > li.red-ui-tab');
    const before = await tabs.count();
    await page.locator('#red-ui-workspace div.red-ui-tab-button.red-ui-tabs-add > a').click();
    await page.waitForFunction((n) => document.querySelectorAll('#red-ui-workspace-tabs > li.red-ui-tab').length === n, before + 1);
    scratchTab = (await page.locator('#red-ui-workspace-tabs > li.red-ui-tab.active').getAttribute('id')).replace(/^red-ui-tab-/, '');
    assert.equal(await page.locator('#red-ui-workspace-chart g.red-ui-flow-node').count(), 0, 'the new flow is empty');
    let y = 120;
    for (const type of FLOW_TYPES) {
      await dragFromPalette(type, 300, y);
      await canvasNode(NEW_NODE_LABELS[type]).waitFor();
      y += 120;
    }
    assert.equal(await page.locator('#red-ui-workspace-chart g.red-ui-flow-node').count(), FLOW_TYPES.length);
  });

  it('telemetry in: offers the broker config nodes; inputs render, validate; help in the sidebar', async function () {
    await openNode(NEW_NODE_LABELS['telemetry-in']);
    const options = await configSelect('broker');
    assert.ok(options.includes('demo broker'), `broker options ${JSON.stringify(options)} list the demo's telemetry-broker`);
    await expectVisible([
      '#node-input-vins',
      '#node-input-fields',
      '#node-input-mode',
      '#node-input-staleAfter',
      '#node-input-retained',
      '#node-input-units',
      '#node-input-name',
    ]);
    assert.equal(await page.locator('#node-input-units').inputValue(), 'sent');
    assert.deepEqual(
      await page.locator('#node-input-units option').allInnerTexts(),
      ['sent', 'metric', 'imperial', 'car'].map((u) => catalog('telemetry-in').option.units[u]),
    );
    await expectNoRawKeys('telemetry in');
    assert.equal((await page.locator('label[for="node-input-vins"]').innerText()).trim(), catalog('telemetry-in').label.vins);
    await page.locator('#node-input-mode').selectOption('vehicle');
    await page.locator('#node-input-quietTime').waitFor({ state: 'visible' });
    await page.locator('#node-input-mode').selectOption('field');
    await page.locator('#node-input-quietTime').waitFor({ state: 'hidden' });
    await expectFlagged('#node-input-staleAfter', '-1', '60');
    await expectFlagged('#node-input-vins', 'not a vin!', '5YJ3E1EA1SF000001');
    await expectHelp('telemetry-in');
  });

  it('telemetry-broker: "add new" from telemetry in opens its dialog; inputs render, validate; help in the sidebar', async function () {
    // the flow node's + button next to the broker select: a new telemetry-broker
    await page.locator('#node-input-btn-broker-add').click();
    await page.locator(CONFIG_TRAY).waitFor();
    await expectVisible([
      '#node-config-input-name',
      '#node-config-input-url',
      '#node-config-input-topicBase',
      '#node-config-input-username',
      '#node-config-input-password',
      '#node-config-input-clientId',
      '#node-config-input-clean',
      '#node-config-input-sharedGroup',
      '#node-config-input-reconnectPeriod',
    ]);
    assert.equal(await page.locator('#node-config-input-url').inputValue(), 'mqtt://127.0.0.1:1883');
    await expectNoRawKeys('telemetry-broker');
    await page.locator('#node-config-input-ca').waitFor({ state: 'hidden' }); // CA only for TLS
    await expectFlagged('#node-config-input-url', 'http://x', 'mqtts://broker.example.com:8883');
    await page.locator('#node-config-input-ca').waitFor({ state: 'visible' });
    await expectFlagged('#node-config-input-topicBase', 'tele/#', 'telemetry');
    await expectFlagged('#node-config-input-reconnectPeriod', '0', '5');
    // a broker not deployed yet has no usage to show, and says so
    await page
      .locator('#telemetry-broker-usage')
      .filter({ hasText: catalog('telemetry-broker').usage.notDeployed })
      .waitFor();
    await expectHelp('telemetry-broker');
    await cancelConfig();
    await cancelNode();
  });

  it('vehicle data: offers the account and broker config nodes; inputs render, validate; help in the sidebar', async function () {
    await openNode(NEW_NODE_LABELS['vehicle-data']);
    const accounts = await configSelect('account');
    assert.ok(
      accounts.some((o) => /^demo account/.test(o)),
      `account options ${JSON.stringify(accounts)} list the demo's tesla-account`,
    );
    const brokers = await configSelect('broker');
    assert.ok(brokers.includes('demo broker'), `broker options ${JSON.stringify(brokers)} list the demo's telemetry-broker`);
    await expectVisible([
      '#node-input-vins',
      '#node-input-mode',
      '#node-input-units',
      '#node-input-auto',
      '#vehicle-data-endpoints input[type=checkbox] >> nth=0',
      '#node-input-dailyBudget',
      '#node-input-name',
    ]);
    assert.equal(await page.locator('#node-input-units').inputValue(), 'sent');
    // Stale after shows with a broker (it decides which inputs are free reads) or with auto; Poll every with auto only
    await page.locator('#node-input-broker').selectOption({ label: 'demo broker' });
    await page.locator('#node-input-staleAfter').waitFor({ state: 'visible' });
    await page.locator('#node-input-pollInterval').waitFor({ state: 'hidden' });
    await page.locator('#node-input-broker').selectOption('_ADD_'); // "none" while config nodes exist
    await page.locator('#node-input-staleAfter').waitFor({ state: 'hidden' });
    assert.equal(await page.locator('#vehicle-data-endpoints input[type=checkbox]').count(), 10);
    await expectNoRawKeys('vehicle data');
    await page.locator('#node-input-auto').check();
    await expectVisible(['#node-input-staleAfter', '#node-input-pollInterval']);
    await expectFlagged('#node-input-staleAfter', '0', '60');
    await expectFlagged('#node-input-dailyBudget', '1.5', '0');
    await expectHelp('vehicle-data');
  });

  it("tesla-account: the pencil beside vehicle data's account opens its dialog; inputs render, validate; help in the sidebar", async function () {
    await page
      .locator('#node-input-account')
      .selectOption({ label: (await page.locator('#node-input-account option').allInnerTexts()).find((o) => /^demo account/.test(o)) });
    await page.locator('#node-input-btn-account-edit').click();
    await page.locator(CONFIG_TRAY).waitFor();
    await expectVisible([
      '#node-config-input-name',
      '#node-config-input-region',
      '#node-config-input-clientId',
      '#node-config-input-clientSecret',
      '#node-config-input-refreshToken',
      '#node-config-input-accessToken',
      '#node-config-input-proxyUrl',
      '#node-config-input-proxyCa',
      '#node-config-input-domain',
      // the demo account uses a custom Fleet API URL, so "Advanced" opens by itself
      '#node-config-input-tokenUrl',
      '#node-config-input-fleetApiUrl',
    ]);
    assert.match(await page.locator('#node-config-input-name').inputValue(), /^demo account/);
    await expectNoRawKeys('tesla-account');
    const proxyUrl = await page.locator('#node-config-input-proxyUrl').inputValue();
    assert.match(proxyUrl, /^https:\/\//);
    await expectFlagged('#node-config-input-proxyUrl', 'http://x', proxyUrl);
    await expectFlagged('#node-config-input-domain', 'https://fleet.example.com/', 'fleet.example.com');
    await page.locator('#tesla-account-pairing-link').filter({ hasText: 'https://tesla.com/_ak/fleet.example.com' }).waitFor();
    await expectHelp('tesla-account');
    await cancelConfig(); // the demo account stays as it was
    await cancelNode();
  });

  it('telemetry config: offers the account config nodes; inputs render, validate; help in the sidebar', async function () {
    await openNode(NEW_NODE_LABELS['telemetry-config']);
    const accounts = await configSelect('account');
    assert.ok(
      accounts.some((o) => /^demo account/.test(o)),
      `account options ${JSON.stringify(accounts)} list the demo's tesla-account`,
    );
    await expectVisible([
      '#node-input-name',
      '#node-input-action',
      '#node-input-vins',
      '#node-input-hostname',
      '#node-input-tc-port',
      '#node-input-ca',
      '#node-input-alertTypes',
      '#node-input-preferTyped',
      '#node-input-tc-exp',
      '#node-input-ensureEvery',
      '#node-input-dailyBudget',
      '#node-input-fieldsFrom',
    ]);
    const brokers = await configSelect('broker');
    assert.ok(brokers.includes('demo broker'), `broker options ${JSON.stringify(brokers)} list the demo's telemetry-broker`);
    await page.locator('#node-input-defaultInterval').waitFor({ state: 'hidden' }); // fields from the table by default
    // the fields table: the seed preset's rows, and the preview of the register body
    await page.locator('#node-input-tc-fields .node-input-tc-f-name').first().waitFor();
    assert.ok((await page.locator('#node-input-tc-fields .node-input-tc-f-name').count()) >= 7, 'the seed preset fills the fields table');
    await page.locator('#node-input-tc-preview').filter({ hasText: '"BatteryLevel"' }).waitFor();
    const words = catalog('telemetry-config');
    await page
      .locator('#node-input-tc-preview-label')
      .filter({ hasText: words.preview.other.replace('__action__', 'status') })
      .waitFor();
    await expectNoRawKeys('telemetry config');
    // the checks are the runtime's (POST telemetry-config/preview): its words for a hostname with a scheme
    await expectFlagged('#node-input-hostname', 'https://telemetry.example.com/x', 'telemetry.example.com');
    await typeInto('#node-input-hostname', 'https://telemetry.example.com/x');
    await page.locator('#node-input-tc-problems li.tc-bad').filter({ hasText: 'hostname "https://telemetry.example.com/x" has a scheme' }).waitFor();
    await typeInto('#node-input-hostname', 'telemetry.example.com');
    await page.locator('#node-input-tc-problems li.tc-bad').filter({ hasText: 'has a scheme' }).waitFor({ state: 'detached' });
    await page.locator('#node-input-action').selectOption('register');
    await page.locator('#node-input-tc-preview-label').filter({ hasText: words.preview.register }).waitFor();
    // the port input is the node's own (typed on save): flagged by the dialog's checks, which name it
    await expectFlagged('#node-input-tc-port', '70000', '4433', 'tc-invalid');
    await typeInto('#node-input-tc-port', '70000');
    await page.locator('#node-input-tc-problems li.tc-bad').filter({ hasText: 'port' }).waitFor();
    await typeInto('#node-input-tc-port', '4433');
    await page.locator('#node-input-tc-preview').filter({ hasText: '"port": 4433' }).waitFor();
    // fields from the flow: the runtime derives them live from the editor's telemetry-in nodes on
    // the broker; the demo's listen to every field, which it names as the reason there are none
    await expectFlagged('#node-input-ensureEvery', '200', '24');
    await page.locator('#node-input-broker').selectOption({ label: 'demo broker' });
    await page.locator('#node-input-fieldsFrom').selectOption('flow');
    await page.locator('#node-input-defaultInterval').waitFor({ state: 'visible' });
    await page
      .locator('#node-input-tc-flow-fields.tc-bad')
      .filter({ hasText: /telemetry-in .* has no field filter/ })
      .waitFor();
    await page.locator('#node-input-tc-problems li.tc-bad').filter({ hasText: 'has no field filter' }).waitFor();
    await page.locator('#node-input-fieldsFrom').selectOption('node');
    await page.locator('#node-input-tc-flow-fields').waitFor({ state: 'hidden' });
    await page.locator('#node-input-tc-problems li.tc-bad').filter({ hasText: 'has no field filter' }).waitFor({ state: 'detached' });
    await expectHelp('telemetry-config');
    await cancelNode();
  });

  it("validation texts are the catalogs' words", async function () {
    const cases = [
      ['telemetry-broker', 'url', 'http://x', catalog('telemetry-broker').errors.url],
      ['telemetry-in', 'staleAfter', '-1', catalog('telemetry-in').errors.staleAfter],
      ['tesla-account', 'domain', 'https://fleet.example.com/', catalog('tesla-account').errors.domain],
      ['vehicle-data', 'dailyBudget', '1.5', catalog('vehicle-data').errors.dailyBudget],
      ['vehicle-data', 'units', 'kelvin', catalog('vehicle-data').errors.units],
      ['vehicle-data', 'endpoints', 'nope', catalog('vehicle-data').errors.endpoints.replace('__endpoints__', 'charge_state, climate_state')],
      [
        'telemetry-config',
        'action',
        'nope',
        catalog('telemetry-config').errors.action.replace('__actions__', 'check, register, status, errors, delete'),
      ],
    ];
    for (const [type, prop, bad, want] of cases) {
      const got = await page.evaluate(([t, p, v]) => RED.nodes.getType(t).defaults[p].validate.call({}, v, { label: p }), [type, prop, bad]);
      assert.ok(
        typeof got === 'string' && got.startsWith(want.split('__')[0]),
        `${type}.${prop}: ${JSON.stringify(got)} is the catalog's ${JSON.stringify(want)}`,
      );
      assert.ok(!RAW_KEY.test(got), got);
    }
  });

  it("telemetry config: a node imported with a bad setting is flagged with the runtime's words, unopened", async function () {
    const id = await page.evaluate((z) => {
      let account = null;
      RED.nodes.eachConfig((n) => {
        if (n.type === 'tesla-account') account = account || n.id;
      });
      const {
        nodes: [node],
      } = RED.nodes.import(
        [
          {
            id: 'tc-import-check',
            type: 'telemetry-config',
            z,
            x: 600,
            y: 520,
            wires: [[]],
            name: 'imported',
            account,
            action: 'register',
            hostname: 'https://x.example.com/y',
            port: 4433,
            ca: '',
            fields: { BatteryLevel: { interval_seconds: 60 } },
            vins: '',
            exp: '',
          },
        ],
        { generateIds: true },
      );
      RED.view.redraw();
      return node.id;
    }, scratchTab);
    const errors = await page.waitForFunction((nodeId) => {
      const n = RED.nodes.node(nodeId);
      return n && n.valid === false && n.validationErrors;
    }, id);
    const messages = await errors.jsonValue();
    assert.ok(
      messages.some((m) => /hostname "https:\/\/x\.example\.com\/y" has a scheme/.test(m)),
      JSON.stringify(messages),
    );
    // fixed on the node itself: valid again once the runtime answered for the new settings
    await page.evaluate((nodeId) => {
      const n = RED.nodes.node(nodeId);
      n.hostname = 'x.example.com';
      RED.editor.validateNode(n);
    }, id);
    await page.waitForFunction((nodeId) => RED.nodes.node(nodeId).valid === true, id);
  });

  it('vehicle command: offers the account and broker; each command shows its parameters with their ranges; wake and unlock warnings; help', async function () {
    await openNode(NEW_NODE_LABELS['vehicle-command']);
    const accounts = await configSelect('account');
    assert.ok(
      accounts.some((o) => /^demo account/.test(o)),
      `account options ${JSON.stringify(accounts)} list the demo's tesla-account`,
    );
    const brokers = await configSelect('broker');
    assert.ok(brokers.includes('demo broker'), `broker options ${JSON.stringify(brokers)} list the demo's telemetry-broker`);
    await expectVisible([
      '#node-input-vins',
      '#node-input-command',
      '#node-input-wake',
      '#node-input-allowUnlock',
      '#node-input-minInterval',
      '#node-input-verify',
      '#node-input-dailyBudget',
      '#node-input-name',
    ]);
    // the runtime's table: "from msg.command" and the thirteen commands
    await page.waitForFunction(() => document.querySelectorAll('#node-input-command option').length === 14);
    await page.locator('#vehicle-command-from-msg').waitFor({ state: 'visible' });
    await page.locator('#node-input-command').selectOption('set_charging_amps');
    const amps = page.locator('#vehicle-command-params input.vehicle-command-param');
    await amps.waitFor();
    assert.deepEqual([await amps.getAttribute('min'), await amps.getAttribute('max')], ['0', '48']);
    await page.locator('#vehicle-command-params').filter({ hasText: 'integer 0 to 48' }).waitFor();
    await page.locator('#vehicle-command-about').filter({ hasText: 'ChargeCurrentRequest' }).waitFor();
    await page.locator('#vehicle-command-from-msg').waitFor({ state: 'hidden' });
    await page.locator('#node-input-command').selectOption('set_sentry_mode');
    await page.locator('#vehicle-command-params select.vehicle-command-param').waitFor();
    await page.locator('#node-input-command').selectOption('door_unlock');
    await page.waitForFunction(() => document.querySelectorAll('#vehicle-command-params .vehicle-command-param').length === 0);
    await page.locator('#vehicle-command-about').filter({ hasText: 'opens the car' }).waitFor();
    // wake: the cost warning only with "allow"; allow unlock: its warning only when ticked
    await page.locator('#vehicle-command-wake-warning').waitFor({ state: 'hidden' });
    await page.locator('#node-input-wake').selectOption('allow');
    await page.locator('#vehicle-command-wake-warning').filter({ hasText: '$0.02 per wake_up' }).waitFor({ state: 'visible' });
    await page.locator('#node-input-wake').selectOption('never');
    await page.locator('#vehicle-command-unlock-warning').waitFor({ state: 'hidden' });
    await page.locator('#node-input-allowUnlock').check();
    await page.locator('#vehicle-command-unlock-warning').waitFor({ state: 'visible' });
    await page.locator('#node-input-allowUnlock').uncheck();
    await page.locator('.vehicle-command-cost').filter({ hasText: '$0.001' }).waitFor();
    await expectFlagged('#node-input-vins', 'not a vin', '5YJ3E1EA1SF000001');
    await expectFlagged('#node-input-minInterval', '-1', '60');
    await expectFlagged('#node-input-dailyBudget', '1.5', '0');
    await expectHelp('vehicle-command');
    await cancelNode();
  });

  it('removes the scratch flow again', async function () {
    await page.locator(`#red-ui-tab-${scratchTab} a`).dblclick();
    await page.locator('#node-dialog-delete').click();
    await noTrays();
    await page.locator(`#red-ui-tab-${scratchTab}`).waitFor({ state: 'detached' });
  });

  it('imports each example through Import ▸ Examples', async function () {
    assert.deepEqual(
      examples.map((ex) => ex.label.slice(0, 2)),
      ['01', '02', '03', '04', '05', '06', '07', '08'],
    );
    for (const ex of examples) {
      await page.locator('#red-ui-header-button-sidemenu').click();
      await page.locator('#menu-item-import').click();
      const dialog = page.locator('#red-ui-clipboard-dialog');
      await dialog.waitFor();
      // the dialog is built anew each time it opens: click until the Examples tab shows
      const tree = page.locator('#red-ui-clipboard-dialog-import-tab-examples');
      await until(async () => {
        await page.locator('#red-ui-tab-red-ui-clipboard-dialog-import-tab-examples a').click();
        return tree.isVisible();
      }, 'the Examples tab of the Import dialog shows');
      const file = tree.locator('.red-ui-treeList-label').filter({ has: page.locator('.red-ui-treeList-label-text', { hasText: ex.label }) });
      const moduleEntry = tree.locator('.red-ui-treeList-label').filter({ has: page.locator('.red-ui-treeList-label-text', { hasText: MODULE }) });
      const ok = page.locator('#red-ui-clipboard-dialog-ok');
      await moduleEntry.waitFor();
      // the tree remembers what was open last time and may still be opening it: wait a moment
      // before opening our module, then pick the file until it is selected and Import enabled
      await until(async () => {
        if (!(await file.isVisible())) {
          if (
            !(await file.waitFor({ timeout: 1000 }).then(
              () => true,
              () => false,
            ))
          ) {
            await moduleEntry.click();
            await file.waitFor({ timeout: 1000 }).catch(() => {});
          }
        }
        if (await file.isVisible()) await file.click();
        return (await file.evaluate((e) => e.classList.contains('selected')).catch(() => false)) && ok.isEnabled();
      }, `${ex.file} selected under Import ▸ Examples ▸ ${MODULE}`);
      await ok.click();
      await dialog.waitFor({ state: 'hidden' });
      const tab = page.locator(`#red-ui-tab-${ex.tab.id}`);
      await tab.waitFor();
      assert.equal((await tab.innerText()).trim(), ex.tab.label);
      await page.locator('#red-ui-notifications .red-ui-notification').filter({ hasText: 'Imported' }).first().waitFor();
      // every node of the example is on its tab, and none is flagged as wrongly configured
      await tab.locator('a').click();
      await page.locator(`#red-ui-workspace-tabs > li.active#red-ui-tab-${ex.tab.id}`).waitFor();
      const want = ex.nodes.filter((n) => n.z === ex.tab.id).length;
      await page.waitForFunction((n) => document.querySelectorAll('#red-ui-workspace-chart g.red-ui-flow-node').length === n, want);
      const flagged = await page
        .locator('#red-ui-workspace-chart .red-ui-flow-node-error')
        .evaluateAll((els) => els.filter((e) => !e.classList.contains('hide') && e.getBoundingClientRect().width > 0).length);
      assert.equal(flagged, 0, `${ex.file}: nodes flagged as not properly configured`);
      const errors = (await notifications()).filter((n) => n.error);
      assert.deepEqual(errors, [], `${ex.file}: error notifications`);
    }
  });

  it("fills the examples' broker placeholders (config sidebar) and deploys without errors", async function () {
    // The examples' "local broker" says mqtt://127.0.0.1:1883 (and example 08's "Home Assistant
    // broker" 127.0.0.1 port 1883); this run's broker has a free port.
    await page.locator('#red-ui-tab-config-link-button').click();
    const brokers = page
      .locator('#red-ui-sidebar-content .red-ui-palette-node-config')
      .filter({ has: page.locator('.red-ui-palette-label', { hasText: /^local broker$/ }) });
    const want = examples.filter((ex) => ex.nodes.some((n) => n.type === 'telemetry-broker')).length;
    await page.waitForFunction(
      (n) =>
        [...document.querySelectorAll('#red-ui-sidebar-content .red-ui-palette-node-config .red-ui-palette-label')].filter(
          (e) => e.innerText.trim() === 'local broker',
        ).length === n,
      want,
    );
    for (let i = 0; i < want; i++) {
      await brokers.nth(i).dblclick();
      await page.locator(CONFIG_TRAY).waitFor();
      assert.equal(await page.locator('#node-config-input-url').inputValue(), 'mqtt://127.0.0.1:1883');
      await typeInto('#node-config-input-url', urls.brokerUrl);
      await page.locator('#node-config-input-url:not(.input-error)').waitFor({ state: 'attached' });
      await page.locator('#node-config-dialog-ok').click();
      await noTrays();
    }
    // example 08's "Home Assistant broker" (Node-RED's mqtt-broker) says 127.0.0.1:1883 too
    const haBrokers = page
      .locator('#red-ui-sidebar-content .red-ui-palette-node-config')
      .filter({ has: page.locator('.red-ui-palette-label', { hasText: /^Home Assistant broker$/ }) });
    const haWant = examples.filter((ex) => ex.nodes.some((n) => n.type === 'mqtt-broker')).length;
    assert.equal(await haBrokers.count(), haWant);
    for (let i = 0; i < haWant; i++) {
      await haBrokers.nth(i).dblclick();
      await page.locator(CONFIG_TRAY).waitFor();
      assert.equal(await page.locator('#node-config-input-broker').inputValue(), '127.0.0.1');
      await typeInto('#node-config-input-port', new URL(urls.brokerUrl).port);
      await page.locator('#node-config-dialog-ok').click();
      await noTrays();
    }
    assert.equal(await page.locator('#red-ui-sidebar-content .red-ui-palette-node-config-invalid').count(), 0, 'no config node flagged');

    await page.locator('#red-ui-tab-debug-link-button').click();
    await page.locator('#red-ui-sidebar-debug-clear').click();
    const deploy = page.locator('#red-ui-header-button-deploy');
    await page.locator('#red-ui-header-button-deploy:not(.disabled)').waitFor();
    deployLogMark = appLog.join('').length;
    await deploy.click();
    await page.locator('#red-ui-notifications .red-ui-notification').filter({ hasText: 'Successfully deployed' }).waitFor({ timeout: 30000 });
    await page.locator('#red-ui-header-button-deploy.disabled').waitFor({ state: 'attached' });
    const bad = (await notifications()).filter((n) => n.error || /not properly configured|unknown|error/i.test(n.text));
    assert.deepEqual(bad, [], 'no error notification after deploy');
  });

  it('within 30 s of the deploy the debug sidebar shows a simulated car, sent by an imported example', async function () {
    const flows = examples.map((ex) => ex.tab.id);
    await page.locator('#red-ui-tab-debug.active').waitFor({ state: 'attached' });
    const handle = await page.waitForFunction(
      ({ flows, vins }) => {
        for (const el of document.querySelectorAll('#red-ui-sidebar-content .red-ui-debug-msg')) {
          if (el.classList.contains('hide')) continue;
          const fromExample = flows.some((f) => el.classList.contains(`red-ui-debug-msg-flow-${f}`));
          const vin = vins.find((v) => el.textContent.includes(v));
          if (fromExample && vin) return { vin, text: el.innerText.replace(/\s+/g, ' ').slice(0, 200) };
        }
        return null;
      },
      { flows, vins: VINS },
      { timeout: 30000, polling: 250 },
    );
    const found = await handle.jsonValue();
    assert.ok(VINS.includes(found.vin), JSON.stringify(found));
  });

  it("the demo broker's dialog shows today's streaming usage: the simulated cars' signals", async function () {
    await page.locator('#red-ui-tab-config-link-button').click();
    await page
      .locator('#red-ui-sidebar-content .red-ui-palette-node-config')
      .filter({ has: page.locator('.red-ui-palette-label', { hasText: /^demo broker$/ }) })
      .dblclick();
    await page.locator(CONFIG_TRAY).waitFor();
    const box = page.locator('#telemetry-broker-usage');
    let text = '';
    await until(
      async () => {
        text = await box.innerText();
        return VINS.some((v) => text.includes(v));
      },
      'a simulated car in the usage table (read again every 10 s)',
      30000,
    ).catch((e) => assert.fail(`${e.message}: ${JSON.stringify(text.slice(0, 300))}`));
    assert.equal(await box.locator('table').count(), 1);
    assert.match(text, /signals ≈ \$/);
    await page.locator(CONFIG_TRAY).click();
    await noTrays();
  });

  it('the runtime logged no error since the deploy, but for the account placeholders left empty', function () {
    assert.ok(deployLogMark !== null, 'deployed');
    // The examples' "my Tesla account" nodes keep their empty client id (the Fleet API double's
    // refresh token is made per run and not printed): Node-RED logs that, and only that, for them.
    const errors = appLog
      .join('')
      .slice(deployLogMark)
      .split('\n')
      .filter((line) => /\[error\]/.test(line) && !/needs a client id/.test(line));
    assert.deepEqual(errors, []);
  });

  it('no uncaught errors in the editor page', function () {
    assert.deepEqual(pageErrors, []);
  });
});
