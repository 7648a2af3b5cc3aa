'use strict';
/**
 * Reliability, Fleet API faults: the real FleetApiClient against the HTTPS Fleet API double,
 * driven by the vehicle-data fallback controller on a fake clock.
 *
 * Anything that escapes the package (an unhandled rejection, an uncaught exception, the package's
 * own "last line of defence" process warning) fails the test it escaped in (test/support/escapes.js).
 */
const assert = require('node:assert/strict');
const net = require('node:net');
const { lib } = require('../support/paths');
const { fakeClock } = require('../support/clock');
const { mulberry32 } = require('../support/random');
const { recordingSink: sink } = require('../support/sink');
const { escapeWatch } = require('../support/escapes');
const { startFleetDouble } = require('../../dev/fleet-double');
const { makeCA } = require('../support/certs');
const { FleetApiClient } = lib('fleet-api');
const { VehicleDataController } = lib('fallback/controller');

const MIN = 60_000;
const tick = () => new Promise((r) => setImmediate(r));

describe('reliability: Fleet API faults (real client, HTTPS double, fallback controller on a fake clock)', function () {
  const escapes = escapeWatch();
  const assertNothingEscaped = escapes.assertNothingEscaped;
  before(function () {
    escapes.install();
  });
  after(function () {
    escapes.uninstall();
  });

  const VIN = 'FAULT000000VIN001';
  const CLIENT_ID = 'faults-client';
  let d;
  let clients;
  let controllers;

  beforeEach(async function () {
    d = await startFleetDouble({ clientId: CLIENT_ID, vehicles: { [VIN]: { state: 'online' } } });
    clients = [];
    controllers = [];
  });
  afterEach(async function () {
    for (const c of controllers) await c.stop();
    await Promise.all(clients.map((c) => c.close()));
    await d.close();
  });
  // After the clean-up above: whatever escaped during it fails the test too.
  afterEach(function () {
    assertNothingEscaped();
  });

  /**
   * A controller polling VIN every 10 minutes of fake time through a real FleetApiClient.
   * runUntil(t) fires the controller's timers up to t, waiting for each real HTTP call.
   */
  function harness({ client: clientOpts = {}, options = {}, random = () => 0.5 } = {}) {
    const clock = fakeClock();
    const client = new FleetApiClient({
      region: 'na',
      fleetApiUrl: d.url,
      tokenUrl: d.tokenUrl,
      proxyCa: d.ca,
      clientId: CLIENT_ID,
      accessToken: d.grant().accessToken,
      timeoutMs: 3000,
      ...clientOpts,
    });
    clients.push(client);
    const inflight = new Set();
    const started = []; // [fake time, what] of every call the controller made
    const track = (what, p) => {
      started.push([clock.now(), what]);
      inflight.add(p);
      const drop = () => inflight.delete(p);
      p.then(drop, drop);
      return p;
    };
    const reader = {
      meter: client.meter,
      getVehicle: (vin) => track('state', client.getVehicle(vin)),
      vehicleData: (vin, endpoints) => track('data', client.vehicleData(vin, endpoints)),
    };
    const out = sink();
    const ctl = new VehicleDataController(
      reader,
      null,
      {
        vins: [VIN],
        mode: 'field',
        auto: true,
        staleAfterMs: 60 * MIN,
        pollIntervalMs: 10 * MIN,
        endpoints: ['charge_state'],
        dailyBudget: 0,
        ...options,
      },
      out,
      clock,
      random,
    );
    controllers.push(ctl);
    async function settle() {
      for (;;) {
        await tick();
        await tick();
        if (inflight.size === 0) break;
        await Promise.allSettled([...inflight]);
      }
    }
    const runUntil = (end) => clock.advanceAsync(end - clock.now(), settle);
    const gaps = (what = 'state') => {
      const ts = started.filter((s) => s[1] === what).map((s) => s[0]);
      return ts.slice(1).map((t, i) => t - ts[i]);
    };
    return { clock, client, ctl, out, started, runUntil, settle, gaps };
  }
  const apiCalls = () => d.calls.filter((c) => c.route.startsWith('/api/1'));
  const tokenCalls = () => d.calls.filter((c) => c.route === '/oauth2/v3/token');

  it('connection refused: kind network on the node, no crash, capped exponential backoff', async function () {
    const port = await new Promise((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    const h = harness({ client: { fleetApiUrl: `https://127.0.0.1:${port}` } });
    h.ctl.start();
    await h.runUntil(h.clock.now() + 4 * 60 * MIN);
    assert.ok(h.out.errors.length >= 5);
    for (const e of h.out.errors) assert.match(e.text, new RegExp(`^${VIN}: Cannot reach 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
    assert.deepEqual(
      h.gaps().slice(0, 5),
      [10, 20, 40, 60, 60].map((m) => m * MIN),
    );
    assert.equal(h.out.statuses.at(-1).fill, 'red');
    assert.equal(h.out.sent.length, 0);
    assertNothingEscaped();
  });

  it('a hung server: one call at a time (never a second while one hangs), kind timeout after timeoutMs, then backoff', async function () {
    const held = d.failNext(new RegExp(`/api/1/vehicles/${VIN}$`), { hang: true, times: 2 });
    const h = harness({ client: { timeoutMs: 300 } });
    h.ctl.start();
    h.clock.advance(0); // the first poll is due at once
    const call = await held.arrived;
    assert.equal(call.route, `/api/1/vehicles/${VIN}`);
    // Five poll intervals of fake time pass while the call hangs: no second call.
    h.clock.advance(50 * MIN);
    await tick();
    assert.equal(h.started.length, 1);
    await h.settle(); // the real 300 ms timeout
    assert.equal(h.out.errors.length, 1);
    assert.match(h.out.errors[0].text, /No answer from 127\.0\.0\.1:\d+ within 300 ms/);
    assert.equal(apiCalls().length, 1, 'not retried by the client');
    const t = h.clock.now();
    await h.runUntil(t + 10 * MIN - 1);
    assert.equal(h.started.length, 1, 'the next attempt waits for the backoff');
    await h.runUntil(t + 10 * MIN);
    assert.equal(h.started.length, 2);
    held.release();
    await h.settle();
    assertNothingEscaped();
  });

  it('a certificate from the wrong CA: kind tls on every poll, exactly one TLS attempt each, no request ever sent', async function () {
    const h = harness({ client: { proxyCa: makeCA({ commonName: 'Not the double' }).cert } });
    h.ctl.start();
    await h.runUntil(h.clock.now() + 3 * 60 * MIN);
    const polls = h.started.filter((s) => s[1] === 'state').length;
    assert.ok(polls >= 4, `polls: ${polls}`);
    assert.equal(h.out.errors.length, polls);
    for (const e of h.out.errors)
      assert.match(e.text, /TLS certificate of 127\.0\.0\.1:\d+ is not trusted.*DEPTH_ZERO_SELF_SIGNED_CERT.*never switched off/);
    assert.equal(d.connections, polls, 'one connection attempt per poll: never a retry without verification');
    assert.deepEqual(d.calls, [], 'no HTTP request reached the server');
    assert.equal(h.started.filter((s) => s[1] === 'data').length, 0);
    assertNothingEscaped();
  });

  it('401 on every call: one refresh per request and one retry, never a loop; backoff between polls', async function () {
    d.failNext(/\/api\/1\//, { status: 401, times: Infinity, body: { response: null, error: 'token expired (401)' } });
    const h = harness({ client: { refreshToken: d.currentRefreshToken } });
    h.ctl.start();
    await h.runUntil(h.clock.now() + 2 * 60 * MIN);
    const polls = h.started.length;
    assert.ok(polls >= 3);
    assert.equal(tokenCalls().length, polls, 'one refresh per request');
    assert.ok(
      tokenCalls().every((c) => c.status === 200 && c.refreshToken === 'valid'),
      'each refresh used the rotated token',
    );
    assert.equal(apiCalls().length, 2 * polls, 'the call and one retry');
    assert.ok(h.out.errors.every((e) => /refused the access token \(401\) even after a refresh/.test(e.text)));
    assert.deepEqual(h.gaps().slice(0, 2), [10 * MIN, 20 * MIN]);
    assertNothingEscaped();
  });

  it('refresh refused (login_required): polling stops, no HTTP call after the refusal, inputs fail without a call', async function () {
    const h = harness({ client: { accessToken: undefined, refreshToken: 'rt-refused-by-the-double' } });
    h.ctl.start();
    await h.runUntil(h.clock.now() + 24 * 60 * MIN);
    assert.equal(d.calls.length, 1, 'the one refused refresh');
    assert.equal(tokenCalls()[0].status, 401);
    assert.equal(h.out.errors.length, 1);
    assert.match(h.out.errors[0].text, /login_required.*Paste a new refresh token/);
    assert.deepEqual(h.out.statuses.at(-1), { fill: 'red', shape: 'ring', text: 'login required: new refresh token in tesla-account' });
    await assert.rejects(h.ctl.readForInput([VIN]), /login_required/);
    assert.equal(d.calls.length, 1, 'an input makes no call either');
    assertNothingEscaped();
  });

  it('429 storm with Retry-After (seconds and HTTP-date): no call before it has passed, whatever the poll interval', async function () {
    const route = new RegExp(`/api/1/vehicles/${VIN}$`);
    const retryAfter = ['1800', '60', '3600', new Date(Date.now() + 900_000).toUTCString(), '7200'];
    for (const ra of retryAfter)
      d.failNext(route, { status: 429, headers: { 'retry-after': ra }, body: { response: null, error: 'Too Many Requests' } });
    const h = harness();
    h.ctl.start();
    await h.runUntil(h.clock.now() + 1);
    assert.match(h.out.statuses.at(-1).text, /^rate-limited until \d\d:\d\d:\d\d/);
    // An input while blocked: refused without a call.
    const n = d.calls.length;
    await assert.rejects(h.ctl.readForInput([VIN]), /rate-limited by Tesla until .*no call made/);
    assert.equal(d.calls.length, n);
    await h.runUntil(h.clock.now() + 6 * 60 * MIN);
    const gaps = h.gaps();
    const minimum = [1800, 600, 3600, 899, 7200].map((s) => s * 1000); // 60 s is less than the 10 min interval
    minimum.forEach((m, i) =>
      assert.ok(gaps[i] >= m && gaps[i] <= Math.max(m, 10 * MIN) + 2000, `gap ${i}: ${gaps[i] / 1000} s, Retry-After ${retryAfter[i]}`),
    );
    // After the storm: normal polling, state check then vehicle_data.
    assert.ok(h.started.at(-1)[1] === 'data');
    assert.equal(h.out.errors.length, retryAfter.length);
    assert.ok(h.out.sent.some((m) => m.field === 'BatteryLevel'));
    assertNothingEscaped();
  });

  it('5xx bursts: delays grow x2 up to the cap, each within ±10% jitter, and return to the interval after a success', async function () {
    const route = new RegExp(`/api/1/vehicles/${VIN}$`);
    const bursts = [
      { status: 500 },
      { status: 502, body: '<html><body>Bad Gateway</body></html>' },
      { status: 503, headers: { 'retry-after': '5' } },
      { status: 504 },
      { status: 500, delayMs: 50 },
      { status: 503 },
      { status: 500 },
    ];
    for (const b of bursts) d.failNext(route, b);
    const rnd = mulberry32(42);
    const draws = [];
    const h = harness({
      random: () => {
        const r = rnd();
        draws.push(r);
        return r;
      },
    });
    h.ctl.start();
    await h.runUntil(h.clock.now() + 7 * 60 * MIN);
    const gaps = h.gaps();
    const base = [10, 20, 40, 60, 60, 60, 60].map((m) => m * MIN);
    assert.equal(draws.length, bursts.length, 'one jitter draw per failure');
    base.forEach((b, i) => {
      const ratio = gaps[i] / b;
      assert.ok(ratio >= 0.9 && ratio <= 1.1, `gap ${i}: ${gaps[i] / MIN} min for base ${b / MIN} min`);
      assert.ok(Math.abs(gaps[i] - b * (0.9 + 0.2 * draws[i])) < 1, 'the jitter is the drawn one');
    });
    assert.ok(new Set(gaps.slice(0, base.length).map((g, i) => (g / base[i]).toFixed(3))).size > 3, 'the jitter varies');
    assert.equal(gaps[base.length], 10 * MIN, 'after a success: the plain interval again');
    assert.equal(h.out.errors.length, bursts.length);
    assert.ok(
      h.out.errors.every((e) => /The Fleet API failed \(50\d\)/.test(e.text)),
      h.out.errors.map((e) => e.text).join('\n'),
    );
    assert.ok(h.out.sent.some((m) => m.field === 'BatteryLevel'));
    assertNothingEscaped();
  });
});
