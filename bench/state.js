'use strict';
const { lib } = require('../test/support/paths');
// The car state at fleet scale: 10,000 VINs × 20 fields (bench/scale.js's field set and values,
// fed through the real decoder). Prints, as JSON:
//   - heap held by the CarState (target < 50 MB);
//   - one state-file write of it: wall time (target < 200 ms), file size, and the longest the
//     event loop was held meanwhile, sliced (as shipped) and with everything serialised in one
//     go (what slicing avoids);
//   - restore: reading the file back into an empty state (target < 1 s; it runs at start).
// Usage: node bench/state.js [vins] [writes]   (re-runs itself with --expose-gc)
// bench/run.js forks it with --expose-gc and gets the figures as its {type: 'result'} message;
// bench/throughput/state-write.js fills a running consumer's car state with fill().
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');

if (require.main === module && typeof global.gc !== 'function') {
  execFileSync(process.execPath, ['--expose-gc', __filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(0);
}

const { CarState } = lib('stream/car-state');
const { StateFile, SLICE_VINS } = lib('stream/state-file');
const { decode, TopicParser } = lib('stream/decode');
const { encodeFieldValue, encodeGoJson, createRng } = require('../dev/simulator');
const { FIELD_SET, valueOf } = require('./scale');
const { median } = require('./lib/stats');

const run = require.main === module;
const VINS = (run && Number(process.argv[2])) || 10_000;
const WRITES = (run && Number(process.argv[3])) || 5;

function gc() {
  for (let i = 0; i < 4; i++) global.gc();
}

/**
 * `vins` VINs (the VINs of dev/simulator.js fleetMessages, so a stream of those adds no VIN) × the
 * 20 fields of table 2, each as a live message through the real decoder, into `state`.
 */
function fill(state, vins = VINS, startAt = Date.UTC(2025, 0, 2)) {
  const rng = createRng('state');
  const parser = new TopicParser('telemetry');
  let at = startAt;
  for (let i = 0; i < vins; i++) {
    const vin = `5YJ3E1EA${String(i).padStart(9, '0')}`;
    for (const name of FIELD_SET) {
      const payload = Buffer.from(encodeGoJson(encodeFieldValue(name, valueOf(name, rng), i % 2 === 0)));
      state.update(decode(parser, `telemetry/${vin}/v/${name}`, payload, false, at++));
    }
  }
}

/** One save, with the longest gap between event-loop turns while it ran (ms). */
async function timedSave(file) {
  let maxGap = 0;
  let last = process.hrtime.bigint();
  let running = true;
  const tick = () => {
    const now = process.hrtime.bigint();
    maxGap = Math.max(maxGap, Number(now - last) / 1e6);
    last = now;
    if (running) setImmediate(tick);
  };
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  setImmediate(tick);
  const t0 = process.hrtime.bigint();
  await file.save();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  running = false;
  delay.disable();
  return { ms, maxGapMs: maxGap, loopDelayP99Ms: delay.percentile(99) / 1e6 };
}

async function main() {
  gc();
  const h0 = process.memoryUsage().heapUsed;
  const state = new CarState();
  fill(state);
  gc();
  const heapBytes = process.memoryUsage().heapUsed - h0;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-state-'));
  const result = { vins: VINS, fields: FIELD_SET.length, sliceVins: SLICE_VINS, heapMB: heapBytes / 1e6, bytesPerVin: heapBytes / VINS };
  try {
    for (const [label, sliceVins] of [
      ['sliced', undefined],
      ['oneGo', Number.MAX_SAFE_INTEGER],
    ]) {
      const runs = [];
      for (let i = 0; i < WRITES; i++) {
        state.changes++; // something changed: the save writes
        const file = new StateFile(state, { dir, id: label, warn: (t) => console.error(t), sliceVins });
        runs.push(await timedSave(file));
      }
      result[label] = {
        writeMs: median(runs.map((r) => r.ms)),
        maxBlockMs: median(runs.map((r) => r.maxGapMs)),
        worstBlockMs: Math.max(...runs.map((r) => r.maxGapMs)),
        loopDelayP99Ms: median(runs.map((r) => r.loopDelayP99Ms)),
      };
    }
    const file = path.join(dir, 'state-sliced.json');
    result.fileMB = fs.statSync(file).size / 1e6;
    const restores = [];
    for (let i = 0; i < WRITES; i++) {
      const back = new CarState();
      const t0 = process.hrtime.bigint();
      const n = new StateFile(back, { dir, id: 'sliced', warn: (t) => console.error(t) }).load();
      restores.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (n !== VINS) throw new Error(`restored ${n} VINs of ${VINS}`);
    }
    result.restoreMs = median(restores);
    result.targets = {
      heapUnder50MB: result.heapMB < 50,
      writeUnder200ms: result.sliced.writeMs < 200,
      restoreUnder1s: result.restoreMs < 1000,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

if (require.main === module) {
  main().then(
    (result) => {
      if (process.send) process.send({ type: 'result', value: result });
      else console.log(JSON.stringify(result, null, 1));
      process.exit(0);
    },
    (e) => {
      console.error(e.stack || e);
      process.exit(1);
    },
  );
}

module.exports = { fill };
