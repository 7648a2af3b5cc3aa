'use strict';
const { lib, ROOT, FIXTURES } = require('../support/paths');
// dev/simulator.js (the fleet simulator of `npm start`, tests and benchmarks), the example
// flows, and the demo flow dev/start.js builds from them.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { once } = require('node:events');
const mqtt = require('mqtt');
const { startBroker } = require('../support/broker');
const { fakeClock } = require('../support/clock');
const { createFleetSimulator, encodeGoJson, fleetMessages, FIELDS, DEMO_CARS, DEFAULT_FIELDS } = require('../../dev/simulator');
const ENUMS = require('../../src/lib/catalogue/data/telemetry-enums.json');

const START = Date.UTC(2025, 0, 2, 3, 4, 5);
const TYPED = DEMO_CARS[0].vin;
const LEGACY = DEMO_CARS[1].vin;
const DROPPER = DEMO_CARS[2].vin;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const SHAPES = {
  v: /^telemetry\/([A-Z0-9-]+)\/v\/([A-Za-z0-9_]+)$/,
  current: /^telemetry\/([A-Z0-9-]+)\/alerts\/([^/]+)\/current$/,
  history: /^telemetry\/([A-Z0-9-]+)\/alerts\/([^/]+)\/history$/,
  error: /^telemetry\/([A-Z0-9-]+)\/errors\/([^/]+)$/,
  connectivity: /^telemetry\/([A-Z0-9-]+)\/connectivity$/,
};
function shapeOf(topic) {
  for (const [name, re] of Object.entries(SHAPES)) if (re.test(topic)) return name;
  return null;
}

