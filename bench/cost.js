'use strict';
const { lib } = require('../test/support/paths');
// Table 3: Fleet API cost of a simulated day for 10 cars, per polling policy.
//
// Everything runs on one simulated clock (no real waiting): the fleet simulator's cars
// (dev/simulator.js: drive, park, charge, sleep, and stream outages while online), the policy
// under test, the real FleetApiClient's token expiry, and the HTTPS Fleet API double
// (dev/fleet-double.js), which answers every call over real HTTPS on 127.0.0.1 and records it
// with the simulated time. The double follows the simulated cars: before each call the car's
// state (online/asleep) and its vehicle_data are copied into it.
//
// Policies:
//   ours    VehicleDataController in auto mode (defaults: staleAfter 60 min, pollInterval 10 min),
//           following the FreshnessTracker of a BrokerConnection fed by the simulated stream
//           through BrokerConnection.inject() (the decode → freshness path of every MQTT message).
//   ours-10 the same with staleAfter 10 min.
//   twc     TWCManager: once an hour, for each car silent for ≥ 1 h whose last connectivity
//           message was not DISCONNECTED: state check, then vehicle_data if online.
//   ha      Home Assistant Tesla Fleet: every 10 min, for each car: state check, then
//           vehicle_data if online (the stream is not used).
// Usage: node bench/cost.js [policy ...]   (prints JSON)
const { BrokerConnection } = lib('stream/broker-connection');
const { VehicleDataController } = lib('fallback/controller');
const { FleetApiClient } = lib('fleet-api/client');
const { priceOf } = lib('fleet-api/billing');
const { createFleetSimulator } = require('../dev/simulator');
const { startFleetDouble } = require('../dev/fleet-double');
const { median } = require('./lib/stats');
const { fakeClock } = require('../test/support/clock');

const M = 60_000;
const H = 60 * M;
const DAY = 24 * H;
const START = new Date(2025, 0, 15, 0, 0, 0).getTime(); // local midnight: one billing day
const ENDPOINTS = ['charge_state', 'drive_state', 'location_data', 'vehicle_state'];
const CLIENT_ID = 'bench-client';

/** Build a script from [phase, hours, stream?] steps (the last step outlasts the day). */
function script(...steps) {
  return steps.map(([phase, hours, stream]) => ({ phase, ms: hours * H, stream: stream !== false }));
}
const vin = (i) => `5YJ3E1EA${String(i).padStart(9, '0')}`;

/** Ten cars, one day from midnight. `false` as a third element: the stream is down while the car is online. Outages start off the hour. */
const CARS = [
  {
    name: 'commuter',
    typed: true,
    script: script(['sleep', 7.2], ['drive', 0.6], ['park', 9.4], ['drive', 0.55], ['charge', 3.5], ['park', 1], ['sleep', 24]),
  },
  {
    name: 'commuter, 4 h outage at work',
    typed: false,
    script: script(
      ['sleep', 7.45],
      ['drive', 0.7],
      ['park', 1.1],
      ['park', 4.1, false],
      ['park', 3.9],
      ['drive', 0.75],
      ['park', 1.25],
      ['sleep', 24],
    ),
  },
  {
    name: 'charges at dawn, stream down while charging',
    typed: true,
    script: script(['sleep', 6.3], ['charge', 3, false], ['park', 1], ['drive', 1], ['park', 1], ['sleep', 24]),
  },
  {
    name: '30 min outage',
    typed: true,
    script: script(['sleep', 8], ['drive', 1], ['park', 5.4], ['park', 0.5, false], ['park', 2.5], ['drive', 1], ['sleep', 24]),
  },
  {
    name: 'ride-hail, no outage',
    typed: false,
    script: script(['drive', 2], ['park', 0.5], ['charge', 1], ['drive', 3], ['park', 1], ['drive', 3], ['charge', 1.5], ['park', 1], ['sleep', 24]),
  },
  { name: 'parked all day (sentry), streams', typed: true, sentry: true, script: script(['park', 48]) },
  { name: '2 h outage, then sleeps', typed: false, script: script(['sleep', 8.1], ['park', 2.3], ['park', 2, false], ['sleep', 24]) },
  { name: 'mostly asleep', typed: true, script: script(['sleep', 12.2], ['drive', 0.5], ['park', 0.5], ['sleep', 24]) },
  {
    name: 'night charge, 5 h outage',
    typed: false,
    script: script(['park', 1.35], ['charge', 5, false], ['park', 2], ['drive', 1], ['park', 9], ['sleep', 24]),
  },
  {
    name: 'two outages (1.2 h, 2 h)',
    typed: true,
    script: script(['sleep', 8.05], ['drive', 0.9], ['park', 1.2, false], ['park', 2.15], ['charge', 2, false], ['park', 1], ['sleep', 24]),
  },
].map((c, i) => ({ vin: vin(i + 1), home: { latitude: 37.4 + i * 0.01, longitude: -122.1 }, battery: 40 + 4 * i, chargeLimit: 80, ...c }));

