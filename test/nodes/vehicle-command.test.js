'use strict';
// vehicle-command in a real Node-RED runtime: commands through the HTTPS double's proxy path
// (trusted through its CA), confirmation from a real MQTT broker (aedes), errors to a Catch node.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startBroker, publisher } = require('../support/broker');
const { helper, nodeModules, collector, connected, statusIs } = require('../support/red');
const { startFleetDouble } = require('../../dev/fleet-double');
const { until } = require('../unit/commands/support');

const VIN = '5YJ3E1EA7KF000001';
const VIN2 = '5YJSA1E2XHF000002';
const CLIENT_ID = 'client-cmd';
const CLIENT_SECRET = 'cs-SECRET-node-test-0123456789';

describe('vehicle-command (Node-RED runtime, aedes, HTTPS Fleet API double through the proxy)', function () {
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
    double = await startFleetDouble({
      clientId: CLIENT_ID,
      vehicles: { [VIN]: { state: 'online' }, [VIN2]: { state: 'online' } },
    });
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vc-user-'));
    helper.settings({ userDir });
  });
  afterEach(async function () {
    await helper.unload();
    await pub.end();
    await broker.close();
    await double.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  function flow(node = {}) {
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
      },
      {
        id: 'vc1',
        type: 'vehicle-command',
        account: 'acc1',
        broker: '',
        vins: '',
        command: '',
        params: {},
        wake: 'never',
        allowUnlock: false,
        minInterval: 0,
        verify: 60,
        dailyBudget: 0,
        wires: [['out1']],
        ...node,
      },
      { id: 'out1', type: 'helper' },
      { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ];
  }
  const creds = () => ({ acc1: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: double.currentRefreshToken } });
  const apiCalls = () => double.calls.filter((c) => /\/api\/1\//.test(c.path));
  const commandCalls = () => double.calls.filter((c) => /\/command\//.test(c.path));

  /** Loads the flow; `statuses` records every status of the command node from the start. */
  async function load(node) {
    const statuses = [];
    const f = flow(node);
    await helper.load(nodeModules('telemetry-broker', 'tesla-account', 'vehicle-command'), f, creds());
    const vc = helper.getNode('vc1');
    if (f[2].broker) await connected('b1');
    const orig = vc.status.bind(vc);
    vc.status = (s) => {
      statuses.push(s);
      orig(s);
    };
    return { node: vc, out: collector(helper.getNode('out1')), caught: collector(helper.getNode('caught')), statuses };
  }

  it("an input becomes one command per car through the proxy and one answer each, the input's own properties kept", async function () {
    const { node, out } = await load({ command: 'set_charging_amps' });
    const cost = statusIs(node, (s) => /today 2 commands ≈ \$0\.002/.test(s.text || ''));
    node.receive({ payload: 16, vins: [VIN, VIN2], correlationId: 'solar-42', topic: 'pv' });
    await out.next((m) => m.vin === VIN);
    await out.next((m) => m.vin === VIN2);
    assert.equal(out.received.length, 2);
    for (const m of out.received) {
      assert.equal(m.event, 'command');
      assert.equal(m.topic, `${m.vin}/command/set_charging_amps`);
      assert.equal(m.source, 'api');
      assert.ok(Math.abs(m.receivedAt - Date.now()) < 10_000);
      assert.equal(m.correlationId, 'solar-42', "the input's own property goes on");
      assert.equal(m.vins, undefined, 'what the node read from the input does not');
      assert.equal(m.command, undefined);
      assert.deepEqual(m.payload, {
        vin: m.vin,
        command: 'set_charging_amps',
        params: { charging_amps: 16 },
        ok: true,
        state: 'done',
        reason: null,
        teslaReason: null,
        verified: null,
        verifiedAt: null,
      });
      assert.deepEqual(m.response, { response: { result: true, reason: '' } });
    }
    await cost;
    // Per car: the free state check, then the command, both through the proxy with a valid token.
    for (const vin of [VIN, VIN2]) {
      const calls = apiCalls().filter((c) => c.path.includes(vin));
      assert.deepEqual(
        calls.map((c) => `${c.method} ${c.route}`),
        [`GET /api/1/vehicles/${vin}`, `POST /api/1/vehicles/${vin}/command/set_charging_amps`],
      );
      assert.ok(calls.every((c) => c.via === 'proxy' && c.auth === 'valid'));
      assert.deepEqual(calls[1].body, { charging_amps: 16 });
    }
    assert.equal(double.vehicle(VIN).data.charge_state.charge_current_request, 16, 'the double carried it out');
  });

  it('a parameter set in the node is sent whatever the payload; msg.command is ignored when the node has one', async function () {
    const { node, out } = await load({ command: 'set_charge_limit', params: { percent: 80 }, vins: VIN });
    node.receive({ payload: 1733212800000, command: 'honk_horn' }); // an inject node's timestamp
    const m = await out.next();
    assert.deepEqual([m.payload.command, m.payload.params, m.payload.state], ['set_charge_limit', { percent: 80 }, 'done']);
    assert.deepEqual(
      commandCalls().map((c) => [c.route, c.body]),
      [[`/api/1/vehicles/${VIN}/command/set_charge_limit`, { percent: 80 }]],
    );
  });

  it('a wrong input is done(err) naming it, caught by a Catch node, with no HTTP call at all', async function () {
    const { node, out, caught } = await load({ vins: VIN });
    const cases = [
      [{ command: 'open_trunk' }, /unknown command the string "open_trunk"/],
      [{ command: 'set_charging_amps', payload: 49 }, /msg\.payload\.charging_amps must be an integer from 0 to 48; got 49/],
      [{ command: 'set_charge_limit', payload: { percent: '80' } }, /msg\.payload\.percent must be an integer from 50 to 100; got the string "80"/],
      [{ command: 'door_lock', vin: 'WBA-123' }, /VIN the string "WBA-123" is not 17 letters and digits/],
      [{ command: 'door_unlock' }, /door_unlock opens the car .* tick "allow unlock"/],
      [{ payload: 1 }, /no command/],
    ];
    for (const [i, [msg, re]] of cases.entries()) {
      node.receive({ ...msg, _case: i });
      const err = await caught.next((m) => m._case === i);
      assert.match(err.error.message, re);
      assert.equal(err.error.source.id, 'vc1');
    }
    assert.equal(out.received.length, 0);
    assert.deepEqual(double.calls, [], 'not even a token request');
  });

  it('a node whose settings cannot be used sends nothing: its status and its errors name the property', async function () {
    const { node, out, caught } = await load({ vins: VIN, command: 'door_lock', dailyBudget: 'lots', wake: 'sometimes' });
    node.receive({});
    const err = await caught.next();
    assert.match(
      err.error.message,
      /wake must be "never" or "allow"; got the string "sometimes"\..*dailyBudget must be a whole number .* got the string "lots"\. Nothing is sent/,
    );
    assert.equal(out.received.length, 0);
    assert.deepEqual(double.calls, []);
    const logged = helper
      .log()
      .args.map((a) => a[0])
      .filter((e) => e && e.type === 'vehicle-command' && e.level === 20);
    assert.equal(logged.length, 1, 'one error when the node starts');
    assert.match(String(logged[0].msg), /dailyBudget must be a whole number/);
  });

  it('confirmation through the broker: the live value published to aedes makes verified true at its arrival time', async function () {
    const { node, out } = await load({ broker: 'b1', command: 'set_charge_limit', vins: VIN, verify: 10 });
    const answered = statusIs(node, (s) => /today 1 command /.test(s.text || '')); // the command's answer was counted
    node.receive({ payload: { percent: 70 } });
    await answered;
    assert.equal(out.received.length, 0, 'the answer waits for the stream');
    const published = Date.now();
    await pub.publish(`telemetry/${VIN}/v/ChargeLimitSoc`, '70');
    const m = await out.next();
    assert.deepEqual([m.payload.state, m.payload.verified], ['done', true]);
    assert.ok(m.payload.verifiedAt >= published && m.payload.verifiedAt <= Date.now(), 'verifiedAt: when the message arrived');
  });

  it('confirmation: a value the car state already holds confirms at once; nothing within verify seconds is verified false', async function () {
    // The server's retained value: the car is locked already.
    await pub.publish(`telemetry/${VIN}/v/Locked`, 'true', { retain: true });
    const { node, out } = await load({ broker: 'b1', vins: VIN, verify: 0.4 });
    await new Promise((resolve) => {
      // The retained value reaches the node's car state once the broker redelivers it.
      const conn = helper.getNode('b1').connection;
      const user = { onMessage: (d) => d.name === 'Locked' && resolve(conn.deregister(user)), onBadInput() {}, onConnection() {} };
      conn.register(user);
    });
    const t0 = Date.now();
    node.receive({ command: 'door_lock' });
    const locked = await out.next();
    assert.deepEqual([locked.payload.state, locked.payload.verified], ['done', true]);
    assert.ok(locked.payload.verifiedAt >= t0);
    node.receive({ command: 'auto_conditioning_start' });
    const hvac = await out.next((m) => m.payload.command === 'auto_conditioning_start');
    assert.deepEqual([hvac.payload.state, hvac.payload.verified, hvac.payload.verifiedAt], ['done', false, null]);
    assert.ok(hvac.receivedAt - t0 >= 400, 'after the verify time');
  });

  it('an asleep car: never woken, state asleep, only the free state check; with wake allowed: one wake_up, then the command', async function () {
    double.setVehicle(VIN, { state: 'asleep' });
    const { node, out } = await load({ command: 'door_lock', vins: VIN });
    node.receive({});
    const m = await out.next();
    assert.deepEqual([m.payload.state, m.payload.ok, m.payload.verified], ['asleep', false, null]);
    assert.match(m.payload.reason, /asleep; it was not woken/);
    assert.equal(m.response, null);
    assert.deepEqual(
      apiCalls().map((c) => `${c.method} ${c.route}`),
      [`GET /api/1/vehicles/${VIN}`],
    );
    await helper.unload();

    double.calls.length = 0;
    const woken = await load({ command: 'door_lock', vins: VIN, wake: 'allow' });
    const status = statusIs(woken.node, (s) => /1 command, 1 wake ≈ \$0\.021/.test(s.text || ''));
    woken.node.receive({});
    const w = await woken.out.next();
    assert.equal(w.payload.state, 'done');
    assert.deepEqual(
      apiCalls().map((c) => `${c.method} ${c.route}`),
      [`GET /api/1/vehicles/${VIN}`, `POST /api/1/vehicles/${VIN}/wake_up`, `POST /api/1/vehicles/${VIN}/command/door_lock`],
    );
    await status;
  });

  it('no token or secret in any message, log, error or status', async function () {
    const { node, out, caught, statuses } = await load({ command: 'set_charging_amps', vins: VIN, broker: 'b1', verify: 0.2 });
    node.receive({ payload: 8 });
    await out.next();
    double.failNext('/command/', { status: 500, body: { error: 'proxy could not reach the car' } });
    node.receive({ payload: 9 });
    await out.next((m) => m.payload.state === 'error');
    double.revokeAccessTokens();
    double.setRefreshToken('rt-someone-else');
    node.receive({ payload: 10 });
    await out.next((m) => m.payload.params.charging_amps === 10);
    node.receive({ payload: 'lots' });
    await caught.next();
    const logged = helper.log().args.map((a) => JSON.stringify(a[0]));
    const everything = JSON.stringify([out.received, caught.received, statuses, logged]);
    const secrets = [...double.secrets(), CLIENT_SECRET].filter(Boolean);
    assert.ok(secrets.length >= 3);
    for (const s of secrets) assert.ok(!everything.includes(s), `a secret leaked: ${s.slice(0, 6)}…`);
    assert.ok(out.received.length >= 3 && statuses.length >= 3 && logged.length > 0, 'there was something to look at');
  });

  it('the editor gets the command table and the prices from the runtime (one table)', async function () {
    await load();
    const res = await helper.request().get('/tesla-fleet-telemetry/commands');
    assert.equal(res.status, 200);
    const { COMMANDS } = require('../support/paths').lib('commands/table');
    assert.deepEqual(
      res.body.commands.map((c) => c.name),
      COMMANDS.map((c) => c.name),
    );
    const amps = res.body.commands.find((c) => c.name === 'set_charging_amps');
    assert.deepEqual(amps, {
      name: 'set_charging_amps',
      params: [{ name: 'charging_amps', type: 'integer', min: 0, max: 48 }],
      opensCar: false,
      confirmedBy: 'ChargeCurrentRequest',
    });
    assert.deepEqual(res.body.price, { command: 0.001, wake: 0.02 });
  });

  it('a redeploy while waiting for the stream leaves no timer behind and sends nothing after', async function () {
    // Every 600 s timer (the node's wait for the stream) and whether it was cleared.
    const waits = new Set();
    const { setTimeout: realSet, clearTimeout: realClear } = global;
    global.setTimeout = (fn, ms, ...args) => {
      const h = realSet(fn, ms, ...args);
      if (ms === 600_000) waits.add(h);
      return h;
    };
    global.clearTimeout = (h) => {
      waits.delete(h);
      return realClear(h);
    };
    try {
      const { node, out } = await load({ broker: 'b1', vins: VIN, verify: 600 });
      node.receive({ command: 'set_charge_limit', payload: 66 });
      await until(() => waits.size === 1, 'the wait for the stream');
      assert.equal(out.received.length, 0, 'waiting for the stream');
      // Redeploy the node with another name: the old one closes mid-wait.
      await helper.setFlows(flow({ broker: 'b1', vins: VIN, verify: 600, name: 'renamed' }), 'nodes', creds());
      assert.equal(waits.size, 0, 'the wait was cleared by the close');
      // The new node waits for 67; the stream then shows 66 (what the old node waited for) and 67.
      // Both pass the same connection in order: an answer of the old node would come first.
      await connected('b1');
      const renamed = helper.getNode('vc1');
      assert.notEqual(renamed, node);
      const sent = statusIs(renamed, (s) => /today 2 commands /.test(s.text || ''));
      renamed.receive({ command: 'set_charge_limit', payload: 67 });
      await sent;
      await pub.publish(`telemetry/${VIN}/v/ChargeLimitSoc`, '66');
      await pub.publish(`telemetry/${VIN}/v/ChargeLimitSoc`, '67');
      const next = await out.next();
      assert.deepEqual([next.payload.params, next.payload.verified], [{ percent: 67 }, true]);
      assert.equal(out.received.length, 1, 'nothing from the closed node');
    } finally {
      global.setTimeout = realSet;
      global.clearTimeout = realClear;
    }
  });
});
