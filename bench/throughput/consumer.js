'use strict';
// One consumer of the throughput/latency benchmark, in its own process:
//   a  raw MQTT.js subscriber doing JSON.parse
//   b  telemetry-in, field mode, in an embedded Node-RED runtime
//   c  telemetry-in, vehicle mode
//   d  core mqtt in → json → function (normalisation by hand)
//   e  core mqtt in alone (buffer payload)
// Usage (forked by bench/run.js): node consumer.js <kind> <mqtt url> <topic base>
// Commands: arm {n, mode: 'count'|'latency', vehicle}, result (resolves when the run is over);
// for (b) and (c), whose telemetry-broker keeps the car state and saves it in the user directory:
// stateFill {vins}, stateWritesStart {variant}, stateWritesStop (bench/throughput/state-write.js).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { serve } = require('../lib/child');
const hook = require('../lib/sink-hook');
const { flowFor } = require('./flows');

const [kind, url, base] = process.argv.slice(2);
const REPO = path.resolve(__dirname, '..', '..');
const SENTINEL_VIN = 'BENCHSENTINEL0000';
const QUIET_MS = 250;
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

let run = null; // the armed run
let cleanup = async () => {};

function arm({ n, mode, vehicle }) {
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  const r = {
    n,
    mode,
    vehicle: !!vehicle,
    count: 0,
    fields: 0,
    out: mode === 'latency' && !vehicle ? new Float64Array(n) : null,
    snapshots: mode === 'latency' && vehicle ? [] : null,
    cpu0: process.cpuUsage(),
    tArm: nowUs(),
    mem0: process.memoryUsage().heapUsed,
    done,
    finish(tEnd) {
      const cpu = process.cpuUsage(r.cpu0);
      resolveDone({
        tArm: r.tArm,
        tEnd,
        count: r.count,
        fields: r.fields,
        cpuUs: cpu.user + cpu.system,
        out: r.out ? Array.from(r.out) : null,
        snapshots: r.snapshots,
      });
      hook.handler = null;
    },
  };
  if (!r.vehicle) {
    hook.handler = (msg) => {
      const i = r.count++;
      if (r.out !== null) r.out[i] = nowUs();
      if (r.count === r.n) r.finish(nowUs());
    };
  } else {
    hook.handler = (msg) => {
      const t = nowUs();
      if (msg.vin === SENTINEL_VIN) return r.finish(t);
      r.count++;
      r.fields += Object.keys(msg.raw || {}).length;
      if (r.snapshots !== null) r.snapshots.push([msg.vin, t]);
    };
  }
  run = r;
  return { armed: true };
}

// ---- the car state, written while messages arrive (bench/throughput/state-write.js)

let writer = null;

/** The telemetry-broker's connection in this consumer's Node-RED (consumers b and c). */
function brokerConnection() {
  const node = require('node-red').nodes.getNode('bench-tbroker');
  if (!node || !node.connection) throw new Error(`consumer ${kind} has no telemetry-broker`);
  if (!node.connection.stateFile) throw new Error('the car state is not saved: no user directory, or persist off');
  return node.connection;
}

/**
 * Fill the car state with `vins` VINs × 20 fields, write it once, and stop the 30 s periodic
 * write: from here on the benchmark decides when the state is written.
 */
async function stateFill({ vins }) {
  const conn = brokerConnection();
  require('../state').fill(conn.carState, vins, Date.now());
  await conn.stateFile.close();
  return { vins: conn.carState.size, fileBytes: fs.statSync(conn.stateFile.file).size };
}

/**
 * Write the car state back to back until stateWritesStop: `sliced` is the broker's own state
 * file as shipped (a slice of VINs per turn of the event loop); `oneGo` serialises every VIN in
 * one go (what slicing avoids), and `sliceVins` asks for another slice size (both into a file of
 * their own).
 */
function stateWritesStart({ variant, sliceVins }) {
  if (writer) throw new Error('already writing');
  const conn = brokerConnection();
  const { lib } = require('../../test/support/paths');
  const { StateFile } = lib('stream/state-file');
  // `sliceVins`: another slice size than the shipped one, into a file of its own
  const slice = variant === 'oneGo' ? Number.MAX_SAFE_INTEGER : sliceVins;
  const file = slice
    ? new StateFile(conn.carState, {
        dir: path.dirname(conn.stateFile.file),
        id: `bench-${variant}`,
        warn: (t) => console.error(t),
        sliceVins: slice,
      })
    : conn.stateFile;
  const w = { on: true, writes: [], failures0: file.stats.failures, file };
  w.done = (async () => {
    while (w.on) {
      conn.carState.changes++; // something changed: save() writes
      const t0 = nowUs();
      await file.save();
      w.writes.push([t0, nowUs()]);
    }
  })();
  writer = w;
  return { variant };
}

async function stateWritesStop() {
  const w = writer;
  if (!w) throw new Error('not writing');
  writer = null;
  w.on = false;
  await w.done;
  return { writes: w.writes, failures: w.file.stats.failures - w.failures0, vins: w.file.state.size };
}

/** Until the first message arrives: count anything (used to know the subscription is in place). */
let probes = 0;
function probeHandler() {
  probes++;
}

async function startRaw() {
  const mqtt = require('mqtt');
  const client = mqtt.connect(url, { clientId: `bench-raw-${process.pid}`, clean: true, reconnectPeriod: 1000 });
  await new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  await client.subscribeAsync(`${base}/+/v/+`, { qos: 1 });
  client.on('message', (topic, payload) => {
    hook.receive(JSON.parse(payload.toString()));
  });
  cleanup = () => client.endAsync(true);
}

async function startNodeRed() {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-nr-${kind}-`));
  const port = Number(new URL(url).port);
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flowFor(kind, { url, port, base, quietMs: QUIET_MS })));
  const RED = require('node-red');
  const settings = {
    userDir,
    flowFile: 'flows.json',
    credentialSecret: false,
    nodesDir: [REPO, path.join(__dirname, '..', 'nodes')],
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    uiHost: '127.0.0.1',
    logging: { console: { level: 'error', metrics: false, audit: false } },
    diagnostics: { enabled: false, ui: false },
    runtimeState: { enabled: false, ui: false },
    telemetry: { enabled: false, updateNotification: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false }, modules: { allowInstall: false } },
    functionExternalModules: false,
    editorTheme: { projects: { enabled: false }, tours: false },
  };
  RED.init(http.createServer(), settings);
  await RED.start();
  // Every flow node must exist (a type that failed to load leaves the flow stopped).
  const flow = JSON.parse(fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8'));
  for (const n of flow) {
    if (n.type === 'tab') continue;
    const deadline = Date.now() + 20_000;
    while (!RED.nodes.getNode(n.id)) {
      if (Date.now() > deadline) throw new Error(`node ${n.type} (${n.id}) did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  cleanup = async () => {
    await RED.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
  };
}

serve(
  {
    arm,
    async result() {
      if (!run) throw new Error('not armed');
      const value = await run.done;
      run = null;
      return value;
    },
    probeCount() {
      return probes;
    },
    probeOff() {
      if (hook.handler === probeHandler) hook.handler = null;
      return probes;
    },
    cpuNow() {
      const c = process.cpuUsage();
      return c.user + c.system;
    },
    stateFill,
    stateWritesStart,
    stateWritesStop,
  },
  () => cleanup(),
);

(async () => {
  hook.handler = probeHandler;
  if (kind === 'a') await startRaw();
  else await startNodeRed();
  process.send({ type: 'ready', pid: process.pid, kind });
})().catch((e) => {
  console.error(`consumer ${kind}: ${e.stack || e}`);
  process.exit(1);
});