/** TWCManager's policy (docs/fleet-api.md): hourly check, 1 h threshold, no fallback after DISCONNECTED. */
function twcPolicy(reader, clock, vins) {
  const lastAt = new Map();
  const lastConn = new Map();
  let timer = null;
  return {
    feed(topic, payload) {
      const parts = topic.split('/');
      const v = parts[1];
      lastAt.set(v, clock.now());
      if (parts[2] === 'connectivity') {
        try {
          lastConn.set(v, JSON.parse(payload.toString()).Status);
        } catch {
          /* ignore */
        }
      }
    },
    start() {
      timer = clock.setInterval(async () => {
        for (const v of vins) {
          const last = lastAt.get(v);
          if (last !== undefined && clock.now() - last < H) continue;
          if (lastConn.get(v) === 'DISCONNECTED') continue;
          try {
            const { state } = await reader.getVehicle(v);
            if (state === 'online') await reader.vehicleData(v, ENDPOINTS);
          } catch {
            /* 408 etc.: counted by the reader */
          }
        }
      }, H);
    },
    stop() {
      clock.clearInterval(timer);
    },
  };
}

/** Home Assistant Tesla Fleet's policy: every 10 min, state check, vehicle_data when online. */
function haPolicy(reader, clock, vins) {
  let timer = null;
  const poll = async () => {
    for (const v of vins) {
      try {
        const { state } = await reader.getVehicle(v);
        if (state === 'online') await reader.vehicleData(v, ENDPOINTS);
      } catch {
        /* counted by the reader */
      }
    }
  };
  return {
    feed() {},
    start() {
      timer = clock.setInterval(poll, 10 * M);
      return poll(); // at setup, then every 10 minutes
    },
    stop() {
      clock.clearInterval(timer);
    },
  };
}

/** Our vehicle-data auto mode on the broker's FreshnessTracker. */
function oursPolicy(reader, clock, vins, staleAfterMs, received) {
  const conn = new BrokerConnection({ url: 'bench://stream-is-injected', topicBase: 'telemetry' }, clock);
  const sink = {
    send: (msgs) => {
      received.api += msgs.length;
    },
    error: (text) => received.errors.push(text),
    warn: (text) => received.errors.push(text),
    status: () => {},
  };
  const ctl = new VehicleDataController(
    reader,
    conn,
    { vins, mode: 'field', auto: true, staleAfterMs, pollIntervalMs: 10 * M, endpoints: ENDPOINTS, dailyBudget: 0 },
    sink,
    clock,
    () => 0.5,
  );
  return {
    feed(topic, payload) {
      conn.inject(topic, payload, false);
    },
    start() {
      ctl.start();
    },
    async stop() {
      await ctl.stop();
      await conn.close();
    },
  };
}

