'use strict';
const path = require('node:path');
const { lib, ROOT } = require('../support/paths');
/**
 * The admin endpoints the editors call, in a real Node-RED runtime (node-red-node-test-helper,
 * `helper.request()` against its admin app): the telemetry-config preview answers exactly what
 * the library computes (the editor holds no copy of it), the presets and the field catalogue
 * are the library's; and each endpoint sits behind the permission it names (checked over real
 * HTTP on an express app whose `needsPermission` refuses what was not granted).
 */
const assert = require('node:assert/strict');
const express = require('express');
const request = require('supertest');
const { helper, nodeModules } = require('../support/red');
const { makeCA } = require('../support/certs');

const tc = lib('registration');
const { CATALOGUE } = lib('catalogue');
const { registerAdminEndpoints } = require(path.join(ROOT, 'nodes', 'dist', 'nodes', 'common', 'admin.js'));
const { UsageMeter } = lib('stream/usage');

const DAY = 24 * 3600 * 1000;
const CA = makeCA({ commonName: 'Preview Test CA', days: 365 }).cert;
const EXPIRED_CA = makeCA({ commonName: 'Expired Preview CA', notBefore: Date.now() - 10 * DAY, notAfter: Date.now() - DAY }).cert;
const VIN1 = '5YJ3E1EA7KF000001';
const VIN2 = '5YJ3E1EA7KF000002';

/** What a telemetry-config dialog sends: the fields as the table's rows, numbers as typed text. */
function dialog(extra = {}) {
  return {
    hostname: 'telemetry.example.com',
    port: '4433',
    ca: CA,
    fields: [
      { name: 'BatteryLevel', interval_seconds: '60' },
      { name: 'Soc', interval_seconds: '30', minimum_delta: '0.5', resend_interval_seconds: '600' },
    ],
    alertTypes: 'service',
    preferTyped: true,
    vins: `${VIN1}, ${VIN2}`,
    exp: '',
    ...extra,
  };
}

/** The library's answer for the same settings. */
function expected(props) {
  const { errors, warnings } = tc.validate(props);
  return { body: tc.buildRegisterBody(props.vins, tc.buildConfig(props)), errors, warnings };
}