/** An mqtt.js subscriber that records every message; waitFor() resolves on arrival, no polling. */
async function subscriber(url, filter = 'telemetry/#') {
  const client = mqtt.connect(url, { clientId: `sim-test-${process.pid}-${Math.random().toString(16).slice(2)}` });
  await once(client, 'connect');
  const msgs = [];
  const waiters = new Set();
  client.on('message', (topic, payload, packet) => {
    msgs.push({ topic, payload: payload.toString('utf8'), retain: packet.retain, qos: packet.qos });
    for (const w of waiters) {
      if (w.pred(msgs)) {
        waiters.delete(w);
        w.resolve(msgs);
      }
    }
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return {
    msgs,
    waitFor(pred) {
      if (typeof pred === 'number') {
        const n = pred;
        pred = (m) => m.length >= n;
      }
      if (pred(msgs)) return Promise.resolve(msgs);
      return new Promise((resolve) => waiters.add({ pred, resolve }));
    },
    end: () => client.endAsync(),
  };
}

/** A stand-in for an mqtt.js client that records publishes (for runs without a broker). */
function recordingClient() {
  const published = [];
  return {
    published,
    publish(topic, payload, opts, cb) {
      published.push({ topic, payload: payload.toString('utf8'), qos: opts.qos, retain: opts.retain });
      cb();
    },
  };
}

/** Every object inside a parsed JSON value has its keys in sorted (Go) order. */
function keysSorted(v) {
  if (Array.isArray(v)) return v.every(keysSorted);
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return keys.every((k, i) => k === sorted[i]) && keys.every((k) => keysSorted(v[k]));
  }
  return true;
}

const byTopic = (msgs, topic) => msgs.filter((m) => m.topic === topic);
const last = (msgs, topic) => {
  const all = byTopic(msgs, topic);
  return all.length ? all[all.length - 1].payload : undefined;
};

describe('dev/simulator', function () {
  let broker;
  const open = [];

  // A fresh broker per test: retained messages of one test must not reach the next.
  beforeEach(async function () {
    broker = await startBroker();
  });
  afterEach(async function () {
    while (open.length) await open.pop()();
    await broker.close();
  });

  /** A simulator on the test broker with a manual clock; stopped after the test. */
  async function startSim(opts = {}) {
    const clock = opts.clock || fakeClock(START);
    const sim = createFleetSimulator({ url: broker.url, clock, seed: 7, ...opts });
    let count = 0;
    sim.onPublish(() => count++);
    open.push(() => sim.stop());
    await sim.start();
    return { sim, clock, published: () => count };
  }
  async function sub(filter) {
    const s = await subscriber(broker.url, filter);
    open.push(() => s.end());
    return s;
  }

  describe('encodeGoJson', function () {
    it("gives the golden vectors' payload bytes back", function () {
      const golden = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'mqtt-golden.json'), 'utf8'));
      assert.ok(golden.vectors.length > 10);
      for (const v of golden.vectors) assert.equal(encodeGoJson(JSON.parse(v.payload)), v.payload, v.topic);
    });

    it('sorts keys, escapes < > & U+2028 U+2029, keeps -0, prints numbers as Go does', function () {
      assert.equal(
        encodeGoJson({ b: '<a&b>', a: [1, -0, 1e-7, 1e21, 0.000001, 80.12345678901234], é: '\u2028\u2029', A: null }),
        '{"A":null,"a":[1,-0,1e-7,1e+21,0.000001,80.12345678901234],"b":"\\u003ca\\u0026b\\u003e","é":"\\u2028\\u2029"}',
      );
      assert.equal(encodeGoJson('\b\f\n\r\t\u0001"\\\u007f'), '"\\b\\f\\n\\r\\t\\u0001\\"\\\\\u007f"');
      assert.equal(encodeGoJson('x\ud800y'), '"x\ufffdy"'); // invalid UTF-8 becomes U+FFFD
      assert.equal(encodeGoJson([]), '[]');
      assert.equal(encodeGoJson({}), '{}');
      assert.equal(encodeGoJson(true), 'true');
      assert.throws(() => encodeGoJson(NaN));
    });
  });

  describe('through a real broker', function () {
    it('publishes exactly the five topic shapes, Go-JSON payloads, timestamps on the simulated clock', async function () {
      const s = await sub();
      const { sim, published } = await startSim({ alertRate: 1, errorRate: 0.5 });
      await sim.step(10 * 60e3);
      const msgs = await s.waitFor(published());
      assert.equal(msgs.length, published());

      const seen = new Set();
      for (const m of msgs) {
        const shape = shapeOf(m.topic);
        assert.ok(shape, `unexpected topic ${m.topic}`);
        seen.add(shape);
        assert.doesNotMatch(m.payload, /[<>&]/, m.topic);
        const value = JSON.parse(m.payload);
        assert.equal(encodeGoJson(value), m.payload, m.topic);
        assert.ok(keysSorted(value), `keys not sorted: ${m.topic} ${m.payload}`);
        const inWindow = (t) => {
          assert.match(t, RFC3339);
          const ms = Date.parse(t);
          assert.ok(ms >= START && ms <= START + 10 * 60e3, `${t} outside the simulated 10 minutes`);
        };
        switch (shape) {
          case 'current':
            assert.deepEqual(
              Object.keys(value).filter((k) => k !== 'EndedAt'),
              ['Audiences', 'StartedAt'],
            );
            assert.ok(value.Audiences === null || Array.isArray(value.Audiences));
            inWindow(value.StartedAt);
            if ('EndedAt' in value) inWindow(value.EndedAt);
            break;
          case 'history':
            assert.ok(Array.isArray(value) && value.length >= 1);
            for (const a of value) inWindow(a.StartedAt);
            break;
          case 'error':
            assert.deepEqual(Object.keys(value), ['Body', 'CreatedAt', 'Tags']);
            assert.equal(typeof value.Body, 'string');
            inWindow(value.CreatedAt);
            assert.ok(value.Tags === null || typeof value.Tags === 'object');
            break;
          case 'connectivity':
            assert.deepEqual(Object.keys(value), ['ConnectionId', 'CreatedAt', 'Status']);
            assert.match(value.ConnectionId, UUID);
            assert.ok(['CONNECTED', 'DISCONNECTED'].includes(value.Status));
            inWindow(value.CreatedAt);
            break;
          default:
            assert.ok(FIELDS.has(SHAPES.v.exec(m.topic)[2]), m.topic);
        }
      }
      assert.deepEqual([...seen].sort(), ['connectivity', 'current', 'error', 'history', 'v']);
      // the legacy car's name needs Go's HTML escaping
      assert.equal(last(msgs, `telemetry/${LEGACY}/v/VehicleName`), '"Legacy \\u003cS\\u003e \\u0026 Co"');
    });

    it('sends typed values for the typed car and legacy strings for the legacy car', async function () {
      const s = await sub();
      const { sim, published } = await startSim({ scripted: false });
      await sim.setPhase(TYPED, 'drive');
      await sim.setPhase(LEGACY, 'drive');
      await sim.step(30e3);
      await sim.setPhase(TYPED, 'charge');
      await sim.setPhase(LEGACY, 'charge');
      await sim.step(30e3);
      const msgs = await s.waitFor(published());
      const values = (vin, field) => byTopic(msgs, `telemetry/${vin}/v/${field}`).map((m) => JSON.parse(m.payload));
      const numericString = /^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$/;

      for (const f of DEFAULT_FIELDS) {
        assert.ok(values(TYPED, f).length > 0, `typed car sent ${f}`);
        assert.ok(values(LEGACY, f).length > 0, `legacy car sent ${f}`);
      }
      for (const [name, info] of FIELDS) {
        if (!DEFAULT_FIELDS.includes(name)) continue;
        for (const v of values(TYPED, name)) {
          if (v === null) continue;
          if (info.kind === 'number' || info.kind === 'integer') assert.equal(typeof v, 'number', name);
          if (info.kind === 'boolean') assert.equal(typeof v, 'boolean', name);
          if (info.kind === 'enum') assert.ok(ENUMS[info.enum].includes(v), `${name}: ${v} is a full proto name`);
        }
        for (const v of values(LEGACY, name)) {
          if (v === null) continue;
          const typedAnyway = info.id >= 179;
          if (info.kind === 'number' || info.kind === 'integer') {
            if (typedAnyway) assert.equal(typeof v, 'number', name);
            else {
              assert.match(v, numericString, name);
              assert.doesNotMatch(v, /^[+-]?\d+\.\d+[eE]/, `${name}: the server rewrites "1.5e-3" to 5 decimals`);
            }
          }
          if (info.kind === 'boolean') {
            if (typedAnyway) assert.equal(typeof v, 'boolean', name);
            else assert.ok(v === 'true' || v === 'false', `${name}: ${v}`);
          }
          if (info.kind === 'enum') {
            if (typedAnyway) assert.ok(ENUMS[info.enum].includes(v), `${name}: ${v}`);
            else assert.ok(info.legacyValues.includes(v), `${name}: ${v} is a legacy short name`);
          }
        }
      }
      assert.ok(values(TYPED, 'Gear').includes('ShiftStateD'));
      assert.ok(values(LEGACY, 'Gear').includes('D'));
      assert.ok(values(TYPED, 'DetailedChargeState').includes('DetailedChargeStateCharging'));
      assert.ok(values(LEGACY, 'DetailedChargeState').includes('DetailedChargeStateCharging'), 'id >= 179: typed for every car');
      assert.ok(values(LEGACY, 'ChargePortLatch').includes('Engaged'));
      for (const vin of [TYPED, LEGACY]) {
        for (const loc of values(vin, 'Location')) {
          assert.deepEqual(Object.keys(loc), ['latitude', 'longitude'], 'the server converts Location for legacy cars too');
          assert.equal(typeof loc.latitude, 'number');
        }
        for (const doors of values(vin, 'DoorState')) {
          assert.deepEqual(Object.keys(doors), ['DriverFront', 'DriverRear', 'PassengerFront', 'PassengerRear', 'TrunkFront', 'TrunkRear']);
          assert.ok(Object.values(doors).every((d) => typeof d === 'boolean'));
        }
      }
      assert.deepEqual(values(LEGACY, 'TpmsSoftWarnings').at(-1), { rear_right: true });
      assert.deepEqual(values(TYPED, 'TpmsSoftWarnings').at(-1), {});
      assert.match(
        values(LEGACY, 'DestinationLocation').find((v) => v !== null),
        /^\(\d+(\.\d+)? [NS], \d+(\.\d+)? [EW]\)$/,
      );
    });

    it('publishRecord encodes a record as each kind of car sends it', async function () {
      const s = await sub();
      const { sim } = await startSim({ scripted: false });
      await sim.step(1000);
      const fields = {
        VehicleSpeed: 34.797,
        Gear: 'D',
        Locked: true,
        SentryMode: 'Armed',
        DetailedChargeState: 'Charging',
        Location: { latitude: -37.412374, longitude: 122.145867 },
        DestinationLocation: { latitude: 37.41, longitude: -122.14 },
        LongitudinalAcceleration: 1.5e-7,
        TpmsSoftWarnings: { front_left: true, rear_right: false },
        TimeToFullCharge: null,
      };
      const legacy = await sim.publishRecord(LEGACY, fields);
      const typed = await sim.publishRecord(TYPED, fields);
      const want = (vin, list) => list.map((m) => [m.topic.replace(`telemetry/${vin}/v/`, ''), m.payload]).sort();
      assert.deepEqual(Object.fromEntries(want(LEGACY, legacy)), {
        VehicleSpeed: '"34.797"',
        Gear: '"D"',
        Locked: '"true"',
        SentryMode: '"Armed"',
        DetailedChargeState: '"DetailedChargeStateCharging"',
        Location: '{"latitude":-37.412374,"longitude":122.145867}',
        DestinationLocation: '"(37.41 N, 122.14 W)"',
        LongitudinalAcceleration: '"0.00000"',
        TpmsSoftWarnings: '{"front_left":true}',
        TimeToFullCharge: 'null',
      });
      assert.deepEqual(Object.fromEntries(want(TYPED, typed)), {
        VehicleSpeed: '34.797',
        Gear: '"ShiftStateD"',
        Locked: 'true',
        SentryMode: '"SentryModeStateArmed"',
        DetailedChargeState: '"DetailedChargeStateCharging"',
        Location: '{"latitude":-37.412374,"longitude":122.145867}',
        DestinationLocation: '{"latitude":37.41,"longitude":-122.14}',
        LongitudinalAcceleration: '1.5e-7',
        TpmsSoftWarnings: '{"front_left":true}',
        TimeToFullCharge: 'null',
      });
      // what arrives through the broker is the same bytes, one message per field
      const arrived = await s.waitFor(
        (m) =>
          m.filter((x) => x.topic.startsWith(`telemetry/${TYPED}/v/`) && typed.some((t) => t.topic === x.topic && t.payload === x.payload)).length >=
          typed.length,
      );
      assert.ok(arrived.length > 0);
    });

    it('sends CONNECTED with a new ConnectionId per connection and DISCONNECTED when a car sleeps', async function () {
      const s = await sub();
      const vin = TYPED;
      const { sim, published } = await startSim({ cars: [{ ...DEMO_CARS[0], script: [{ phase: 'park' }] }], scripted: false });
      await sim.step(10e3);
      await s.waitFor(published());
      const conn = () => byTopic(s.msgs, `telemetry/${vin}/connectivity`).map((m) => JSON.parse(m.payload));
      assert.equal(conn().length, 1);
      const first = conn()[0];
      assert.equal(first.Status, 'CONNECTED');
      // the connection opens with a full record
      const firstV = new Set(s.msgs.filter((m) => SHAPES.v.test(m.topic)).map((m) => m.topic.split('/').pop()));
      assert.deepEqual([...firstV].sort(), [...DEFAULT_FIELDS].sort());
      assert.ok(s.msgs.findIndex((m) => m.topic.endsWith('/connectivity')) < s.msgs.findIndex((m) => SHAPES.v.test(m.topic)));

      await sim.sleep(vin);
      assert.equal(sim.carState(vin).online, false);
      await s.waitFor(published());
      assert.deepEqual(
        conn().map((c) => c.Status),
        ['CONNECTED', 'DISCONNECTED'],
      );
      assert.equal(conn()[1].ConnectionId, first.ConnectionId, 'DISCONNECTED names the connection that ended');

      const before = published();
      await sim.step(30 * 60e3);
      assert.equal(published(), before, 'an asleep car is silent');

      await sim.wake(vin);
      await s.waitFor(published());
      const third = conn()[2];
      assert.equal(third.Status, 'CONNECTED');
      assert.notEqual(third.ConnectionId, first.ConnectionId);
      assert.equal(Date.parse(third.CreatedAt), START + 10e3 + 30 * 60e3);
      const afterWake = s.msgs.slice(before).filter((m) => SHAPES.v.test(m.topic));
      assert.equal(new Set(afterWake.map((m) => m.topic)).size, DEFAULT_FIELDS.length, 'a full record after waking');
    });

    it('drops a stream while the car stays online, and resumes it with a new connection', async function () {
      const s = await sub();
      const { sim, published } = await startSim();
      const states = [];
      sim.onState((st) => st.vin === DROPPER && states.push(st));
      // the dropper drives ~42 s, then charges with its stream dropped
      await sim.step(60e3);
      await s.waitFor(published());
      const st = sim.carState(DROPPER);
      assert.equal(st.phase, 'charge');
      assert.equal(st.online, true);
      assert.equal(st.streaming, false);
      assert.ok(states.some((x) => x.online && !x.streaming));
      const silentFrom = s.msgs.length;
      const battery = st.data.charge_state.battery_level;
      await sim.step(120e3);
      await s.waitFor(published());
      assert.equal(s.msgs.slice(silentFrom).filter((m) => m.topic.includes(`/${DROPPER}/`)).length, 0, 'nothing from the dropped car');
      assert.equal(byTopic(s.msgs, `telemetry/${DROPPER}/connectivity`).length, 1, 'a dropped stream sends no DISCONNECTED');
      const data = sim.carState(DROPPER).data;
      assert.equal(data.charge_state.charging_state, 'Charging');
      assert.ok(data.charge_state.battery_level > battery, 'the car charges on while silent');

      await sim.resumeStream(DROPPER);
      await s.waitFor(published());
      const conns = byTopic(s.msgs, `telemetry/${DROPPER}/connectivity`).map((m) => JSON.parse(m.payload));
      assert.equal(conns.length, 2);
      assert.equal(conns[1].Status, 'CONNECTED');
      assert.notEqual(conns[1].ConnectionId, conns[0].ConnectionId);
      assert.equal(sim.carState(DROPPER).streaming, true);
    });

    it('publishes with the retain flag at QoS 1, so a late subscriber sees every car', async function () {
      const flags = [];
      const onPublish = (packet, client) => {
        if (client && packet.topic.startsWith('telemetry/')) flags.push({ retain: packet.retain, qos: packet.qos });
      };
      broker.aedes.on('publish', onPublish);
      open.push(async () => broker.aedes.removeListener('publish', onPublish));
      const { sim, published } = await startSim({ topicBase: 'telemetry' });
      await sim.step(5e3);
      assert.equal(flags.length, published());
      assert.ok(flags.every((f) => f.retain === true && f.qos === 1));

      const late = await sub(`telemetry/+/v/VehicleName`);
      const msgs = await late.waitFor(3);
      assert.ok(msgs.every((m) => m.retain === true));
      assert.deepEqual(msgs.map((m) => m.topic.split('/')[1]).sort(), [TYPED, LEGACY, DROPPER].sort());
    });
  });

  describe('without a broker', function () {
    it('runs a simulated day on the fake clock without real waiting', async function () {
      const clock = fakeClock(START);
      const client = recordingClient();
      const sim = createFleetSimulator({ client, clock, seed: 3, preset: 'realistic' });
      await sim.start();
      const before = client.published.length;
      const first = await sim.tick(); // the next scheduled record, at once
      assert.ok(first > START && first < START + 60e3);
      assert.equal(clock.now(), first);
      assert.ok(client.published.length >= before);
      const t0 = Date.now();
      await sim.step(START + 24 * 3600e3 - first);
      const took = Date.now() - t0;
      await sim.stop();
      assert.equal(clock.now(), START + 24 * 3600e3);
      assert.ok(took < 15000, `a simulated day took ${took} ms`);
      const conns = client.published.filter((m) => m.topic.endsWith('/connectivity')).map((m) => JSON.parse(m.payload));
      assert.ok(
        conns.some((c) => c.Status === 'DISCONNECTED'),
        'cars slept',
      );
      assert.ok(conns.filter((c) => c.Status === 'CONNECTED').length > 3, 'and woke');
      const stamps = conns.map((c) => Date.parse(c.CreatedAt));
      assert.ok(Math.max(...stamps) > START + 12 * 3600e3);
      assert.ok(client.published.every((m) => m.retain === true && m.qos === 1));
      const charging = client.published.filter((m) => m.payload === '"DetailedChargeStateCharging"');
      assert.ok(charging.length >= 3, 'every car charged');
    });

    it('is deterministic for a seed', async function () {
      async function run(seed) {
        const client = recordingClient();
        const sim = createFleetSimulator({ client, clock: fakeClock(START), seed });
        await sim.start();
        await sim.step(5 * 60e3);
        await sim.stop();
        return client.published.map((m) => `${m.topic} ${m.payload}`);
      }
      const a = await run(11);
      const b = await run(11);
      const c = await run(12);
      assert.ok(a.length > 500);
      assert.deepEqual(a, b);
      assert.notDeepEqual(a, c);
    });

    it('carState gives a vehicle_data-shaped object for the Fleet API double', async function () {
      const sim = createFleetSimulator({ client: recordingClient(), clock: fakeClock(START), seed: 5, scripted: false });
      await sim.start();
      await sim.setPhase(TYPED, 'charge');
      await sim.setPhase(LEGACY, 'drive');
      await sim.step(10e3);
      const charging = sim.carState(TYPED);
      assert.equal(charging.online, true);
      const d = charging.data;
      assert.equal(d.vin, TYPED);
      assert.equal(d.state, 'online');
      assert.equal(d.charge_state.charging_state, 'Charging');
      assert.equal(typeof d.charge_state.battery_level, 'number');
      assert.ok(d.charge_state.charger_power > 0);
      assert.ok(d.charge_state.charger_actual_current > 0);
      assert.ok(d.charge_state.time_to_full_charge > 0);
      assert.equal(d.charge_state.charge_port_latch, 'Engaged');
      assert.equal(typeof d.drive_state.latitude, 'number');
      assert.equal(typeof d.drive_state.longitude, 'number');
      assert.equal(d.drive_state.shift_state, 'P');
      assert.equal(typeof d.vehicle_state.locked, 'boolean');
      assert.equal(d.vehicle_state.sentry_mode, true, 'SentryMode Armed is sentry_mode true');
      assert.equal(typeof d.vehicle_state.odometer, 'number');
      assert.equal(d.vehicle_state.vehicle_name, DEMO_CARS[0].name);
      assert.equal(d.vehicle_state.df, 0);
      assert.equal(sim.carState(LEGACY).data.drive_state.shift_state, 'D');
      assert.equal(sim.carState(LEGACY).data.vehicle_state.sentry_mode, false);
      await sim.sleep(TYPED);
      assert.equal(sim.carState(TYPED).online, false);
      assert.equal(sim.carState(TYPED).data.state, 'asleep');
      await sim.stop();
    });
  });

  describe('fleetMessages (benchmarks)', function () {
    it('yields a deterministic fleet-shaped stream: bursts per VIN, ~70/20/10 numbers/enums/objects', function () {
      const msgs = [...fleetMessages({ vins: 20, count: 20000, seed: 9 })];
      assert.equal(msgs.length, 20000);
      const again = [...fleetMessages({ vins: 20, count: 20000, seed: 9 })];
      assert.deepEqual(
        again.slice(0, 200).map((m) => m.topic + m.payload),
        msgs.slice(0, 200).map((m) => m.topic + m.payload),
      );
      const counts = { number: 0, enum: 0, object: 0 };
      let runs = 1;
      for (let i = 0; i < msgs.length; i++) {
        const m = SHAPES.v.exec(msgs[i].topic);
        assert.ok(m, msgs[i].topic);
        assert.ok(Buffer.isBuffer(msgs[i].payload));
        const text = msgs[i].payload.toString();
        assert.equal(encodeGoJson(JSON.parse(text)), text);
        const kind = FIELDS.get(m[2]).kind;
        counts[kind === 'number' || kind === 'integer' ? 'number' : kind === 'enum' ? 'enum' : 'object']++;
        if (i && msgs[i - 1].topic.split('/')[1] !== m[1]) runs++;
      }
      assert.ok(Math.abs(counts.number / 20000 - 0.7) < 0.03, JSON.stringify(counts));
      assert.ok(Math.abs(counts.enum / 20000 - 0.2) < 0.03, JSON.stringify(counts));
      assert.ok(Math.abs(counts.object / 20000 - 0.1) < 0.03, JSON.stringify(counts));
      assert.ok(20000 / runs >= 5, 'messages come in bursts per VIN');
      const payloads = msgs.map((x) => x.payload.toString());
      assert.ok(
        payloads.some((p) => /^"[+-]?\d/.test(p)),
        'legacy numeric strings',
      );
      assert.ok(
        payloads.some((p) => /^"ShiftState|^"[A-Z][a-z]+State/.test(p)),
        'typed enum names',
      );
    });
  });
});

