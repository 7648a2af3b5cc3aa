'use strict';
// Table 1: throughput, CPU per message and latency of five consumers, per broker.
const path = require('node:path');
const child = require('../lib/child');
const { median, percentile } = require('../lib/stats');
const { startMosquitto } = require('../lib/mosquitto');

const KINDS = ['a', 'b', 'c', 'd', 'e'];
const LABELS = {
  a: '(a) raw MQTT.js + JSON.parse',
  b: '(b) telemetry-in, field mode',
  c: '(c) telemetry-in, vehicle mode',
  d: '(d) mqtt in → json → function',
  e: '(e) mqtt in alone',
};
const QUIET_MS = 250;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitSubscribed(pub, cons, base, log) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    await pub.request({ cmd: 'probe', base }, 10_000);
    await sleep(QUIET_MS + 150); // longer than the quiet time, or vehicle mode never ends the burst
    if ((await cons.request({ cmd: 'probeCount' })) > 0) {
      await sleep(QUIET_MS + 200); // a vehicle-mode probe snapshot is emitted after the quiet time
      await cons.request({ cmd: 'probeOff' });
      return;
    }
  }
  throw new Error(`${cons.label} never received a message on ${base}`);
}

/** One full-speed run: n messages; resolves with {rate, cpuPerMsg, ...} (µs, msg/s). */
async function throughputRun(pub, cons, kind, base, n) {
  const vehicle = kind === 'c';
  await cons.request({ cmd: 'arm', n, mode: 'count', vehicle });
  const timeout = 60_000 + n * 1; // ≥ 1,000 msg/s or it is a failure
  const result = cons.request({ cmd: 'result' }, timeout);
  result.catch(() => {});
  const p = await pub.request({ cmd: 'publish', base, n, rate: 0, sentinel: vehicle }, timeout);
  const r = await result;
  if (!vehicle && r.count !== n) throw new Error(`${kind}: ${r.count} of ${n} messages`);
  const end = vehicle ? r.tEnd - QUIET_MS * 1000 : r.tEnd;
  const elapsedUs = end - p.t0;
  return {
    rate: n / (elapsedUs / 1e6),
    cpuPerMsg: r.cpuUs / n,
    // Share of the run the consumer's process was on a CPU: near 100 % = the consumer set the pace.
    busy: r.cpuUs / (r.tEnd - p.t0),
    elapsedMs: elapsedUs / 1000,
    publisherMs: (p.tAcked - p.t0) / 1000,
    snapshots: vehicle ? r.count : null,
    fields: vehicle ? r.fields : null,
  };
}

/** One paced run at `rate` msg/s: per-message latencies (µs) from publish to the consumer's output. */
async function latencyRun(pub, cons, kind, base, n, rate) {
  const vehicle = kind === 'c';
  await cons.request({ cmd: 'arm', n, mode: 'latency', vehicle });
  const timeout = 60_000 + (n / rate) * 3000;
  const result = cons.request({ cmd: 'result' }, timeout);
  result.catch(() => {});
  const p = await pub.request({ cmd: 'publish', base, n, rate, sentinel: vehicle }, timeout);
  const r = await result;
  const lat = [];
  if (!vehicle) {
    if (r.count !== n) throw new Error(`${kind}: ${r.count} of ${n} messages`);
    for (let i = 0; i < n; i++) lat.push(r.out[i] - p.sendTimes[i]);
  } else {
    // A snapshot answers every record of its VIN published before it: latency from the last one.
    const pending = new Map();
    for (const [vin, last] of p.records) {
      if (!pending.has(vin)) pending.set(vin, []);
      pending.get(vin).push(p.sendTimes[last]);
    }
    for (const [vin, t] of r.snapshots) {
      const q = pending.get(vin);
      if (!q || !q.length) continue;
      let lastSent = null;
      while (q.length && q[0] <= t) lastSent = q.shift();
      if (lastSent !== null) lat.push(t - lastSent);
    }
  }
  return { p50: percentile(lat, 50) / 1000, p99: percentile(lat, 99) / 1000, samples: lat.length };
}

