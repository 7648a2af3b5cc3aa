'use strict';
const { lib } = require('../../support/paths');
// vehicle-data's free reads and units, the controller with a real BrokerConnection (messages
// through its decode path) and the real FleetApiClient over HTTPS to the Fleet API double, on a
// fake clock for freshness.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { BrokerConnection } = lib('stream/broker-connection');
const { VehicleDataController } = lib('fallback/controller');
const { FleetApiClient } = lib('fleet-api');
const { startFleetDouble } = require('../../../dev/fleet-double');
const { fakeClock } = require('../../support/clock');
const { recordingSink } = require('../../support/sink');

const VIN = '5YJ3E1EA7KF000001';
const CLIENT_ID = 'client-abc';
const MIN = 60_000;

describe('vehicle-data free reads and units (controller, real broker connection, HTTPS double)', function () {
  let double;
  let dir;
  const closers = [];
  beforeEach(async function () {
    double = await startFleetDouble({ clientId: CLIENT_ID, vehicles: { [VIN]: { state: 'online' } } });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'free-reads-'));
  });
  afterEach(async function () {
    for (const c of closers.splice(0).reverse()) await c();
    await double.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function setup({ clock = fakeClock(), options = {}, persist = false } = {}) {
    const conn = new BrokerConnection(
      { url: 'test://no-connection', topicBase: 't' },
      clock,
      persist ? { stateDir: dir, stateId: 'b1' } : { persist: false },
    );
    const client = new FleetApiClient({
      region: 'na',
      fleetApiUrl: double.url,
      tokenUrl: double.tokenUrl,
      proxyCa: double.ca,
      clientId: CLIENT_ID,
      refreshToken: double.currentRefreshToken,
      timeoutMs: 5000,
    });
    const sink = recordingSink();
    const ctl = new VehicleDataController(
      client,
      conn,
      {
        vins: [],
        mode: 'field',
        auto: false,
        staleAfterMs: 10 * MIN,
        pollIntervalMs: 10 * MIN,
        endpoints: ['charge_state', 'drive_state', 'location_data', 'vehicle_state'],
        dailyBudget: 0,
        ...options,
      },
      sink,
      clock,
    );
    ctl.start();
    closers.push(
      () => conn.close(),
      async () => client.close(),
      () => ctl.stop(),
    );
    const read = async (o = {}) => {
      const msgs = [];
      await ctl.readForInput([o.vin ?? VIN], (m) => msgs.push(...m), o.refresh === true);
      return msgs;
    };
    return { conn, ctl, sink, clock, read };
  }

  it('within staleAfter of a live message: answered from the car state, no request; at staleAfter: the API', async function () {
    const { conn, ctl, sink, clock, read } = setup({ options: { units: 'imperial', endpoints: ['climate_state', 'vehicle_state'] } });
    conn.inject(`t/${VIN}/v/InsideTemp`, '20');
    const t = clock.t;
    clock.advance(10 * MIN - 1);
    const cached = await read();
    assert.deepEqual(
      cached.map((m) => [m.event, m.field, m.payload, m.unit, m.source, m.cached, m.updatedAt, m.receivedAt]),
      [['data', 'InsideTemp', 68, '°F', 'telemetry', true, t, clock.t]],
    );
    assert.deepEqual(double.calls, []);
    assert.deepEqual(ctl.readsToday(), { day: ctl.readsToday().day, free: 1, billed: 0 });
    assert.match(sink.statuses.at(-1).text, / · 1 free$/);
    clock.advance(1);
    const api = await read();
    assert.ok(api.length > 10 && api.every((m) => m.source === 'api' && m.cached === undefined));
    assert.equal(api.find((m) => m.field === 'InsideTemp').payload, (38.4 * 9) / 5 + 32);
    assert.deepEqual(
      double.calls.filter((c) => c.via !== 'auth').map((c) => c.route),
      [`/api/1/vehicles/${VIN}`, `/api/1/vehicles/${VIN}/vehicle_data`],
    );
    assert.equal(ctl.readsToday().billed, 1);
  });

  it('refresh takes the API path even while the stream is fresh; a VIN only seen retained is not fresh', async function () {
    const { conn, read } = setup();
    conn.inject(`t/${VIN}/v/BatteryLevel`, '55');
    conn.inject('t/RETONLY/v/BatteryLevel', '55', true);
    const fresh = await read({ refresh: true });
    assert.equal(fresh.find((m) => m.field === 'BatteryLevel').source, 'api');
    const n = double.calls.length;
    await assert.rejects(read({ vin: 'RETONLY' })); // the double does not know it: the API answers 404
    assert.ok(double.calls.length > n, 'it asked the API');
  });

  it('staleAfter 0 (freshness off): any VIN heard live is answered from the car state', async function () {
    const { conn, clock, read } = setup({ options: { staleAfterMs: 0 } });
    conn.inject(`t/${VIN}/v/BatteryLevel`, '55');
    clock.advance(48 * 60 * MIN);
    const msgs = await read();
    assert.equal(msgs[0].cached, true);
    assert.deepEqual(double.calls, []);
  });

  it('free reads survive a restart: a restored VIN whose last live message is within staleAfter', async function () {
    const clock = fakeClock();
    const first = new BrokerConnection({ url: 'test://no-connection', topicBase: 't' }, clock, { stateDir: dir, stateId: 'b1' });
    first.inject(`t/${VIN}/v/Odometer`, '1000');
    await first.close();
    clock.advance(2 * MIN);
    const { read } = setup({ clock, persist: true, options: { units: 'metric', mode: 'vehicle' } });
    const [snap] = await read();
    assert.deepEqual([snap.event, snap.cached, snap.payload, snap.units], ['vehicle', true, { Odometer: 1609.344 }, { Odometer: 'km' }]);
    assert.deepEqual(double.calls, []);
  });

  it('units on the API path in vehicle mode: payload converted, `changed` still compares values as sent', async function () {
    const { read } = setup({ options: { units: 'metric', mode: 'vehicle' } });
    const [a] = await read({ refresh: true });
    const [b] = await read({ refresh: true });
    assert.equal(a.payload.Odometer, 15720.074889 * 1.609344);
    assert.equal(a.units.Odometer, 'km');
    assert.equal(a.raw.Odometer, 15720.074889);
    assert.ok(a.changed.includes('Odometer'));
    assert.deepEqual(b.changed, [], 'nothing changed between two identical answers');
    assert.equal(b.payload.Odometer, a.payload.Odometer);
  });

  it('the billed-read counter follows Tesla: a 4xx answer is billed, a 5xx is not', async function () {
    const { ctl, read } = setup();
    double.failNext(/vehicle_data/, { status: 500, body: { response: null, error: 'internal_error' } });
    await assert.rejects(read({ refresh: true }));
    assert.equal(ctl.readsToday().billed, 0);
    double.failNext(/vehicle_data/, { status: 429, headers: { 'retry-after': '1' }, body: { response: null, error: 'Too Many Requests' } });
    await assert.rejects(read({ refresh: true }));
    assert.equal(ctl.readsToday().billed, 1);
  });
});
