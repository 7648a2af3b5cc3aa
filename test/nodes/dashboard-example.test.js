'use strict';
// Example 07 (fleet dashboard) in a real Node-RED runtime: its telemetry-in, function and catch
// nodes exactly as the example file has them, fed through a real MQTT broker (aedes). The
// Dashboard 2 widgets and vehicle-command stand as helper nodes with the same ids, so the test
// sees what the example sends them (the browser test drives the real ones through `npm start`).
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT } = require('../support/paths');
const { startBroker, publisher } = require('../support/broker');
const { helper, nodeModules, collector, warnings } = require('../support/red');

const EXAMPLE = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', '07 fleet dashboard.json'), 'utf8'));
const byName = (type, name) => {
  const n = EXAMPLE.find((x) => x.type === type && x.name === name);
  assert.ok(n, `example 07 has a ${type} named "${name}"`);
  return n;
};
// The helper brings catch itself; the function node comes from Node-RED's core nodes.
const CORE = [require('@node-red/nodes/core/function/10-function.js')];
const VIN_A = '5YJ3E1EA1SF000001';
/** Objects made in a function node come from its sandbox (another realm): compare their JSON. */
const plain = (v) => JSON.parse(JSON.stringify(v));
const VIN_B = '5YJSA1E2XHF000002';

/**
 * The example's flow against `url`: ui-* widgets and vehicle-command become helper nodes; the
 * usage node (telemetry-config) and its catch are left out (its text function is fed directly).
 */
function exampleFlow(url) {
  const out = [];
  const usage = EXAMPLE.find((n) => n.type === 'telemetry-config').id;
  for (const n of EXAMPLE) {
    if (n.type === 'catch' && n.scope.includes(usage)) continue;
    if (n.type === 'tab' || n.type === 'telemetry-in' || n.type === 'function' || n.type === 'catch') out.push({ ...n });
    else if (n.type === 'telemetry-broker') out.push({ ...n, url, persist: false, reconnectPeriod: 0.2 });
    else if (n.z && (n.type.startsWith('ui-') || n.type === 'vehicle-command'))
      out.push({ id: n.id, z: n.z, type: 'helper', name: n.name, wires: n.wires || [] });
  }
  return out;
}

