'use strict';
// The car state table's latency part: does writing the state file hold up the messages?
//
// One consumer (b) — `telemetry-in` field mode in Node-RED, its telemetry-broker keeping the car
// state and saving it to the consumer's user directory — with the state of 10,000 VINs × 20
// fields, receives records at a steady 1,000 msg/s (as table 1's latency runs). Three variants,
// interleaved round by round: no write; the state file written back to back for the whole run as
// shipped (sliced: a slice of VINs per turn of the event loop); and, for contrast, written back
// to back with every VIN serialised in one go. Latency is publish → end of the flow, both
// processes reading the same monotonic clock.
const os = require('node:os');
const path = require('node:path');
const child = require('../lib/child');
const { median, percentile } = require('../lib/stats');
const { startMosquitto } = require('../lib/mosquitto');
const { waitSubscribed } = require('./index');

const BASE_VARIANTS = ['none', 'sliced', 'oneGo'];
const LABELS = {
  none: 'no write',
  sliced: 'state file written back to back, as shipped',
  oneGo: 'written back to back, every VIN serialised in one go (what slicing avoids)',
};
/** Extra variants `slice<N>`: written back to back with N VINs per turn of the event loop. */
const sliceOf = (v) => (/^slice\d+$/.test(v) ? Number(v.slice(5)) : undefined);
const labelOf = (v) => LABELS[v] || `written back to back, ${sliceOf(v)} VINs per turn (not shipped)`;

/** One paced run; `variant` says what writes the state meanwhile. Latencies and write intervals in µs. */
async function run(pub, cons, base, n, rate, variant) {
  if (variant !== 'none') await cons.request({ cmd: 'stateWritesStart', variant, sliceVins: sliceOf(variant) });
  await cons.request({ cmd: 'arm', n, mode: 'latency', vehicle: false });
  const timeout = 60_000 + (n / rate) * 3000;
  const result = cons.request({ cmd: 'result' }, timeout);
  result.catch(() => {});
  let p;
  let r;
  let w = { writes: [], failures: 0, vins: null };
  try {
    p = await pub.request({ cmd: 'publish', base, n, rate, sentinel: false }, timeout);
    r = await result;
  } finally {
    if (variant !== 'none') w = await cons.request({ cmd: 'stateWritesStop' }, 60_000);
  }
  if (r.count !== n) throw new Error(`${variant}: ${r.count} of ${n} messages`);
  const lat = [];
  let during = 0;
  for (let i = 0; i < n; i++) {
    const sent = p.sendTimes[i];
    const got = r.out[i];
    lat.push(got - sent);
    // on its way while a write was under way
    if (w.writes.some(([a, b]) => a < got && b > sent)) during++;
  }
  const writeMs = w.writes.map(([a, b]) => (b - a) / 1000);
  return {
    p50: percentile(lat, 50) / 1000,
    p99: percentile(lat, 99) / 1000,
    max: Math.max(...lat) / 1000,
    writes: w.writes.length,
    writeMs: median(writeMs),
    failures: w.failures,
    duringShare: during / n,
    vins: w.vins,
  };
}

/**
 * opts: {broker: 'mosquitto'|'aedes', rounds, n (messages per run), rate, vins, slices (extra
 * slice sizes to compare), log}. Resolves with {broker, version, fill, rows: {none, sliced,
 * oneGo, slice<N>…}, errors, load: [start, end]}.
 */
async function runStateWrite(opts) {
  const { rounds, n, rate, vins, log } = opts;
  const VARIANTS = [...BASE_VARIANTS, ...(opts.slices || []).map((k) => `slice${k}`)];
  let mosq = null;
  let pub = null;
  let cons = null;
  const raw = Object.fromEntries(VARIANTS.map((v) => [v, []]));
  const errors = [];
  const load = [os.loadavg()[0]];
  let fill = null;
  let broker = opts.broker;
  try {
    let target = 'aedes';
    if (broker === 'mosquitto') {
      mosq = await startMosquitto();
      if (mosq) target = mosq.url;
      else broker = 'aedes';
    }
    pub = await child.start(path.join(__dirname, 'publisher.js'), { args: [target], label: `publisher(state, ${broker})` });
    // the 10,000 VINs of the car state: the stream's records are for those VINs
    await pub.request({ cmd: 'prepare', count: n, vins, seed: 2 }, 300_000);
    const base = 'bench/state';
    cons = await child.start(path.join(__dirname, 'consumer.js'), {
      args: ['b', pub.readyInfo.url, base],
      label: `consumer b (state, ${broker})`,
      readyTimeoutMs: 90_000,
    });
    await waitSubscribed(pub, cons, base, log);
    fill = await cons.request({ cmd: 'stateFill', vins }, 300_000);
    log(`  car state: ${fill.vins} VINs, file ${(fill.fileBytes / 1e6).toFixed(1)} MB`);
    // warm-up, not counted: the JIT, and a first write of each kind
    for (const v of VARIANTS) await run(pub, cons, base, Math.min(n, 1000), rate, v);
    for (let r = 0; r < rounds; r++) {
      const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]);
      for (const v of order) {
        try {
          const res = await run(pub, cons, base, n, rate, v);
          raw[v].push(res);
          log(
            `  state ${r + 1}/${rounds} ${v}: p50 ${res.p50.toFixed(2)} ms, p99 ${res.p99.toFixed(2)} ms, max ${res.max.toFixed(1)} ms, ${res.writes} writes of ${res.writeMs === null ? '—' : res.writeMs.toFixed(0)} ms, ${(res.duringShare * 100).toFixed(0)} % of messages during a write`,
          );
        } catch (e) {
          errors.push(`${v} round ${r + 1}: ${e.message}`);
          log(`  state ${v}: FAILED ${e.message}`);
        }
      }
    }
  } finally {
    if (cons) await cons.stop(20_000).catch(() => {});
    if (pub) await pub.stop().catch(() => {});
    if (mosq) await mosq.stop().catch(() => {});
  }
  load.push(os.loadavg()[0]);
  const rows = {};
  for (const v of VARIANTS) {
    const xs = raw[v];
    if (!xs.length) continue;
    rows[v] = {
      label: labelOf(v),
      runs: xs.length,
      p50: median(xs.map((x) => x.p50)),
      p99: median(xs.map((x) => x.p99)),
      max: median(xs.map((x) => x.max)),
      allP99: xs.map((x) => +x.p99.toFixed(2)),
      writes: median(xs.map((x) => x.writes)),
      writeMs: median(xs.map((x) => x.writeMs)),
      failures: xs.reduce((a, x) => a + x.failures, 0),
      duringShare: median(xs.map((x) => x.duringShare)),
      vins: Math.max(...xs.map((x) => x.vins || 0)),
    };
  }
  return { broker, version: mosq ? mosq.version : null, n, rate, fill, rows, errors, load };
}

module.exports = { runStateWrite, LABELS };
