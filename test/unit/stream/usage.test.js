'use strict';
const { lib } = require('../../support/paths');
/**
 * Streaming usage (src/lib/usage.ts) counted by a real BrokerConnection fed through a real
 * MQTT broker (in-process aedes): live `v` messages are signals; retained re-deliveries,
 * alerts, errors and connectivity are not. Time is a fake clock, so day rollover and the
 * jitter window's hour are exact.
 */
const assert = require('node:assert/strict');
const { BrokerConnection } = lib('stream/broker-connection');
const { UsageMeter, judgeJitter, series125AtLeast, signalsToUsd, SIGNALS_PER_DOLLAR } = lib('stream/usage');
const { startBroker, publisher } = require('../../support/broker');
const { fakeClock } = require('../../support/clock');

const VIN1 = '5YJ3E1EA7KF000001';
const VIN2 = '5YJ3E1EA7KF000002';
const VIN3 = '5YJ3E1EA7KF000003';
const DAY = 86_400_000;
const MIN = 60_000;
const NOON = Date.UTC(2026, 2, 10, 12, 0, 0); // 2026-03-10 12:00 UTC

/** A listener that records everything the connection hands out, and awaits a topic. */
function recorder() {
  const r = {
    got: [],
    waiters: [],
    onMessage(d) {
      r.got.push(d.topic ?? `${d.vin}/${d.kind}/${d.name}`);
      r.flush(d);
    },
    onBadInput(b) {
      r.flush(b);
    },
    onConnection(state) {
      r.state = state;
      if (state === 'connected') r.flush({ connected: true });
    },
    flush(x) {
      for (const w of [...r.waiters]) {
        if (w.pred(x)) {
          r.waiters.splice(r.waiters.indexOf(w), 1);
          w.resolve(x);
        }
      }
    },
    wait(pred) {
      return new Promise((resolve) => r.waiters.push({ pred, resolve }));
    },
  };
  return r;
}

