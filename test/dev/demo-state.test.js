'use strict';
const { ROOT } = require('../support/paths');
// `npm start`, Ctrl-C, `npm start -- --cars-asleep`: the demo's broker keeps the car state in the
// demo's user directory, so the second start shows every car on the /fleet page at once
// (example 01), with the values and the updatedAt times saved when the first run stopped. In the
// second run the simulated cars stay asleep: nothing live arrives, so what the page shows was
// restored. Both runs are `node dev/start.js` in a child process, stopped as Ctrl-C stops it.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { DEMO_IDS } = require('../../dev/start');
const { DEMO_CARS } = require('../../dev/simulator');

const STATE_FILE = `state-${DEMO_IDS.broker}.json`;

/** `node dev/start.js <args>` (Node-RED starts once per process); `ready` resolves with its summary. */
function startDemo(args, log) {
  const child = spawn(process.execPath, ['dev/start.js', '--port', '0', '--mqtt-port', '0', '--quiet', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let out = '';
  child.stderr.on('data', (d) => log.push(String(d)));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start within 60 s:\n${log.join('')}`)), 60000);
    child.stdout.on('data', (d) => {
      out += d;
      log.push(String(d));
      if (!/Press Ctrl-C to stop/.test(out)) return;
      clearTimeout(timer);
      const table = /Fleet table\s+(http:\/\/\S+)/.exec(out);
      if (!table) return reject(new Error(`no fleet table in the summary:\n${out}`));
      resolve({ tableUrl: table[1], summary: out });
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited (${code ?? signal}) before it was ready:\n${log.join('')}`));
    });
  });
  ready.catch(() => {});
  return { child, ready, exited };
}

/** Ctrl-C: resolves with the exit; SIGKILL after 15 s. */
async function stopDemo(app) {
  if (!app || app.child.exitCode !== null || app.child.signalCode !== null) return app ? app.exited : null;
  app.child.kill('SIGINT');
  let timer;
  const done = await Promise.race([app.exited, new Promise((r) => (timer = setTimeout(() => r(null), 15000)))]);
  clearTimeout(timer);
  if (done) return done;
  app.child.kill('SIGKILL');
  await app.exited;
  return { code: null, signal: 'SIGKILL' };
}

const unescape = (s) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');

/** The /fleet table: VIN → {name, state, lastSeen, cells: {Field: {text, updatedAt, age}}}. */
function parseFleet(html) {
  const cars = new Map();
  for (const [, vin, row] of html.matchAll(/<tr data-vin="([^"]+)">([\s\S]*?)<\/tr>/g)) {
    const plain = [...row.matchAll(/<td>([^<]*)<\/td>/g)].map((m) => unescape(m[1]));
    const cells = {};
    for (const [, field, at, text, age] of row.matchAll(/<td data-field="(\w+)" data-updated-at="([^"]*)">([^<]*)<small>([^<]*)<\/small><\/td>/g)) {
      cells[field] = { text: unescape(text), updatedAt: at === '' ? null : Number(at), age };
    }
    cars.set(unescape(vin), { name: plain[0], vin: plain[1], state: plain[2], lastSeen: plain[3], cells });
  }
  return cars;
}

/** The page's cars; null while the flows are still starting (404: the route is not there yet). */
async function fleetPage(url) {
  const res = await fetch(url);
  const html = await res.text();
  if (res.status === 404) return null;
  assert.equal(res.status, 200, `GET ${url}: ${html.slice(0, 200)}`);
  return parseFleet(html);
}