// ---------------------------------------------------------------------------------------------
// examples/ and the demo flow

const EXAMPLES = path.join(ROOT, 'examples');
const OUR_TYPES = new Set(['telemetry-broker', 'tesla-account', 'telemetry-in', 'vehicle-data', 'telemetry-config', 'vehicle-command']);
/** FlowFuse Dashboard 2's node types (example 07); its package is a devDependency. */
const DASHBOARD_TYPES = new Set(Object.keys(require('@flowfuse/node-red-dashboard/package.json')['node-red'].nodes));
const CORE_TYPES = new Set([
  'tab',
  'group',
  'junction',
  'comment',
  'inject',
  'debug',
  'complete',
  'catch',
  'status',
  'link in',
  'link out',
  'link call',
  'function',
  'switch',
  'change',
  'range',
  'template',
  'delay',
  'trigger',
  'exec',
  'filter',
  'rbe',
  'split',
  'join',
  'sort',
  'batch',
  'json',
  'csv',
  'html',
  'yaml',
  'xml',
  'http in',
  'http response',
  'http request',
  'file',
  'file in',
  'watch',
  'mqtt in',
  'mqtt out',
  'mqtt-broker',
]);
/** The config node type a node's `broker` names (Node-RED's mqtt-broker holds a host name there). */
const BROKER_OF = { 'mqtt in': 'mqtt-broker', 'mqtt out': 'mqtt-broker', 'mqtt-broker': null };
/** Properties that hold node ids (a reference may equal an id; nothing else may). */
const REF_PROPS = new Set(['id', 'z', 'g', 'wires', 'links', 'scope', 'broker', 'account', 'nodes', 'ui', 'page', 'group', 'theme']);
/** Flow-JSON properties every flow sets on our nodes (docs/message-contract.md "Node types"). */
const CONTRACT_PROPS = {
  'telemetry-broker': ['url', 'topicBase', 'clientId', 'ca', 'sharedGroup', 'persist'],
  'tesla-account': ['region', 'proxyUrl', 'proxyCa', 'tokenUrl', 'domain'],
  'telemetry-in': ['broker', 'vins', 'fields', 'mode', 'staleAfter', 'retained', 'units'],
  'vehicle-data': ['account', 'broker', 'vins', 'mode', 'auto', 'staleAfter', 'pollInterval', 'endpoints', 'dailyBudget', 'units'],
  'telemetry-config': [
    'account',
    'hostname',
    'port',
    'ca',
    'fields',
    'alertTypes',
    'preferTyped',
    'vins',
    'action',
    'broker',
    'ensureEvery',
    'fieldsFrom',
    'defaultInterval',
  ],
  'vehicle-command': ['account', 'broker', 'vins', 'command', 'wake', 'allowUnlock', 'minInterval', 'verify', 'dailyBudget'],
};
/** Dashboard 2 references: widget → group → page → base and theme (an empty one is unused). */
const UI_REFS = { group: 'ui-group', page: 'ui-page', ui: 'ui-base', theme: 'ui-theme' };

