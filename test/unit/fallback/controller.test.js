'use strict';
const { lib, FIXTURES } = require('../../support/paths');
// The fallback policy on a fake clock: a scripted day, 429, backoff, budget, login required.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { VehicleDataController } = lib('fallback/controller');
const { FreshnessTracker } = lib('stream/freshness');
const { BillingMeter } = lib('fleet-api/billing');
const { FleetApiError } = lib('fleet-api/errors');
const { fakeClock } = require('../../support/clock');
const { recordingSink: sink } = require('../../support/sink');

const SAMPLE = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'vehicle-data-sample.json'), 'utf8'));
const MIN = 60_000;

/** A Fleet API stand-in that records calls and bills them like the real client's meter. */
function fakeClient(clock, stateOf) {
  const meter = new BillingMeter({ now: clock.now });
  const calls = [];
  return {
    meter,
    calls,
    failNext: [],
    async getVehicle(vin) {
      calls.push({ at: clock.now(), what: 'state', vin });
      meter.record('free', vin, 200);
      return { state: stateOf(vin, clock.now()) };
    },
    async vehicleData(vin, endpoints) {
      calls.push({ at: clock.now(), what: 'data', vin, endpoints });
      const fail = this.failNext.shift();
      if (fail) {
        meter.record('data', vin, fail.status ?? 500);
        throw fail;
      }
      const state = stateOf(vin, clock.now());
      meter.record('data', vin, state === 'online' ? 200 : 408);
      if (state !== 'online') throw new FleetApiError('asleep', 'vehicle is offline or asleep', { status: 408 });
      return { response: { ...SAMPLE.response, vin, state } };
    },
  };
}

/** Advance the fake clock to `end`, letting each poll's promises settle between timers. */
function runUntil(clock, end) {
  const flush = () => new Promise((r) => setImmediate(r));
  return clock.advanceAsync(end - clock.now(), async () => {
    await flush();
    await flush();
  });
}

const options = (o = {}) => ({
  vins: [],
  mode: 'field',
  auto: true,
  staleAfterMs: 60 * MIN,
  pollIntervalMs: 10 * MIN,
  endpoints: ['charge_state', 'drive_state', 'location_data', 'vehicle_state'],
  dailyBudget: 0,
  ...o,
});

