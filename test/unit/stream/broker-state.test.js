'use strict';
const { lib } = require('../../support/paths');
// The car state inside a BrokerConnection and what TelemetryInController makes of it, on a fake
// clock: restore with freshness, msg.updatedAt, restored snapshots, units. Messages go through
// the real decode path (BrokerConnection.inject), the file through the real file system.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { BrokerConnection } = lib('stream/broker-connection');
const { TelemetryInController } = lib('stream/controller');
const { fakeClock } = require('../../support/clock');

const SETTINGS = { url: 'test://no-connection', topicBase: 't' };
const S = 1000;

describe('car state in the broker connection and telemetry-in (fake clock)', function () {
  let dir;
  const open = [];
  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-state-'));
  });
  afterEach(async function () {
    for (const c of open.splice(0)) await c.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function broker(clock, o = {}) {
    const warnings = [];
    const conn = new BrokerConnection(SETTINGS, clock, { stateDir: dir, stateId: 'b1', warn: (t) => warnings.push(t), ...o });
    return { conn, warnings };
  }

  function telemetryIn(conn, clock, o = {}) {
    const out = [[], [], []];
    const sink = {
      send: (outputs) => outputs.forEach((m, i) => m && out[i].push(m)),
      status() {},
      warn: (t) => out.warnings.push(t),
    };
    out.warnings = [];
    const c = new TelemetryInController(
      conn,
      { vins: [], fields: [], mode: 'field', staleAfterMs: 60 * S, retained: 'flag', quietMs: 100, ...o },
      sink,
      clock,
    );
    c.start();
    open.push(c);
    return out;
  }

  /** A first run: live values for two VINs, then close (writes the file). Returns the times. */
  async function firstRun() {
    const clock = fakeClock();
    const { conn } = broker(clock);
    const t1 = clock.t;
    conn.inject('t/CAR1/v/BatteryLevel', '"55.5"');
    conn.inject('t/CAR1/v/Odometer', '1000');
    conn.inject('t/CAR1/v/Location', '{"latitude":1.5,"longitude":2.5}');
    clock.advance(2 * S);
    const t2 = clock.t;
    conn.inject('t/CAR2/v/InsideTemp', '20');
    conn.inject('t/CAR2/v/Gear', '"ShiftStateP"', true); // retained only
    await conn.close();
    return { t1, t2 };
  }

  it('persist → close → a new connection restores every VIN, its values with their updatedAt, and its last live time', async function () {
    const { t1, t2 } = await firstRun();
    const clock = fakeClock();
    clock.t += 3_600_000; // an hour later
    const { conn, warnings } = broker(clock);
    assert.deepEqual(warnings, []);
    assert.deepEqual(conn.carState.vinList().sort(), ['CAR1', 'CAR2']);
    assert.deepEqual(conn.tracker.vins().sort(), ['CAR1', 'CAR2'], 'known to freshness from the start');
    assert.deepEqual(conn.carState.snapshot('CAR1'), {
      payload: { BatteryLevel: 55.5, Odometer: 1000, Location: { latitude: 1.5, longitude: 2.5 } },
      updatedAt: { BatteryLevel: t1, Odometer: t1, Location: t1 },
    });
    assert.deepEqual(conn.carState.snapshot('CAR2'), { payload: { InsideTemp: 20, Gear: 'P' }, updatedAt: { InsideTemp: t2, Gear: null } });
    assert.equal(conn.tracker.lastLive('CAR1'), t1);
    await conn.close();
  });

  it('persist: false writes nothing and restores nothing', async function () {
    const clock = fakeClock();
    const { conn } = broker(clock, { persist: false });
    conn.inject('t/CAR1/v/BatteryLevel', '50');
    await conn.close();
    assert.deepEqual(fs.readdirSync(dir), []);
    assert.equal(conn.stateFile, null);
  });

  it('a restored VIN goes stale staleAfter after start (not at once), with its real lastSeen; fresh again when it streams', async function () {
    const { t1 } = await firstRun();
    const clock = fakeClock();
    clock.t += 3_600_000;
    const start = clock.t;
    const { conn } = broker(clock);
    const out = telemetryIn(conn, clock, { vins: ['CAR1'], staleAfterMs: 60 * S });
    clock.advance(59 * S);
    assert.deepEqual(out[2], [], 'silence counts from the start, not from the restored time');
    clock.advance(10 * S);
    assert.equal(out[2].length, 1);
    const stale = out[2][0];
    assert.equal(stale.event, 'stale');
    assert.equal(stale.vin, 'CAR1');
    assert.equal(stale.payload.lastSeen, t1, 'the restored last live time, not null');
    assert.ok(stale.payload.silentFor >= 60 * S && stale.payload.silentFor <= clock.t - start);
    conn.inject('t/CAR1/v/BatteryLevel', '56');
    const fresh = out[2][1];
    assert.equal(fresh.event, 'fresh');
    assert.equal(fresh.payload.lastSeen, t1);
  });

  it('field mode: msg.updatedAt is receivedAt when live; for retained, the stored time when equal, null when different; nothing restored is sent', async function () {
    const { t1 } = await firstRun();
    const clock = fakeClock();
    clock.t += 3_600_000;
    const { conn } = broker(clock);
    const out = telemetryIn(conn, clock);
    clock.advance(5 * S);
    assert.deepEqual(out[0], [], 'field mode sends nothing restored');
    conn.inject('t/CAR1/v/BatteryLevel', '55.5', true); // the broker's retained copy, equal
    conn.inject('t/CAR1/v/Odometer', '999', true); // retained, different
    conn.inject('t/CAR1/v/VehicleSpeed', '0', true); // retained, never stored
    conn.inject('t/CAR1/v/Gear', '"ShiftStateD"'); // live
    const [equal, different, unseen, liveMsg] = out[0];
    assert.deepEqual([equal.field, equal.retain, equal.updatedAt], ['BatteryLevel', true, t1]);
    assert.deepEqual([different.field, different.retain, different.updatedAt], ['Odometer', true, null]);
    assert.equal(unseen.updatedAt, null);
    assert.deepEqual([liveMsg.field, liveMsg.retain, liveMsg.updatedAt], ['Gear', false, clock.t]);
    assert.equal(liveMsg.updatedAt, liveMsg.receivedAt);
    // The retained different value is now the stored one, never seen live.
    assert.equal(conn.carState.updatedAt('CAR1', 'Odometer'), null);
  });

  it('vehicle mode: one restored snapshot per restored VIN passing the filters within the delay, then live bursts carry the restored fields', async function () {
    const { t1 } = await firstRun();
    const clock = fakeClock();
    clock.t += 3_600_000;
    const { conn } = broker(clock);
    const out = telemetryIn(conn, clock, { mode: 'vehicle', vins: ['CAR1', 'CAR9'], fields: ['BatteryLevel', 'Location'], restoredDelayMs: 500 });
    clock.advance(499);
    assert.deepEqual(out[0], []);
    clock.advance(1);
    assert.equal(out[0].length, 1, 'CAR2 is filtered out, CAR9 has nothing stored');
    const r = out[0][0];
    assert.equal(r.event, 'vehicle');
    assert.equal(r.topic, 'CAR1');
    assert.equal(r.restored, true);
    assert.equal(r.source, 'telemetry');
    assert.deepEqual(r.changed, []);
    assert.deepEqual(r.payload, { BatteryLevel: 55.5, Location: { latitude: 1.5, longitude: 2.5 } });
    assert.deepEqual(r.updatedAt, { BatteryLevel: t1, Location: t1 });
    assert.deepEqual(r.units, { BatteryLevel: 'percent' });
    // A live burst: one field changes; the snapshot still has the restored one.
    conn.inject('t/CAR1/v/BatteryLevel', '57');
    clock.advance(200);
    const live = out[0][1];
    assert.equal(live.restored, undefined);
    assert.deepEqual(live.payload, { BatteryLevel: 57, Location: { latitude: 1.5, longitude: 2.5 } });
    assert.deepEqual(live.changed, ['BatteryLevel']);
    assert.deepEqual(live.updatedAt, { BatteryLevel: clock.t - 200, Location: t1 });
  });

  it('vehicle mode: a VIN whose live snapshot went out before the delay gets no restored one after it', async function () {
    await firstRun();
    const clock = fakeClock();
    const { conn } = broker(clock);
    const out = telemetryIn(conn, clock, { mode: 'vehicle', restoredDelayMs: 1000 });
    conn.inject('t/CAR1/v/BatteryLevel', '60');
    clock.advance(200);
    clock.advance(1000);
    assert.deepEqual(
      out[0].map((m) => [m.vin, m.restored === true]),
      [
        ['CAR1', false],
        ['CAR2', true],
      ],
    );
  });

  it('retained "ignore": restored fields only ever seen retained are left out', async function () {
    await firstRun();
    const clock = fakeClock();
    const { conn } = broker(clock);
    const out = telemetryIn(conn, clock, { mode: 'vehicle', vins: ['CAR2'], retained: 'ignore', restoredDelayMs: 10 });
    clock.advance(10);
    assert.deepEqual(out[0][0].payload, { InsideTemp: 20 });
  });

  it('units: field mode msg.unit and payload in each choice; "car" switches when the car\'s setting arrives', function () {
    const clock = fakeClock();
    const conn = new BrokerConnection(SETTINGS, clock);
    const outs = Object.fromEntries(['sent', 'metric', 'imperial', 'car'].map((u) => [u, telemetryIn(conn, clock, { units: u })]));
    conn.inject('t/CAR1/v/Odometer', '100');
    conn.inject('t/CAR1/v/InsideTemp', '"20"');
    conn.inject('t/CAR1/v/TpmsPressureFl', '2');
    conn.inject('t/CAR1/v/VehicleSpeed', '50');
    conn.inject('t/CAR1/v/Gear', '"ShiftStateD"');
    const got = (u) => outs[u][0].map((m) => [m.field, m.payload, m.unit]);
    assert.deepEqual(got('sent'), [
      ['Odometer', 100, 'mi'],
      ['InsideTemp', 20, '°C'],
      ['TpmsPressureFl', 2, 'bar'],
      ['VehicleSpeed', 50, 'mph'],
      ['Gear', 'D', null],
    ]);
    assert.deepEqual(got('metric'), [
      ['Odometer', 100 * 1.609344, 'km'],
      ['InsideTemp', 20, '°C'],
      ['TpmsPressureFl', 2, 'bar'],
      ['VehicleSpeed', 50 * 1.609344, 'km/h'],
      ['Gear', 'D', null],
    ]);
    assert.deepEqual(got('imperial'), [
      ['Odometer', 100, 'mi'],
      ['InsideTemp', (20 * 9) / 5 + 32, '°F'],
      ['TpmsPressureFl', 2 * 14.5037738, 'psi'],
      ['VehicleSpeed', 50, 'mph'],
      ['Gear', 'D', null],
    ]);
    assert.deepEqual(got('car'), got('sent'), 'as sent until the car says');
    assert.deepEqual(
      outs.metric[0].map((m) => m.raw),
      [100, '20', 2, 50, 'ShiftStateD'],
      'raw is never converted',
    );
    conn.inject('t/CAR1/v/SettingDistanceUnit', '"DistanceUnitKilometers"');
    conn.inject('t/CAR1/v/SettingTirePressureUnit', '"PressureUnitPsi"');
    conn.inject('t/CAR1/v/Odometer', '101');
    conn.inject('t/CAR1/v/TpmsPressureFl', '2.1');
    assert.deepEqual(
      outs.car[0].slice(-2).map((m) => [m.field, m.payload, m.unit]),
      [
        ['Odometer', 101 * 1.609344, 'km'],
        ['TpmsPressureFl', 2.1 * 14.5037738, 'psi'],
      ],
    );
  });

  it('units: vehicle mode msg.units for the fields of payload that have one, converted', function () {
    const clock = fakeClock();
    const conn = new BrokerConnection(SETTINGS, clock);
    const out = telemetryIn(conn, clock, { mode: 'vehicle', units: 'metric' });
    conn.inject('t/CAR1/v/Odometer', '100');
    conn.inject('t/CAR1/v/Gear', '"ShiftStateD"');
    conn.inject('t/CAR1/v/PackVoltage', '400');
    clock.advance(200);
    const snap = out[0][0];
    assert.deepEqual(snap.payload, { Odometer: 160.9344, Gear: 'D', PackVoltage: 400 });
    assert.deepEqual(snap.units, { Odometer: 'km', PackVoltage: 'V' });
    assert.deepEqual(snap.raw, { Odometer: 100, Gear: 'ShiftStateD', PackVoltage: 400 });
    // The next burst's `changed` compares values as sent: an unchanged odometer is not "changed".
    conn.inject('t/CAR1/v/Odometer', '100');
    conn.inject('t/CAR1/v/PackVoltage', '401');
    clock.advance(200);
    assert.deepEqual(out[0][1].changed, ['PackVoltage']);
    assert.equal(out[0][1].payload.Odometer, 160.9344);
  });
});