function* stringsIn(v) {
  if (typeof v === 'string') yield v;
  else if (Array.isArray(v)) for (const x of v) yield* stringsIn(x);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) yield* stringsIn(x);
}

/** Flow-file checks shared by the examples and the demo flow. */
function checkFlow(nodes, label) {
  assert.ok(Array.isArray(nodes), `${label}: a JSON array`);
  const ids = new Map();
  for (const n of nodes) {
    assert.match(n.id, /^[0-9a-f]{16}$/, `${label}: id ${n.id} is 16 hex characters`);
    assert.ok(!ids.has(n.id), `${label}: duplicate id ${n.id}`);
    ids.set(n.id, n);
  }
  for (const n of nodes) {
    assert.ok(OUR_TYPES.has(n.type) || CORE_TYPES.has(n.type) || DASHBOARD_TYPES.has(n.type), `${label}: node type ${n.type}`);
    for (const [k, v] of Object.entries(n)) {
      if (REF_PROPS.has(k)) continue;
      for (const s of stringsIn(v)) assert.ok(!ids.has(s), `${label}: ${n.type} ${n.id}.${k} equals a node id (${s})`);
    }
    if (n.z !== undefined) assert.equal(ids.get(n.z)?.type, 'tab', `${label}: ${n.id}.z names a tab`);
    for (const out of n.wires || []) for (const t of out) assert.ok(ids.has(t) && ids.get(t).z === n.z, `${label}: wire ${n.id} -> ${t}`);
    const brokerType = n.type in BROKER_OF ? BROKER_OF[n.type] : 'telemetry-broker';
    if (n.broker && brokerType) assert.equal(ids.get(n.broker)?.type, brokerType, `${label}: ${n.id}.broker`);
    if (n.account) assert.equal(ids.get(n.account)?.type, 'tesla-account', `${label}: ${n.id}.account`);
    for (const t of n.scope || []) assert.ok(ids.has(t), `${label}: ${n.id}.scope`);
    if (DASHBOARD_TYPES.has(n.type)) {
      for (const [k, type] of Object.entries(UI_REFS)) if (n[k]) assert.equal(ids.get(n[k])?.type, type, `${label}: ${n.type} ${n.id}.${k}`);
    }
    for (const p of CONTRACT_PROPS[n.type] || []) assert.ok(p in n, `${label}: ${n.type} has ${p}`);
    if (n.type === 'function')
      assert.doesNotThrow(() => new Function('msg', 'node', 'context', 'flow', 'global', 'env', 'RED', n.func), `${label}: ${n.name} compiles`);
    if (n.type === 'switch' || n.type === 'function') assert.equal(n.wires.length, n.outputs, `${label}: ${n.id} outputs`);
  }
  return ids;
}

