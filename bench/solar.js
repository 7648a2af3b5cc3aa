'use strict';
// Table 4: a simulated solar day (a PV surplus value every 5 s for 10 h) through example 05's
// logic, into vehicle-command: the commands sent and their cost, with and without coalescing.
//
// Example 05 is read from examples/05 solar surplus charging.json: its function node's code
// ("surplus → amps") runs as Node-RED runs it (msg, node, context), and its two vehicle-command
// nodes' properties become the controllers' options through commandSettings, the node's own
// parser. The real VehicleCommandController and the real FleetApiClient talk HTTPS, through the
// proxy path, to the Fleet API double (dev/fleet-double.js, 127.0.0.1), which carries the
// commands out on the car's charge_state. Time is a fake clock (@sinonjs/fake-timers, local to
// this process' controllers, client and double; sockets and real timers untouched): each 5 s
// step ticks it, then waits until every HTTP call of that step was answered.
//
// Scenarios (the same day, same seed):
//   each          every surplus value → set_charging_amps (amps the value pays for, 0–16 A), Min interval 0
//   each-60       the same into a node with Min interval 60 s (coalescing alone)
//   logic         example 05's function, its nodes with Min interval 0 (the logic alone)
//   example       example 05 as shipped (logic + Min interval 60 s on "charging amps")
// Usage: node bench/solar.js [scenario ...] [--markdown]   (JSON, or the BENCHMARKS.md section)
const fs = require('node:fs');
const path = require('node:path');
const FakeTimers = require('@sinonjs/fake-timers');
const { VehicleCommandController } = require('../nodes/dist/lib/commands/controller');
const { commandSettings } = require('../nodes/dist/lib/commands/settings');
const { FleetApiClient } = require('../nodes/dist/lib/fleet-api/client');
const { priceOf } = require('../nodes/dist/lib/fleet-api/billing');
const { startFleetDouble, SAMPLE_DATA } = require('../dev/fleet-double');
const { createRng } = require('../dev/simulator');

const EXAMPLE = path.join(__dirname, '..', 'examples', '05 solar surplus charging.json');
const STEP_MS = 5000;
const HOURS = 10;
const STEPS = (HOURS * 3600 * 1000) / STEP_MS;
const START = new Date(2025, 5, 21, 8, 0, 0).getTime(); // 08:00 local: one billing day
const VIN = '5YJ3E1EA1SF000001';
const CLIENT_ID = 'bench-solar';
const VOLTS = 230;
const SCENARIOS = ['each', 'each-60', 'logic', 'example'];
const SEED = 'solar-day';

// ---------------------------------------------------------------------------------------------
// The day

/**
 * Surplus in watts every 5 s from 08:00 to 18:00: a 7 kWp roof on a clear-sky curve (sunrise
 * 06:30, sunset 19:30), clouds passing (a few minutes each, 25–65 % of the sun left), and the
 * house's own load (300 W base with noise, a fridge cycling, a kettle, a washing machine, an
 * oven, a dishwasher). The car's charging is not in it: the example takes the surplus so.
 */