describe('admin endpoints (Node-RED runtime)', function () {
  before(async function () {
    await new Promise((r) => helper.startServer(r));
    // Loading the node module registers the endpoints on the runtime's admin app.
    await helper.load(nodeModules('telemetry-config'), []);
  });
  after(async function () {
    await helper.unload();
    await new Promise((r) => helper.stopServer(r));
  });

  const preview = (body) => helper.request().post('/telemetry-config/preview').send(body);

  describe('POST /telemetry-config/preview', function () {
    it("answers the library's body, errors and warnings for good settings", async function () {
      const res = await preview(dialog()).expect(200);
      assert.deepEqual(res.body, JSON.parse(JSON.stringify(expected(dialog()))));
      assert.deepEqual(res.body.errors, []);
      // the body is what register sends: a number port, typed field settings, the VIN list
      assert.deepEqual(res.body.body, {
        vins: [VIN1, VIN2],
        config: {
          hostname: 'telemetry.example.com',
          port: 4433,
          ca: CA,
          fields: { BatteryLevel: { interval_seconds: 60 }, Soc: { interval_seconds: 30, minimum_delta: 0.5, resend_interval_seconds: 600 } },
          alert_types: ['service'],
          prefer_typed: true,
        },
      });
    });

    it("answers the library's verdict for bad settings, naming each input at fault", async function () {
      const cases = [
        dialog({ hostname: 'https://telemetry.example.com/x', port: '70000' }),
        dialog({
          fields: [
            { name: 'Nope', interval_seconds: '0' },
            { name: 'batterylevel', interval_seconds: 'x' },
          ],
        }),
        dialog({ fields: [], vins: 'SHORT', exp: String(Math.floor((Date.now() - DAY) / 1000)) }),
        dialog({ ca: EXPIRED_CA, preferTyped: 'false', alertTypes: ['service', 'customer'] }),
        dialog({ ca: 'not a certificate' }),
        dialog({ hostname: 42, fields: 'BatteryLevel', exp: 'soon' }),
        {},
      ];
      for (const props of cases) {
        const res = await preview(props).expect(200);
        assert.deepEqual(res.body, JSON.parse(JSON.stringify(expected(props))), JSON.stringify(props).slice(0, 200));
        assert.ok(res.body.errors.length > 0, `errors for ${JSON.stringify(props).slice(0, 120)}`);
      }
      const first = await preview(cases[0]);
      assert.deepEqual(
        first.body.errors.map((e) => e.input),
        ['hostname', 'port'],
      );
      const fields = await preview(cases[1]);
      assert.match(fields.body.errors.find((e) => e.input === 'fields.batterylevel').message, /did you mean BatteryLevel/);
      const expired = await preview(cases[3]);
      assert.match(expired.body.errors.find((e) => e.input === 'ca').message, /expired/);
      assert.equal(expired.body.body.config.prefer_typed, false);
    });

    it('ignores keys the dialog does not send', async function () {
      const res = await preview(dialog({ action: 'register', token: 'x', config: { hostname: 'other.example.com' } })).expect(200);
      assert.deepEqual(res.body, JSON.parse(JSON.stringify(expected(dialog()))));
    });

    it('refuses a body that is not an object with a clear message, and keeps answering', async function () {
      const post = (text) => helper.request().post('/telemetry-config/preview').set('Content-Type', 'application/json').send(text);
      for (const text of ['[1, 2]', '[]']) {
        const res = await post(text);
        assert.equal(res.status, 400, text);
        assert.match(res.body.error, /settings as a JSON object/, text);
      }
      await preview(dialog()).expect(200);
    });
  });

  describe('POST /telemetry-config/fields-from-flow', function () {
    const post = (body) => helper.request().post('/telemetry-config/fields-from-flow').send(body);
    const tin = (id, fields, extra = {}) => ({ id, type: 'telemetry-in', z: 'tab1', broker: 'b1', fields, ...extra });
    const tabs = [
      { id: 'tab1', type: 'tab' },
      { id: 'tab2', type: 'tab', disabled: true },
    ];

    it("answers the library's union of the telemetry-in filters on the broker: enabled nodes on enabled tabs, the table's settings kept", async function () {
      const nodes = [
        ...tabs,
        tin('in1', 'BatteryLevel,Gear'),
        tin('in2', 'Gear, Location'),
        tin('in3', 'VehicleSpeed', { broker: 'b2' }),
        tin('in4', 'Odometer', { d: true }),
        tin('in5', 'InsideTemp', { z: 'tab2' }),
      ];
      const res = await post({ broker: 'b1', defaultInterval: '30', fields: [{ name: 'Location', interval_seconds: '10' }], nodes }).expect(200);
      assert.deepEqual(res.body, {
        fields: { BatteryLevel: { interval_seconds: 30 }, Gear: { interval_seconds: 30 }, Location: { interval_seconds: '10' } },
        error: null,
      });
      const plain = await post({ broker: 'b1', nodes }).expect(200);
      assert.deepEqual(plain.body.fields.BatteryLevel, { interval_seconds: 60 }, 'defaultInterval 60 s when not given');
    });

    it('answers the error naming what is wrong: a telemetry-in without a filter, no broker, no telemetry-in, a bad interval', async function () {
      const nodes = [...tabs, tin('in1', 'BatteryLevel'), tin('in9', '', { name: 'All of it' })];
      const cases = [
        [{ broker: 'b1', nodes }, /telemetry-in "All of it" \(in9\) has no field filter/],
        [{ broker: '', nodes }, /fieldsFrom "flow" needs a broker/],
        [{ broker: 'b7', nodes }, /no deployed telemetry-in node uses broker b7/],
        [
          { broker: 'b1', defaultInterval: '0.5', nodes: [tin('in1', 'Gear')] },
          /defaultInterval must be an integer number of seconds >= 1 \(got "0.5"\)/,
        ],
      ];
      for (const [body, re] of cases) {
        const res = await post(body).expect(200);
        assert.equal(res.body.fields, null);
        assert.match(res.body.error, re);
      }
    });

    it('refuses a body without a nodes array with a clear message', async function () {
      for (const body of [{ broker: 'b1' }, { broker: 'b1', nodes: 'in1' }]) {
        const res = await post(body);
        assert.equal(res.status, 400);
        assert.match(res.body.error, /nodes an array of the flow's nodes/);
      }
    });
  });

  it("GET /tesla-fleet-telemetry/presets answers the library's presets", async function () {
    const res = await helper.request().get('/tesla-fleet-telemetry/presets').expect(200);
    assert.deepEqual(res.body, JSON.parse(JSON.stringify(tc.PRESETS)));
    assert.deepEqual(Object.keys(res.body), Object.keys(tc.PRESETS), 'in the library order (the first is the default)');
  });

  it("GET /tesla-fleet-telemetry/fields answers the catalogue's fields", async function () {
    const res = await helper.request().get('/tesla-fleet-telemetry/fields').expect(200);
    assert.deepEqual(
      res.body.map((f) => f.name),
      CATALOGUE.map((f) => f.name),
    );
    assert.deepEqual(Object.keys(res.body[0]).sort(), ['enum', 'id', 'kind', 'name', 'unit']);
  });
});

describe('admin endpoints: permissions', function () {
  // An admin app like Node-RED's, whose needsPermission lets a request through only when the
  // caller holds that permission (here: listed in the X-Permissions header).
  const app = express();
  app.use(express.json());
  const asked = [];
  // One deployed broker, as RED.nodes.getNode finds it: its connection's real usage meter.
  const deployed = {
    b1: { id: 'b1', type: 'telemetry-broker', connection: { usage: new UsageMeter() } },
    tc1: { id: 'tc1', type: 'telemetry-config' },
  };
  registerAdminEndpoints({
    nodes: { getNode: (id) => deployed[id] ?? null },
    httpAdmin: app,
    auth: {
      needsPermission(permission) {
        asked.push(permission);
        return (req, res, next) => {
          const held = String(req.get('X-Permissions') || '').split(',');
          if (held.includes(permission)) next();
          else res.status(401).json({ error: `needs ${permission}` });
        };
      },
    },
  });

  const ROUTES = [
    ['get', '/tesla-fleet-telemetry/fields', 'telemetry-in.read'],
    ['get', '/tesla-fleet-telemetry/presets', 'telemetry-config.read'],
    ['get', '/tesla-fleet-telemetry/commands', 'vehicle-command.read'],
    ['post', '/telemetry-config/ca-info', 'telemetry-config.read', { pem: CA }],
    ['post', '/telemetry-config/preview', 'telemetry-config.read', dialog()],
    ['post', '/telemetry-config/fields-from-flow', 'telemetry-config.read', { broker: 'b1', nodes: [] }],
    ['get', '/tesla-fleet-telemetry/usage/b1', 'telemetry-broker.read'],
  ];

  it('each endpoint answers only a caller holding its permission', async function () {
    assert.deepEqual([...asked].sort(), ROUTES.map((r) => r[2]).sort());
    for (const [method, url, permission, body] of ROUTES) {
      const call = (held) => {
        const r = request(app)[method](url).set('X-Permissions', held);
        return body ? r.send(body) : r;
      };
      assert.equal((await call('')).status, 401, `${url} without permission`);
      assert.equal((await call('flows.read')).status, 401, `${url} with another permission`);
      assert.equal((await call(permission)).status, 200, `${url} with ${permission}`);
    }
  });

  it('the usage endpoint answers 404 naming an id that is not a deployed broker, to a caller holding the permission', async function () {
    for (const id of ['nope', 'tc1']) {
      const res = await request(app).get(`/tesla-fleet-telemetry/usage/${id}`).set('X-Permissions', 'telemetry-broker.read');
      assert.equal(res.status, 404);
      assert.equal(res.body.error, `usage: no deployed telemetry-broker has the id "${id}" (deploy it first)`);
    }
    const ok = await request(app).get('/tesla-fleet-telemetry/usage/b1').set('X-Permissions', 'telemetry-broker.read');
    assert.deepEqual(ok.body, deployed.b1.connection.usage.report());
  });
});
