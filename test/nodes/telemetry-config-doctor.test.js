'use strict';
const { lib } = require('../support/paths');
/**
 * telemetry-config's doctor, ensure and usage in a real Node-RED runtime
 * (node-red-node-test-helper): a real tesla-account talking to the HTTPS Fleet API / proxy
 * double (dev/fleet-double.js) through the proxy path, a real telemetry-broker on an
 * in-process aedes broker, telemetry-in nodes for fieldsFrom "flow", and the ensure cap in a
 * real file under the runtime's userDir. ensureEvery runs on @sinonjs/fake-timers standing in
 * for setInterval only (the flows of those tests have no MQTT client, whose keepalive would
 * tick along).
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const FakeTimers = require('@sinonjs/fake-timers');
const { helper, nodeModules, collector, connected, statusIs, warnings } = require('../support/red');
const { startFleetDouble } = require('../../dev/fleet-double');
const { startBroker, publisher } = require('../support/broker');
const { makeCA } = require('../support/certs');
const tc = lib('registration');
const { ROOT } = require('../support/paths');
const { signalsToUsd } = lib('stream/usage');

const CLIENT_ID = 'tc-doctor-test-client';
const REFRESH = 'rt-SECRET-doctor-node-0001';
const DOMAIN = 'fleet.example.com';
const HOUR = 3_600_000;
const CONFIG_ROUTE = '/proxy/api/1/vehicles/fleet_telemetry_config';
const TELEMETRY_CA = makeCA({ commonName: 'Doctor Node Test CA', days: 365 }).cert;

const vin = (n) => `5YJ3E1EA1PF${String(n).padStart(6, '0')}`;
const V = { healthy: vin(1), silent: vin(2), none: vin(3), nokey: vin(4), asleep: vin(5), drift: vin(6) };

/** The telemetry-config node's own settings (what it would send). */
const SETTINGS = {
  hostname: 'telemetry.example.com',
  port: 4433,
  ca: TELEMETRY_CA,
  fields: { BatteryLevel: { interval_seconds: 60 }, Gear: { interval_seconds: 60 } },
  alertTypes: '',
  preferTyped: true,
  exp: '',
};
const OURS = JSON.parse(JSON.stringify(tc.buildConfig(SETTINGS)));

/** One car per case, as the double answers for it. */
function cars() {
  const adopted = { config: OURS, synced: true, limitReached: false };
  return {
    [V.healthy]: { telemetry: adopted },
    [V.silent]: {
      telemetry: adopted,
      telemetryErrors: [
        {
          created_at: '2026-03-10T11:00:00Z',
          error: 'x509: certificate signed by unknown authority',
          error_name: 'tls_handshake',
          name: 'dial_error',
          txID: 'tx1',
          vin: vin(2),
        },
      ],
    },
    [V.none]: {},
    [V.nokey]: { keyPaired: false },
    [V.asleep]: { telemetry: adopted, state: 'asleep' },
    [V.drift]: { telemetry: { config: { ...OURS, port: 4443 }, synced: true } },
  };
}

const apiCalls = (d) => d.calls.filter((c) => c.route.startsWith('/api/1'));
const posts = (d) => d.callsTo(CONFIG_ROUTE, 'POST');