describe('usage meter (aedes broker, fake clock)', function () {
  let broker;
  let pub;
  let conn;
  let clock;
  let rec;

  beforeEach(async function () {
    broker = await startBroker();
    pub = await publisher(broker.url);
    clock = fakeClock();
    clock.t = NOON;
    conn = new BrokerConnection({ url: broker.url, topicBase: 'telemetry', reconnectPeriodMs: 200 }, clock);
    rec = recorder();
    const up = rec.wait((x) => x.connected);
    conn.register(rec);
    await up;
  });

  afterEach(async function () {
    await conn.close();
    await pub.end();
    await broker.close();
  });

  /** Publish and wait until the connection has handled the message (decoded or bad). */
  async function send(topic, payload, { retain = false } = {}) {
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const seen = rec.wait((x) => (x.bad ? x.topic === topic : topicOf(x) === topic) && x.retain === retain);
    await pub.publish(topic, text, { retain });
    return seen;
  }
  function topicOf(d) {
    if (d.kind === 'data') return `telemetry/${d.vin}/v/${d.name}`;
    if (d.kind === 'connectivity') return `telemetry/${d.vin}/connectivity`;
    if (d.kind === 'error') return `telemetry/${d.vin}/errors/${d.name}`;
    if (d.kind === 'alert') return `telemetry/${d.vin}/alerts/${d.name}/current`;
    return `telemetry/${d.vin}/alerts/${d.name}/history`;
  }

  it('counts live v messages exactly, per VIN and field; retained, alerts, errors and connectivity are not signals', async function () {
    for (let i = 0; i < 3; i++) await send(`telemetry/${VIN1}/v/BatteryLevel`, 70 + i);
    await send(`telemetry/${VIN1}/v/Gear`, 'ShiftStateD');
    await send(`telemetry/${VIN2}/v/BatteryLevel`, '55');
    await send(`telemetry/${VIN1}/alerts/SomeAlert/current`, { StartedAt: '2026-03-10T11:00:00Z', Audiences: [] });
    await send(`telemetry/${VIN1}/errors/SomeError`, { Body: 'x', CreatedAt: '2026-03-10T11:00:00Z' });
    await send(`telemetry/${VIN1}/connectivity`, { Status: 'CONNECTED', ConnectionId: 'c1', CreatedAt: '2026-03-10T11:00:00Z' });
    // A value the server publishes with the retain flag: to our established subscription it
    // arrives live (a signal); to a subscription made later it is re-delivered retained (not one).
    const live = rec.wait((x) => x.vin === VIN3 && x.kind === 'data');
    await pub.publish(`telemetry/${VIN3}/v/Odometer`, '12345.6', { retain: true });
    assert.equal((await live).retain, false);
    const other = new BrokerConnection({ url: broker.url, topicBase: 'telemetry', reconnectPeriodMs: 200 }, clock);
    const rec2 = recorder();
    const retained = rec2.wait((x) => x.vin === VIN3 && x.kind === 'data');
    other.register(rec2);
    assert.equal((await retained).retain, true);
    assert.deepEqual(other.usage.report().vins, {}, 'a retained re-delivery is not a signal');
    assert.equal(other.usage.report(VIN3).vins[VIN3].signals, 0);
    await other.close();
    await send(`telemetry/${VIN3}/v/Odometer`, 12346.1);

    const r = conn.usage.report();
    assert.deepEqual(Object.keys(r), ['day', 'signalsPerDollar', 'total', 'vins', 'advice']);
    assert.equal(r.day, '2026-03-10');
    assert.equal(r.signalsPerDollar, 150000);
    assert.deepEqual(r.vins, {
      [VIN1]: { signals: 4, usd: signalsToUsd(4), fields: { BatteryLevel: 3, Gear: 1 } },
      [VIN2]: { signals: 1, usd: signalsToUsd(1), fields: { BatteryLevel: 1 } },
      [VIN3]: { signals: 2, usd: signalsToUsd(2), fields: { Odometer: 2 } },
    });
    assert.deepEqual(r.total, { signals: 7, usd: signalsToUsd(7) });
    assert.equal(signalsToUsd(150000), 1);
    assert.equal(signalsToUsd(7), 0.000047);
    assert.deepEqual(r.advice, []);
  });

  it('counts a live v message whose payload does not decode: it went over the wire to Tesla all the same', async function () {
    await send(`telemetry/${VIN1}/v/BatteryLevel`, '{not json');
    await send(`telemetry/${VIN1}/v/BatteryLevel`, 80);
    assert.equal(conn.stats.bad, 1);
    assert.deepEqual(conn.usage.report().vins[VIN1].fields, { BatteryLevel: 2 });
  });

  it('reports the VINs asked for (comma list or array), a VIN without signals with zeros', async function () {
    await send(`telemetry/${VIN1}/v/BatteryLevel`, 70);
    await send(`telemetry/${VIN2}/v/BatteryLevel`, 60);
    const one = conn.usage.report(VIN2);
    assert.deepEqual(Object.keys(one.vins), [VIN2]);
    assert.equal(one.total.signals, 1);
    const two = conn.usage.report([VIN1, VIN3]);
    assert.deepEqual(two.vins[VIN3], { signals: 0, usd: 0, fields: {} });
    assert.equal(two.total.signals, 1);
  });

  it('rolls over at UTC midnight: today restarts at 0, yesterday keeps the day before, older days are gone', async function () {
    clock.t = Date.UTC(2026, 2, 10, 23, 59, 0);
    await send(`telemetry/${VIN1}/v/BatteryLevel`, 70);
    await send(`telemetry/${VIN1}/v/BatteryLevel`, 71);
    await send(`telemetry/${VIN1}/v/Odometer`, 100.5);
    clock.advance(2 * MIN); // 00:01 on the 11th
    await send(`telemetry/${VIN1}/v/BatteryLevel`, 72);

    const today = conn.usage.report();
    assert.equal(today.day, '2026-03-11');
    assert.deepEqual(today.vins, { [VIN1]: { signals: 1, usd: signalsToUsd(1), fields: { BatteryLevel: 1 } } });
    const yesterday = conn.usage.report(undefined, { day: 'yesterday' });
    assert.equal(yesterday.day, '2026-03-10');
    assert.deepEqual(yesterday.vins[VIN1].fields, { BatteryLevel: 2, Odometer: 1 });
    assert.equal(yesterday.total.signals, 3);

    // A day later with no signal: what was "today" is yesterday; the 10th is forgotten.
    clock.advance(DAY);
    assert.deepEqual(conn.usage.report().vins, {});
    assert.deepEqual(conn.usage.report(undefined, { day: 'yesterday' }).vins[VIN1].fields, { BatteryLevel: 1 });
    clock.advance(DAY);
    assert.deepEqual(conn.usage.report(undefined, { day: 'yesterday' }).vins, {});
  });

  /** 60 values of one field, `gapMs` apart on the fake clock, through the broker. */
  async function stream(vin, field, values, gapMs) {
    for (const v of values) {
      await send(`telemetry/${vin}/v/${field}`, v);
      clock.advance(gapMs);
    }
  }

  it('advises minimum_delta for an oscillating field: the smallest 1-2-5 number >= its range, and the signals it saves', async function () {
    const values = Array.from({ length: 60 }, (_, i) => (i % 2 ? 231 : 229.5)); // range 1.5
    await stream(VIN1, 'ChargerVoltage', values, 30_000);
    const r = conn.usage.report();
    assert.equal(r.advice.length, 1);
    const a = r.advice[0];
    assert.equal(a.vin, VIN1);
    assert.equal(a.field, 'ChargerVoltage');
    assert.equal(a.minimumDelta, 2);
    // No yesterday: today's 60 signals projected over the day from 12.5 h elapsed; with
    // minimum_delta 2 only the first of the 60 values would have been sent.
    const elapsed = clock.now() - Date.UTC(2026, 2, 10);
    assert.equal(a.savesPerDay, Math.round(((60 * DAY) / elapsed) * (59 / 60)));
    assert.deepEqual(Object.keys(a), ['vin', 'field', 'minimumDelta', 'savesPerDay']);
  });

  it("uses yesterday's count of the field as the day's signals when there is one", async function () {
    clock.t = Date.UTC(2026, 2, 10, 20);
    for (let i = 0; i < 40; i++) await send(`telemetry/${VIN1}/v/InsideTemp`, 21);
    clock.t = Date.UTC(2026, 2, 11, 9);
    await stream(
      VIN1,
      'InsideTemp',
      Array.from({ length: 40 }, (_, i) => [21.1, 21.4, 21.2, 21.3][i % 4]),
      60_000,
    );
    const [a] = conn.usage.report().advice;
    assert.equal(a.minimumDelta, 0.5); // range 0.3 (21.4 - 21.1 carries binary noise)
    assert.equal(a.savesPerDay, Math.round(40 * (39 / 40)));
  });

  it('never advises a field that only climbs, nor one with fewer than 30 values in the last hour', async function () {
    await stream(
      VIN1,
      'Odometer',
      Array.from({ length: 60 }, (_, i) => 1000 + i * 0.1),
      30_000,
    );
    await stream(
      VIN2,
      'ChargerVoltage',
      Array.from({ length: 29 }, (_, i) => (i % 2 ? 231 : 229)),
      30_000,
    );
    assert.deepEqual(conn.usage.report().advice, []);
    // 60 oscillating values 150 s apart: only the last 24 are within the hour of the report.
    await stream(
      VIN3,
      'ChargerVoltage',
      Array.from({ length: 60 }, (_, i) => (i % 2 ? 231 : 229)),
      150_000,
    );
    assert.equal(conn.usage.recentValues(VIN3, 'ChargerVoltage').length, 24);
    assert.deepEqual(conn.usage.report().advice, []);
  });
});