/**
 * Run every consumer against one broker. opts: {broker: 'aedes'|'mosquitto', n, rounds,
 * latencyN, latencyRounds, rate, vins, kinds, log}. Resolves with per-kind medians.
 */
async function runBroker(opts) {
  const { n, rounds, latencyN, latencyRounds, rate, vins, log } = opts;
  const kinds = opts.kinds || KINDS;
  let mosq = null;
  let pub = null;
  const consumers = {};
  const raw = {};
  const errors = [];
  try {
    let target = 'aedes';
    if (opts.broker === 'mosquitto') {
      mosq = await startMosquitto();
      if (!mosq) return null;
      target = mosq.url;
    }
    pub = await child.start(path.join(__dirname, 'publisher.js'), { args: [target], label: `publisher(${opts.broker})` });
    const url = pub.readyInfo.url;
    const prepared = await pub.request({ cmd: 'prepare', count: Math.max(n, latencyN), vins, seed: 1 }, 300_000);
    log(
      `  ${opts.broker}: ${url}; ${prepared.messages} messages in ${prepared.records} records prepared (${(prepared.bytes / prepared.messages).toFixed(1)} B payload avg)`,
    );
    for (const kind of kinds) {
      const base = `bench/${kind}`;
      consumers[kind] = await child.start(path.join(__dirname, 'consumer.js'), {
        args: [kind, url, base],
        label: `consumer ${kind} (${opts.broker})`,
        readyTimeoutMs: 90_000,
      });
      await waitSubscribed(pub, consumers[kind], base, log);
      raw[kind] = { runs: [], latency: [] };
    }
    // Warm-up (JIT, Node-RED's first messages): one shorter run each, not counted.
    const warm = Math.min(n, 20_000);
    for (const kind of kinds) {
      try {
        await throughputRun(pub, consumers[kind], kind, `bench/${kind}`, warm);
      } catch (e) {
        errors.push(`${kind} warm-up: ${e.message}`);
      }
    }
    const failed = new Set();
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round so drift over the run does not favour one consumer.
      const order = kinds.map((_, i) => kinds[(i + r) % kinds.length]);
      for (const kind of order) {
        if (failed.has(kind)) continue;
        try {
          const res = await throughputRun(pub, consumers[kind], kind, `bench/${kind}`, n);
          raw[kind].runs.push(res);
          log(
            `  ${opts.broker} round ${r + 1}/${rounds} ${kind}: ${Math.round(res.rate)} msg/s, ${res.cpuPerMsg.toFixed(1)} µs CPU/msg, consumer busy ${(res.busy * 100).toFixed(0)} %`,
          );
        } catch (e) {
          failed.add(kind);
          errors.push(`${kind} round ${r + 1}: ${e.message}`);
          log(`  ${opts.broker} ${kind}: FAILED ${e.message}`);
        }
      }
    }
    for (let r = 0; r < latencyRounds; r++) {
      const order = kinds.map((_, i) => kinds[(i + r) % kinds.length]);
      for (const kind of order) {
        if (failed.has(kind)) continue;
        try {
          const res = await latencyRun(pub, consumers[kind], kind, `bench/${kind}`, latencyN, rate);
          raw[kind].latency.push(res);
          log(
            `  ${opts.broker} latency ${r + 1}/${latencyRounds} ${kind}: p50 ${res.p50.toFixed(2)} ms, p99 ${res.p99.toFixed(2)} ms (${res.samples} samples)`,
          );
        } catch (e) {
          failed.add(kind);
          errors.push(`${kind} latency ${r + 1}: ${e.message}`);
          log(`  ${opts.broker} ${kind} latency: FAILED ${e.message}`);
        }
      }
    }
  } finally {
    await Promise.all(Object.values(consumers).map((c) => c.stop().catch(() => {})));
    if (pub) await pub.stop().catch(() => {});
    if (mosq) await mosq.stop().catch(() => {});
  }
  const rows = {};
  for (const kind of kinds) {
    const k = raw[kind];
    if (!k) continue;
    rows[kind] = {
      label: LABELS[kind],
      runs: k.runs.length,
      rate: median(k.runs.map((x) => x.rate)),
      cpuPerMsg: median(k.runs.map((x) => x.cpuPerMsg)),
      publisherMs: median(k.runs.map((x) => x.publisherMs)),
      busy: median(k.runs.map((x) => x.busy)),
      elapsedMs: median(k.runs.map((x) => x.elapsedMs)),
      snapshots: median(k.runs.map((x) => x.snapshots)),
      p50: median(k.latency.map((x) => x.p50)),
      p99: median(k.latency.map((x) => x.p99)),
      latencyRuns: k.latency.length,
      ratio: {},
      allRates: k.runs.map((x) => Math.round(x.rate)),
      allCpu: k.runs.map((x) => +x.cpuPerMsg.toFixed(2)),
    };
  }
  // Ratios of msg/s within each round (same round, back to back), then their median: drift
  // between rounds cancels.
  for (const kind of kinds) {
    const row = rows[kind];
    if (!row) continue;
    for (const ref of kinds) {
      const rr = raw[ref] ? raw[ref].runs : [];
      const mine = raw[kind].runs;
      const xs = [];
      for (let i = 0; i < Math.min(rr.length, mine.length); i++) xs.push(mine[i].rate / rr[i].rate);
      row.ratio[ref] = median(xs);
    }
  }
  return { broker: opts.broker, rows, errors, version: mosq ? mosq.version : null, config: mosq ? mosq.config : null };
}

