'use strict';
const { lib } = require('../test/support/paths');
// Table 2: fleet scale. 10,000 VINs × 20 fields held by our state, and one freshness sweep.
// Run with --expose-gc (bench/run.js does): node --expose-gc bench/scale.js [vehicle|field] [vins]
//
// The state is a BrokerConnection (its FreshnessTracker) and a TelemetryInController, fed
// through BrokerConnection.inject() — the same decode → touch → fan-out path as an MQTT message,
// without a socket: the connection's URL is deliberately unusable, so no MQTT client exists and
// only our own objects are on the heap. The connection keeps the car state (every field's latest
// value per VIN, in memory: no state directory) in both modes; vehicle mode also keeps its own
// latest snapshot per VIN.
const { BrokerConnection } = lib('stream/broker-connection');
const { TelemetryInController } = lib('stream/controller');
const { encodeFieldValue, encodeGoJson, createRng, FIELDS } = require('../dev/simulator');
const { median } = require('./lib/stats');
const { fakeClock } = require('../test/support/clock');

const mode = process.argv[2] === 'field' ? 'field' : 'vehicle';
const VINS = Number(process.argv[3]) || 10_000;
const SWEEPS = 20;

/** 20 fields a fleet typically streams: 14 numbers, 4 enums, 2 objects. */
const FIELD_SET = [
  'BatteryLevel',
  'Soc',
  'EstBatteryRange',
  'RatedRange',
  'VehicleSpeed',
  'Odometer',
  'GpsHeading',
  'InsideTemp',
  'OutsideTemp',
  'ChargeAmps',
  'ACChargingPower',
  'ChargerVoltage',
  'TimeToFullCharge',
  'ChargeLimitSoc',
  'Gear',
  'DetailedChargeState',
  'ChargePortLatch',
  'SentryMode',
  'Location',
  'DoorState',
];

function valueOf(name, rng) {
  const info = FIELDS.get(name);
  switch (info.kind) {
    case 'enum':
      return rng.int(1, info.enumValues.length - 1);
    case 'location':
      return { latitude: Math.round(rng.float(-60, 70) * 1e6) / 1e6, longitude: Math.round(rng.float(-180, 180) * 1e6) / 1e6 };
    case 'doors':
      return {
        DriverFront: rng.chance(0.1),
        DriverRear: false,
        PassengerFront: rng.chance(0.1),
        PassengerRear: false,
        TrunkFront: false,
        TrunkRear: rng.chance(0.05),
      };
    case 'integer':
      return rng.int(0, 100);
    default:
      return Math.round(rng.float(0, 500) * 1000) / 1000;
  }
}

function gc() {
  for (let i = 0; i < 4; i++) global.gc();
}

function main() {
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc');
  const rng = createRng('scale');
  // A fake clock: bursts are flushed on demand, deterministically. Its sweep timer (every 30 s)
  // is never due in the few seconds of fake time this runs: the sweeps are called below.
  const clock = fakeClock(Date.UTC(2025, 0, 2));
  const QUIET_MS = 250;
  const runTimers = () => clock.advance(QUIET_MS);
  let sent = 0;
  gc();
  const before = process.memoryUsage().heapUsed;
  const conn = new BrokerConnection({ url: 'bench://no-connection', topicBase: 'telemetry' }, clock);
  const ctl = new TelemetryInController(
    conn,
    { vins: [], fields: [], mode, staleAfterMs: 60 * 60_000, retained: 'flag', quietMs: QUIET_MS },
    { send: () => void sent++, status: () => {}, warn: () => {} },
    clock,
  );
  ctl.start(); // registers the watcher and the listener (the connection stays 'disconnected')
  gc();
  const h0 = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < VINS; i++) {
    const vin = `5YJ3E1EA${String(i).padStart(9, '0')}`;
    const typed = i % 2 === 0;
    for (const name of FIELD_SET) {
      const payload = Buffer.from(encodeGoJson(encodeFieldValue(name, valueOf(name, rng), typed)));
      conn.inject(`telemetry/${vin}/v/${name}`, payload, false);
    }
    if (i % 500 === 499) runTimers();
  }
  runTimers();
  const injectMs = Number(process.hrtime.bigint() - t0) / 1e6;
  gc();
  const h1 = process.memoryUsage().heapUsed;
  // One sweep over 10,000 live VINs (none turns stale): the timer's regular work.
  const sweeps = [];
  for (let i = 0; i < SWEEPS; i++) {
    const s = process.hrtime.bigint();
    conn.tracker.sweep();
    sweeps.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  // The sweep after an hour of silence: every VIN turns stale at once (10,000 stale events).
  const emitted = sent;
  const s = process.hrtime.bigint();
  conn.tracker.sweep(clock.now() + 61 * 60_000);
  const staleSweepMs = Number(process.hrtime.bigint() - s) / 1e6;
  const result = {
    mode,
    vins: VINS,
    fields: FIELD_SET.length,
    messages: conn.stats.messages,
    bad: conn.stats.bad,
    emitted,
    staleEvents: sent - emitted,
    heapDeltaBytes: h1 - h0,
    setupBytes: h0 - before,
    bytesPerVin: (h1 - h0) / VINS,
    sweepMedianMs: median(sweeps),
    sweepMaxMs: Math.max(...sweeps),
    sweepFirstMs: sweeps[0],
    sweepMaxAfterFirstMs: Math.max(...sweeps.slice(1)),
    staleSweepMs,
    injectUsPerMsg: (injectMs * 1000) / conn.stats.messages,
    tracked: conn.tracker.size,
  };
  ctl.stop();
  conn.close();
  return result;
}

if (require.main === module) {
  try {
    const r = main();
    if (process.send) process.send({ type: 'result', value: r });
    else console.log(JSON.stringify(r, null, 1));
    process.exit(0);
  } catch (e) {
    console.error(e.stack || e);
    process.exit(1);
  }
}

module.exports = { FIELD_SET, valueOf };
