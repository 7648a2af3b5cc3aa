'use strict';
// The car state in a real Node-RED runtime: telemetry-broker persisting under userDir,
// telemetry-in's restored snapshots, updatedAt and units, vehicle-data's free reads. A real MQTT
// broker (aedes) and the HTTPS Fleet API double (its call log counts every request, token
// endpoint included).
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startBroker, publisher } = require('../support/broker');
const { helper, nodeModules, collector, connected, statusIs, warnings } = require('../support/red');
const { startFleetDouble } = require('../../dev/fleet-double');

const VIN = '5YJ3E1EA7KF000001';
const OTHER = '5YJ3E1EA7KF000002';
const CLIENT_ID = 'client-abc';

describe('car state, units and free reads (Node-RED runtime, aedes, HTTPS Fleet API double)', function () {
  let broker;
  let pub;
  let double;
  let userDir;

  before(async function () {
    await new Promise((r) => helper.startServer(r));
  });
  after(async function () {
    helper.settings({ userDir: undefined });
    await new Promise((r) => helper.stopServer(r));
  });
  beforeEach(async function () {
    broker = await startBroker();
    pub = await publisher(broker.url);
    double = await startFleetDouble({ clientId: CLIENT_ID, vehicles: { [VIN]: { state: 'online' }, [OTHER]: { state: 'online' } } });
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'state-user-'));
    helper.settings({ userDir });
  });
  afterEach(async function () {
    await helper.unload();
    await pub.end();
    await broker.close();
    await double.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  const stateFile = () => path.join(userDir, 'tesla-fleet-telemetry', 'state-b1.json');

  function flow({ node = {}, brokerProps = {}, vehicleData = null } = {}) {
    const f = [
      { id: 'b1', type: 'telemetry-broker', url: broker.url, topicBase: 'telemetry', reconnectPeriod: 0.2, ...brokerProps },
      {
        id: 'in1',
        type: 'telemetry-in',
        broker: 'b1',
        vins: '',
        fields: '',
        mode: 'field',
        staleAfter: 60,
        retained: 'flag',
        wires: [['out1'], ['out2'], ['out3']],
        ...node,
      },
      { id: 'out1', type: 'helper' },
      { id: 'out2', type: 'helper' },
      { id: 'out3', type: 'helper' },
    ];
    if (vehicleData) {
      f.push(
        {
          id: 'acc1',
          type: 'tesla-account',
          region: 'na',
          proxyUrl: double.proxyUrl,
          proxyCa: double.ca,
          tokenUrl: double.tokenUrl,
          domain: 'fleet.example.com',
        },
        {
          id: 'vd1',
          type: 'vehicle-data',
          account: 'acc1',
          broker: 'b1',
          vins: '',
          mode: 'field',
          auto: false,
          staleAfter: 60,
          pollInterval: 10,
          endpoints: 'charge_state;drive_state;location_data;vehicle_state',
          dailyBudget: 0,
          wires: [['vdout']],
          ...vehicleData,
        },
        { id: 'vdout', type: 'helper' },
      );
    }
    return f;
  }

  async function load(opts) {
    const subscribed = broker.subscribed((t) => t.endsWith('/connectivity'));
    const types = opts?.vehicleData ? ['telemetry-broker', 'telemetry-in', 'tesla-account', 'vehicle-data'] : ['telemetry-broker', 'telemetry-in'];
    const credentials = opts?.vehicleData ? { acc1: { clientId: CLIENT_ID, refreshToken: double.currentRefreshToken } } : {};
    const loadedAt = Date.now();
    await helper.load(nodeModules(...types), flow(opts), credentials);
    await subscribed;
    await connected('b1');
    const out = ['out1', 'out2', 'out3'].map((id) => collector(helper.getNode(id)));
    if (opts?.vehicleData) out.vd = collector(helper.getNode('vdout'));
    out.loadedAt = loadedAt;
    return out;
  }

  it('persists under userDir (0600 file, 0700 dir) and, after a restart, sends restored snapshots within 2 s with the original updatedAt', async function () {
    let out = await load();
    await pub.publish(`telemetry/${VIN}/v/BatteryLevel`, '"55.5"');
    await pub.publish(`telemetry/${VIN}/v/Odometer`, '1000');
    await pub.publish(`telemetry/${VIN}/v/Location`, '{"latitude":1.5,"longitude":2.5}');
    await pub.publish(`telemetry/${OTHER}/v/Gear`, '"ShiftStateP"');
    const loc = await out[0].next((m) => m.field === 'Location');
    const battery = await out[0].next((m) => m.field === 'BatteryLevel');
    await out[0].next((m) => m.field === 'Gear');
    await helper.unload(); // the broker node closes: the state is written
    assert.equal(fs.statSync(path.dirname(stateFile())).mode & 0o777, 0o700);
    assert.equal(fs.statSync(stateFile()).mode & 0o777, 0o600);

    out = await load({ node: { mode: 'vehicle', vins: VIN, fields: 'BatteryLevel,Location', units: 'metric' } });
    const restored = await out[0].next((m) => m.restored === true);
    assert.ok(Date.now() - out.loadedAt < 2000, `restored after ${Date.now() - out.loadedAt} ms`);
    assert.equal(restored.event, 'vehicle');
    assert.equal(restored.topic, VIN);
    assert.equal(restored.source, 'telemetry');
    assert.deepEqual(restored.changed, []);
    assert.deepEqual(restored.payload, { BatteryLevel: 55.5, Location: { latitude: 1.5, longitude: 2.5 } });
    assert.deepEqual(restored.updatedAt, { BatteryLevel: battery.receivedAt, Location: loc.receivedAt });
    assert.deepEqual(restored.units, { BatteryLevel: 'percent' });
    assert.equal(out[0].received.filter((m) => m.restored).length, 1, 'one per restored VIN passing the filters');
  });

  it('after a restart, a retained value equal to the stored one keeps its updatedAt; a different one gets null', async function () {
    let out = await load();
    await pub.publish(`telemetry/${VIN}/v/BatteryLevel`, '55', { retain: true });
    await pub.publish(`telemetry/${VIN}/v/VehicleSpeed`, '10', { retain: true });
    const battery = await out[0].next((m) => m.field === 'BatteryLevel');
    await out[0].next((m) => m.field === 'VehicleSpeed');
    assert.equal(battery.retain, false, 'delivered live to a subscriber');
    assert.equal(battery.updatedAt, battery.receivedAt);
    await helper.unload();
    await pub.publish(`telemetry/${VIN}/v/VehicleSpeed`, '20', { retain: true }); // while we are down
    out = await load();
    const same = await out[0].next((m) => m.field === 'BatteryLevel');
    const changed = await out[0].next((m) => m.field === 'VehicleSpeed');
    assert.deepEqual([same.retain, same.payload, same.updatedAt], [true, 55, battery.receivedAt]);
    assert.deepEqual([changed.retain, changed.payload, changed.updatedAt], [true, 20, null]);
  });

  it('a restored VIN goes stale with its real lastSeen, not null', async function () {
    let out = await load();
    await pub.publish(`telemetry/${VIN}/v/BatteryLevel`, '61');
    const first = await out[0].next();
    await helper.unload();
    out = await load({ node: { staleAfter: 0.005 } });
    const stale = await out[2].next((m) => m.event === 'stale');
    assert.equal(stale.vin, VIN);
    assert.equal(stale.payload.lastSeen, first.receivedAt);
  });

  it('persist off: no state file; the state is not restored', async function () {
    await load({ brokerProps: { persist: false } });
    await pub.publish(`telemetry/${VIN}/v/BatteryLevel`, '61');
    await helper.unload();
    assert.equal(fs.existsSync(path.dirname(stateFile())), false);
    const out = await load({ brokerProps: { persist: false }, node: { mode: 'vehicle' } });
    assert.equal(helper.getNode('b1').connection.carState.size, 0);
    assert.deepEqual(out[0].received, []);
  });

  it('a corrupt state file: one warning naming it on the broker node, moved aside, and the flow runs', async function () {
    fs.mkdirSync(path.dirname(stateFile()), { recursive: true });
    fs.writeFileSync(stateFile(), '{"format":"tesla-fleet-telemetry/car-state","version":1,"vins":{"X":');
    const out = await load();
    const w = warnings('telemetry-broker');
    assert.equal(w.length, 1, w.join('\n'));
    assert.ok(w[0].includes(stateFile()), w[0]);
    assert.match(w[0], /is not JSON \(truncated or corrupt\): moved aside to .*state-b1\.json\.corrupt-\d+; starting with an empty car state/);
    const aside = fs.readdirSync(path.dirname(stateFile())).filter((n) => /^state-b1\.json\.corrupt-\d+$/.test(n));
    assert.equal(aside.length, 1);
    await pub.publish(`telemetry/${VIN}/v/BatteryLevel`, '61');
    assert.equal((await out[0].next()).payload, 61);
  });

  it('units on telemetry-in: msg.unit and the converted payload; "car" follows the car\'s own setting', async function () {
    const out = await load({ node: { units: 'car' } });
    await pub.publish(`telemetry/${VIN}/v/InsideTemp`, '20');
    const c = await out[0].next((m) => m.field === 'InsideTemp');
    assert.deepEqual([c.payload, c.unit, c.raw], [20, '°C', 20]);
    await pub.publish(`telemetry/${VIN}/v/SettingTemperatureUnit`, '"TemperatureUnitFahrenheit"');
    await pub.publish(`telemetry/${VIN}/v/InsideTemp`, '21');
    const f = await out[0].next((m) => m.field === 'InsideTemp', 2);
    assert.deepEqual([f.payload, f.unit, f.raw], [(21 * 9) / 5 + 32, '°F', 21]);
  });

  it('free read: a streaming VIN is answered from the car state with no HTTP call at all (token endpoint included)', async function () {
    const out = await load({ vehicleData: { units: 'metric' } });
    await pub.publish(`telemetry/${VIN}/v/Odometer`, '1000');
    await pub.publish(`telemetry/${VIN}/v/BatteryLevel`, '55');
    const odo = await out[0].next((m) => m.field === 'Odometer');
    await out[0].next((m) => m.field === 'BatteryLevel');
    const vd = helper.getNode('vd1');
    const status = statusIs(vd, (s) => / · 1 free$/.test(s.text || ''));
    vd.receive({ vin: VIN });
    const o = await out.vd.next((m) => m.field === 'Odometer');
    const b = await out.vd.next((m) => m.field === 'BatteryLevel');
    assert.deepEqual(
      [o.event, o.topic, o.source, o.cached, o.payload, o.unit, o.updatedAt],
      ['data', `${VIN}/Odometer`, 'telemetry', true, 1609.344, 'km', odo.receivedAt],
    );
    assert.deepEqual([b.payload, b.unit, b.cached], [55, 'percent', true]);
    assert.equal('raw' in o, false, 'the raw payload is not kept');
    await status;
    assert.deepEqual(double.calls, [], 'no request of any kind');
  });

  it('free read in vehicle mode: one cached snapshot with updatedAt', async function () {
    const out = await load({ vehicleData: { mode: 'vehicle' } });
    await pub.publish(`telemetry/${VIN}/v/Gear`, '"ShiftStateD"');
    const g = await out[0].next();
    helper.getNode('vd1').receive({ vin: VIN });
    const snap = await out.vd.next();
    assert.deepEqual(
      [snap.event, snap.source, snap.cached, snap.payload, snap.updatedAt, snap.changed],
      ['vehicle', 'telemetry', true, { Gear: 'D' }, { Gear: g.receivedAt }, []],
    );
    assert.deepEqual(double.calls, []);
  });

  it('refresh: true, an unknown VIN and a stale VIN take the API path (state check first), converted the same way', async function () {
    const out = await load({ node: { staleAfter: 0.005 }, vehicleData: { units: 'metric', staleAfter: 0.005 } });
    await pub.publish(`telemetry/${VIN}/v/Odometer`, '1000');
    await out[0].next();
    const vd = helper.getNode('vd1');
    const apiRoutes = () => double.calls.filter((c) => /\/api\/1\//.test(c.path)).map((c) => c.route);

    vd.receive({ vin: VIN, refresh: true });
    const fromApi = await out.vd.next((m) => m.field === 'Odometer' && m.source === 'api');
    assert.equal(fromApi.raw, 15720.074889);
    assert.equal(fromApi.payload, 15720.074889 * 1.609344);
    assert.equal(fromApi.unit, 'km');
    assert.equal(fromApi.cached, undefined);
    assert.deepEqual(apiRoutes(), [`/api/1/vehicles/${VIN}`, `/api/1/vehicles/${VIN}/vehicle_data`]);

    vd.receive({ vin: OTHER });
    await out.vd.next((m) => m.vin === OTHER && m.source === 'api');
    assert.deepEqual(apiRoutes().slice(2), [`/api/1/vehicles/${OTHER}`, `/api/1/vehicles/${OTHER}/vehicle_data`]);

    await out[2].next((m) => m.event === 'stale' && m.vin === VIN); // the stream went silent
    const n = out.vd.received.length;
    vd.receive({ vin: VIN });
    const stale = await out.vd.next((m) => m.vin === VIN, n);
    assert.equal(stale.source, 'api');
    assert.deepEqual(apiRoutes().slice(4), [`/api/1/vehicles/${VIN}`, `/api/1/vehicles/${VIN}/vehicle_data`]);
  });
});
