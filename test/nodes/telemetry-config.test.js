'use strict';
const { lib } = require('../support/paths');
/**
 * telemetry-config in a real Node-RED runtime (node-red-node-test-helper), with a real
 * tesla-account config node, against the HTTPS Fleet API / vehicle-command proxy double
 * (dev/fleet-double.js). TLS is verified: the account trusts the double's CA as its proxy CA.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { helper, nodeModules, collector, statusIs } = require('../support/red');
const { startFleetDouble } = require('../../dev/fleet-double');
const { makeCA } = require('../support/certs');
const tc = lib('registration');

const CLIENT_ID = 'tc-node-test-client';
const REFRESH = 'rt-SECRET-telemetry-config-node-0001';
const DOMAIN = 'fleet.example.com';
const HOST = 'telemetry.example.com';
const DAY = 24 * 3600 * 1000;
const CONFIG_ROUTE = '/proxy/api/1/vehicles/fleet_telemetry_config';

/** 17-character VINs (A-Z without I, O, Q, and digits). */
const vin = (n) => `5YJ3E1EA1PF${String(n).padStart(6, '0')}`;
const V = {
  ok: vin(1),
  nokey: vin(2),
  fw: vin(3),
  hw: vin(4),
  max: vin(5),
  pending: vin(6),
  nullcfg: vin(7),
  limit: vin(8),
  drift: vin(9),
  none: vin(10),
  ok2: vin(11),
};

const SEED_FIELDS = {
  BatteryLevel: { interval_seconds: 60 },
  ChargeLimitSoc: { interval_seconds: 60 },
  DetailedChargeState: { interval_seconds: 60 },
  Gear: { interval_seconds: 60 },
  VehicleName: { interval_seconds: 60 },
  Location: { interval_seconds: 60 },
  TimeToFullCharge: { interval_seconds: 60 },
};

// The telemetry server's CA (what the car must trust), an expired one, made once.
const TELEMETRY_CA = makeCA({ commonName: 'Telemetry Server Test CA', days: 365 }).cert;
const EXPIRED_CA = makeCA({ commonName: 'Expired Test CA', notBefore: Date.now() - 10 * DAY, notAfter: Date.now() - DAY }).cert;

/** The config this node's default settings send, written out by hand (key order as the seed's). */
function expectedConfig(extra = {}) {
  return { hostname: HOST, port: 4433, ca: TELEMETRY_CA, fields: SEED_FIELDS, prefer_typed: true, ...extra };
}

const tokenCalls = (d) => d.calls.filter((c) => c.route === '/oauth2/v3/token');
const apiCalls = (d) => d.calls.filter((c) => c.route.startsWith('/api/1'));