/** Fetch the page until `pred` holds (a web page cannot be awaited otherwise); null at the deadline. */
async function pageWhen(url, pred, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const cars = await fleetPage(url);
    if (cars && pred(cars)) return cars;
    if (Date.now() > deadline) return null;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('npm start twice: the demo keeps its car state (/fleet full at once, with ages)', function () {
  this.timeout(150000);
  const log = [];
  let userDir;
  let app = null;

  before(function () {
    assert.ok(fs.existsSync(path.join(ROOT, 'nodes', 'telemetry-in.js')), 'not built: run `npm run build` first');
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-state-'));
  });

  after(async function () {
    await stopDemo(app);
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest.state === 'failed') console.error(log.join('').slice(-4000));
  });

  const vins = DEMO_CARS.map((c) => c.vin);
  let firstPage;
  let saved;

  it('first start (simulated cars): /fleet fills; Ctrl-C writes the car state into the user directory', async function () {
    app = startDemo(['--user-dir', userDir, '--reset'], log);
    const info = await app.ready;
    assert.doesNotMatch(info.summary, /node types not loaded/);
    // every car has sent something live (the first values arrive retained: the simulator starts first)
    firstPage = await pageWhen(info.tableUrl, (cars) => vins.every((v) => cars.get(v) && !/retained only/.test(cars.get(v).lastSeen)), 90000);
    assert.ok(firstPage, 'within 90 s every simulated car streamed live');
    const exit = await stopDemo(app);
    app = null;
    assert.deepEqual(exit, { code: 0, signal: null }, 'Ctrl-C stops the demo cleanly');

    const file = path.join(userDir, 'tesla-fleet-telemetry', STATE_FILE);
    assert.ok(fs.existsSync(file), `${file} written on stop`);
    saved = JSON.parse(fs.readFileSync(file, 'utf8')).vins;
    assert.deepEqual(Object.keys(saved).sort(), [...vins].sort());
    for (const vin of vins) assert.ok(saved[vin].lastLive > 0, `${vin}: a last live time was saved`);
  });

  it('second start (--cars-asleep, nothing live): every car on /fleet at once, the saved values with their original updatedAt and age', async function () {
    assert.ok(saved, 'the first start ran');
    app = startDemo(['--user-dir', userDir, '--cars-asleep'], log);
    const info = await app.ready;
    assert.equal((info.summary.match(/Simulated car .*, asleep$/gm) || []).length, 3, info.summary);
    const t0 = Date.now();
    const cars = await pageWhen(info.tableUrl, (c) => vins.every((v) => c.get(v) && c.get(v).cells.BatteryLevel), 3000);
    const waited = Date.now() - t0;
    assert.ok(cars, 'within 3 s of the start every car is on the page (restored snapshots go out 0.5 s after the flows start)');

    for (const vin of vins) {
      const car = cars.get(vin);
      const fields = saved[vin].fields;
      assert.equal(car.state, 'restored, no live data yet', `${vin}: state`);
      assert.ok(Object.keys(car.cells).length >= 6, `${vin}: ${Object.keys(car.cells).join(', ')}`);
      for (const [field, cell] of Object.entries(car.cells)) {
        assert.ok(fields[field], `${vin}: ${field} was saved`);
        const [value, updatedAt] = fields[field];
        assert.equal(cell.updatedAt, updatedAt, `${vin}: ${field} keeps its original updatedAt`);
        if (updatedAt === null) assert.equal(cell.age, 'retained, age unknown');
        else assert.match(cell.age, /^\d+ (s|min|h|d) ago$/, `${vin}: ${field} age`);
        // the age is counted from the original time, not from the restart
        if (updatedAt !== null && cell.age.endsWith(' s ago')) assert.ok(Number(cell.age.split(' ')[0]) >= Math.floor((t0 - updatedAt) / 1000) - 1);
        if (field === 'BatteryLevel') assert.equal(cell.text, `${value.toFixed(1)} %`);
        if (field === 'Odometer') assert.equal(cell.text, `${value.toFixed(1)} mi`);
        if (field === 'Location') assert.equal(cell.text, `${value.latitude.toFixed(5)}, ${value.longitude.toFixed(5)}`);
      }
      // the values the first run showed were saved (or newer ones that came before Ctrl-C)
      for (const [field, before] of Object.entries(firstPage.get(vin).cells)) {
        if (before.updatedAt !== null) assert.ok(car.cells[field].updatedAt >= before.updatedAt, `${vin}: ${field}`);
      }
      const newest = Math.max(...Object.values(fields).map(([, at]) => at ?? 0));
      assert.ok(car.lastSeen.startsWith(new Date(newest).toISOString().replace('T', ' ').slice(0, 19)), `${vin}: last live data ${car.lastSeen}`);
    }
    assert.doesNotMatch(log.join(''), /car state file .* (moved aside|cannot)/, 'the state file was read as written');
    this.test.title += ` (${waited} ms)`;
    const exit = await stopDemo(app);
    app = null;
    assert.deepEqual(exit, { code: 0, signal: null }, 'Ctrl-C stops the demo cleanly');
  });
});