async function simulateDay(policyName) {
  const clock = fakeClock(START); // time moves only in advanceAsync: each timer, then `settle`
  const vins = CARS.map((c) => c.vin);
  const double = await startFleetDouble({
    clientId: CLIENT_ID,
    now: clock.now,
    vehicles: Object.fromEntries(vins.map((v) => [v, { state: 'asleep' }])),
  });
  const client = new FleetApiClient({
    region: 'na',
    fleetApiUrl: double.url,
    tokenUrl: double.tokenUrl,
    proxyCa: double.ca,
    clientId: CLIENT_ID,
    refreshToken: double.currentRefreshToken,
    now: clock.now,
  });
  let sim = null;
  let policy = null;
  try {
    // The reader: the real client, with the double following the simulated car before each call,
    // and a log of every call with the car's state at that moment.
    const log = [];
    let inflight = 0;
    let idleWaiters = [];
    const track = (entry, p) => {
      inflight++;
      log.push(entry);
      return p
        .then(
          (v) => {
            entry.status = 200;
            return v;
          },
          (e) => {
            entry.status = e && e.status !== undefined ? e.status : null;
            throw e;
          },
        )
        .finally(() => {
          if (--inflight === 0) {
            const w = idleWaiters;
            idleWaiters = [];
            for (const r of w) r();
          }
        });
    };
    const follow = (v) => {
      const car = sim.cars.get(v);
      double.setVehicle(v, { state: car.online ? 'online' : 'asleep', data: car.vehicleData() });
      return car;
    };
    const reader = {
      meter: client.meter,
      getVehicle(v) {
        const car = follow(v);
        return track({ at: clock.now(), vin: v, what: 'state', online: car.online, streaming: car.streaming }, client.getVehicle(v));
      },
      vehicleData(v, endpoints) {
        const car = follow(v);
        return track({ at: clock.now(), vin: v, what: 'data', online: car.online, streaming: car.streaming }, client.vehicleData(v, endpoints));
      },
    };
    const received = { api: 0, errors: [] };
    if (policyName === 'ours') policy = oursPolicy(reader, clock, vins, 60 * M, received);
    else if (policyName === 'ours-10') policy = oursPolicy(reader, clock, vins, 10 * M, received);
    else if (policyName === 'twc') policy = twcPolicy(reader, clock, vins);
    else if (policyName === 'ha') policy = haPolicy(reader, clock, vins);
    else throw new Error(`unknown policy ${policyName}`);

    let streamed = 0;
    sim = createFleetSimulator({
      clock,
      seed: 'cost-day',
      preset: 'realistic',
      cars: CARS,
      client: {
        publish(topic, payload, opts, cb) {
          streamed++;
          policy.feed(topic, payload);
          cb();
        },
      },
    });
    // Car state over the day: online/streaming transitions, read after every timer.
    const prev = new Map();
    const transitions = [];
    const observe = () => {
      for (const [v, car] of sim.cars) {
        const key = `${car.online ? 1 : 0}${car.streaming ? 1 : 0}`;
        if (prev.get(v) !== key) {
          prev.set(v, key);
          transitions.push({ at: clock.now(), vin: v, online: car.online, streaming: car.streaming });
        }
      }
    };
    const settle = async () => {
      observe();
      for (;;) {
        await new Promise((r) => setImmediate(r));
        if (inflight === 0) {
          await new Promise((r) => setImmediate(r));
          if (inflight === 0) return;
        }
        await new Promise((r) => idleWaiters.push(r));
      }
    };
    await sim.start();
    observe();
    const started = policy.start();
    if (started && started.then) await started;
    await settle();
    const wall0 = Date.now();
    await clock.advanceAsync(START + DAY - clock.now(), settle);
    const wallMs = Date.now() - wall0;
    await policy.stop();
    await sim.stop();

    return summarise(policyName, { log, double, client, transitions, streamed, received, wallMs });
  } finally {
    await client.close().catch(() => {});
    await double.close().catch(() => {});
  }
}