describe('examples/', function () {
  const files = fs
    .readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.json'))
    .sort();

  it('has the example flows, valid JSON, node ids unique across all of them', function () {
    assert.deepEqual(files, [
      '01 live car state.json',
      '02 stream and fallback.json',
      '03 register cars.json',
      '04 alerts and errors.json',
      '05 solar surplus charging.json',
      '06 what my telemetry costs.json',
      '07 fleet dashboard.json',
      '08 home assistant entities.json',
    ]);
    const all = new Set();
    for (const f of files) {
      const nodes = JSON.parse(fs.readFileSync(path.join(EXAMPLES, f), 'utf8'));
      for (const id of checkFlow(nodes, f).keys()) {
        assert.ok(!all.has(id), `${f}: id ${id} also in another example`);
        all.add(id);
      }
      const tabs = nodes.filter((n) => n.type === 'tab');
      assert.equal(tabs.length, 1, `${f}: one tab`);
      assert.equal(tabs[0].label, f.replace(/\.json$/, ''));
    }
  });

  it('uses placeholder config nodes: broker mqtt://127.0.0.1:1883 "telemetry", account without credentials', function () {
    for (const f of files) {
      const nodes = JSON.parse(fs.readFileSync(path.join(EXAMPLES, f), 'utf8'));
      for (const n of nodes) {
        assert.ok(!('credentials' in n), `${f}: no credentials in an example`);
        if (n.type === 'telemetry-broker') {
          assert.equal(n.url, 'mqtt://127.0.0.1:1883');
          assert.equal(n.topicBase, 'telemetry');
          assert.equal(n.z, undefined, 'config nodes are global');
        }
        if (n.type === 'tesla-account') assert.equal(n.z, undefined, 'config nodes are global');
        if (n.type === 'mqtt-broker') {
          assert.deepEqual([n.broker, String(n.port), n.usetls], ['127.0.0.1', '1883', false]);
          assert.equal(n.z, undefined, 'config nodes are global');
        }
      }
    }
    const byFile = (f) => JSON.parse(fs.readFileSync(path.join(EXAMPLES, f), 'utf8'));
    const types = (f) => new Set(byFile(f).map((n) => n.type));
    assert.ok(types('01 live car state.json').has('telemetry-in'));
    assert.ok(types('02 stream and fallback.json').has('vehicle-data'));
    assert.equal(byFile('02 stream and fallback.json').find((n) => n.type === 'vehicle-data').auto, true);
    assert.ok(byFile('02 stream and fallback.json').find((n) => n.type === 'vehicle-data').broker);
    assert.ok(types('03 register cars.json').has('telemetry-config'));
    // 03: ensure every 24 h with the broker's evidence, the doctor's verdicts and fixes to the sidebar
    const tc03 = byFile('03 register cars.json').find((n) => n.type === 'telemetry-config');
    assert.deepEqual([tc03.ensureEvery, tc03.action, Boolean(tc03.broker)], [24, 'doctor', true]);
    assert.match(byFile('03 register cars.json').find((n) => n.id === tc03.wires[0][0]).func, /e\.fix/);
    // 06: usage needs a broker and no account
    const tc06 = byFile('06 what my telemetry costs.json').find((n) => n.type === 'telemetry-config');
    assert.deepEqual([tc06.action, tc06.account, Boolean(tc06.broker)], ['usage', '', true]);
    assert.ok(!types('06 what my telemetry costs.json').has('tesla-account'));
    const tin04 = byFile('04 alerts and errors.json').find((n) => n.type === 'telemetry-in');
    assert.ok(tin04.wires[1].length > 0, 'example 04 uses output 2');
    // 05: the function's two outputs lead to vehicle-command nodes that never wake or unlock the car;
    // the amps node coalesces (Min interval 60 s); the command nodes' settings are usable as they are.
    const ex05 = byFile('05 solar surplus charging.json');
    const { commandSettings } = lib('commands/settings');
    const fn = ex05.find((n) => n.type === 'function');
    const [amps, control] = fn.wires.map((w) => ex05.find((n) => n.id === w[0]));
    assert.deepEqual([amps.type, amps.command, amps.minInterval], ['vehicle-command', 'set_charging_amps', 60]);
    assert.deepEqual([control.type, control.command], ['vehicle-command', '']);
    for (const n of [amps, control]) {
      assert.equal(n.wake, 'never');
      assert.equal(n.allowUnlock, false);
      assert.ok(n.broker && n.dailyBudget > 0, 'confirmed by the stream, capped by a budget');
      assert.deepEqual(commandSettings({ ...n, vins: DEMO_CARS[0].vin }).problems, []);
    }
    const ha = byFile('08 home assistant entities.json');
    const tin08 = ha.find((n) => n.type === 'telemetry-in');
    const fn08 = ha.find((n) => n.type === 'function');
    assert.deepEqual([tin08.mode, tin08.units], ['vehicle', 'metric']);
    assert.deepEqual([tin08.wires[0], tin08.wires[2]], [[fn08.id], [fn08.id]], 'example 08 takes snapshots and stale/fresh');
    const vc08 = ha.find((n) => n.type === 'vehicle-command');
    assert.deepEqual([vc08.wake, vc08.allowUnlock, vc08.minInterval, vc08.command], ['never', false, 60, ''], 'never wakes the car, coalesces');
  });

  it('07 fleet dashboard: one Dashboard 2 at /dashboard; commands never wake, within a budget; the widgets send only what the user did', function () {
    const nodes = JSON.parse(fs.readFileSync(path.join(EXAMPLES, '07 fleet dashboard.json'), 'utf8'));
    const of = (type) => nodes.filter((n) => n.type === type);
    assert.deepEqual(
      of('ui-base').map((n) => n.path),
      ['/dashboard'],
    );
    assert.equal(of('ui-page').length, 1);
    assert.ok(of('ui-template').length >= 2 && of('ui-chart').length >= 1 && of('ui-text').length >= 1);
    // a template passing its input through would send every fleet update on as a command
    for (const t of of('ui-template')) assert.equal(t.passthru, false, `${t.name}: passthru off`);
    const [cmd] = of('vehicle-command');
    assert.ok(cmd, 'a vehicle-command node');
    assert.equal(cmd.wake, 'never');
    assert.equal(cmd.allowUnlock, false);
    assert.equal(cmd.command, '', 'the command comes with each message');
    assert.ok(Number.isInteger(cmd.dailyBudget) && cmd.dailyBudget > 0, 'a daily budget');
    assert.ok(cmd.broker && cmd.verify > 0, 'confirmed on the stream');
    // the only way into vehicle-command is the function that checks the page's input
    const into = nodes.filter((n) => (n.wires || []).some((out) => out.includes(cmd.id)));
    assert.deepEqual(
      into.map((n) => [n.type, n.name]),
      [['function', 'page → command']],
    );
    const usage = of('telemetry-config');
    assert.deepEqual(
      usage.map((n) => [n.action, !!n.broker]),
      [['usage', true]],
    );
    const tin = of('telemetry-in')[0];
    assert.equal(tin.mode, 'vehicle');
    assert.ok(['metric', 'car'].includes(tin.units), `units ${tin.units}`);
  });
});