module.exports = { runBroker, waitSubscribed, KINDS, LABELS, QUIET_MS };

/**
 * Profile one consumer (node --cpu-prof) during one full-speed run of n messages, after a
 * warm-up; only the samples of the measured run are summarised.
 */
async function profileConsumer({ broker, kind, n, vins, dir }) {
  const fs = require('node:fs');
  const { summarise } = require('../lib/profile');
  let mosq = null;
  let pub = null;
  let cons = null;
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.cpuprofile')) fs.rmSync(path.join(dir, f));
  try {
    let target = 'aedes';
    if (broker === 'mosquitto') {
      mosq = await startMosquitto();
      if (!mosq) return null;
      target = mosq.url;
    }
    pub = await child.start(path.join(__dirname, 'publisher.js'), { args: [target], label: `publisher(profile)` });
    await pub.request({ cmd: 'prepare', count: n, vins, seed: 1 }, 300_000);
    const base = `bench/${kind}`;
    cons = await child.start(path.join(__dirname, 'consumer.js'), {
      args: [kind, pub.readyInfo.url, base],
      execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=250'],
      label: `consumer ${kind} (profile)`,
      readyTimeoutMs: 90_000,
    });
    await waitSubscribed(pub, cons, base);
    await throughputRun(pub, cons, kind, base, Math.min(n, 20_000));
    const vehicle = kind === 'c';
    await cons.request({ cmd: 'arm', n, mode: 'count', vehicle });
    const result = cons.request({ cmd: 'result' }, 60_000 + n);
    result.catch(() => {});
    const p = await pub.request({ cmd: 'publish', base, n, rate: 0, sentinel: vehicle }, 60_000 + n);
    const r = await result;
    await cons.stop(20_000);
    cons = null;
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no .cpuprofile written');
    const summary = summarise(path.join(dir, file), 15, { from: r.tArm, to: r.tEnd });
    return { kind, broker, n, rate: n / ((r.tEnd - p.t0) / 1e6), cpuPerMsg: r.cpuUs / n, file: path.join(dir, file), ...summary };
  } finally {
    if (cons) await cons.stop().catch(() => {});
    if (pub) await pub.stop().catch(() => {});
    if (mosq) await mosq.stop().catch(() => {});
  }
}

module.exports.profileConsumer = profileConsumer;
