'use strict';
const { lib } = require('../test/support/paths');
// What counting streaming usage costs on the hot path. Fleet messages from the simulator are
// decoded once up front; then, per pass:
//   record      UsageMeter.record() alone on the decoded messages (fleet of `vins` cars)
//   inject      BrokerConnection.inject() (decode, freshness, usage counting, no listener)
//   injectBare  the same with the meter's record/recordBad replaced by no-ops
// ns per message (wall and process CPU): median of `reps` passes after 2 warm-ups, the paths
// interleaved in each pass.
// Also: memory (heap and typed-array buffers) the meter holds for the fleet, and the time of one report() over every VIN.
// Usage: node bench/usage.js [messages] [vins] [reps]   (prints JSON)
const { BrokerConnection } = lib('stream/broker-connection');
const { UsageMeter } = lib('stream/usage');
const { decode, TopicParser } = lib('stream/decode');
const { fleetMessages } = require('../dev/simulator');
const { median } = require('./lib/stats');

const N = Number(process.argv[2]) || 200_000;
const VINS = Number(process.argv[3]) || 1_000;
const REPS = Number(process.argv[4]) || 7;

function main() {
  const msgs = [...fleetMessages({ vins: VINS, count: N, seed: 1, topicBase: 'telemetry' })];
  const parser = new TopicParser('telemetry');
  let t = Date.UTC(2026, 0, 15, 12);
  const clock = { now: () => t, setInterval: () => 0, clearInterval: () => {}, setTimeout: () => 0, clearTimeout: () => {} };
  const decoded = msgs.map((m) => decode(parser, m.topic, m.payload, false, t));
  const meter = new UsageMeter(clock);
  const conn = new BrokerConnection({ url: 'bench://no-connection', topicBase: 'telemetry' }, clock);
  const bare = new BrokerConnection({ url: 'bench://no-connection', topicBase: 'telemetry' }, clock);
  bare.usage.record = () => {};
  bare.usage.recordBad = () => {};
  const paths = {
    record: () => {
      for (let i = 0; i < decoded.length; i++) {
        const d = decoded[i];
        d.receivedAt = t += 7; // a message every 7 ms of fake time
        meter.record(d);
      }
    },
    inject: () => {
      for (let i = 0; i < msgs.length; i++) conn.inject(msgs[i].topic, msgs[i].payload, false);
    },
    injectBare: () => {
      for (let i = 0; i < msgs.length; i++) bare.inject(msgs[i].topic, msgs[i].payload, false);
    },
  };
  // Wall time, and CPU time of the process (what a shared, busy machine distorts least).
  const times = Object.fromEntries(Object.keys(paths).map((k) => [k, []]));
  const cpu = Object.fromEntries(Object.keys(paths).map((k) => [k, []]));
  for (let r = 0; r < REPS + 2; r++) {
    for (const [name, fn] of Object.entries(paths)) {
      const c0 = process.cpuUsage();
      const start = process.hrtime.bigint();
      fn();
      const wall = Number(process.hrtime.bigint() - start);
      const c = process.cpuUsage(c0);
      if (r >= 2) {
        times[name].push(wall / msgs.length);
        cpu[name].push(((c.user + c.system) * 1000) / msgs.length);
      }
    }
  }
  const out = Object.fromEntries(Object.entries(times).map(([k, xs]) => [`${k}NsPerMessage`, Math.round(median(xs))]));
  for (const [k, xs] of Object.entries(cpu)) out[`${k}CpuNsPerMessage`] = Math.round(median(xs));
  out.usageCostInInjectNs = out.injectNsPerMessage - out.injectBareNsPerMessage;
  out.usageCostInInjectCpuNs = out.injectCpuNsPerMessage - out.injectBareCpuNsPerMessage;
  const start = process.hrtime.bigint();
  const report = meter.report();
  out.reportMs = Number(process.hrtime.bigint() - start) / 1e6;
  out.reportVins = Object.keys(report.vins).length;
  out.reportAdvice = report.advice.length;
  out.signalsCounted = report.total.signals;
  if (global.gc) {
    // Heap the counts and rings of this fleet take: a fresh meter, kept alive while measured.
    const fresh = new UsageMeter(clock);
    global.gc();
    const used = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const before = used();
    for (const d of decoded) fresh.record(d);
    global.gc();
    out.meterMB = Math.round(((used() - before) / 1048576) * 10) / 10;
    out.fieldTracks = fresh.vins().reduce((n, v) => n + Object.keys(fresh.report(v).vins[v].fields).length, 0);
  }
  out.messages = N;
  out.vins = VINS;
  out.reps = REPS;
  conn.close();
  bare.close();
  return out;
}

console.log(JSON.stringify(main(), null, 2));
