'use strict';
const { lib } = require('../../support/paths');
// FleetApiClient.command() and wakeUp() against the HTTPS double, through the real undici path.
const assert = require('node:assert/strict');
const { FleetApiClient } = lib('fleet-api');
const { startFleetDouble } = require('../../../dev/fleet-double');
const { CLIENT_ID, VIN, VIN2, carData } = require('./support');

async function failure(p) {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('expected the call to fail');
}

describe('Fleet API client: commands and wake_up (HTTPS double)', function () {
  let d;
  let clients;

  function client(extra = {}) {
    const c = new FleetApiClient({
      region: 'na',
      fleetApiUrl: d.url,
      proxyUrl: d.proxyUrl,
      proxyCa: d.ca,
      tokenUrl: d.tokenUrl,
      clientId: CLIENT_ID,
      refreshToken: d.currentRefreshToken,
      timeoutMs: 5000,
      ...extra,
    });
    clients.push(c);
    return c;
  }

  beforeEach(async function () {
    clients = [];
    d = await startFleetDouble({
      clientId: CLIENT_ID,
      vehicles: {
        [VIN]: { state: 'online', data: carData({ charge: { charging_state: 'Charging', charge_limit_soc: 80 } }) },
        [VIN2]: { state: 'asleep', wakeAfterChecks: 2 },
      },
    });
  });

  afterEach(async function () {
    await Promise.all(clients.map((c) => c.close()));
    await d.close();
  });

  it('command(): POST <proxy>/api/1/vehicles/{vin}/command/{name} with the JSON body, billed as a command', async function () {
    const c = client();
    const a = await c.command(VIN, 'set_charge_limit', { percent: 70 });
    assert.deepEqual({ result: a.result, reason: a.reason }, { result: true, reason: '' });
    assert.deepEqual(a.body, { response: { result: true, reason: '' } });
    const call = d.callsTo('/command/')[0];
    assert.equal(call.method, 'POST');
    assert.equal(call.path, `/proxy/api/1/vehicles/${VIN}/command/set_charge_limit`);
    assert.deepEqual(call.body, { percent: 70 });
    assert.equal(call.auth, 'valid');
    assert.equal(d.vehicle(VIN).data.charge_state.charge_limit_soc, 70, 'the double carried it out');
    const refused = await c.command(VIN, 'charge_start', {});
    assert.deepEqual({ result: refused.result, reason: refused.reason }, { result: false, reason: 'car could not execute command: is_charging' });
    assert.deepEqual(
      c.meter.today().calls,
      { data: 0, command: 2, wake: 0, free: 1 },
      'two commands (a refusal is billed too) and the token refresh',
    );
  });

  it('command(): a reason sent as `string`, an answer without result, a bad name', async function () {
    const c = client();
    d.failNext('/command/charge_start', { status: 200, body: { response: { result: false, string: 'car could not execute command: is_charging' } } });
    const a = await c.command(VIN, 'charge_start');
    assert.equal(a.reason, 'car could not execute command: is_charging');
    d.failNext('/command/door_lock', { status: 200, body: { response: {} } });
    const e = await failure(c.command(VIN, 'door_lock'));
    assert.equal(e.kind, 'bad-response');
    assert.match(e.message, /The answer to command door_lock for 5YJ3E1EA1SF000001 has no result/);
    const n = d.calls.length;
    for (const bad of ['Door_Lock', '../wake_up', 'door lock', '']) {
      assert.equal((await failure(c.command(VIN, bad))).kind, 'config', bad);
    }
    assert.equal((await failure(c.command(VIN, 'wake_up'))).kind, 'refused', 'command() cannot be used to wake');
    assert.equal(d.calls.length, n, 'nothing sent for a bad name');
  });

  it('command(): 408 asleep, 429 with Retry-After, 5xx not billed', async function () {
    const c = client();
    d.setVehicle(VIN, { state: 'asleep' });
    assert.equal((await failure(c.command(VIN, 'door_lock'))).kind, 'asleep');
    d.setVehicle(VIN, { state: 'online' });
    d.failNext('/command/', { status: 429, headers: { 'retry-after': '37' } });
    const rl = await failure(c.command(VIN, 'door_lock'));
    assert.equal(rl.kind, 'rate-limited');
    assert.equal(rl.retryAfterSeconds, 37);
    d.failNext('/command/', { status: 503, body: { error: 'vehicle unreachable' } });
    const e5 = await failure(c.command(VIN, 'door_lock'));
    assert.equal(e5.kind, 'server');
    assert.deepEqual(c.meter.today().calls.command, 2, '408 and 429 billed, 503 not');
    assert.equal(c.meter.today().unbilled, 1);
  });

  it('without a proxy a command goes to the Fleet API base URL (which wants it signed: 412)', async function () {
    const c = client({ proxyUrl: undefined });
    const e = await failure(c.command(VIN, 'door_lock'));
    assert.equal(e.kind, 'precondition');
    assert.equal(d.callsTo('/command/')[0].path, `/api/1/vehicles/${VIN}/command/door_lock`);
  });

  it('wakeUp(): POST …/wake_up billed as a wake; request() still refuses wake_up', async function () {
    const c = client();
    const st = await c.wakeUp(VIN2);
    assert.equal(st.state, 'asleep', 'a car takes a while to wake');
    assert.equal(d.callsTo('/wake_up', 'POST')[0].path, `/proxy/api/1/vehicles/${VIN2}/wake_up`);
    assert.equal((await c.getVehicle(VIN2)).state, 'asleep');
    assert.equal((await c.getVehicle(VIN2)).state, 'online', 'online from the second state check');
    assert.deepEqual(c.meter.today().calls, { data: 0, command: 0, wake: 1, free: 3 });
    assert.equal(c.meter.vinToday(VIN2).cost, 0.02);
    const e = await failure(c.request({ method: 'POST', path: `/api/1/vehicles/${VIN2}/wake_up`, category: 'wake', vin: VIN2 }));
    assert.equal(e.kind, 'refused');
    assert.equal(d.callsTo('/wake_up').length, 1);
  });
});
