'use strict';
const { lib } = require('../test/support/paths');
// Our hot path alone, in one process: no socket, no MQTT.js, no Node-RED. Table 1's fleet
// messages (the first 100,000 by default) go through (1) what a raw consumer does, JSON.parse(toString()),
// (2) decode() (topic + JSON + normalise), (3) BrokerConnection.inject() → FreshnessTracker →
// TelemetryInController (field mode), (4) the same in vehicle mode (snapshots every 500 VINs'
// worth of messages, on a fake clock). µs per message: median of `reps` passes after 2 warm-ups,
// the four paths interleaved in each pass.
// Usage: node bench/hotpath.js [messages] [reps]   (prints JSON, or sends it to bench/run.js)
const { BrokerConnection } = lib('stream/broker-connection');
const { TelemetryInController } = lib('stream/controller');
const { decode, TopicParser } = lib('stream/decode');
const { fleetMessages } = require('../dev/simulator');
const { median } = require('./lib/stats');
const { fakeClock } = require('../test/support/clock');

const N = Number(process.argv[2]) || 100_000;
const REPS = Number(process.argv[3]) || 7;

function main() {
  const msgs = [...fleetMessages({ vins: 10_000, count: N, seed: 1, topicBase: 'telemetry' })];
  const parser = new TopicParser('telemetry');
  let sink = 0;
  const paths = {
    jsonParse: (m) => {
      sink += JSON.parse(m.payload.toString('utf8')) === null ? 1 : 0;
    },
    decode: (m) => {
      sink += decode(parser, m.topic, m.payload, false, 1).live ? 1 : 0;
    },
  };
  const closers = [];
  for (const mode of ['field', 'vehicle']) {
    const clock = fakeClock(1_000_000); // the tracker's sweeps and the vehicle-mode bursts
    const conn = new BrokerConnection({ url: 'bench://no-connection', topicBase: 'telemetry' }, clock);
    const ctl = new TelemetryInController(
      conn,
      { vins: [], fields: [], mode, staleAfterMs: 60 * 60_000, retained: 'flag', quietMs: 250 },
      { send: () => void sink++, status: () => {}, warn: () => {} },
      clock,
    );
    ctl.start();
    closers.push(() => {
      ctl.stop();
      conn.close();
    });
    let k = 0;
    paths[mode] = (m) => {
      conn.inject(m.topic, m.payload, false);
      if (++k % 5000 === 0) {
        clock.advance(300); // the records so far go quiet: their snapshots are sent
      }
    };
  }
  // Passes interleaved (each path once per pass), so noise and JIT warm-up hit them alike.
  const times = Object.fromEntries(Object.keys(paths).map((k) => [k, []]));
  for (let r = 0; r < REPS + 2; r++) {
    for (const [name, fn] of Object.entries(paths)) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < msgs.length; i++) fn(msgs[i]);
      if (r >= 2) times[name].push(Number(process.hrtime.bigint() - t) / 1e3 / msgs.length);
    }
  }
  for (const c of closers) c();
  const out = Object.fromEntries(Object.entries(times).map(([k, xs]) => [k, median(xs)]));
  out.messages = N;
  out.reps = REPS;
  out.sink = sink;
  return out;
}

if (require.main === module) {
  const r = main();
  if (process.send) process.send({ type: 'result', value: r });
  else console.log(JSON.stringify(r, null, 1));
  process.exit(0);
}