describe('vehicle-data fallback policy (fake clock)', function () {
  it('a scripted day: nothing while streaming, state+data per interval while stale and online, state only while asleep, stop when the stream returns', async function () {
    const clock = fakeClock();
    const day0 = clock.now();
    const at = (h) => day0 + h * 60 * MIN;
    const stateOf = (vin, t) => (t >= at(9) && t < at(15) ? 'asleep' : 'online');
    const client = fakeClient(clock, stateOf);
    // The broker connection as the controller sees it: its freshness tracker (the MQTT side is tested elsewhere).
    const users = new Set();
    const conn = { tracker: new FreshnessTracker(clock), register: (u) => users.add(u), deregister: async (u) => users.delete(u) };
    const out = sink();
    const ctl = new VehicleDataController(client, conn, options(), out, clock, () => 0.5);
    ctl.start();
    // 00:00–06:00 the car streams every minute.
    for (let t = at(0); t < at(6); t += MIN) {
      await runUntil(clock, t);
      conn.tracker.touch('VIN1', true);
    }
    assert.equal(client.calls.length, 0, 'no call at all while streaming');
    // 06:00 silence, car online until 09:00.
    await runUntil(clock, at(9) - 1);
    const firstPoll = client.calls[0].at;
    assert.ok(firstPoll >= at(6) - MIN + 60 * MIN && firstPoll <= at(6) + 60 * MIN, 'stale detected within a minute of the threshold');
    const online = client.calls.filter((c) => c.at < at(9));
    const polls = Math.floor((at(9) - firstPoll) / (10 * MIN)) + 1;
    assert.equal(online.filter((c) => c.what === 'state').length, polls, 'one state check per interval');
    assert.equal(online.filter((c) => c.what === 'data').length, polls, 'one vehicle_data per interval');
    for (let i = 0; i < online.length; i += 2) {
      assert.equal(online[i].what, 'state', 'the state check comes first');
      assert.equal(online[i + 1].what, 'data');
    }
    assert.ok(out.sent.some((m) => m.source === 'api' && m.event === 'data' && m.field === 'BatteryLevel' && m.payload === 42));
    // 09:00–15:00 asleep: state checks only.
    await runUntil(clock, at(15) - 1);
    const asleep = client.calls.filter((c) => c.at >= at(9));
    assert.ok(asleep.length >= 30, `state checks while asleep: ${asleep.length}`);
    assert.equal(asleep.filter((c) => c.what !== 'state').length, 0, 'no vehicle_data to an asleep car');
    assert.equal(out.sent.filter((m) => m.event === 'asleep').length, 1, 'one asleep message when the state changed');
    // 15:00 the stream is back: polling stops at once.
    conn.tracker.touch('VIN1', true);
    const before = client.calls.length;
    for (let t = at(15); t < at(24); t += MIN) {
      await runUntil(clock, t);
      conn.tracker.touch('VIN1', true);
    }
    assert.equal(client.calls.length, before, 'no call once the stream is back');
    assert.deepEqual(ctl.polling(), []);
    assert.equal(client.meter.today().calls.wake, 0);
    assert.equal(users.size, 1, 'the controller keeps the broker connected');
    await ctl.stop();
    assert.equal(users.size, 0);
    conn.tracker.close();
    assert.equal(clock.pending(), 0, 'stop leaves no timer');
  });

  it('429: nothing for that VIN until Retry-After has passed, and the status says until when', async function () {
    const clock = fakeClock();
    const client = fakeClient(clock, () => 'online');
    const out = sink();
    const ctl = new VehicleDataController(client, null, options({ vins: ['V1'], pollIntervalMs: MIN }), out, clock, () => 0.5);
    client.failNext.push(new FleetApiError('rate-limited', 'rate limited', { status: 429, retryAfterSeconds: 3600 }));
    ctl.start();
    await runUntil(clock, clock.now() + 1);
    assert.equal(client.calls.length, 2);
    assert.match(out.statuses.at(-1).text, /^rate-limited until \d\d:\d\d:\d\d/);
    assert.equal(out.errors.length, 1);
    const t429 = clock.now();
    await runUntil(clock, t429 + 3600_000 - 1000);
    assert.equal(client.calls.length, 2, 'no call before Retry-After');
    await runUntil(clock, t429 + 3600_000 + 1000);
    assert.equal(client.calls.length, 4, 'polling resumes after Retry-After');
    // On input: the 429 is reported, and the next input makes no call.
    client.failNext.push(new FleetApiError('rate-limited', 'rate limited', { status: 429, retryAfterSeconds: 60 }));
    await assert.rejects(ctl.readForInput(['V1']), /rate limited/);
    const n = client.calls.length;
    await assert.rejects(ctl.readForInput(['V1']), /V1: rate-limited by Tesla until .*no call made/);
    assert.equal(client.calls.length, n);
    ctl.stop();
  });

  it('5xx: capped exponential backoff with jitter, never faster than the poll interval', async function () {
    const clock = fakeClock();
    const client = fakeClient(clock, () => 'online');
    const ctl = new VehicleDataController(client, null, options({ vins: ['V1'] }), sink(), clock, () => 0.5);
    for (let i = 0; i < 5; i++) client.failNext.push(new FleetApiError('server', 'server error', { status: 503 }));
    ctl.start();
    await runUntil(clock, clock.now() + 12 * 60 * MIN);
    const data = client.calls.filter((c) => c.what === 'data').map((c) => c.at);
    const gaps = data.slice(1).map((t, i) => (t - data[i]) / MIN);
    assert.deepEqual(gaps.slice(0, 6), [10, 20, 40, 60, 60, 10]);
    ctl.stop();
  });

  it('dailyBudget: no billed call once spent, one warning, a new day allows again', async function () {
    const clock = fakeClock();
    const client = fakeClient(clock, () => 'online');
    const out = sink();
    const ctl = new VehicleDataController(client, null, options({ vins: ['V1'], dailyBudget: 3 }), out, clock, () => 0.5);
    ctl.start();
    await runUntil(clock, clock.now() + 2 * 60 * MIN);
    assert.equal(client.calls.filter((c) => c.what === 'data').length, 3);
    assert.equal(client.meter.billedToday('V1'), 3);
    assert.equal(out.warnings.length, 1);
    assert.match(out.warnings[0], /daily budget of 3 billed calls spent/);
    await runUntil(clock, clock.now() + 24 * 60 * MIN);
    assert.ok(client.calls.filter((c) => c.what === 'data').length >= 6, 'a new day has a new budget');
    assert.ok(client.calls.filter((c) => c.what === 'data').length <= 6);
    ctl.stop();
  });

  it('a refused refresh token stops polling: red status, no retry loop', async function () {
    const clock = fakeClock();
    const client = fakeClient(clock, () => 'online');
    client.getVehicle = async () => {
      client.calls.push({ what: 'state' });
      throw new FleetApiError('login-required', 'The refresh token was refused: paste a new one into tesla-account and deploy.');
    };
    const out = sink();
    const ctl = new VehicleDataController(client, null, options({ vins: ['V1', 'V2'], pollIntervalMs: MIN }), out, clock, () => 0.5);
    ctl.start();
    await runUntil(clock, clock.now() + 60 * MIN);
    assert.ok(client.calls.length <= 2, `calls after login required: ${client.calls.length}`);
    assert.equal(out.statuses.at(-1).fill, 'red');
    assert.match(out.statuses.at(-1).text, /login required/);
    ctl.stop();
  });

  it('vehicle mode: one snapshot per read with changed against the previous read', async function () {
    const clock = fakeClock();
    const client = fakeClient(clock, () => 'online');
    const out = sink();
    const ctl = new VehicleDataController(client, null, options({ auto: false, mode: 'vehicle' }), out, clock);
    ctl.start();
    await ctl.readForInput(['V1']);
    await ctl.readForInput(['V1']);
    assert.equal(out.sent.length, 2);
    assert.equal(out.sent[0].event, 'vehicle');
    assert.equal(out.sent[0].source, 'api');
    assert.equal(out.sent[0].payload.BatteryLevel, 42);
    assert.ok(out.sent[0].changed.includes('BatteryLevel'));
    assert.deepEqual(out.sent[1].changed, []);
    assert.equal(out.statuses.at(-1).fill, 'grey');
    ctl.stop();
  });
});
