'use strict';
const { lib } = require('../support/paths');
/**
 * Soak: deploy, redeploy and delete every node type 200 times against aedes
 * and the HTTPS Fleet API double, exercising each deployment (an MQTT message, a vehicle_data
 * read, a telemetry-config action). Between cycle 20 and cycle 200 nothing may grow beyond
 * noise: open handles by kind (sockets, TLS sockets, timers, ...), MQTT clients at the broker,
 * and the heap after a full GC.
 *
 *   npm run test:soak   (node --expose-gc node_modules/.bin/mocha --no-config --timeout 600000 test/soak/*.test.js)
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const v8 = require('node:v8');
const { once } = require('node:events');
const { startBroker, publisher } = require('../support/broker');
const { helper, nodeModules, collector, connected } = require('../support/red');
const { startFleetDouble } = require('../../dev/fleet-double');

/** Classes whose live instances are counted after a full GC (v8.queryObjects, Node ≥ 20.13). */
const COUNTED = {
  FleetApiClient: lib('fleet-api').FleetApiClient,
  BrokerConnection: lib('stream/broker-connection').BrokerConnection,
  FreshnessTracker: lib('stream/freshness').FreshnessTracker,
  Watcher: lib('stream/freshness').Watcher,
  TelemetryInController: lib('stream/controller').TelemetryInController,
  VehicleDataController: lib('fallback/controller').VehicleDataController,
  Coalescer: lib('stream/coalesce').Coalescer,
  MqttClient: require('mqtt').MqttClient,
  'undici Agent': require('undici').Agent,
  AsyncLocalStorage: require('node:async_hooks').AsyncLocalStorage,
  'Node-RED Node': require('@node-red/runtime/lib/nodes/Node'),
};

const CYCLES = Number(process.env.SOAK_CYCLES) || 200;
const BASELINE = 20;
const VIN = '5YJ3E1EA7KF0CHURN';
const CLIENT_ID = 'churn-client';
/** Allowed growth between the baseline and the last cycle. */
const HANDLE_TOLERANCE = 1; // per kind of handle
const HEAP_TOLERANCE = 4 * 1024 * 1024; // bytes, after a full GC (a run measures about +0.2 MB)

const tick = () => new Promise((r) => setImmediate(r));