describe('example 07 fleet dashboard: its flow logic (Node-RED runtime, aedes broker)', function () {
  const ids = {
    telemetryIn: EXAMPLE.find((n) => n.type === 'telemetry-in').id,
    cards: byName('ui-template', 'car cards').id,
    map: byName('ui-template', 'map').id,
    battery: byName('ui-chart', 'battery chart').id,
    power: byName('ui-chart', 'charging power chart').id,
    pageCommand: byName('function', 'page → command').id,
    command: EXAMPLE.find((n) => n.type === 'vehicle-command').id,
    usageText: byName('function', 'usage text').id,
    usageUi: byName('ui-text', 'streaming cost').id,
  };
  let broker;
  let pub;
  let out;

  before(async function () {
    await new Promise((r) => helper.startServer(r));
  });
  after(async function () {
    await new Promise((r) => helper.stopServer(r));
  });
  beforeEach(async function () {
    broker = await startBroker();
    pub = await publisher(broker.url);
    const subscribed = broker.subscribed((t) => t.endsWith('/connectivity'));
    await helper.load([...nodeModules('telemetry-broker', 'telemetry-in'), ...CORE], exampleFlow(broker.url));
    await subscribed;
    out = {};
    for (const k of ['cards', 'map', 'battery', 'power', 'command', 'usageUi']) out[k] = collector(helper.getNode(ids[k]));
  });
  afterEach(async function () {
    await helper.unload();
    await pub.end();
    await broker.close();
  });

  /** One car record as the fleet-telemetry server publishes it (typed values, live). */
  async function publishCar(vin, values) {
    for (const [field, value] of Object.entries(values)) await pub.publish(`telemetry/${vin}/v/${field}`, JSON.stringify(value));
  }
  /** The next fleet message whose car `vin` satisfies pred. */
  const fleetCar = (vin, pred, from = 0) =>
    out.cards.next((m) => m.payload.cars.some((c) => c.vin === vin && pred(c)), from).then((m) => m.payload.cars.find((c) => c.vin === vin));

  it('a card per car with name, VIN, state, battery, range in km, charging, locked, sentry, position; chart points per car', async function () {
    await publishCar(VIN_A, {
      VehicleName: 'Car A',
      BatteryLevel: 55.5,
      RatedRange: 200,
      DetailedChargeState: 'DetailedChargeStateCharging',
      ACChargingPower: 7.2,
      ChargeLimitSoc: 80,
      Locked: true,
      SentryMode: 'SentryModeStateArmed',
      Location: { latitude: 37.77, longitude: -122.42 },
      GpsHeading: 90,
    });
    const car = await fleetCar(VIN_A, (c) => c.heading === 90 && c.battery !== null);
    assert.equal(car.name, 'Car A');
    assert.equal(car.state, 'streaming');
    assert.equal(car.battery, 55.5);
    assert.ok(Math.abs(car.range - 200 * 1.609344) < 1e-9, `range ${car.range} km`);
    assert.equal(car.rangeUnit, 'km');
    assert.equal(car.chargeState, 'Charging');
    assert.equal(car.chargePower, 7.2);
    assert.equal(car.chargeLimit, 80);
    assert.equal(car.locked, true);
    assert.equal(car.sentry, 'Armed');
    assert.deepEqual(plain(car.location), { latitude: 37.77, longitude: -122.42 });
    assert.ok(typeof car.lastLive === 'number' && Date.now() - car.lastLive < 10000, 'last live time');
    // the map gets the very same fleet message as the cards
    const mapMsg = await out.map.next((m) => m.payload.cars.some((c) => c.vin === VIN_A && c.heading === 90));
    assert.ok(mapMsg.payload.cars.find((c) => c.vin === VIN_A).location);
    // charts: one series per car, named after it
    assert.deepEqual(await out.battery.next((m) => m.topic === 'Car A').then((m) => m.payload), 55.5);
    assert.deepEqual(await out.power.next((m) => m.topic === 'Car A').then((m) => m.payload), 7.2);

    // a second car: its own card; the first keeps its values
    await publishCar(VIN_B, { VehicleName: 'Car B', BatteryLevel: 30 });
    const fleet = await out.cards.next((m) => m.payload.cars.length === 2);
    assert.deepEqual(plain(fleet.payload.cars.map((c) => c.name)), ['Car A', 'Car B']);
    assert.equal(fleet.payload.cars[0].battery, 55.5);
  });

  it('asleep on DISCONNECTED, streaming again on live data; at most one fleet message a second', async function () {
    await publishCar(VIN_A, { VehicleName: 'Car A', BatteryLevel: 60 });
    await fleetCar(VIN_A, (c) => c.state === 'streaming');
    const createdAt = new Date(Date.now() - 5000).toISOString();
    await pub.publish(`telemetry/${VIN_A}/connectivity`, JSON.stringify({ ConnectionId: 'c1', CreatedAt: createdAt, Status: 'DISCONNECTED' }));
    const asleep = await fleetCar(VIN_A, (c) => c.state === 'asleep');
    assert.equal(asleep.since, Date.parse(createdAt), 'asleep since the connectivity message says');
    await publishCar(VIN_A, { BatteryLevel: 59 });
    const awake = await fleetCar(VIN_A, (c) => c.state === 'streaming' && c.battery === 59);
    assert.ok(awake.since > asleep.since);
    const times = out.cards.received.map((m) => m.payload.at);
    for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 900, `fleet messages ${times[i] - times[i - 1]} ms apart`);
  });

  it('page → command: only charging commands for a known car and a whole percent 50–100, each refusal said and counted', async function () {
    await publishCar(VIN_A, { VehicleName: 'Car A', ChargeLimitSoc: 80 });
    await fleetCar(VIN_A, (c) => c.chargeLimit === 80);
    const page = helper.getNode(ids.pageCommand);
    const statuses = [];
    const status = page.status.bind(page);
    page.status = (s) => {
      statuses.push(s);
      status(s);
    };
    const fromPage = (payload) => page.receive({ topic: 'command', payload, _client: { socketId: 'abc' }, _dashboard: { sourceId: 'x' } });
    const refusals = [
      [{ vin: 'WRONGVIN000000000', command: 'charge_start' }, /unknown car/],
      [{ vin: VIN_A, command: 'door_unlock' }, /not a dashboard command: "door_unlock"/],
      [{ vin: VIN_A, command: 'set_charge_limit', params: { percent: 49 } }, /whole percent from 50 to 100, not 49/],
      [{ vin: VIN_A, command: 'set_charge_limit', params: { percent: 80.5 } }, /not 80.5/],
      [{ vin: VIN_A, command: 'set_charge_limit', params: {} }, /not undefined/],
    ];
    for (const [payload, want] of refusals) {
      const before = warnings('function').length;
      fromPage(payload);
      await new Promise((r) => setImmediate(r));
      const said = warnings('function').slice(before);
      assert.equal(said.length, 1, `one warning for ${JSON.stringify(payload)}`);
      assert.match(said[0], want);
    }
    // then a good one: exactly this reaches vehicle-command, nothing of the page's socket
    fromPage({ vin: VIN_A, command: 'set_charge_limit', params: { percent: 85 } });
    const cmd = await out.command.next();
    assert.equal(out.command.received.length, 1, 'none of the refused inputs reached vehicle-command');
    assert.deepEqual(plain({ vin: cmd.vin, command: cmd.command, payload: cmd.payload, topic: cmd.topic }), {
      vin: VIN_A,
      command: 'set_charge_limit',
      payload: { percent: 85 },
      topic: `${VIN_A}/command/set_charge_limit`,
    });
    assert.equal(cmd._client, undefined);
    assert.equal(cmd._dashboard, undefined);
    const sending = await fleetCar(VIN_A, (c) => c.command && c.command.state === 'sending');
    assert.deepEqual(plain(sending.command.params), { percent: 85 });
    assert.match(statuses.at(-1).text, /^5 refused: /, 'the node counts what it refused');

    // vehicle-command's answer shows on the card, verified
    helper.getNode(ids.command).send({
      event: 'command',
      vin: VIN_A,
      topic: `${VIN_A}/command/set_charge_limit`,
      payload: { vin: VIN_A, command: 'set_charge_limit', params: { percent: 85 }, ok: true, state: 'done', reason: '', verified: true },
    });
    const done = await fleetCar(VIN_A, (c) => c.command && c.command.state === 'done');
    assert.equal(done.command.verified, true);
    assert.equal(done.command.command, 'set_charge_limit');

    // an input vehicle-command refuses (done(err)) reaches the card through the catch node
    helper.getNode(ids.command).error(new Error('charge_start: over the daily budget'), cmd);
    const failed = await fleetCar(VIN_A, (c) => c.command && c.command.state === 'error');
    assert.match(failed.command.reason, /over the daily budget/);
  });

  it("usage text: today's signals and cost from telemetry-config's usage answer, or what went wrong", async function () {
    const node = helper.getNode(ids.usageText);
    node.receive({
      payload: {
        day: '2025-01-02',
        signalsPerDollar: 150000,
        total: { signals: 12345, usd: 12345 / 150000 },
        vins: { [VIN_A]: {}, [VIN_B]: {} },
        advice: [],
      },
    });
    assert.equal((await out.usageUi.next()).payload, 'today: 12,345 signals ≈ $0.08 · 2 cars · UTC day 2025-01-02');
    node.receive({ payload: { day: '2025-01-02', total: { signals: 150, usd: 0.001 }, vins: { [VIN_A]: {} } } });
    assert.equal((await out.usageUi.next((m) => /150 signals/.test(m.payload))).payload, 'today: 150 signals ≈ $0.0010 · 1 car · UTC day 2025-01-02');
    const before = warnings('function').length;
    node.receive({ payload: 'nonsense' });
    await new Promise((r) => setImmediate(r));
    assert.match(warnings('function').slice(before).join('\n'), /not a usage answer: "nonsense"/);
    // what the catch node passes on when the usage node failed
    node.receive({ error: { message: 'usage needs a broker' } });
    assert.equal((await out.usageUi.next((m) => /unavailable/.test(m.payload))).payload, 'usage unavailable: usage needs a broker');
  });
});
