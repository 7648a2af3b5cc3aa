'use strict';
/**
 * The fleet dashboard (example 07, FlowFuse Dashboard 2) as users meet it: `npm start`
 * (dev/start.js in a child process) and Debian's Chromium driven by playwright-core, offline —
 * every request that does not go to 127.0.0.1 is refused, so Leaflet must come from the demo
 * and the map must draw without tiles.
 *
 *   npm run test:browser
 *
 * Checks: /dashboard shows a card per simulated car with its values; the map draws a marker
 * per car, and the cars move; both charts draw their lines; moving a car's charge-limit
 * slider sends one set_charge_limit that reaches the Fleet API double (its command log) and
 * comes back `verified` on the card, with the new limit from the stream; the streaming cost
 * of today shows; no script error in the page (failed loads of map tiles aside).
 * A screenshot of the page goes to test-results/dashboard.png; with UPDATE_SCREENSHOT=1 also
 * to docs/dashboard.png (the README's picture).
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ROOT } = require('../support/paths');
const { startApp, stopApp, launchChromium } = require('../support/app');
const { DEMO_CARS } = require('../../dev/simulator');

const RESULTS = path.join(ROOT, 'test-results');
const SHORT = 10000;
/** Series colours of the example's charts (the first three cars). */
const SERIES = [
  [0x00, 0x95, 0xff],
  [0xff, 0x00, 0x00],
  [0xff, 0x7f, 0x0e],
];