describe('usage meter, pure parts', function () {
  it('series125AtLeast: the smallest 1-2-5 number >= x, binary noise ignored', function () {
    const cases = [
      [0.3, 0.5],
      [0.5, 0.5],
      [20.6 - 20.1, 0.5],
      [21.4 - 21.1, 0.5],
      [0.07, 0.1],
      [1, 1],
      [1.5, 2],
      [3, 5],
      [7, 10],
      [10, 10],
      [120, 200],
      [0.0002, 0.0002],
      [4e-7, 5e-7],
    ];
    for (const [x, want] of cases) assert.equal(series125AtLeast(x), want, `x = ${x}`);
    assert.ok(Number.isNaN(series125AtLeast(0)));
  });

  it('judgeJitter: back and forth is jitter, moving on is not, a flat line is not', function () {
    const osc = Array.from({ length: 30 }, (_, i) => (i % 2 ? 1 : 0));
    assert.equal(judgeJitter(osc).jittering, true);
    assert.equal(judgeJitter(osc.slice(0, 29)).jittering, false, 'fewer than 30 values');
    const climb = Array.from({ length: 60 }, (_, i) => i);
    assert.equal(judgeJitter(climb).jittering, false);
    const fall = climb.map((x) => -x);
    assert.equal(judgeJitter(fall).jittering, false);
    assert.equal(judgeJitter(Array(60).fill(5)).jittering, false);
    // A noisy climb: changes sum to less than 5 x range.
    const noisyClimb = Array.from({ length: 60 }, (_, i) => i + (i % 2 ? 0.4 : 0));
    const v = judgeJitter(noisyClimb);
    assert.ok(v.sumOfChanges < 5 * v.range);
    assert.equal(v.jittering, false);
  });

  it('keeps a fixed ring of 60 values per field (no growth), and stops tracking new fields at maxTracked', function () {
    let t = NOON;
    const m = new UsageMeter({ now: () => t }, { maxTracked: 2 });
    for (let i = 0; i < 1000; i++) m.count(VIN1, 'ChargerVoltage', i % 2, (t += 1000));
    assert.equal(m.recentValues(VIN1, 'ChargerVoltage').length, 60);
    assert.equal(m.signalsToday(VIN1, 'ChargerVoltage'), 1000);
    m.count(VIN1, 'InsideTemp', 20, t);
    m.count(VIN1, 'OutsideTemp', 10, t);
    assert.equal(m.recentValues(VIN1, 'InsideTemp').length, 1);
    assert.equal(m.recentValues(VIN1, 'OutsideTemp').length, 0, 'over maxTracked: counted, not tracked');
    assert.equal(m.signalsToday(VIN1, 'OutsideTemp'), 1);
    // Non-numeric and non-finite values are counted, never tracked.
    m.count(VIN2, 'Gear', 'D', t);
    m.count(VIN2, 'BatteryLevel', Infinity, t);
    assert.equal(m.signalsToday(VIN2), 2);
    assert.equal(SIGNALS_PER_DOLLAR, 150000);
  });
});