describe('telemetry-config node (Node-RED runtime, HTTPS proxy double)', function () {
  let d;
  let userDir;
  let out;
  let out2;
  let caught;

  before(async function () {
    await new Promise((r) => helper.startServer(r));
  });
  after(async function () {
    helper.settings({ userDir: undefined });
    await new Promise((r) => helper.stopServer(r));
  });

  beforeEach(async function () {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-node-test-'));
    helper.settings({ userDir });
    d = await startFleetDouble({
      clientId: CLIENT_ID,
      refreshToken: REFRESH,
      vehicles: {
        [V.ok]: {},
        [V.ok2]: {},
        [V.nokey]: { keyPaired: false },
        [V.fw]: { skipReason: 'unsupported_firmware', firmware: '2024.20.1' },
        [V.hw]: { skipReason: 'unsupported_hardware' },
        [V.max]: { skipReason: 'max_configs' },
      },
    });
  });

  afterEach(async function () {
    await helper.unload();
    await d.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  function flow({ node = {}, node2 = null, account = {} } = {}) {
    const f = [
      { id: 'tab1', type: 'tab', label: 'telemetry-config test' },
      {
        id: 'acc1',
        type: 'tesla-account',
        region: 'na',
        proxyUrl: d.proxyUrl,
        proxyCa: d.ca,
        tokenUrl: d.tokenUrl,
        domain: DOMAIN,
        ...account,
      },
      {
        id: 'tc1',
        z: 'tab1',
        type: 'telemetry-config',
        account: 'acc1',
        hostname: HOST,
        port: 4433,
        ca: TELEMETRY_CA,
        fields: SEED_FIELDS,
        alertTypes: '',
        preferTyped: true,
        vins: [V.ok],
        exp: '',
        action: 'register',
        wires: [['out1']],
        ...node,
      },
      { id: 'out1', z: 'tab1', type: 'helper' },
      { id: 'catch1', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['helperCatch']] },
      { id: 'helperCatch', z: 'tab1', type: 'helper' },
    ];
    if (node2) {
      f.push({ ...f[2], id: 'tc2', wires: [['out2']], ...node2 }, { id: 'out2', z: 'tab1', type: 'helper' });
    }
    return f;
  }

  /** Load the flow; resolves with the telemetry-config node (collectors set on out/caught). */
  async function load(opts) {
    await helper.load(nodeModules('tesla-account', 'telemetry-config'), flow(opts), {
      acc1: { clientId: CLIENT_ID, refreshToken: REFRESH },
    });
    out = collector(helper.getNode('out1'));
    caught = collector(helper.getNode('helperCatch'));
    out2 = opts && opts.node2 ? collector(helper.getNode('out2')) : null;
    return helper.getNode('tc1');
  }

  /** Send one message and resolve with the message the node sends for it. */
  async function run(node, msg = {}, col = out) {
    const from = col.received.length;
    const id = `m-${Math.random().toString(36).slice(2)}`;
    node.receive({ ...msg, _tag: id });
    return col.next((m) => m._tag === id, from);
  }

  /** Fails when any token value the double ever accepted or issued appears in `text`. */
  function assertNoSecrets(text, where) {
    for (const s of [REFRESH, ...d.secrets()]) {
      assert.ok(!text.includes(s), `${where} contains a token (${s.slice(0, 6)}…)`);
    }
  }

  // -------------------------------------------------------------------------------------
  describe('register', function () {
    it('POSTs the exact seed-compatible body through the proxy with the bearer token, and reports each VIN', async function () {
      const vins = [V.ok, V.nokey, V.fw, V.hw, V.max];
      // The port as the editor's form may store it (a string) must still go out as a number.
      const node = await load({ node: { vins: vins.join(', '), port: '4433' } });
      const summary = statusIs(node, (st) => st.fill === 'green');
      const msg = await run(node);
      assert.deepEqual(await summary, { fill: 'green', shape: 'dot', text: 'register: 1 updated, 4 skipped' });

      // Exactly one token refresh, then exactly one API call: the config POST via the proxy.
      assert.equal(tokenCalls(d).length, 1);
      assert.equal(tokenCalls(d)[0].refreshToken, 'valid');
      const api = apiCalls(d);
      assert.deepEqual(
        api.map((c) => [c.method, c.path, c.via, c.auth, c.status]),
        [['POST', CONFIG_ROUTE, 'proxy', 'valid', 200]],
      );
      const body = api[0].body;
      const expected = { vins, config: expectedConfig() };
      assert.equal(JSON.stringify(body), JSON.stringify(expected), 'body byte-compatible with the seed (keys and order)');
      assert.deepEqual(Object.keys(body), ['vins', 'config']);
      assert.deepEqual(Object.keys(body.config).slice(0, 4), ['hostname', 'port', 'ca', 'fields']);
      assert.equal(typeof body.config.port, 'number');
      assert.equal(body.config.ca, TELEMETRY_CA, 'PEM intact');
      assert.ok(body.config.ca.includes('\n') && !body.config.ca.includes('\\n'), 'real line breaks in the PEM');
      assert.equal(body.config.prefer_typed, true);
      assert.ok(!('alert_types' in body.config) && !('exp' in body.config), 'no alert_types/exp when not set');

      // The message.
      assert.equal(msg.event, 'register');
      assert.equal(msg.topic, 'telemetry-config/register');
      assert.deepEqual(msg.response, {
        response: {
          updated_vehicles: 1,
          skipped_vehicles: {
            missing_key: [V.nokey],
            unsupported_hardware: [V.hw],
            unsupported_firmware: [V.fw],
            max_configs: [V.max],
          },
        },
      });
      assert.equal(msg.payload.length, 5);
      assert.deepEqual(
        msg.payload.map((e) => [e.vin, e.ok, e.state, e.skipped]),
        [
          [V.ok, true, 'updated', undefined],
          [V.nokey, false, 'skipped', 'missing_key'],
          [V.fw, false, 'skipped', 'unsupported_firmware'],
          [V.hw, false, 'skipped', 'unsupported_hardware'],
          [V.max, false, 'skipped', 'max_configs'],
        ],
      );
      for (const e of msg.payload) assert.equal(typeof e.reason, 'string');
      const [upd, nokey, fw, hw, max] = msg.payload;
      assert.match(upd.reason, /accepted the config/);
      assert.ok(nokey.reason.includes(`https://tesla.com/_ak/${DOMAIN}`), nokey.reason);
      assert.match(nokey.reason, /not paired/);
      assert.match(fw.reason, /firmware is too old.*2024\.26/);
      assert.match(hw.reason, /hardware does not support/);
      assert.match(max.reason, /maximum number of telemetry configs/);
      assert.equal(caught.received.length, 0, 'no error for skipped VINs');

      // The double stored the config as sent (pending until the car connects).
      assert.deepEqual(d.vehicle(V.ok).telemetry.config, expectedConfig());
      assert.equal(d.vehicle(V.ok).telemetry.synced, false);
      // The rotated token went to a file under the runtime's userDir.
      const tokenFile = path.join(userDir, 'tesla-fleet-telemetry', 'acc1.json');
      assert.ok(fs.existsSync(tokenFile), 'token file under RED.settings.userDir');
      assert.equal(fs.statSync(tokenFile).mode & 0o777, 0o600);
    });

    it('sends alert_types, prefer_typed false, exp and optional field keys when set', async function () {
      const exp = Math.floor(Date.now() / 1000) + 30 * 86400;
      const fields = [
        { name: 'Soc', interval_seconds: '30', minimum_delta: '0.5', resend_interval_seconds: '' },
        { name: 'Gear', interval_seconds: 10, resend_interval_seconds: 600 },
      ];
      const node = await load({ node: { fields, alertTypes: 'service, service', preferTyped: false, exp: String(exp), port: 443 } });
      const msg = await run(node);
      assert.deepEqual(
        msg.payload.map((e) => [e.vin, e.state]),
        [[V.ok, 'updated']],
      );
      const [call] = d.callsTo(CONFIG_ROUTE, 'POST');
      const expected = {
        vins: [V.ok],
        config: {
          hostname: HOST,
          port: 443,
          ca: TELEMETRY_CA,
          fields: { Soc: { interval_seconds: 30, minimum_delta: 0.5 }, Gear: { interval_seconds: 10, resend_interval_seconds: 600 } },
          alert_types: ['service'],
          prefer_typed: false,
          exp,
        },
      };
      assert.equal(JSON.stringify(call.body), JSON.stringify(expected));
    });

    it('reads an answer without skipped_vehicles: updated only when updated_vehicles accounts for the VIN', async function () {
      d.settings.omitSkippedVehicles = true;
      const node = await load({ node: { vins: [V.ok, V.ok2] } });
      const all = await run(node);
      assert.deepEqual(all.response, { response: { updated_vehicles: 2 } });
      assert.deepEqual(
        all.payload.map((e) => [e.vin, e.ok, e.state]),
        [
          [V.ok, true, 'updated'],
          [V.ok2, true, 'updated'],
        ],
      );
      // One VIN silently skipped by Tesla (key not paired), no list to say which: never claim "updated".
      const some = await run(node, { vins: [V.ok, V.nokey] });
      assert.deepEqual(some.response, { response: { updated_vehicles: 1 } });
      assert.deepEqual(
        some.payload.map((e) => [e.vin, e.ok, e.state]),
        [
          [V.ok, false, 'unknown'],
          [V.nokey, false, 'unknown'],
        ],
      );
      for (const e of some.payload) assert.match(e.reason, /1 updated vehicle\(s\) for 2 not skipped.*status action/);
      assert.equal(d.callsTo(CONFIG_ROUTE, 'POST').length, 2);
    });

    it('reports every VIN skipped on HTTP 200 (nothing updated) without raising an error', async function () {
      const node = await load({ node: { vins: [V.nokey, V.max] } });
      const msg = await run(node);
      assert.equal(d.callsTo(CONFIG_ROUTE, 'POST')[0].status, 200);
      assert.equal(msg.response.response.updated_vehicles, 0);
      assert.deepEqual(
        msg.payload.map((e) => [e.vin, e.ok, e.state, e.skipped]),
        [
          [V.nokey, false, 'skipped', 'missing_key'],
          [V.max, false, 'skipped', 'max_configs'],
        ],
      );
      assert.equal(caught.received.length, 0);
    });
  });

  // -------------------------------------------------------------------------------------
  describe('status', function () {
    it('tells adopted, pending, rejected (config null / limit reached), key not paired, drift and not configured apart', async function () {
      const ours = expectedConfig();
      d.setVehicle(V.ok, { telemetry: { config: ours, synced: true } });
      d.setVehicle(V.pending, { telemetry: { config: ours, synced: false } });
      d.setVehicle(V.nullcfg, { telemetry: { config: null, synced: true } });
      d.setVehicle(V.limit, { telemetry: { config: null, synced: false, limitReached: true } });
      d.setVehicle(V.drift, {
        telemetry: {
          config: { ...ours, port: 4434, fields: { ...SEED_FIELDS, BatteryLevel: { interval_seconds: 30 } } },
          synced: true,
        },
      });
      d.setVehicle(V.none, {});
      // V.nokey: key_paired false (and no config).
      const vins = [V.ok, V.pending, V.nullcfg, V.limit, V.nokey, V.drift, V.none];
      const node = await load({ node: { vins, action: 'status' } });
      const msg = await run(node);

      assert.equal(msg.event, 'status');
      assert.equal(msg.topic, 'telemetry-config/status');
      // One GET per VIN through the proxy, with the bearer token; nothing else.
      assert.deepEqual(
        apiCalls(d).map((c) => [c.method, c.path, c.auth, c.status]),
        vins.map((v) => ['GET', `/proxy/api/1/vehicles/${v}/fleet_telemetry_config`, 'valid', 200]),
      );
      assert.deepEqual(
        msg.payload.map((e) => [e.vin, e.ok, e.state]),
        [
          [V.ok, true, 'adopted'],
          [V.pending, false, 'pending'],
          [V.nullcfg, false, 'rejected'],
          [V.limit, false, 'rejected'],
          [V.nokey, false, 'key not paired'],
          [V.drift, false, 'drift'],
          [V.none, false, 'not configured'],
        ],
      );
      const by = Object.fromEntries(msg.payload.map((e) => [e.vin, e]));
      assert.match(by[V.ok].reason, /runs this node's config/);
      assert.match(by[V.pending].reason, /not yet synced/);
      assert.deepEqual(by[V.pending].differences, []);
      assert.match(by[V.nullcfg].reason, /synced with no config/);
      assert.equal(by[V.nullcfg].synced, true);
      assert.match(by[V.limit].reason, /limit reached/);
      assert.equal(by[V.limit].limitReached, true);
      assert.ok(by[V.nokey].reason.includes(`https://tesla.com/_ak/${DOMAIN}`), by[V.nokey].reason);
      assert.equal(by[V.nokey].keyPaired, false);
      assert.deepEqual(by[V.drift].differences, ['port: 4434 on the car, 4433 here', 'BatteryLevel interval_seconds: 30 on the car, 60 here']);
      for (const diff of by[V.drift].differences) assert.ok(by[V.drift].reason.includes(diff), by[V.drift].reason);
      assert.match(by[V.none].reason, /no telemetry config/);
      // msg.response: the raw answers keyed by VIN.
      assert.deepEqual(Object.keys(msg.response), vins);
      assert.deepEqual(msg.response[V.nullcfg], { response: { synced: true, config: null, limit_reached: false, key_paired: true } });
      assert.deepEqual(msg.response[V.ok].response.config, ours);
      assert.equal(caught.received.length, 0);
    });

    it('register, then status: pending until the car connects, then adopted; a later change of port shows as drift', async function () {
      const node = await load({ node: { vins: [V.ok] } });
      const reg = await run(node);
      assert.deepEqual(
        reg.payload.map((e) => e.state),
        ['updated'],
      );
      const pending = await run(node, { action: 'status' });
      assert.deepEqual(
        pending.payload.map((e) => e.state),
        ['pending'],
      );
      d.setVehicle(V.ok, { telemetry: { synced: true } }); // the car connected and took it
      const adopted = await run(node, { action: 'status' });
      assert.deepEqual(
        adopted.payload.map((e) => [e.vin, e.ok, e.state]),
        [[V.ok, true, 'adopted']],
      );
      const drift = await run(node, { action: 'status', config: { port: 4444 } });
      assert.equal(drift.payload[0].state, 'drift');
      assert.deepEqual(drift.payload[0].differences, ['port: 4433 on the car, 4444 here']);
      assert.deepEqual(
        apiCalls(d).map((c) => `${c.method} ${c.path}`),
        [`POST ${CONFIG_ROUTE}`, ...Array(3).fill(`GET /proxy/api/1/vehicles/${V.ok}/fleet_telemetry_config`)],
      );
    });
  });

  // -------------------------------------------------------------------------------------
  describe('check', function () {
    it('POSTs fleet_status once for all VINs: ready / key not paired / unsupported firmware', async function () {
      d.setVehicle(V.fw, { firmware: '2024.20.1', skipReason: null });
      const vins = [V.ok, V.nokey, V.fw];
      const node = await load({ node: { vins, action: 'check' } });
      const msg = await run(node);
      assert.deepEqual(
        apiCalls(d).map((c) => [c.method, c.path, c.auth, c.status]),
        [['POST', '/proxy/api/1/vehicles/fleet_status', 'valid', 200]],
      );
      assert.deepEqual(apiCalls(d)[0].body, { vins });
      assert.equal(msg.event, 'check');
      assert.equal(msg.topic, 'telemetry-config/check');
      assert.deepEqual(
        msg.payload.map((e) => [e.vin, e.ok, e.state, e.keyPaired, e.firmware]),
        [
          [V.ok, true, 'ready', true, '2024.44.25'],
          [V.nokey, false, 'key not paired', false, '2024.44.25'],
          [V.fw, false, 'unsupported firmware', true, '2024.20.1'],
        ],
      );
      assert.match(msg.payload[0].reason, /ready to register/);
      assert.ok(msg.payload[1].reason.includes(`https://tesla.com/_ak/${DOMAIN}`));
      assert.match(msg.payload[2].reason, /2024\.20\.1 is older than 2024\.26/);
      assert.equal(msg.payload[0].fleetTelemetryVersion, '1.0.0');
      assert.equal(msg.payload[0].totalNumberOfKeys, 2);
      assert.deepEqual(msg.response.response.key_paired_vins, [V.ok, V.fw]);
      assert.deepEqual(msg.response.response.unpaired_vins, [V.nokey]);
    });
  });

  // -------------------------------------------------------------------------------------
  describe('errors and delete', function () {
    it('errors: GET fleet_telemetry_errors per VIN, newest first, as the lib interprets them', async function () {
      const older = {
        created_at: '2025-01-01T10:00:00Z',
        error: 'dial tcp: i/o timeout',
        error_name: 'ConnectionError',
        name: 'telemetry',
        txID: 'tx-1',
        vin: V.ok,
      };
      const newer = {
        created_at: '2025-01-02T10:00:00Z',
        error: 'x509: unknown authority',
        error_name: 'TlsError',
        name: 'telemetry',
        txID: 'tx-2',
        vin: V.ok,
      };
      d.setVehicle(V.ok, { telemetryErrors: [older, newer] });
      const node = await load({ node: { vins: [V.ok, V.ok2], action: 'errors' } });
      const msg = await run(node);
      assert.deepEqual(
        apiCalls(d).map((c) => [c.method, c.path, c.auth, c.status]),
        [V.ok, V.ok2].map((v) => ['GET', `/proxy/api/1/vehicles/${v}/fleet_telemetry_errors`, 'valid', 200]),
      );
      assert.equal(msg.event, 'errors');
      assert.equal(msg.topic, 'telemetry-config/errors');
      assert.deepEqual(
        msg.payload.map((e) => [e.vin, e.ok, e.state]),
        [
          [V.ok, false, 'errors'],
          [V.ok2, true, 'no errors'],
        ],
      );
      assert.deepEqual(
        msg.payload[0].errors.map((e) => e.txId),
        ['tx-2', 'tx-1'],
      );
      assert.match(msg.payload[0].reason, /2 telemetry error\(s\).*2025-01-02T10:00:00Z.*TlsError/);
      assert.deepEqual(msg.response[V.ok], { response: { fleet_telemetry_errors: [older, newer] } });
      for (const v of [V.ok, V.ok2]) {
        assert.deepEqual(
          msg.payload.find((e) => e.vin === v),
          tc.interpretErrors(v, msg.response[v]),
        );
      }
      assert.equal(caught.received.length, 0);
    });

    it('delete: DELETE fleet_telemetry_config per VIN; deleted, or unknown when Tesla updated nothing', async function () {
      d.setVehicle(V.ok, { telemetry: { config: expectedConfig(), synced: true } });
      const node = await load({ node: { vins: [V.ok, V.ok2], action: 'delete' } });
      const msg = await run(node);
      assert.deepEqual(
        apiCalls(d).map((c) => [c.method, c.path, c.auth, c.status]),
        [V.ok, V.ok2].map((v) => ['DELETE', `/proxy/api/1/vehicles/${v}/fleet_telemetry_config`, 'valid', 200]),
      );
      assert.equal(msg.event, 'delete');
      assert.equal(msg.topic, 'telemetry-config/delete');
      assert.deepEqual(
        msg.payload.map((e) => [e.vin, e.ok, e.state]),
        [
          [V.ok, true, 'deleted'],
          [V.ok2, false, 'unknown'],
        ],
      );
      assert.deepEqual(msg.response, {
        [V.ok]: { response: { updated_vehicles: 1 } },
        [V.ok2]: { response: { updated_vehicles: 0 } },
      });
      for (const v of [V.ok, V.ok2]) {
        assert.deepEqual(
          msg.payload.find((e) => e.vin === v),
          tc.interpretDelete(v, 200, msg.response[v]),
        );
      }
      assert.equal(d.vehicle(V.ok).telemetry.config, null);
    });

    it('an HTTP error becomes an error entry, and done(err) reaches the Catch node after the result message', async function () {
      d.failNext(/\/fleet_telemetry_errors$/, {
        method: 'GET',
        status: 404,
        body: { response: null, error: 'not_found', error_description: 'vehicle not found' },
      });
      const node = await load({ node: { vins: [V.ok, V.ok2], action: 'errors' } });
      const msg = await run(node);
      const err = await caught.next();
      assert.deepEqual(
        msg.payload.map((e) => [e.vin, e.state]),
        [
          [V.ok, 'error'],
          [V.ok2, 'no errors'],
        ],
      );
      assert.equal(msg.payload[0].httpStatus, 404);
      assert.equal(err.error.source.id, 'tc1');
      assert.match(err.error.message, new RegExp(`^(Error: )?telemetry-config errors: ${V.ok}: .*not found.*\\(404\\)`));
      assert.ok(!err.error.message.includes(V.ok2), 'only the failed VIN is named');
    });
  });

  // -------------------------------------------------------------------------------------
  describe('message overrides', function () {
    it('msg.action, msg.vins and msg.config override the node settings for that message only', async function () {
      const exp = Math.floor(Date.now() / 1000) + 7 * 86400;
      const node = await load({ node: { action: 'status', vins: [V.ok] } });
      const msg = await run(node, {
        action: 'register',
        vins: `${V.ok2}, ${V.nokey}`,
        config: {
          hostname: 'other.example.com',
          port: 5555,
          alert_types: ['service'],
          prefer_typed: false,
          exp,
          fields: { Soc: { interval_seconds: 30 } },
        },
      });
      assert.equal(msg.event, 'register');
      const [call] = d.callsTo(CONFIG_ROUTE, 'POST');
      assert.equal(
        JSON.stringify(call.body),
        JSON.stringify({
          vins: [V.ok2, V.nokey],
          config: {
            hostname: 'other.example.com',
            port: 5555,
            ca: TELEMETRY_CA,
            fields: { Soc: { interval_seconds: 30 } },
            alert_types: ['service'],
            prefer_typed: false,
            exp,
          },
        }),
      );
      assert.deepEqual(
        msg.payload.map((e) => [e.vin, e.state]),
        [
          [V.ok2, 'updated'],
          [V.nokey, 'skipped'],
        ],
      );
      // The next message without overrides uses the node's own settings again (status of V.ok).
      const plain = await run(node);
      assert.equal(plain.event, 'status');
      assert.deepEqual(
        plain.payload.map((e) => [e.vin, e.state]),
        [[V.ok, 'not configured']],
      );
      // msg.action check with msg.vins as an array.
      const check = await run(node, { action: 'check', vins: [V.nokey] });
      assert.deepEqual(
        check.payload.map((e) => [e.vin, e.state]),
        [[V.nokey, 'key not paired']],
      );
      assert.deepEqual(
        apiCalls(d).map((c) => `${c.method} ${c.path}`),
        [`POST ${CONFIG_ROUTE}`, `GET /proxy/api/1/vehicles/${V.ok}/fleet_telemetry_config`, 'POST /proxy/api/1/vehicles/fleet_status'],
      );
    });

    it('an unknown msg.action is refused before any call', async function () {
      const node = await load();
      node.receive({ action: 'nuke' });
      const err = await caught.next();
      assert.match(err.error.message, /unknown action "nuke"/);
      assert.equal(d.calls.length, 0);
      assert.equal(out.received.length, 0);
    });
  });

  // -------------------------------------------------------------------------------------
  describe('validation before any call', function () {
    const cases = [
      [
        'a hostname with a scheme',
        { hostname: 'https://telemetry.example.com' },
        /register: hostname "https:\/\/telemetry\.example\.com" has a scheme/,
      ],
      ['a hostname with a port', { hostname: 'telemetry.example.com:4433' }, /register: hostname "telemetry\.example\.com:4433" has a port/],
      ['a string port "44x3"', { port: '44x3' }, /register: port must be an integer from 1 to 65535 \(got "44x3"\)/],
      ['port 70000', { port: 70000 }, /register: port must be an integer from 1 to 65535/],
      ['an expired CA', { ca: EXPIRED_CA }, /register: ca: "CN=Expired Test CA" expired on/],
      ['a CA that is not a PEM', { ca: 'hello' }, /register: ca: not a PEM certificate/],
      [
        'an unknown field',
        { fields: { ...SEED_FIELDS, BatteryLevl: { interval_seconds: 60 } } },
        /register: fields\.BatteryLevl: BatteryLevl is not a field of the catalogue/,
      ],
      [
        'interval 0',
        { fields: { ...SEED_FIELDS, BatteryLevel: { interval_seconds: 0 } } },
        /register: fields\.BatteryLevel: BatteryLevel: interval_seconds must be an integer >= 1 \(got 0\)/,
      ],
      [
        'a duplicate field',
        {
          fields: [
            { name: 'Gear', interval_seconds: 60 },
            { name: 'Gear', interval_seconds: 10 },
          ],
        },
        /register: fields\.Gear: Gear is listed twice/,
      ],
      ['no VINs', { vins: '' }, /register: vins: at least one VIN is needed/],
      ['an exp in the past', { exp: 1000 }, /register: exp 1000 .* is not in the future/],
      ['no VINs for status', { vins: ' , ', action: 'status' }, /^(ValidationError: )?telemetry-config status: vins: at least one VIN is needed/],
    ];
    for (const [what, settings, expected] of cases) {
      it(`refuses ${what}: done(err) to the Catch node naming the input, no HTTP call at all`, async function () {
        const node = await load({ node: settings });
        const invalid = statusIs(node, (st) => st.fill === 'red');
        node.receive({ payload: 'go' });
        const err = await caught.next();
        assert.equal((await invalid).text, 'invalid settings');
        assert.equal(err.error.source.id, 'tc1');
        assert.equal(err.error.source.type, 'telemetry-config');
        assert.match(err.error.message, expected);
        assert.equal(err.payload, 'go', 'the Catch node gets the input message');
        assert.equal(out.received.length, 0, 'no result message');
        assert.deepEqual(d.calls, [], 'no call to the double (no token call, no /api/ call)');
        assert.equal(d.connections, 0, 'not even a connection');
      });
    }

    it('status with a broken config is still allowed (only the VINs matter), without comparing', async function () {
      d.setVehicle(V.ok, { telemetry: { config: expectedConfig(), synced: true } });
      const node = await load({ node: { action: 'status', hostname: 'https://bad', port: '44x3' } });
      const msg = await run(node);
      assert.deepEqual(
        msg.payload.map((e) => [e.vin, e.state]),
        [[V.ok, 'adopted']],
      );
      assert.match(msg.payload[0].reason, /not compared/);
      // An empty msg.vins falls back to the node's VINs.
      const again = await run(node, { vins: [] });
      assert.deepEqual(
        again.payload.map((e) => [e.vin, e.state]),
        [[V.ok, 'adopted']],
      );
      assert.equal(apiCalls(d).length, 2);
    });

    it('a VIN that is not 17 characters is a warning only', async function () {
      const node = await load({ node: { vins: 'SHORTVIN', action: 'status' } });
      const warned = new Promise((resolve) => node.on('call:warn', (call) => resolve(call.args[0])));
      const msg = await run(node);
      assert.match(await warned, /vins: VIN "SHORTVIN" has 8 characters, not 17/);
      assert.deepEqual(
        msg.payload.map((e) => [e.vin, e.state]),
        [['SHORTVIN', 'error']],
      );
      assert.equal(apiCalls(d).length, 1, 'the call was made');
    });
  });

  // -------------------------------------------------------------------------------------
  describe('rate limits and concurrency', function () {
    it('429 with Retry-After on register: rate-limited entries; the next input makes no HTTP call', async function () {
      d.failNext(/\/fleet_telemetry_config$/, {
        method: 'POST',
        status: 429,
        headers: { 'retry-after': '120' },
        body: { response: null, error: 'Too Many Requests', error_description: '' },
      });
      const node = await load({ node: { vins: [V.ok, V.ok2] } });
      const first = await run(node);
      assert.deepEqual(
        first.payload.map((e) => [e.vin, e.ok, e.state, e.retryAfterSeconds]),
        [
          [V.ok, false, 'rate-limited', 120],
          [V.ok2, false, 'rate-limited', 120],
        ],
      );
      assert.match(first.payload[0].reason, /retry in 120 s/);
      assert.deepEqual(first.response, { response: null, error: 'Too Many Requests', error_description: '' });
      assert.equal(d.callsTo(CONFIG_ROUTE, 'POST').length, 1);
      const callsBefore = d.calls.length;

      const second = await run(node);
      assert.equal(d.calls.length, callsBefore, 'no HTTP call while Tesla asked to wait');
      assert.deepEqual(
        second.payload.map((e) => [e.vin, e.ok, e.state]),
        [
          [V.ok, false, 'rate-limited'],
          [V.ok2, false, 'rate-limited'],
        ],
      );
      for (const e of second.payload) {
        assert.match(e.reason, /no call made/);
        assert.ok(e.retryAfterSeconds > 100 && e.retryAfterSeconds <= 120, String(e.retryAfterSeconds));
      }
      assert.equal(second.response, null);
      assert.equal(caught.received.length, 0, 'rate-limited is not an error');
    });

    it('inputs at once (one node twice, and a second node on the same account): one config call in flight, no 429', async function () {
      // Hold the first config POST for a while: a parallel one would arrive meanwhile and get 429.
      d.failNext(/\/fleet_telemetry_config$/, { method: 'POST', delayMs: 300 });
      const node = await load({ node: { vins: [V.ok] }, node2: { vins: [V.ok2] } });
      const node2 = helper.getNode('tc2');
      const results = await Promise.all([
        run(node, { vins: [V.ok] }),
        run(node, { vins: [V.ok2] }),
        run(node2, {}, out2),
        run(node2, { action: 'delete' }, out2),
      ]);
      const configCalls = d.callsTo(/\/fleet_telemetry_config$/);
      assert.deepEqual(configCalls.map((c) => [c.method, c.status]).sort(), [
        ['DELETE', 200],
        ['POST', 200],
        ['POST', 200],
        ['POST', 200],
      ]);
      assert.equal(d.maxConfigInFlight, 1);
      assert.deepEqual(
        results.map((m) => m.payload.map((e) => [e.vin, e.state])),
        [[[V.ok, 'updated']], [[V.ok2, 'updated']], [[V.ok2, 'updated']], [[V.ok2, 'deleted']]],
      );
      assert.equal(d.callsTo(CONFIG_ROUTE, 'POST').filter((c) => c.status === 429).length, 0);
      assert.equal(caught.received.length, 0);
    });
  });

  // -------------------------------------------------------------------------------------
  describe('secrets', function () {
    it('errors, messages and logs never contain a refresh or access token', async function () {
      // A config POST refused with a 403, then the token endpoint refusing the refresh token.
      d.failNext(/\/fleet_telemetry_config$/, {
        method: 'POST',
        status: 403,
        body: { response: null, error: 'forbidden', error_description: 'missing scope vehicle_cmds' },
      });
      const node = await load({ node: { vins: [V.ok] } });
      const first = await run(node);
      const err1 = await caught.next();
      assert.deepEqual(
        first.payload.map((e) => [e.vin, e.state, e.httpStatus]),
        [[V.ok, 'error', 403]],
      );
      assert.match(err1.error.message, /403/);

      // A proxy error that echoes the tokens back in its body (and text): scrubbed everywhere.
      const issued = d.secrets().filter((t) => t !== REFRESH);
      assert.ok(issued.length >= 2, 'a rotated refresh token and an access token were issued');
      d.failNext(/\/fleet_telemetry_config$/, {
        method: 'GET',
        status: 400,
        body: { response: null, error: `bad request with ${issued.join(' and ')}`, error_description: `deployed ${REFRESH}` },
      });
      const echoed = await run(node, { action: 'status' });
      const err2 = await caught.next(() => true, 1);
      assert.deepEqual(
        echoed.payload.map((e) => [e.vin, e.state, e.httpStatus]),
        [[V.ok, 'error', 400]],
      );
      assert.match(err2.error.message, /400/);
      assert.match(JSON.stringify(echoed.response), /bad request with/, 'the raw answer is kept, tokens removed');

      // The access token expires and the refresh token is no longer accepted: login required.
      d.revokeAccessTokens();
      d.setRefreshToken('rt-SECRET-someone-else-0002');
      const second = await run(node, { action: 'status' });
      const err3 = await caught.next(() => true, 2);
      assert.equal(second.payload[0].state, 'error');
      assert.match(second.payload[0].reason, /refresh|login|sign in|token/i);

      assert.ok(d.secrets().length >= 3, 'the double issued tokens to check against');
      for (const m of [first, err1, echoed, err2, second, err3]) assertNoSecrets(JSON.stringify(m), `message ${m.topic || 'catch'}`);
      assertNoSecrets([err1, err2, err3].map((e) => e.error.message).join('\n'), 'error messages');
      const logs = helper
        .log()
        .args.map((a) => JSON.stringify(a[0]))
        .join('\n');
      assertNoSecrets(logs, 'the runtime log');
      assertNoSecrets(JSON.stringify(d.calls.filter((c) => c.route === '/oauth2/v3/token')), 'the double records of token calls');
    });
  });
});