describe('fleet dashboard in a browser (npm start + Chromium, offline)', function () {
  this.timeout(60000);

  const appLog = [];
  const pageErrors = [];
  let app;
  let urls;
  let userDir;
  let browser;
  let page;

  before(async function () {
    this.timeout(120000);
    assert.ok(fs.existsSync(path.join(ROOT, 'nodes', 'telemetry-in.js')), 'not built: run `npm run build` first');
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tesla-dashboard-test-'));
    app = startApp(userDir, appLog);
    [urls, browser] = await Promise.all([app.ready, launchChromium()]);
    assert.ok(urls.dashboardUrl, `npm start names the dashboard:\n${urls.summary}`);
    assert.ok(urls.commandLogUrl, `npm start names the double's command log:\n${urls.summary}`);
    const context = await browser.newContext({ viewport: { width: 1400, height: 1150 } });
    context.setDefaultTimeout(SHORT);
    // Offline: only this machine answers (map tiles and CDNs fail, as without internet).
    await context.route('**/*', (route) => (/^(https?|wss?):\/\/127\.0\.0\.1[:/]/.test(route.request().url()) ? route.continue() : route.abort()));
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`page error: ${err.message}`));
    page.on('console', (m) => {
      // a refused request (a map tile) logs "Failed to load resource": that is the point of offline
      if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) pageErrors.push(`console: ${m.text()}`);
    });
    await page.goto(urls.dashboardUrl);
  });

  afterEach(async function () {
    if (this.currentTest.state !== 'failed') return;
    fs.mkdirSync(RESULTS, { recursive: true });
    const name = this.currentTest.title
      .replace(/[^a-z0-9]+/gi, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 80);
    if (page) await page.screenshot({ path: path.join(RESULTS, `dashboard-${name}.png`), fullPage: true }).catch(() => {});
    fs.writeFileSync(path.join(RESULTS, 'dashboard-app.log'), appLog.join(''));
  });

  after(async function () {
    this.timeout(30000);
    if (browser) await browser.close().catch(() => {});
    const exit = await stopApp(app);
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
    if (exit) assert.deepEqual(exit, { code: 0, signal: null }, `dev/start.js did not stop cleanly on SIGINT:\n${appLog.join('').slice(-2000)}`);
  });

  const card = (vin) => page.locator(`.tft-card[data-vin="${vin}"]`);

  /** The Fleet API double's command calls so far (dev/start.js lists them). */
  async function commandLog() {
    const res = await fetch(urls.commandLogUrl);
    assert.equal(res.status, 200, `${urls.commandLogUrl} answers`);
    return res.json();
  }

  /** Pixels of the series colours in the plot area (below the title and legend) of each chart. */
  function chartPixels() {
    return page.locator('.nrdb-ui-chart canvas').evaluateAll(
      (canvases, series) =>
        canvases.map((c) => {
          const { width, height } = c;
          if (!width || !height) return 0;
          const d = c.getContext('2d').getImageData(0, 0, width, height).data;
          let n = 0;
          for (let y = Math.floor(height * 0.3); y < height; y++) {
            for (let x = 0; x < width; x++) {
              const i = (y * width + x) * 4;
              if (series.some(([r, g, b]) => Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) < 60)) n++;
            }
          }
          return n;
        }),
      SERIES,
    );
  }

  it('/dashboard opens the Fleet page: a card per simulated car, with its name, VIN and battery', async function () {
    await page.waitForURL(/\/dashboard\/fleet$/);
    for (const car of DEMO_CARS) {
      const c = card(car.vin);
      await c.waitFor({ timeout: 30000 });
      await c.locator('.tft-name').filter({ hasText: car.name }).waitFor();
      await c.locator('.tft-vin').filter({ hasText: car.vin }).waitFor();
      // a value from the stream: battery in %, range in km (the example asks for metric)
      await c
        .locator('.tft-battery')
        .filter({ hasText: /^\d+ %$/ })
        .waitFor({ timeout: 30000 });
      await c
        .locator('.tft-range')
        .filter({ hasText: /^\d+ km$/ })
        .waitFor();
      assert.match(await c.locator('.tft-state').innerText(), /^(streaming|stale|asleep|waiting)( · \d+ (s|min|h|d))?$/);
    }
  });

  it('the map draws a marker per car without tiles, and the cars move on it', async function () {
    await page.locator('.tft-map.leaflet-container').waitFor();
    const markers = page.locator('.tft-map .tft-marker[data-vin]');
    await page.waitForFunction((n) => document.querySelectorAll('.tft-map .tft-marker[data-vin]').length === n, DEMO_CARS.length);
    const names = await markers.locator('.tft-marker-name').allInnerTexts();
    assert.deepEqual(names.sort(), DEMO_CARS.map((c) => c.name).sort());
    await page.locator('.tft-map-note').filter({ hasText: 'map tiles unavailable' }).waitFor();
    // the simulated cars drive within their first minute: some marker's position changes
    const where = () => markers.evaluateAll((els) => Object.fromEntries(els.map((e) => [e.dataset.vin, `${e.dataset.lat},${e.dataset.lon}`])));
    const first = await where();
    await page.waitForFunction(
      (before) =>
        [...document.querySelectorAll('.tft-map .tft-marker[data-vin]')].some((e) => before[e.dataset.vin] !== `${e.dataset.lat},${e.dataset.lon}`),
      first,
      { timeout: 45000, polling: 500 },
    );
  });

  it('both charts draw a line per car', async function () {
    assert.equal(await page.locator('.nrdb-ui-chart canvas').count(), 2, 'battery and charging power');
    const end = Date.now() + 30000;
    let pixels = await chartPixels();
    while (!pixels.every((n) => n > 100) && Date.now() < end) {
      await page.waitForTimeout(500);
      pixels = await chartPixels();
    }
    assert.ok(
      pixels.every((n) => n > 100),
      `series-coloured pixels in each chart's plot: ${pixels.join(', ')}`,
    );
  });

  it('a charge-limit change reaches the Fleet API double and comes back verified', async function () {
    this.timeout(120000);
    // a car that streams (the one whose stream drops could not confirm), controls on
    const candidates = DEMO_CARS.filter((c) => !c.dropsStream).map((c) => c.vin);
    let vin = null;
    const end = Date.now() + 60000;
    while (!vin && Date.now() < end) {
      for (const v of candidates) {
        const c = card(v);
        if ((await c.getAttribute('data-state')) === 'streaming' && (await c.locator('.tft-slider.v-input--disabled').count()) === 0) vin = v;
      }
      if (!vin) await page.waitForTimeout(500);
    }
    assert.ok(vin, 'a streaming car with its controls on');
    const c = card(vin);
    const before = Number((await c.locator('.tft-limit-value').innerText()).replace(/ %$/, ''));
    assert.ok(Number.isInteger(before) && before >= 50 && before <= 100, `limit ${before}`);
    const target = before < 100 ? before + 1 : before - 1;
    const callsBefore = (await commandLog()).length;

    await c.locator('.tft-slider .v-slider-thumb').focus();
    await page.keyboard.press(target > before ? 'ArrowRight' : 'ArrowLeft');
    await c
      .locator('.tft-limit-value')
      .filter({ hasText: `${target} %` })
      .waitFor();

    // the double carried it out: one set_charge_limit for this car, with the new percent
    let calls = [];
    const until = Date.now() + 20000;
    while (Date.now() < until) {
      calls = (await commandLog()).slice(callsBefore);
      if (calls.some((x) => x.status !== null)) break;
      await page.waitForTimeout(250);
    }
    assert.deepEqual(
      calls.map((x) => [x.vin, x.command, x.body, x.status]),
      [[vin, 'set_charge_limit', { percent: target }, 200]],
    );
    // ... and the card says so once the stream showed it
    const status = c.locator('.tft-command[data-command="set_charge_limit"][data-verified="true"]');
    await status.waitFor({ timeout: 60000 });
    assert.match(await status.innerText(), new RegExp(`^Charge limit ${target} %: done · verified ✓`));
    await c
      .locator('.tft-limit-value')
      .filter({ hasText: `${target} %` })
      .waitFor();
  });

  it("shows today's streaming signals and their cost", async function () {
    const text = page.locator('.tft-usage');
    await text.filter({ hasText: /today: [\d,]+ signals ≈ \$\d+\.\d+/ }).waitFor({ timeout: 90000 });
  });

  it('no script error in the page; a screenshot for the README', async function () {
    await page.locator('.tft-card').first().scrollIntoViewIfNeeded();
    fs.mkdirSync(RESULTS, { recursive: true });
    const shot = await page.screenshot({ fullPage: true });
    fs.writeFileSync(path.join(RESULTS, 'dashboard.png'), shot);
    if (process.env.UPDATE_SCREENSHOT) fs.writeFileSync(path.join(ROOT, 'docs', 'dashboard.png'), shot);
    assert.deepEqual(pageErrors, []);
  });
});