function summarise(policy, { log, double, client, transitions, streamed, received, wallMs }) {
  const billed = (e) => e.status !== null && e.status !== undefined && e.status < 500;
  const data = log.filter((e) => e.what === 'data');
  const states = log.filter((e) => e.what === 'state');
  // From the double's own records (authoritative for what was called and answered).
  const dcalls = double.calls;
  const route = (c) => {
    if (c.via === 'auth') return 'token';
    if (/\/vehicle_data$/.test(c.path)) return 'data';
    if (/\/wake_up$/.test(c.path)) return 'wake';
    if (/\/command\//.test(c.path)) return 'command';
    if (/^\/api\/1\/vehicles\/[^/]+$/.test(c.path)) return 'state';
    return 'other';
  };
  const byRoute = {};
  for (const c of dcalls) {
    const r = route(c);
    byRoute[r] = byRoute[r] || { calls: 0, billed: 0, s408: 0 };
    byRoute[r].calls++;
    if (c.status !== null && c.status < 500) byRoute[r].billed++;
    if (c.status === 408) byRoute[r].s408++;
  }
  const dataBilled = (byRoute.data || { billed: 0 }).billed;
  const wakeBilled = (byRoute.wake || { billed: 0 }).billed;
  const cmdBilled = (byRoute.command || { billed: 0 }).billed;
  const dollars = dataBilled * priceOf('data') + cmdBilled * priceOf('command') + wakeBilled * priceOf('wake');
  const meter = client.meter.total();

  // Outages: spans where a car is online and its stream is down.
  const outages = [];
  const open = new Map();
  for (const tr of transitions) {
    const inOutage = tr.online && !tr.streaming;
    if (inOutage && !open.has(tr.vin)) open.set(tr.vin, tr.at);
    else if (!inOutage && open.has(tr.vin)) {
      outages.push({ vin: tr.vin, start: open.get(tr.vin), end: tr.at });
      open.delete(tr.vin);
    }
  }
  for (const [v, start] of open) outages.push({ vin: v, start, end: START + DAY });
  for (const o of outages) {
    const first = data.find((e) => e.vin === o.vin && e.status === 200 && e.at >= o.start && e.at <= o.end);
    o.minutes = first ? (first.at - o.start) / M : null;
    o.lengthMin = (o.end - o.start) / M;
  }
  const covered = outages.filter((o) => o.minutes !== null);
  return {
    policy,
    streamedMessages: streamed,
    apiMessages: received.api,
    errors: received.errors.length,
    wallMs,
    calls: {
      data: dataBilled,
      data408: (byRoute.data || { s408: 0 }).s408,
      command: cmdBilled,
      wake: wakeBilled,
      stateChecks: (byRoute.state || { calls: 0 }).calls,
      tokenRefreshes: (byRoute.token || { calls: 0 }).calls,
      other: (byRoute.other || { calls: 0 }).calls,
    },
    billed: dataBilled + cmdBilled + wakeBilled,
    dollars,
    billedWhileStreaming: data.filter((e) => billed(e) && e.streaming).length,
    billedToAsleep: data.filter((e) => billed(e) && !e.online).length,
    stateChecksToAsleep: states.filter((e) => !e.online).length,
    wakes: wakeBilled,
    outages: outages.map((o) => ({ vin: o.vin, startH: (o.start - START) / H, lengthMin: o.lengthMin, minutesToData: o.minutes })),
    outageCount: outages.length,
    outagesCovered: covered.length,
    minutesToDataMedian: median(covered.map((o) => o.minutes)),
    minutesToDataMax: covered.length ? Math.max(...covered.map((o) => o.minutes)) : null,
    check: {
      meterBilled: meter.billed,
      meterCost: meter.cost,
      meterData: meter.calls.data,
      meterFree: meter.calls.free,
      consistent: meter.billed === dataBilled + cmdBilled + wakeBilled && Math.abs(meter.cost - dollars) < 1e-9,
    },
  };
}

async function main(policies) {
  const out = [];
  for (const p of policies) out.push(await simulateDay(p));
  return out;
}

module.exports = { main, CARS, simulateDay };

if (require.main === module) {
  const policies = process.argv.slice(2).length ? process.argv.slice(2) : ['ours', 'ours-10', 'twc', 'ha'];
  main(policies).then(
    (r) => {
      if (process.send) process.send({ type: 'result', value: r });
      else console.log(JSON.stringify(r, null, 1));
      process.exit(0);
    },
    (e) => {
      console.error(e.stack || e);
      process.exit(1);
    },
  );
}
