'use strict';
/**
 * Reliability, secrets: flows with known passwords and tokens, exercised against a real broker
 * (aedes) and the HTTPS Fleet API double; nothing secret may leak anywhere.
 *
 * Anything that escapes the package (an unhandled rejection, an uncaught exception, the package's
 * own "last line of defence" process warning) fails the test it escaped in (test/support/escapes.js).
 */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');
const { startBroker, publisher } = require('../support/broker');
const { helper, nodeModules, collector, connected } = require('../support/red');
const { escapeWatch } = require('../support/escapes');
const { startFleetDouble } = require('../../dev/fleet-double');

describe('reliability: secrets', function () {
  const escapes = escapeWatch();
  const assertNothingEscaped = escapes.assertNothingEscaped;
  before(async function () {
    escapes.install();
    await new Promise((r) => helper.startServer(r));
  });
  after(async function () {
    await new Promise((r) => helper.stopServer(r));
    escapes.uninstall();
  });

  const VIN = '5YJ3E1EA7KF000077';
  const CLIENT_ID = 'secrets-client-id';
  const MQTT_USER = 'nr-mqtt-user';
  const MQTT_PASSWORD = 'mqtt-SECRET-password-5f2c81';
  const WRONG_PASSWORD = 'mqtt-SECRET-wrong-password-0d1e';
  const CLIENT_SECRET = 'cs-SECRET-client-secret-77aa13';
  const REFRESH = 'rt-SECRET-deployed-refresh-4c9d02';
  let broker;
  let d;
  let userDir;
  let pub;

  afterEach(async function () {
    await helper.unload();
    await pub?.end(true);
    await broker?.close();
    await d?.close();
    helper.settings({ userDir: undefined });
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });
  // After the clean-up above: whatever escaped during it fails the test too.
  afterEach(function () {
    assertNothingEscaped();
  });

  it('no password or token in the saved flow, the log, a status, a message, an admin answer; the token file is 0600', async function () {
    d = await startFleetDouble({ clientId: CLIENT_ID, refreshToken: REFRESH, vehicles: { [VIN]: { state: 'online' } } });
    const ACCESS = d.grant().accessToken;
    broker = await startBroker();
    broker.aedes.authenticate = (client, username, password, cb) => {
      const ok = username === MQTT_USER && Buffer.isBuffer(password) && password.toString() === MQTT_PASSWORD;
      if (ok) return cb(null, true);
      const e = new Error('bad user name or password');
      e.returnCode = 4;
      cb(e, false);
    };
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'secrets-user-'));
    helper.settings({ userDir });

    // Deploy as the editor does: credentials inline in the nodes.
    const flow = [
      { id: 'tab1', type: 'tab', label: 'secrets' },
      {
        id: 'b1',
        z: 'tab1',
        type: 'telemetry-broker',
        url: broker.url,
        topicBase: 'telemetry',
        reconnectPeriod: 0.2,
        credentials: { username: MQTT_USER, password: MQTT_PASSWORD },
      },
      {
        id: 'b2',
        z: 'tab1',
        type: 'telemetry-broker',
        url: broker.url,
        topicBase: 'telemetry',
        reconnectPeriod: 0.2,
        credentials: { username: MQTT_USER, password: WRONG_PASSWORD },
      },
      {
        id: 'acc1',
        type: 'tesla-account',
        region: 'na',
        proxyUrl: d.proxyUrl,
        proxyCa: d.ca,
        tokenUrl: d.tokenUrl,
        domain: 'fleet.example.com',
        credentials: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: REFRESH, accessToken: ACCESS },
      },
      {
        id: 'in1',
        z: 'tab1',
        type: 'telemetry-in',
        broker: 'b1',
        vins: '',
        fields: '',
        mode: 'field',
        staleAfter: 60,
        retained: 'flag',
        wires: [['out'], ['out'], ['out']],
      },
      {
        id: 'in2',
        z: 'tab1',
        type: 'telemetry-in',
        broker: 'b2',
        vins: '',
        fields: '',
        mode: 'field',
        staleAfter: 60,
        retained: 'flag',
        wires: [['out'], ['out'], ['out']],
      },
      {
        id: 'vd1',
        z: 'tab1',
        type: 'vehicle-data',
        account: 'acc1',
        broker: '',
        vins: VIN,
        mode: 'field',
        auto: false,
        staleAfter: 60,
        pollInterval: 10,
        endpoints: 'charge_state',
        dailyBudget: 0,
        wires: [['out']],
      },
      {
        id: 'tc1',
        z: 'tab1',
        type: 'telemetry-config',
        account: 'acc1',
        broker: 'b1',
        vins: [VIN],
        action: 'status',
        hostname: 'telemetry.example.com',
        port: 4443,
        fields: { BatteryLevel: { interval_seconds: 60 } },
        wires: [['out']],
      },
      { id: 'catch1', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'out', z: 'tab1', type: 'helper' },
      { id: 'caught', z: 'tab1', type: 'helper' },
    ];
    const modules = [
      ...nodeModules('telemetry-broker', 'telemetry-in', 'tesla-account', 'vehicle-data', 'telemetry-config'),
      require('@node-red/nodes/core/common/25-catch.js'),
    ];
    await helper.load(modules, [{ id: 'tab1', type: 'tab', label: 'secrets' }]);
    const NodePrototype = helper._NodePrototype; // the helper spies on status/send/log/warn/error of every node
    await helper.setFlows(flow, 'full');
    const out = collector(helper.getNode('out'));
    const caught = collector(helper.getNode('caught'));

    // Exercise: connect (and a refused MQTT login), a telemetry message, a vehicle_data read,
    // a failing call whose answer echoes the tokens, a telemetry-config action, a refused refresh.
    await connected('b1');
    const b2 = helper.getNode('b2').connection;
    await new Promise((resolve) => {
      const on = (state, detail) => {
        if (state === 'disconnected' && /not authori[sz]ed/i.test(detail)) {
          b2.off('state', on);
          resolve();
        }
      };
      if (b2.state === 'disconnected' && /not authori[sz]ed/i.test(b2.detail)) resolve();
      else b2.on('state', on);
    });
    pub = await publisher(broker.url, { username: MQTT_USER, password: MQTT_PASSWORD });
    await pub.publish(`telemetry/${VIN}/v/BatteryLevel`, '"55"');
    await out.next((m) => m.source === 'telemetry' && m.payload === 55);

    d.revokeAccessTokens(); // the deployed access token is refused: one refresh, the rotated tokens go to the file
    helper.getNode('vd1').receive({ vin: VIN });
    await out.next((m) => m.source === 'api' && m.field === 'BatteryLevel');
    assert.equal(d.calls.filter((c) => c.route === '/oauth2/v3/token' && c.status === 200).length, 1);

    d.failNext(/vehicle_data/, {
      status: 500,
      body: { response: null, error: `internal error for ${ACCESS} / ${REFRESH}`, error_description: CLIENT_SECRET },
    });
    helper.getNode('vd1').receive({ vin: VIN });
    await caught.next();

    let from = out.received.length;
    helper.getNode('tc1').receive({});
    await out.next((m) => m.topic === 'telemetry-config/status', from);
    from = out.received.length;
    helper.getNode('tc1').receive({ action: 'doctor' });
    await out.next((m) => m.topic === 'telemetry-config/doctor', from);
    from = out.received.length;
    helper.getNode('tc1').receive({ action: 'usage' });
    await out.next((m) => m.topic === 'telemetry-config/usage', from);

    d.revokeAccessTokens();
    d.setRefreshToken('rt-someone-else-now');
    helper.getNode('vd1').receive({ vin: VIN });
    await caught.next((m) => /refresh token/i.test(m.error.message));
    from = out.received.length;
    helper.getNode('tc1').receive({});
    await out.next((m) => m.topic === 'telemetry-config/status', from);

    // The admin endpoints the editor uses.
    const answers = [];
    const get = async (url) => {
      const res = await helper.request().get(url);
      answers.push(`${url} ${res.status} ${res.text}`);
      return res;
    };
    const post = async (url, body) => {
      const res = await helper.request().post(url).send(body);
      answers.push(`${url} ${res.status} ${res.text}`);
      return res;
    };
    assert.equal((await get('/tesla-fleet-telemetry/fields')).status, 200);
    assert.equal((await get('/tesla-fleet-telemetry/presets')).status, 200);
    assert.equal((await get('/tesla-fleet-telemetry/usage/b1')).status, 200);
    assert.equal((await get('/tesla-fleet-telemetry/usage/acc1')).status, 404);
    assert.equal((await post('/telemetry-config/ca-info', { pem: d.ca })).status, 200);
    const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    const keyAnswer = await post('/telemetry-config/ca-info', { pem: key });
    assert.equal(keyAnswer.status, 400);
    assert.match(keyAnswer.body.error, /private key/);
    assert.equal((await post('/telemetry-config/ca-info', { pem: `not a certificate ${REFRESH}` })).status, 400);
    // What the editor's credentials endpoint would answer: password-type values only as has_*.
    const flowsApi = require('@node-red/runtime/lib/api/flows');
    for (const [type, id] of [
      ['telemetry-broker', 'b1'],
      ['tesla-account', 'acc1'],
    ]) {
      const c = await flowsApi.getNodeCredentials({ type, id });
      answers.push(`credentials ${type}/${id} ${JSON.stringify(c)}`);
    }
    assert.match(answers.at(-2), /"has_password":true/);
    assert.match(answers.at(-1), /"has_refreshToken":true/);

    // What Node-RED saves as the flow file: the flow without credentials.
    const saved = JSON.stringify(helper._redNodes.getFlows().flows);
    for (const id of ['b1', 'b2', 'acc1']) {
      const node = helper._redNodes.getFlows().flows.find((n) => n.id === id);
      assert.equal(node.credentials, undefined, `${id} keeps no credentials in the flow`);
    }

    // The token file: the rotated tokens, mode 0600 in a 0700 directory.
    const dir = path.join(userDir, 'tesla-fleet-telemetry');
    const file = path.join(dir, 'acc1.json');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.deepEqual(fs.readdirSync(dir), ['acc1.json'], 'no temporary file left behind');

    // Everything that was shown, logged, sent or answered.
    const show = (x) => (typeof x === 'string' ? x : util.inspect(x, { depth: 12, breakLength: Infinity, maxStringLength: Infinity }));
    const texts = {
      'the saved flow': saved,
      'the log': helper
        .log()
        .args.map((a) => a.map(show).join(' '))
        .join('\n'),
      'a status': NodePrototype.status.args.map((a) => show(a[0])).join('\n'),
      'a node warning or error': [...NodePrototype.warn.args, ...NodePrototype.error.args, ...NodePrototype.log.args]
        .map((a) => a.map(show).join(' '))
        .join('\n'),
      'a sent message': NodePrototype.send.args.map((a) => show(a[0])).join('\n'),
      'a received message': [...out.received, ...caught.received].map(show).join('\n'),
      'an admin answer': answers.join('\n'),
    };
    assert.ok(texts['a status'].includes('disconnected'), 'the refused MQTT login is on a status');
    // The texts are not empty: they hold what was exercised.
    assert.match(texts['the log'], /login_required/);
    assert.match(texts['a sent message'], /BatteryLevel/);
    assert.match(texts['a received message'], /internal error for \[redacted\]/, 'the echoed token was scrubbed, the error kept');
    assert.match(texts['an admin answer'], /VehicleSpeed/);
    const secrets = [MQTT_PASSWORD, WRONG_PASSWORD, CLIENT_SECRET, REFRESH, ACCESS, key.split('\n')[1], ...d.secrets()];
    assert.ok(secrets.length >= 9, 'the double issued rotated tokens to look for');
    for (const [where, text] of Object.entries(texts)) {
      for (const s of secrets) assert.ok(!text.includes(s), `${where} contains a secret (${s.slice(0, 9)}…)`);
    }
    assertNothingEscaped();
  });
});
