'use strict';
// vehicle-data and tesla-account in a real Node-RED runtime, against a real MQTT broker (aedes)
// and the HTTPS Fleet API / proxy double, trusted through its CA (never a disabled check).
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startBroker, publisher } = require('../support/broker');
const { helper, nodeModules, collector, connected, statusIs } = require('../support/red');
const { startFleetDouble } = require('../../dev/fleet-double');

const VIN = '5YJ3E1EA7KF000001';
const CLIENT_ID = 'client-abc';

describe('vehicle-data (Node-RED runtime, aedes, HTTPS Fleet API double)', function () {
  let broker;
  let pub;
  let double;
  let userDir;

  before(async function () {
    await new Promise((r) => helper.startServer(r));
  });
  after(async function () {
    await new Promise((r) => helper.stopServer(r));
  });
  beforeEach(async function () {
    broker = await startBroker();
    pub = await publisher(broker.url);
    double = await startFleetDouble({ clientId: CLIENT_ID, vehicles: { [VIN]: { state: 'online' } } });
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vd-user-'));
    helper.settings({ userDir });
  });
  afterEach(async function () {
    await helper.unload();
    await pub.end();
    await broker.close();
    await double.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  function flow(node = {}, account = {}) {
    return [
      { id: 'b1', type: 'telemetry-broker', url: broker.url, topicBase: 'telemetry', reconnectPeriod: 0.2 },
      {
        id: 'acc1',
        type: 'tesla-account',
        region: 'na',
        proxyUrl: double.proxyUrl,
        proxyCa: double.ca,
        tokenUrl: double.tokenUrl,
        domain: 'fleet.example.com',
        ...account,
      },
      {
        id: 'vd1',
        type: 'vehicle-data',
        account: 'acc1',
        broker: 'b1',
        vins: '',
        mode: 'field',
        auto: true,
        staleAfter: 0.01,
        pollInterval: 0.02,
        endpoints: 'charge_state;drive_state;location_data;vehicle_state',
        dailyBudget: 0,
        wires: [['out1']],
        ...node,
      },
      { id: 'out1', type: 'helper' },
    ];
  }
  const creds = (refreshToken = double.currentRefreshToken) => ({ acc1: { clientId: CLIENT_ID, refreshToken } });
  const apiCalls = () => double.calls.filter((c) => /\/api\/1\//.test(c.path));

  async function load(node, account, credentials = creds()) {
    await helper.load(nodeModules('telemetry-broker', 'tesla-account', 'vehicle-data'), flow(node, account), credentials);
    if (node?.broker !== '') await connected('b1');
    return { out: collector(helper.getNode('out1')), node: helper.getNode('vd1') };
  }

  it('makes no HTTP call while the stream is live, polls (state check first) once it is stale, and stops when it is back', async function () {
    const { out } = await load();
    // Stream for 2 s with messages 150 ms apart (staleAfter is 600 ms).
    for (let i = 0; i < 14; i++) {
      await pub.publish(`telemetry/${VIN}/v/BatteryLevel`, String(50 + i));
      await new Promise((r) => setTimeout(r, 150));
    }
    assert.deepEqual(apiCalls(), [], 'no Fleet API call while the stream is live');
    // Silence: the fallback reads the car.
    const msg = await out.next((m) => m.field === 'BatteryLevel');
    assert.equal(msg.source, 'api');
    assert.equal(msg.event, 'data');
    assert.equal(msg.topic, `${VIN}/BatteryLevel`);
    assert.equal(msg.payload, 42);
    assert.equal(msg.raw, 42);
    assert.equal(msg.vehicleData.charge_state.battery_level, 42);
    const loc = await out.next((m) => m.field === 'Location');
    assert.deepEqual(Object.keys(loc.payload).sort(), ['latitude', 'longitude']);
    const calls = apiCalls();
    assert.equal(calls[0].method, 'GET');
    assert.equal(calls[0].route, `/api/1/vehicles/${VIN}`);
    assert.equal(calls[0].via, 'proxy');
    assert.equal(calls[1].route, `/api/1/vehicles/${VIN}/vehicle_data`);
    assert.equal(calls[1].query.endpoints, 'charge_state;drive_state;location_data;vehicle_state');
    assert.ok(calls.every((c) => c.auth === 'valid'));
    // The car falls asleep: state checks only, one asleep message, never a wake.
    double.setVehicle(VIN, { state: 'asleep' });
    const asleep = await out.next((m) => m.event === 'asleep');
    assert.equal(asleep.topic, `${VIN}/asleep`);
    assert.deepEqual(asleep.payload, { state: 'asleep' });
    assert.equal(asleep.source, 'api');
    const afterSleep = apiCalls().slice(apiCalls().findIndex((c) => c.at >= asleep.receivedAt - 5000));
    assert.equal(double.calls.filter((c) => /wake_up/.test(c.path)).length, 0, 'never wakes the car');
    // The stream comes back: polling stops.
    double.setVehicle(VIN, { state: 'online' });
    await pub.publish(`telemetry/${VIN}/v/BatteryLevel`, '70');
    const n = apiCalls().length;
    for (let i = 0; i < 10; i++) {
      await pub.publish(`telemetry/${VIN}/v/BatteryLevel`, String(70 + i));
      await new Promise((r) => setTimeout(r, 300)); // 3 s: more than two poll intervals
    }
    assert.ok(apiCalls().length <= n + 2, `calls after the stream returned: ${apiCalls().length - n}`);
    assert.ok(
      afterSleep.every((c) => !/vehicle_data/.test(c.route) || c.at < asleep.receivedAt),
      'no vehicle_data while asleep',
    );
  });

  it('on input reads msg.vin: an asleep car gives an asleep message every time and no billed call', async function () {
    double.setVehicle(VIN, { state: 'asleep' });
    const { out, node } = await load({ auto: false, broker: '' });
    node.receive({ vin: VIN });
    await out.next((m) => m.event === 'asleep');
    node.receive({ vin: VIN });
    await out.next((m) => m.event === 'asleep', 1);
    assert.equal(out.received.length, 2);
    assert.deepEqual(
      apiCalls().map((c) => c.route),
      [`/api/1/vehicles/${VIN}`, `/api/1/vehicles/${VIN}`],
    );
    double.setVehicle(VIN, { state: 'online' });
    const status = statusIs(node, (s) => /today 1 calls ≈ \$0\.002/.test(s.text || ''));
    node.receive({ vin: VIN });
    await out.next((m) => m.field === 'VehicleName');
    await status;
  });

  it("a 'modified nodes' deploy that changes only vehicle-data keeps the account (its client, today's billed calls) and the broker session", async function () {
    const settings = { auto: true, vins: VIN, staleAfter: 60 };
    const { out, node } = await load(settings);
    const conn = await connected('b1');
    const client = helper.getNode('acc1').client;
    node.receive({ vin: VIN });
    await out.next((m) => m.field === 'BatteryLevel');
    assert.equal(client.meter.billedToday(VIN), 1);
    const from = out.received.length;

    await helper.setFlows(flow({ ...settings, name: 'renamed' }), 'nodes');
    const again = helper.getNode('vd1');
    assert.notEqual(again, node, 'vehicle-data was re-created');
    assert.equal(helper.getNode('acc1').client, client, 'the account was not: same client, same meter');
    assert.equal(helper.getNode('b1').connection, conn, 'nor the broker');
    assert.equal(conn.state, 'connected');
    assert.equal(conn.stats.connects, 1, 'no new MQTT connection');
    const status = statusIs(again, (s) => /today 2 calls/.test(s.text || ''));
    again.receive({ vin: VIN });
    await out.next((m) => m.field === 'BatteryLevel', from);
    assert.equal(client.meter.billedToday(VIN), 2, "the day's count went on");
    await status;
  });

  it('errors reach a Catch node with done(err), and nothing secret is in them', async function () {
    const { out } = await load({ auto: false, broker: '' });
    await helper.unload();
    const f = flow({ auto: false, broker: '' });
    f.push({ id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] }, { id: 'caught', type: 'helper' });
    // The helper loads core nodes such as catch by itself.
    await helper.load(nodeModules('telemetry-broker', 'tesla-account', 'vehicle-data'), f, creds());
    const caught = collector(helper.getNode('caught'));
    double.failNext(/vehicle_data/, { status: 429, headers: { 'retry-after': '120' }, body: { response: null, error: 'Too Many Requests' } });
    helper.getNode('vd1').receive({ vin: VIN });
    const err = await caught.next();
    assert.match(err.error.message, /rate/i);
    assert.equal(out.received.length, 0);
    const secrets = double.secrets();
    const text = JSON.stringify(err);
    for (const s of secrets) assert.ok(!text.includes(s), 'a secret leaked into the error');
  });

  it('keeps the rotated refresh token in a 0600 file and uses it after a restart', async function () {
    const first = double.currentRefreshToken;
    const { out, node } = await load({ auto: false, broker: '' }, {}, creds(first));
    node.receive({ vin: VIN });
    await out.next((m) => m.field === 'BatteryLevel');
    assert.notEqual(double.currentRefreshToken, first, 'the double rotated the refresh token');
    const dir = path.join(userDir, 'tesla-fleet-telemetry');
    const files = fs.readdirSync(dir);
    assert.deepEqual(files, ['acc1.json']);
    assert.equal(fs.statSync(path.join(dir, files[0])).mode & 0o777, 0o600);
    await helper.unload();
    // Restart with the same (now used, refused) deployed token: the file's rotated one works.
    double.revokeAccessTokens();
    const again = await load({ auto: false, broker: '' }, {}, creds(first));
    again.node.receive({ vin: VIN });
    const msg = await again.out.next((m) => m.field === 'BatteryLevel');
    assert.equal(msg.payload, 42);
    const tokenCalls = double.calls.filter((c) => c.via === 'auth');
    assert.deepEqual(
      tokenCalls.map((c) => c.refreshToken),
      ['valid', 'valid'],
      'both refreshes used a valid token',
    );
  });
});