function solarDay(seed = SEED) {
  const rng = createRng(seed);
  const appliances = [
    [0.5, 4, 2000], // kettle 08:30
    [2.2, 15, 2100], // washing machine heating 10:12
    [2.45, 75, 350], // … and washing
    [4.0, 45, 2200], // oven 12:00
    [5.6, 20, 2000], // dishwasher heating 13:36
    [5.93, 50, 150],
    [8.0, 3, 2000], // kettle 16:00
    [9.5, 30, 1800], // cooking 17:30
  ];
  const out = [];
  let cloudLeft = 0;
  let cloudDepth = 1;
  for (let i = 0; i < STEPS; i++) {
    const h = (i * STEP_MS) / 3_600_000; // hours since 08:00
    const sun = Math.sin((Math.PI * (h + 8 - 6.5)) / 13);
    const clear = 7000 * Math.max(0, sun) ** 1.4;
    if (cloudLeft > 0) cloudLeft--;
    else if (rng.chance(1 / 180)) {
      // a cloud about every 15 min, 1–12 min long
      cloudLeft = rng.int(12, 144);
      cloudDepth = rng.float(0.25, 0.65);
    }
    const pv = clear * (cloudLeft > 0 ? cloudDepth : 1) * rng.float(0.98, 1.02);
    let load = 300 + rng.float(-60, 60) + (i % 180 < 60 ? 120 : 0);
    for (const [at, minutes, watts] of appliances) if (h >= at && h < at + minutes / 60) load += watts;
    out.push(Math.round(pv - load));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Example 05, as Node-RED runs it

function loadExample(file = EXAMPLE) {
  const nodes = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const fn = nodes.find((n) => n.type === 'function');
  if (!fn || fn.outputs !== 2) throw new Error(`${path.basename(file)}: no function node with two outputs`);
  const amps = byId.get(fn.wires[0][0]);
  const control = byId.get(fn.wires[1][0]);
  if (amps?.type !== 'vehicle-command' || control?.type !== 'vehicle-command') {
    throw new Error(`${path.basename(file)}: the function's outputs do not lead to vehicle-command nodes`);
  }
  return { func: fn.func, amps, control };
}

/** A function node: its code called with msg, node and a context of its own; returns its outputs. */
function functionNode(code) {
  const store = new Map();
  const warnings = [];

  const run = new Function('msg', 'node', 'context', code);
  const node = { warn: (t) => warnings.push(String(t)), error: (t) => warnings.push(String(t)), status() {} };
  const context = { get: (k) => store.get(k), set: (k, v) => void store.set(k, v) };
  return {
    warnings,
    call(msg) {
      const r = run(msg, node, context);
      return Array.isArray(r) ? r : [r];
    },
  };
}

/** A vehicle-command node's options from its flow properties (the node's parser), for our VIN. */
function optionsOf(node, overrides = {}) {
  const { options, problems } = commandSettings({ ...node, vins: VIN, verify: 0, ...overrides });
  if (problems.length) throw new Error(`${node.name}: ${problems.join(' ')}`);
  return options;
}

// ---------------------------------------------------------------------------------------------
// One scenario

/** The client as the controller sees it, counting the HTTP calls in flight. */
function countedClient(client) {
  let inflight = 0;
  let waiters = [];
  const wrap =
    (fn) =>
    (...args) => {
      inflight++;
      return fn(...args).finally(() => {
        if (--inflight === 0) {
          const w = waiters;
          waiters = [];
          for (const r of w) r();
        }
      });
    };
  return {
    meter: client.meter,
    getVehicle: wrap((v) => client.getVehicle(v)),
    wakeUp: wrap((v) => client.wakeUp(v)),
    command: wrap((v, n, b) => client.command(v, n, b)),
    /** Resolves once no call is in flight, after the continuations that could start one ran. */
    async settle() {
      for (;;) {
        await new Promise((r) => setImmediate(r));
        if (inflight === 0) {
          await new Promise((r) => setImmediate(r));
          if (inflight === 0) return;
        }
        if (inflight > 0) await new Promise((r) => waiters.push(r));
      }
    },
  };
}

async function runScenario(name, day, example) {
  const clock = FakeTimers.createClock(START);
  const data = JSON.parse(JSON.stringify(SAMPLE_DATA));
  data.vin = VIN;
  // Plugged in; the "each" scenarios have no start/stop: the car is charging from the start.
  Object.assign(data.charge_state, {
    charging_state: name.startsWith('each') ? 'Charging' : 'Stopped',
    charge_current_request: 0,
    charge_current_request_max: 16,
  });
  const double = await startFleetDouble({ clientId: CLIENT_ID, now: () => clock.now, vehicles: { [VIN]: { state: 'online', data } } });
  const real = new FleetApiClient({
    region: 'na',
    fleetApiUrl: double.url,
    proxyUrl: double.proxyUrl,
    proxyCa: double.ca,
    tokenUrl: double.tokenUrl,
    clientId: CLIENT_ID,
    refreshToken: double.currentRefreshToken,
    now: () => clock.now,
  });
  const client = countedClient(real);
  const ctlClock = { now: () => clock.now, setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (h) => clock.clearTimeout(h) };
  const quiet = { send() {}, status() {}, warn() {} };
  const logic = name === 'logic' || name === 'example';
  const minInterval = name === 'each' || name === 'logic' ? 0 : undefined;
  const ampsOptions = logic
    ? optionsOf(example.amps, minInterval === 0 ? { minInterval: 0 } : {})
    : optionsOf({ name: 'each value', command: 'set_charging_amps' }, { minInterval: name === 'each' ? 0 : 60 });
  const controlOptions = optionsOf(example.control, minInterval === 0 ? { minInterval: 0 } : {});
  const amps = new VehicleCommandController(client, ampsOptions, quiet, { clock: ctlClock });
  const control = new VehicleCommandController(client, controlOptions, quiet, { clock: ctlClock });
  amps.start();
  control.start();
  const fn = logic ? functionNode(example.func) : null;
  const inputErrors = [];
  const outputs = { amps: 0, control: 0 };
  const energy = { solarWh: 0, gridWh: 0 };
  const wall0 = Date.now();
  try {
    for (let i = 0; i < day.length; i++) {
      if (i > 0) clock.tick(STEP_MS);
      const watts = day[i];
      const [toAmps, toControl] = logic ? fn.call({ payload: watts }) : [{ payload: Math.max(0, Math.min(16, Math.floor(watts / VOLTS))) }, null];
      if (toControl) {
        outputs.control++;
        control.handle({ command: toControl.command, payload: toControl.payload }).catch((e) => inputErrors.push(e.message));
      }
      if (toAmps) {
        outputs.amps++;
        amps.handle({ payload: toAmps.payload }).catch((e) => inputErrors.push(e.message));
      }
      await client.settle();
      // What the car draws for the next 5 s, as the double carried the commands out.
      const cs = double.vehicle(VIN).data.charge_state;
      const carW = cs.charging_state === 'Charging' ? cs.charge_current_request * VOLTS : 0;
      const sun = Math.max(0, watts);
      energy.solarWh += (Math.min(carW, sun) * STEP_MS) / 3_600_000;
      energy.gridWh += (Math.max(0, carW - sun) * STEP_MS) / 3_600_000;
    }
    // Let a last waiting input go out (its interval ends after the day).
    clock.tick(61_000);
    await client.settle();
    const wallMs = Date.now() - wall0;
    return summarise(name, {
      double,
      meter: real.meter,
      amps,
      control,
      outputs,
      energy,
      inputErrors,
      warnings: fn ? fn.warnings : [],
      wallMs,
      ampsOptions,
    });
  } finally {
    await amps.stop();
    await control.stop();
    await real.close();
    await double.close();
  }
}

function summarise(name, { double, meter, amps, control, outputs, energy, inputErrors, warnings, wallMs, ampsOptions }) {
  const commands = double.calls.filter((c) => /\/command\//.test(c.path));
  const billed = commands.filter((c) => c.status !== null && c.status < 500);
  const byName = {};
  for (const c of billed) {
    const n = c.path.slice(c.path.lastIndexOf('/') + 1);
    byName[n] = (byName[n] || 0) + 1;
  }
  // The most set_charging_amps commands in any window of Min interval (60 s when it is 0).
  const windowMs = ampsOptions.minIntervalMs || 60_000;
  const times = billed
    .filter((c) => /set_charging_amps$/.test(c.path))
    .map((c) => c.at)
    .sort((a, b) => a - b);
  let maxInWindow = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= windowMs) j++;
    maxInWindow = Math.max(maxInWindow, i - j + 1);
  }
  const minGapS = times.length > 1 ? Math.min(...times.slice(1).map((t, k) => t - times[k])) / 1000 : null;
  const wakes = double.calls.filter((c) => /\/wake_up$/.test(c.path)).length;
  const stateChecks = double.calls.filter((c) => /^\/proxy\/api\/1\/vehicles\/[^/]+$/.test(c.path)).length;
  const dollars = billed.length * priceOf('command') + wakes * priceOf('wake');
  const total = meter.total();
  const answers = {};
  for (const ctl of [amps, control]) for (const [k, v] of Object.entries(ctl.counts)) if (v) answers[k] = (answers[k] || 0) + v;
  return {
    scenario: name,
    minIntervalS: ampsOptions.minIntervalMs / 1000,
    surplusValues: STEPS,
    outputs,
    commands: billed.length,
    byName,
    wakes,
    stateChecks,
    dollars,
    maxAmpsPerWindow: maxInWindow,
    windowS: windowMs / 1000,
    minGapS,
    answers,
    solarKWh: energy.solarWh / 1000,
    gridKWh: energy.gridWh / 1000,
    inputErrors: inputErrors.length,
    warnings: warnings.length,
    wallMs,
    check: { meterCommands: total.calls.command, consistent: total.calls.command === billed.length && total.calls.wake === wakes },
  };
}

async function main(scenarios = SCENARIOS) {
  const day = solarDay();
  const example = loadExample();
  const runs = [];
  for (const s of scenarios) runs.push(await runScenario(s, day, example));
  const each = runs.find((r) => r.scenario === 'each');
  for (const r of runs) r.fewerThanEach = each ? 1 - r.commands / each.commands : null;
  const sunny = day.filter((w) => w >= 1600).length;
  return {
    day: {
      values: day.length,
      stepS: STEP_MS / 1000,
      hours: HOURS,
      seed: SEED,
      maxW: Math.max(...day),
      minW: Math.min(...day),
      hoursAbove1600W: (sunny * STEP_MS) / 3_600_000,
    },
    runs,
  };
}

module.exports = { main, runScenario, solarDay, loadExample, functionNode, SCENARIOS, STEPS };

if (require.main === module) {
  const args = process.argv.slice(2);
  const markdown = args.includes('--markdown');
  const scenarios = args.filter((a) => !a.startsWith('--'));
  main(scenarios.length ? scenarios : SCENARIOS).then(
    (r) => {
      if (process.send) process.send({ type: 'result', value: r });
      else if (markdown) console.log(require('./report').solarSection(r));
      else console.log(JSON.stringify(r, null, 1));
      process.exit(0);
    },
    (e) => {
      console.error(e.stack || e);
      process.exit(1);
    },
  );
}