describe('soak: deploy, redeploy and delete 200 times', function () {
  this.timeout(600_000);
  let broker;
  let pub;
  let double;
  let userDir;

  before(async function () {
    if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc (npm run test:soak)');
    await new Promise((r) => helper.startServer(r));
    broker = await startBroker();
    pub = await publisher(broker.url);
    double = await startFleetDouble({ clientId: CLIENT_ID, vehicles: { [VIN]: { state: 'online' } } });
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'churn-user-'));
    helper.settings({ userDir });
  });
  after(async function () {
    await helper.unload();
    await pub?.end();
    await broker?.close();
    await double?.close();
    helper.settings({ userDir: undefined });
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
    await new Promise((r) => helper.stopServer(r));
  });

  /** Every node type; `variant` changes a property of each node so a redeploy restarts all of them. */
  function flow(variant) {
    return [
      { id: 'tab1', type: 'tab', label: 'churn' },
      { id: 'b1', z: 'tab1', type: 'telemetry-broker', url: broker.url, topicBase: 'telemetry', clientId: '', reconnectPeriod: 0.2 + variant / 10 },
      {
        id: 'acc1',
        type: 'tesla-account',
        region: 'na',
        proxyUrl: double.proxyUrl,
        proxyCa: double.ca,
        tokenUrl: double.tokenUrl,
        domain: `fleet${variant}.example.com`,
      },
      {
        id: 'in1',
        z: 'tab1',
        type: 'telemetry-in',
        broker: 'b1',
        vins: '',
        fields: '',
        mode: variant ? 'vehicle' : 'field',
        quietTime: 5,
        staleAfter: 60 + variant,
        retained: 'flag',
        wires: [['o1'], ['o1'], ['o1']],
      },
      {
        id: 'vd1',
        z: 'tab1',
        type: 'vehicle-data',
        account: 'acc1',
        broker: 'b1',
        vins: VIN,
        mode: 'field',
        auto: true,
        staleAfter: 60,
        pollInterval: 10 + variant,
        endpoints: 'charge_state',
        dailyBudget: 0,
        wires: [['o2']],
      },
      {
        id: 'tc1',
        z: 'tab1',
        type: 'telemetry-config',
        account: 'acc1',
        vins: [VIN],
        action: 'status',
        hostname: `t${variant}.example.com`,
        port: 4443,
        fields: { BatteryLevel: { interval_seconds: 60 } },
        wires: [['o3']],
      },
      { id: 'o1', z: 'tab1', type: 'helper' },
      { id: 'o2', z: 'tab1', type: 'helper' },
      { id: 'o3', z: 'tab1', type: 'helper' },
    ];
  }
  const credentials = () => ({ b1: { username: '', password: '' }, acc1: { clientId: CLIENT_ID, refreshToken: REFRESH } });
  let REFRESH;

  /** An MQTT message through telemetry-in, a vehicle_data read, a telemetry-config action. */
  async function exercise(cycle) {
    await connected('b1');
    const o1 = collector(helper.getNode('o1'));
    const o2 = collector(helper.getNode('o2'));
    const o3 = collector(helper.getNode('o3'));
    await pub.publish(`telemetry/${VIN}/v/BatteryLevel`, String(cycle % 100));
    await o1.next((m) => m.vin === VIN);
    helper.getNode('vd1').receive({ vin: VIN });
    await o2.next((m) => m.field === 'BatteryLevel');
    helper.getNode('tc1').receive({});
    await o3.next((m) => m.topic === 'telemetry-config/status');
  }

  const ourClients = () => Object.keys(broker.aedes.clients).filter((id) => !id.startsWith('pub-')).length;

  /** Waits (at most 5 s) until the broker has seen the deleted flow's MQTT client go, then a full GC. */
  async function settle() {
    let timer;
    const limit = new Promise((r) => (timer = setTimeout(r, 5000)));
    while (ourClients() > 0) {
      const gone = await Promise.race([once(broker.aedes, 'clientDisconnect').then(() => true), limit.then(() => false)]);
      if (!gone) break; // measured and reported below
    }
    clearTimeout(timer);
    for (let i = 0; i < 5; i++) await tick();
    global.gc();
    await tick();
    global.gc();
  }

  function measure(cycle) {
    const handles = {};
    for (const r of process.getActiveResourcesInfo()) handles[r] = (handles[r] || 0) + 1;
    const objects = {};
    if (typeof v8.queryObjects === 'function') {
      for (const [name, ctor] of Object.entries(COUNTED)) objects[name] = v8.queryObjects(ctor, { format: 'count' });
    }
    return {
      cycle,
      handles,
      objects,
      mqttClients: ourClients(),
      heapUsed: process.memoryUsage().heapUsed,
      heapTotal: v8.getHeapStatistics().used_heap_size,
      fleetConnections: double.connections,
    };
  }

  it(`${CYCLES} cycles: no growth in sockets, MQTT clients, timers or heap between cycle ${BASELINE} and the last`, async function () {
    REFRESH = double.currentRefreshToken;
    const modules = nodeModules('telemetry-broker', 'telemetry-in', 'tesla-account', 'vehicle-data', 'telemetry-config');
    const samples = [];
    const t0 = Date.now();
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      // Deploy.
      await helper.load(modules, flow(0), credentials());
      await exercise(cycle);
      // Redeploy with every node changed (Node-RED stops and recreates them all).
      await helper.setFlows(flow(1), 'full', credentials());
      await exercise(cycle);
      // Delete.
      await helper.unload();
      double.calls.length = 0; // the double's own record of every request is not the package's memory
      if (cycle === BASELINE || cycle === CYCLES || cycle % 50 === 0) {
        await settle();
        samples.push(measure(cycle));
        // For a leak hunt: SOAK_SNAPSHOTS=<dir> writes a heap snapshot at each sample.
        if (process.env.SOAK_SNAPSHOTS) v8.writeHeapSnapshot(path.join(process.env.SOAK_SNAPSHOTS, `cycle-${cycle}.heapsnapshot`));
      }
    }
    const elapsed = Date.now() - t0;

    const mb = (n) => `${(n / 1024 / 1024).toFixed(1)} MB`;
    console.log(`      ${CYCLES} cycles in ${(elapsed / 1000).toFixed(1)} s`);
    for (const s of samples) {
      console.log(
        `      cycle ${String(s.cycle).padStart(3)}: heapUsed ${mb(s.heapUsed)}, used_heap_size ${mb(s.heapTotal)}, ` +
          `MQTT clients ${s.mqttClients}, Fleet API connections so far ${s.fleetConnections}, handles ${JSON.stringify(s.handles)}`,
      );
      console.log(`                 live objects ${JSON.stringify(s.objects)}`);
    }

    const first = samples.find((s) => s.cycle === BASELINE);
    const last = samples.find((s) => s.cycle === CYCLES);
    assert.equal(first.mqttClients, 0, 'no MQTT client of a deleted flow at the broker');
    assert.equal(last.mqttClients, 0, 'no MQTT client of a deleted flow at the broker');
    for (const kind of new Set([...Object.keys(first.handles), ...Object.keys(last.handles)])) {
      const grew = (last.handles[kind] || 0) - (first.handles[kind] || 0);
      assert.ok(grew <= HANDLE_TOLERANCE, `${kind}: ${first.handles[kind] || 0} at cycle ${BASELINE}, ${last.handles[kind] || 0} at cycle ${CYCLES}`);
    }
    // The test helper's spies keep the nodes of the last cycle or two reachable (through the
    // calls they recorded), so a count moves by up to one cycle's worth (21 Node-RED nodes);
    // a leak of one object per deployment adds 2 per cycle, 360 over 180 cycles.
    const objectTolerance = (CYCLES - BASELINE) / 4;
    for (const name of Object.keys(last.objects)) {
      assert.ok(
        last.objects[name] - first.objects[name] < objectTolerance,
        `live ${name}: ${first.objects[name]} at cycle ${BASELINE}, ${last.objects[name]} at cycle ${CYCLES}`,
      );
    }
    assert.ok(
      last.heapUsed - first.heapUsed < HEAP_TOLERANCE,
      `heap after GC grew ${mb(last.heapUsed - first.heapUsed)} between cycle ${BASELINE} and ${CYCLES}`,
    );
    assert.ok(last.fleetConnections > first.fleetConnections, 'the Fleet API double was used in every cycle');
  });
});