describe('telemetry-config doctor, ensure, usage (Node-RED runtime, HTTPS proxy double, aedes)', function () {
  let d;
  let mqttBroker;
  let pub;
  let userDir;
  let clock = null;

  before(async function () {
    await new Promise((r) => helper.startServer(r));
  });
  after(async function () {
    helper.settings({ userDir: undefined });
    await new Promise((r) => helper.stopServer(r));
  });

  beforeEach(async function () {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-doctor-test-'));
    helper.settings({ userDir });
    d = await startFleetDouble({ clientId: CLIENT_ID, refreshToken: REFRESH, vehicles: cars() });
    mqttBroker = await startBroker();
    pub = await publisher(mqttBroker.url);
  });

  afterEach(async function () {
    await helper.unload();
    if (clock) clock.uninstall();
    clock = null;
    await pub.end();
    await mqttBroker.close();
    await d.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  /**
   * A flow: account acc1 (the double through its proxy), broker b1 (aedes), telemetry-in in1
   * on b1 (fields BatteryLevel, Gear; outputs 1 and 3 wired to tin), telemetry-config tc1 wired to out, a Catch
   * node wired to caught. `broker: false` leaves out the broker and the telemetry-in.
   */
  function flow({ node = {}, account = {}, broker = true, telemetryIn = true, extra = [] } = {}) {
    const f = [
      { id: 'tab1', type: 'tab', label: 'doctor test' },
      { id: 'acc1', type: 'tesla-account', region: 'na', proxyUrl: d.proxyUrl, proxyCa: d.ca, tokenUrl: d.tokenUrl, domain: DOMAIN, ...account },
      {
        id: 'tc1',
        z: 'tab1',
        type: 'telemetry-config',
        name: 'doctor',
        account: 'acc1',
        broker: broker ? 'b1' : '',
        ...SETTINGS,
        vins: [V.healthy],
        action: 'doctor',
        ensureEvery: 0,
        fieldsFrom: 'node',
        defaultInterval: 60,
        dailyBudget: 0,
        wires: [['out']],
        ...node,
      },
      { id: 'out', z: 'tab1', type: 'helper' },
      { id: 'catch1', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 'tab1', type: 'helper' },
    ];
    if (broker) f.push({ id: 'b1', type: 'telemetry-broker', url: mqttBroker.url, topicBase: 'telemetry', reconnectPeriod: 0.2, persist: false });
    if (broker && telemetryIn) {
      f.push(
        {
          id: 'in1',
          z: 'tab1',
          type: 'telemetry-in',
          broker: 'b1',
          vins: '',
          fields: 'BatteryLevel,Gear',
          mode: 'field',
          staleAfter: 60,
          retained: 'flag',
          wires: [['tin'], [], ['tin']],
        },
        { id: 'tin', z: 'tab1', type: 'helper' },
      );
    }
    return [...f, ...extra];
  }

  /** Load a flow; resolves with {node, out, caught, tin} once the broker (if any) subscribed. */
  async function load(opts = {}) {
    await helper.load(nodeModules('tesla-account', 'telemetry-broker', 'telemetry-in', 'telemetry-config'), flow(opts), {
      acc1: { clientId: CLIENT_ID, refreshToken: REFRESH },
    });
    if (opts.broker !== false) await connected('b1');
    return {
      node: helper.getNode('tc1'),
      out: collector(helper.getNode('out')),
      caught: collector(helper.getNode('caught')),
      tin: opts.broker === false || opts.telemetryIn === false ? null : collector(helper.getNode('tin')),
    };
  }

  /** Send one message; resolves with what the node sends for it. */
  async function run(n, msg = {}) {
    const from = n.out.received.length;
    const tag = `m-${Math.random().toString(36).slice(2)}`;
    n.node.receive({ ...msg, _tag: tag });
    return n.out.next((m) => m._tag === tag, from);
  }

  /** Publish as the telemetry server and wait until telemetry-in emitted it (so the broker node has it). */
  async function stream(n, vinOf, field, value) {
    const from = n.tin.received.length;
    await pub.publish(`telemetry/${vinOf}/v/${field}`, JSON.stringify(value));
    await n.tin.next((m) => m.vin === vinOf && m.field === field, from);
  }

  // -------------------------------------------------------------------------------------
  describe('doctor', function () {
    it("diagnoses each car from Tesla's answers and the broker's evidence: states, fixes, one status line", async function () {
      const vins = [V.healthy, V.silent, V.none, V.nokey, V.asleep];
      const n = await load({ node: { vins: vins.join(', ') } });
      await stream(n, V.healthy, 'BatteryLevel', 80);
      await pub.publish(
        `telemetry/${V.silent}/connectivity`,
        JSON.stringify({ ConnectionId: 'c9', CreatedAt: '2026-03-10T14:00:00Z', Status: 'DISCONNECTED' }),
      );
      await n.tin.next((m) => m.event === 'connectivity' && m.vin === V.silent);
      const status = statusIs(n.node, (s) => s.fill === 'red');
      const msg = await run(n);

      assert.equal(msg.event, 'doctor');
      assert.equal(msg.topic, 'telemetry-config/doctor');
      assert.deepEqual(
        msg.payload.map((e) => [e.vin, e.state, e.ok]),
        [
          [V.healthy, 'healthy', true],
          [V.silent, 'silent', false],
          [V.none, 'not configured', false],
          [V.nokey, 'key not paired', false],
          [V.asleep, 'healthy', true],
        ],
      );
      const [healthy, silent, none, nokey, asleep] = msg.payload;
      assert.match(healthy.reason, /streams \(last live message 0 min ago\)/);
      assert.equal(healthy.fix, 'Nothing to do.');
      assert.match(
        silent.reason,
        /no live message from it ever reached the broker; last connectivity on the broker: DISCONNECTED at 2026-03-10T14:00:00Z/,
      );
      assert.match(
        silent.fix,
        /^Check that telemetry\.example\.com:4433 is reachable .*"CN=Doctor Node Test CA".*x509: certificate signed by unknown authority/,
      );
      assert.deepEqual(silent.evidence.lastConnectivity, { status: 'DISCONNECTED', connectionId: 'c9', createdAt: '2026-03-10T14:00:00Z' });
      assert.equal(typeof healthy.evidence.lastLive, 'number');
      assert.match(none.fix, /^Run ensure \(or register\)/);
      assert.ok(nokey.fix.includes(`https://tesla.com/_ak/${DOMAIN}`), nokey.fix);
      assert.match(asleep.reason, /is asleep: it streams again when it is online/);
      assert.deepEqual(await status, { fill: 'red', shape: 'ring', text: '2 healthy · 1 to push · 2 needs you' });

      // One fleet_status, three reads per undecided car through the proxy double; never vehicle_data or wake_up.
      const calls = apiCalls(d);
      assert.equal(calls.filter((c) => c.route === '/api/1/vehicles/fleet_status').length, 1);
      assert.equal(calls.length, 1 + 3 * 4);
      assert.ok(calls.every((c) => c.auth === 'valid' && c.status === 200));
      assert.ok(!calls.some((c) => /vehicle_data|wake_up|command/.test(c.route)));
      assert.deepEqual(Object.keys(msg.response.vins), vins);
      assert.deepEqual(msg.response.vins[V.nokey], {}, 'fleet_status decided it: nothing more read');
      assert.equal(n.caught.received.length, 0, 'a diagnosis is not an error');
    });

    it('keeps its broker connected by itself (no telemetry-in on it): the live stream is its evidence', async function () {
      const n = await load({ telemetryIn: false, node: { vins: [V.healthy] } });
      // Connected without any other user; a listener of the test's, added now, tells when the message is in.
      const conn = helper.getNode('b1').connection;
      assert.equal(conn.userCount, 1);
      const arrived = new Promise((resolve) => conn.register({ onMessage: resolve, onBadInput() {}, onConnection() {} }));
      await pub.publish(`telemetry/${V.healthy}/v/BatteryLevel`, '80');
      await arrived;
      const msg = await run(n);
      assert.deepEqual(
        msg.payload.map((e) => [e.state, e.evidence.lastLive !== null]),
        [['healthy', true]],
      );
      assert.match(msg.payload[0].reason, /streams \(last live message/);
    });

    it('an HTTP error reading a car: an error entry, and done(err) naming that VIN reaches the Catch node after the result', async function () {
      d.failNext(/\/fleet_telemetry_config$/, {
        method: 'GET',
        status: 404,
        body: { response: null, error: 'not_found', error_description: 'vehicle not found' },
      });
      const n = await load({ node: { vins: [V.healthy, V.asleep] } });
      const msg = await run(n);
      const err = await n.caught.next();
      assert.deepEqual(
        msg.payload.map((e) => [e.vin, e.state]),
        [
          [V.healthy, 'error'],
          [V.asleep, 'healthy'],
        ],
      );
      assert.match(msg.payload[0].fix, /^Check the VIN: it is not a car of this Tesla account\.$/);
      assert.equal(err.error.source.id, 'tc1');
      assert.match(err.error.message, new RegExp(`telemetry-config doctor: ${V.healthy}: fleet_telemetry_config could not be read .*404`));
      assert.ok(!err.error.message.includes(V.asleep));
    });
  });

  // -------------------------------------------------------------------------------------
  describe('ensure', function () {
    it('pushes exactly the cars a push heals, in one POST through the proxy; the 24 h cap holds across a redeploy', async function () {
      const vins = [V.asleep, V.none, V.nokey, V.drift];
      const opts = { node: { vins, action: 'ensure' } };
      let n = await load(opts);
      const first = await run(n);
      assert.equal(first.event, 'ensure');
      assert.equal(posts(d).length, 1);
      assert.equal(JSON.stringify(posts(d)[0].body), JSON.stringify({ vins: [V.none, V.drift], config: OURS }));
      assert.equal(posts(d)[0].auth, 'valid');
      assert.deepEqual(
        first.payload.map((e) => [e.vin, e.state, e.pushed, e.register?.state]),
        [
          [V.asleep, 'healthy', false, undefined],
          [V.none, 'not configured', true, 'updated'],
          [V.nokey, 'key not paired', false, undefined],
          [V.drift, 'drift', true, 'updated'],
        ],
      );
      assert.match(first.payload[1].reason, /— pushed this node's config: Tesla accepted/);
      const file = path.join(userDir, 'tesla-fleet-telemetry', 'ensure-tc1.json');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).pushed).sort(), [V.none, V.drift].sort());

      // The config vanished from one car again; Node-RED restarts (a full redeploy of the same flow).
      d.setVehicle(V.none, { telemetry: { config: null, synced: false } });
      await helper.unload();
      n = await load(opts);
      const again = await run(n);
      assert.equal(posts(d).length, 1, 'no second push within 24 h');
      const none = again.payload.find((e) => e.vin === V.none);
      assert.equal(none.state, 'not configured');
      assert.equal(none.pushed, false);
      assert.ok(none.nextPushAt > Date.now() + 23 * HOUR, String(none.nextPushAt));
      assert.match(none.reason, /ensure pushes at most once per 24 h/);
      assert.match(none.fix, /^Run register to push at once/);
      assert.equal(n.caught.received.length, 0);
    });
  });

  // -------------------------------------------------------------------------------------
  describe('ensureEvery', function () {
    const install = () => {
      clock = FakeTimers.withGlobal(globalThis).install({ toFake: ['setInterval', 'clearInterval'] });
    };

    it('runs ensure every period by itself and sends the result; the timer is cleared on close', async function () {
      install();
      const n = await load({ broker: false, node: { vins: [V.none], action: 'status', ensureEvery: 24 } });
      assert.equal(clock.countTimers(), 1, "one timer: the node's");
      assert.equal(d.calls.length, 0, 'nothing before the first period');
      clock.tick(24 * HOUR - 1);
      assert.equal(d.calls.length, 0);
      clock.tick(1);
      const first = await n.out.next((m) => m.event === 'ensure');
      assert.equal(first.topic, 'telemetry-config/ensure');
      assert.deepEqual(
        first.payload.map((e) => [e.vin, e.state, e.pushed]),
        [[V.none, 'not configured', true]],
      );
      assert.equal(posts(d).length, 1);
      clock.tick(24 * HOUR);
      const second = await n.out.next((m) => m.event === 'ensure', 1);
      assert.deepEqual(
        second.payload.map((e) => [e.vin, e.state, e.pushed]),
        [[V.none, 'pending', false]],
      );
      assert.equal(n.caught.received.length, 0);

      await helper.unload();
      assert.equal(clock.countTimers(), 0, 'no timer left after close');
      const calls = d.calls.length;
      clock.tick(48 * HOUR);
      assert.equal(d.calls.length, calls, 'no run after close');
    });

    it('a run that cannot start (no VIN) warns at deploy, then goes to the Catch node with its reason, never out of the timer', async function () {
      install();
      const n = await load({ broker: false, node: { vins: '', ensureEvery: '0.5' } });
      assert.deepEqual(warnings('telemetry-config').sort(), [
        'telemetry-config: ensureEvery 0.5 h runs the doctor 48 times a day, each run billed Fleet API calls per VIN — consider a daily budget or a longer period',
        'telemetry-config: ensureEvery is set but the node has no VINs, so each run will be refused — list the VINs on the node',
      ]);
      const invalid = statusIs(n.node, (s) => s.fill === 'red');
      clock.tick(HOUR / 2);
      const err = await n.caught.next();
      assert.match(err.error.message, /at least one VIN is needed/);
      assert.equal(err.action, 'ensure');
      assert.equal((await invalid).text, 'invalid settings');
      clock.tick(HOUR / 2);
      await n.caught.next(() => true, 1);
      assert.equal(d.calls.length, 0);
      assert.equal(n.out.received.length, 0);
    });

    it('a bad ensureEvery is an error naming it at deploy, and no timer runs', async function () {
      install();
      const n = await load({ broker: false, node: { ensureEvery: 'daily' } });
      assert.equal(clock.countTimers(), 0);
      const logged = helper
        .log()
        .args.map((a) => a[0])
        .filter((e) => e.level === 20 && e.id === 'tc1');
      assert.deepEqual(
        logged.map((e) => e.msg),
        ['ensureEvery must be a number of hours from 0 (off) to 168 (got "daily"): ensure does not run by itself'],
      );
      // Inputs still run.
      const msg = await run(n, { vins: [V.asleep] });
      assert.equal(msg.payload[0].state, 'healthy');
    });
  });

  // -------------------------------------------------------------------------------------
  describe('fieldsFrom "flow"', function () {
    const tin = (id, fields, extra = {}) => ({
      id,
      z: 'tab1',
      type: 'telemetry-in',
      broker: 'b1',
      vins: '',
      fields,
      mode: 'field',
      staleAfter: 60,
      retained: 'flag',
      wires: [[], [], []],
      ...extra,
    });

    it("ensure pushes the union of the deployed telemetry-in filters on the node's broker (not another broker's, not disabled ones)", async function () {
      const extra = [
        tin('in2', 'Gear, Location'),
        tin('in3', 'VehicleSpeed', { broker: 'b2' }),
        tin('in4', 'Odometer', { d: true }),
        { id: 'tab2', type: 'tab', label: 'switched off', disabled: true },
        tin('in6', 'InsideTemp', { z: 'tab2' }),
        { id: 'b2', type: 'telemetry-broker', url: mqttBroker.url, topicBase: 'other', reconnectPeriod: 0.2, persist: false },
      ];
      const n = await load({
        extra,
        node: { vins: [V.none], action: 'ensure', fieldsFrom: 'flow', defaultInterval: 30, fields: { Location: { interval_seconds: 10 } } },
      });
      const msg = await run(n);
      assert.equal(msg.payload[0].pushed, true);
      assert.deepEqual(posts(d)[0].body.config.fields, {
        BatteryLevel: { interval_seconds: 30 },
        Gear: { interval_seconds: 30 },
        Location: { interval_seconds: 10 },
      });
      // register sends the same fields
      await run(n, { action: 'register', vins: [V.healthy] });
      assert.deepEqual(posts(d)[1].body.config.fields, posts(d)[0].body.config.fields);
    });

    it('a telemetry-in on the broker without a field filter: done(err) naming it reaches the Catch node, no call made', async function () {
      const n = await load({ extra: [tin('in5', '', { name: 'Everything' })], node: { vins: [V.none], action: 'ensure', fieldsFrom: 'flow' } });
      const invalid = statusIs(n.node, (s) => s.fill === 'red');
      n.node.receive({ payload: 'go' });
      const err = await n.caught.next();
      assert.match(
        err.error.message,
        /^(ValidationError: )?telemetry-config ensure: fieldsFrom "flow": telemetry-in "Everything" \(in5\) has no field filter, so it would ask the car for every field/,
      );
      assert.equal(err.payload, 'go');
      assert.equal((await invalid).text, 'invalid settings');
      assert.equal(d.calls.length, 0);
      assert.equal(n.out.received.length, 0);
    });
  });

  // -------------------------------------------------------------------------------------
  describe('usage', function () {
    it("answers the broker's signal counts for the node's VINs (all when none), with no account and no HTTP call", async function () {
      const n = await load({ node: { account: '', vins: '', action: 'usage' } });
      await stream(n, V.healthy, 'BatteryLevel', 80);
      await stream(n, V.healthy, 'Gear', 'ShiftStateP');
      await stream(n, V.silent, 'BatteryLevel', 61);
      const status = statusIs(n.node, (s) => s.fill === 'green');
      const msg = await run(n);
      const report = helper.getNode('b1').connection.usage.report();
      assert.equal(msg.event, 'usage');
      assert.equal(msg.topic, 'telemetry-config/usage');
      assert.deepEqual(msg.payload, report);
      assert.deepEqual(Object.keys(msg.payload).sort(), ['advice', 'day', 'signalsPerDollar', 'total', 'vins']);
      assert.equal(msg.payload.signalsPerDollar, 150000);
      assert.deepEqual(msg.payload.total, { signals: 3, usd: signalsToUsd(3) });
      assert.deepEqual(msg.payload.vins[V.healthy], { signals: 2, usd: signalsToUsd(2), fields: { BatteryLevel: 1, Gear: 1 } });
      assert.equal(msg.payload.day, new Date().toISOString().slice(0, 10));
      assert.deepEqual(await status, { fill: 'green', shape: 'dot', text: `3 signals today ≈ $${signalsToUsd(3).toFixed(4)} (2 VINs)` });
      const one = await run(n, { vins: V.silent });
      assert.deepEqual(Object.keys(one.payload.vins), [V.silent]);
      assert.equal(d.calls.length, 0);

      // The same JSON at the broker's admin endpoint; 404 naming an id that is no deployed broker.
      const res = await helper.request().get('/tesla-fleet-telemetry/usage/b1').expect(200);
      assert.deepEqual(res.body, helper.getNode('b1').connection.usage.report());
      for (const id of ['nope', 'tc1']) {
        const miss = await helper.request().get(`/tesla-fleet-telemetry/usage/${id}`).expect(404);
        assert.match(miss.body.error, new RegExp(`no deployed telemetry-broker has the id "${id}"`));
      }
    });

    it('without a broker: done(err) naming the missing property', async function () {
      const n = await load({ broker: false, node: { action: 'usage' } });
      n.node.receive({});
      const err = await n.caught.next();
      assert.match(err.error.message, /telemetry-config usage: needs a broker — choose a telemetry-broker in the node's "broker" property/);
    });
  });

  // -------------------------------------------------------------------------------------
  describe('bad input', function () {
    it('an unknown action and a malformed VIN list: done(err) naming each reaches the Catch node, counted, no call made', async function () {
      const n = await load({ node: { vins: [V.asleep] } });
      const cases = [
        [{ action: 'docter' }, /unknown action "docter": use one of check, register, status, errors, delete, doctor, ensure, usage/],
        [{ vins: 42 }, /msg\.vins must be an array of VINs or a comma list \(got number\)/],
        [{ vins: `${V.none},5YJ3E1EA1PF00000` }, /VIN "5YJ3E1EA1PF00000" is malformed/],
        [{ action: 'ensure', vins: [V.none, { vin: V.drift }] }, /an array with a non-string item/],
      ];
      for (let i = 0; i < cases.length; i++) {
        const [msg, re] = cases[i];
        const invalid = statusIs(n.node, (s) => s.fill === 'red');
        n.node.receive({ ...msg, payload: i });
        const err = await n.caught.next((m) => m.payload === i);
        assert.match(err.error.message, re);
        assert.equal(err.error.source.id, 'tc1');
        assert.equal((await invalid).text, i === 0 ? 'invalid settings' : `invalid settings · ${i + 1} refused`);
      }
      assert.equal(d.calls.length, 0, 'no HTTP call for bad input');
      assert.equal(n.out.received.length, 0);
      // and the node still works
      const ok = await run(n);
      assert.equal(ok.payload[0].state, 'healthy');
    });
  });

  // -------------------------------------------------------------------------------------
  describe('examples 03 and 06 in the runtime', function () {
    const CORE = path.join(ROOT, 'node_modules', '@node-red', 'nodes', 'core', 'function');
    const coreNodes = () => [require(path.join(CORE, '10-function.js')), require(path.join(CORE, '80-template.js'))];
    /** What the user would import, with the example's inject, debug and http nodes as helpers (same ids and wires). */
    function example(file, { vins }) {
      const nodes = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', file), 'utf8'));
      return nodes.map((n) => {
        if (['inject', 'debug', 'http in', 'http response', 'comment'].includes(n.type))
          return { id: n.id, z: n.z, type: 'helper', name: n.name, was: n.type, wires: n.wires || [] };
        if (n.type === 'telemetry-broker') return { ...n, url: mqttBroker.url, persist: false };
        if (n.type === 'tesla-account') return { ...n, proxyUrl: d.proxyUrl, proxyCa: d.ca, tokenUrl: d.tokenUrl, domain: DOMAIN };
        if (n.type === 'telemetry-config') return { ...n, vins, ca: TELEMETRY_CA };
        return n;
      });
    }
    const byName = (flowNodes, name) => helper.getNode(flowNodes.find((n) => n.name === name).id);

    it("03: doctor now and ensure now give one line per car with the doctor's fix; the node runs ensure every 24 h", async function () {
      const nodes = example('03 register cars.json', { vins: [V.none, V.nokey].join(',') });
      const account = nodes.find((n) => n.type === 'tesla-account');
      await helper.load([...nodeModules('tesla-account', 'telemetry-broker', 'telemetry-config'), ...coreNodes()], nodes, {
        [account.id]: { clientId: CLIENT_ID, refreshToken: REFRESH },
      });
      await connected(nodes.find((n) => n.type === 'telemetry-broker').id);
      const verdicts = collector(byName(nodes, 'verdicts'));
      byName(nodes, 'doctor now').send({ action: 'doctor' });
      await verdicts.next(() => verdicts.received.length >= 2);
      assert.deepEqual(
        verdicts.received.map((m) => m.payload),
        [
          `${V.none}: not configured — Run ensure (or register) to send this node's telemetry config to the car.`,
          `${V.nokey}: key not paired — Open https://tesla.com/_ak/${DOMAIN} on the phone with the Tesla app, approve the key for this car, then run doctor again.`,
        ],
      );
      byName(nodes, 'ensure now').send({ action: 'ensure' });
      await verdicts.next(() => verdicts.received.length >= 4);
      assert.match(verdicts.received[2].payload, new RegExp(`^${V.none}: not configured \\(config pushed\\) — Wait for the car to connect to Tesla`));
      assert.equal(posts(d).length, 1);
      assert.equal(nodes.find((n) => n.type === 'telemetry-config').ensureEvery, 24);
    });

    it('06: usage every hour kept per day; the /telemetry-usage page lists the days, the cars and their fields', async function () {
      const nodes = example('06 what my telemetry costs.json', { vins: '' });
      await helper.load([...nodeModules('telemetry-broker', 'telemetry-config'), ...coreNodes()], nodes);
      const conn = await connected(nodes.find((n) => n.type === 'telemetry-broker').id);
      // The example keeps the broker connected by itself; a listener of the test's tells when the messages are in.
      let seen = 0;
      const three = new Promise((resolve) => conn.register({ onMessage: () => ++seen === 3 && resolve(), onBadInput() {}, onConnection() {} }));
      await pub.publish(`telemetry/${V.healthy}/v/BatteryLevel`, '80');
      await pub.publish(`telemetry/${V.healthy}/v/Gear`, '"ShiftStateP"');
      await pub.publish(`telemetry/${V.silent}/v/BatteryLevel`, '61');
      await three;
      const usage = collector(byName(nodes, 'usage'));
      byName(nodes, 'every hour').send({});
      const today = await usage.next();
      assert.deepEqual(JSON.parse(JSON.stringify(today.payload)), {
        day: new Date().toISOString().slice(0, 10),
        signals: 3,
        usd: signalsToUsd(3),
        cars: 2,
      });
      const page = collector(helper.getNode(nodes.find((n) => n.was === 'http response').id));
      helper.getNode(nodes.find((n) => n.was === 'http in').id).send({});
      const html = (await page.next()).payload;
      assert.match(html, new RegExp(`<td>${today.payload.day}</td><td class="n">3</td><td class="n">\\$0\\.0000</td><td class="n">2</td>`));
      assert.match(html, new RegExp(`<td>${V.healthy}</td><td>Gear</td><td class="n">1</td>`));
      assert.equal(d.calls.length, 0, 'usage calls no API');
    });
  });
});