describe('dev/start.js demo flow', function () {
  const { buildDemoFlow, prepareFlows, decryptCredentials, DEMO_IDS } = require('../../dev/start');
  const fleetApi = {
    url: 'https://127.0.0.1:4443',
    proxyUrl: 'https://127.0.0.1:4443/proxy',
    tokenUrl: 'https://127.0.0.1:4443/oauth2/v3/token',
    ca: '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n',
  };
  const vins = DEMO_CARS.map((c) => c.vin);

  it('puts every example on its own tab with one shared broker and account, ids distinct from the examples', function () {
    const flow = buildDemoFlow({ brokerUrl: 'mqtt://127.0.0.1:1884', topicBase: 'telemetry', fleetApi, vins });
    checkFlow(flow, 'demo');
    assert.deepEqual(
      flow.filter((n) => n.type === 'tab').map((n) => n.label),
      [
        ...fs
          .readdirSync(EXAMPLES)
          .filter((x) => x.endsWith('.json'))
          .sort()
          .map((x) => x.replace(/\.json$/, '')),
        'commands (demo)',
      ],
    );
    // example 08's Home Assistant broker is the demo broker
    assert.deepEqual(
      flow.filter((n) => n.type === 'mqtt-broker').map((n) => [n.id, n.broker, n.port]),
      [[DEMO_IDS.mqttBroker, '127.0.0.1', '1884']],
    );
    assert.ok(flow.filter((n) => n.type === 'mqtt in' || n.type === 'mqtt out').every((n) => n.broker === DEMO_IDS.mqttBroker));
    const brokers = flow.filter((n) => n.type === 'telemetry-broker');
    const accounts = flow.filter((n) => n.type === 'tesla-account');
    assert.deepEqual(
      brokers.map((n) => [n.id, n.url, n.persist]),
      [[DEMO_IDS.broker, 'mqtt://127.0.0.1:1884', true]],
    );
    assert.deepEqual(
      accounts.map((n) => [n.id, n.proxyUrl, n.tokenUrl, n.fleetApiUrl, n.proxyCa]),
      [[DEMO_IDS.account, fleetApi.proxyUrl, fleetApi.tokenUrl, fleetApi.url, fleetApi.ca]],
    );
    const exampleIds = new Set();
    for (const f of fs.readdirSync(EXAMPLES).filter((x) => x.endsWith('.json'))) {
      for (const n of JSON.parse(fs.readFileSync(path.join(EXAMPLES, f), 'utf8'))) exampleIds.add(n.id);
    }
    assert.ok(
      flow.every((n) => !exampleIds.has(n.id)),
      'importing an example next to the demo does not collide',
    );
    assert.ok(flow.filter((n) => n.type === 'telemetry-in').every((n) => n.staleAfter === 1));
    assert.ok(flow.filter((n) => n.type === 'telemetry-config').every((n) => n.vins === vins.join(',')));
    // Commands go to the first simulated car; the commands tab: two injects → set_charge_limit → debug.
    const commands = flow.filter((n) => n.type === 'vehicle-command');
    assert.ok(commands.length >= 3 && commands.every((n) => n.vins === vins[0] && n.wake === 'never'));
    const tab = flow.find((n) => n.label === 'commands (demo)');
    const limit = flow.find((n) => n.z === tab.id && n.type === 'vehicle-command');
    assert.deepEqual([limit.command, limit.broker, limit.account], ['set_charge_limit', DEMO_IDS.broker, DEMO_IDS.account]);
    assert.ok(limit.verify > 0);
    const injects = flow.filter((n) => n.z === tab.id && n.type === 'inject');
    assert.deepEqual(
      injects.map((n) => [n.payload, n.payloadType, n.wires[0][0]]),
      [
        ['80', 'num', limit.id],
        ['90', 'num', limit.id],
      ],
    );
    assert.equal(flow.find((n) => n.id === limit.wires[0][0]).type, 'debug');
  });

  it('leaves out the examples that need an account when there is no Fleet API (a real broker)', function () {
    const flow = buildDemoFlow({ brokerUrl: 'mqtt://192.168.1.2:1883', topicBase: 'tele/metry', vins: [] });
    checkFlow(flow, 'demo without API');
    assert.equal(flow.filter((n) => n.type === 'tesla-account').length, 0);
    assert.equal(flow.filter((n) => n.type === 'vehicle-data' || n.type === 'vehicle-command').length, 0);
    // only telemetry-config nodes that need no account (usage, example 06)
    assert.deepEqual(
      flow.filter((n) => n.type === 'telemetry-config').map((n) => [n.action, n.account]),
      [['usage', '']],
    );
    assert.deepEqual(
      flow.filter((n) => n.type === 'telemetry-broker').map((n) => [n.url, n.topicBase]),
      [['mqtt://192.168.1.2:1883', 'tele/metry']],
    );
    assert.ok(flow.some((n) => n.type === 'telemetry-in'));
  });

  it('leaves out the dashboard example when the dashboard package is not installed (an unknown type stops every flow)', function () {
    const flow = buildDemoFlow({ brokerUrl: 'mqtt://127.0.0.1:1884', topicBase: 'telemetry', fleetApi, vins, dashboard: false });
    checkFlow(flow, 'demo without dashboard');
    assert.equal(flow.filter((n) => n.type.startsWith('ui-')).length, 0);
    assert.ok(
      flow.some((n) => n.type === 'telemetry-config'),
      'the other examples stay',
    );
    const withIt = buildDemoFlow({ brokerUrl: 'mqtt://127.0.0.1:1884', topicBase: 'telemetry', fleetApi, vins });
    assert.deepEqual(
      withIt.filter((n) => n.type === 'ui-base').map((n) => n.path),
      ['/dashboard'],
    );
  });

  it('writes the demo on first start and re-points its config nodes later, credentials encrypted', function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-flow-'));
    try {
      const settings = { userDir: dir, flowFile: 'flows.json', credentialSecret: 'test secret' };
      const log = () => {};
      const creds1 = { clientId: 'cid', refreshToken: 'rt1' };
      const r1 = prepareFlows({ settings, brokerUrl: 'mqtt://127.0.0.1:1883', topicBase: 'telemetry', fleetApi, credentials: creds1, vins, log });
      assert.equal(r1.deployed, 'demo');
      const flows1 = JSON.parse(fs.readFileSync(path.join(dir, 'flows.json'), 'utf8'));
      const cred1 = JSON.parse(fs.readFileSync(path.join(dir, 'flows_cred.json'), 'utf8'));
      assert.deepEqual(Object.keys(cred1), ['$']);
      assert.deepEqual(decryptCredentials('test secret', cred1), { [DEMO_IDS.account]: creds1 });

      // a user's own node survives; the demo config nodes follow the new broker and double
      flows1.push({ id: '0123456789abcdef', type: 'comment', z: flows1[0].id, name: 'mine', info: '', x: 100, y: 500, wires: [] });
      fs.writeFileSync(path.join(dir, 'flows.json'), JSON.stringify(flows1));
      const api2 = {
        ...fleetApi,
        url: 'https://127.0.0.1:5555',
        proxyUrl: 'https://127.0.0.1:5555/proxy',
        tokenUrl: 'https://127.0.0.1:5555/oauth2/v3/token',
        ca: '-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n',
      };
      const r2 = prepareFlows({
        settings,
        brokerUrl: 'mqtt://127.0.0.1:1999',
        topicBase: 'telemetry',
        fleetApi: api2,
        credentials: { clientId: 'cid', refreshToken: 'rt2' },
        vins,
        log,
      });
      assert.equal(r2.deployed, 'updated');
      const flows2 = JSON.parse(fs.readFileSync(path.join(dir, 'flows.json'), 'utf8'));
      assert.ok(flows2.some((n) => n.id === '0123456789abcdef'));
      assert.equal(flows2.find((n) => n.id === DEMO_IDS.broker).url, 'mqtt://127.0.0.1:1999');
      assert.deepEqual(
        [flows2.find((n) => n.id === DEMO_IDS.mqttBroker).broker, flows2.find((n) => n.id === DEMO_IDS.mqttBroker).port],
        ['127.0.0.1', '1999'],
      );
      const acct = flows2.find((n) => n.id === DEMO_IDS.account);
      assert.equal(acct.proxyUrl, api2.proxyUrl);
      assert.equal(acct.proxyCa, api2.ca);
      assert.ok(flows2.filter((n) => n.type === 'telemetry-config' && n.account).every((n) => n.ca === api2.ca));
      const cred2 = decryptCredentials('test secret', JSON.parse(fs.readFileSync(path.join(dir, 'flows_cred.json'), 'utf8')));
      assert.equal(cred2[DEMO_IDS.account].refreshToken, 'rt2');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
