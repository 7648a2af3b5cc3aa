'use strict';
const { lib } = require('../../support/paths');
/**
 * The Fleet API core library (src/lib/fleet-api) against the local HTTPS double
 * (dev/fleet-double.js), through the real undici path with a generated certificate.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const {
  FleetApiClient,
  FleetApiError,
  FileTokenStore,
  MemoryTokenStore,
  BillingMeter,
  fingerprint,
  parseRetryAfter,
  parseRegionBaseUrl,
  REGION_BASE_URLS,
  DEFAULT_TOKEN_URL,
  formatCost,
} = lib('fleet-api');
const { startFleetDouble, ASLEEP_BODY } = require('../../../dev/fleet-double');
const { makeCA, makeCert } = require('../../support/certs');
const { fakeClock } = require('../../support/clock');

const CLIENT_ID = 'test-client-id';
const CLIENT_SECRET = 'cs-SECRET-never-shown-0123456789';
const VIN = 'TEST00000000VIN01';
const ASLEEP_VIN = 'TEST00000000VIN02';
const OFFLINE_VIN = 'TEST00000000VIN03';
const MIN = 60 * 1000;

/** Resolves with the rejection of `p` (fails when it resolves). */
async function failure(p) {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('expected the call to fail');
}

const tokenCalls = (d) => d.calls.filter((c) => c.route === '/oauth2/v3/token');
const apiCalls = (d) => d.calls.filter((c) => c.route.startsWith('/api/1'));

describe('fleet-api library against the HTTPS double', function () {
  let clock;
  let d;
  let clients;
  let tmpDirs;

  function client(extra = {}) {
    const c = new FleetApiClient({
      region: 'na',
      fleetApiUrl: d.url,
      tokenUrl: d.tokenUrl,
      proxyCa: d.ca,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      refreshToken: d.currentRefreshToken,
      now: clock.now,
      timeoutMs: 5000,
      ...extra,
    });
    clients.push(c);
    return c;
  }

  function tmpDir() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-api-test-'));
    tmpDirs.push(dir);
    return dir;
  }

  beforeEach(async function () {
    clock = fakeClock(Date.now()); // shared by the double and the clients
    clients = [];
    tmpDirs = [];
    d = await startFleetDouble({
      clientId: CLIENT_ID,
      refreshToken: 'rt-SECRET-initial-0001',
      now: clock.now,
      vehicles: {
        [VIN]: { state: 'online' },
        [ASLEEP_VIN]: { state: 'asleep' },
        [OFFLINE_VIN]: { state: 'offline' },
      },
    });
  });

  afterEach(async function () {
    await Promise.all(clients.map((c) => c.close()));
    await d.close();
    for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('hosts and routing', function () {
    it('uses the regional base URLs and Tesla token URL by default', async function () {
      for (const [region, host] of [
        ['na', 'https://fleet-api.prd.na.vn.cloud.tesla.com'],
        ['eu', 'https://fleet-api.prd.eu.vn.cloud.tesla.com'],
        ['cn', 'https://fleet-api.prd.cn.vn.cloud.tesla.cn'],
      ]) {
        const c = new FleetApiClient({ region, clientId: CLIENT_ID });
        clients.push(c);
        assert.equal(c.baseUrl, host);
        assert.equal(REGION_BASE_URLS[region], host);
        assert.equal(c.tokenUrl, 'https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/token');
        assert.equal(c.proxyUrl, null);
      }
      assert.equal(DEFAULT_TOKEN_URL, 'https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/token');
      const bad = await failure(Promise.resolve().then(() => new FleetApiClient({ region: 'xx', clientId: CLIENT_ID })));
      assert.equal(bad.kind, 'config');
      const plain = await failure(
        Promise.resolve().then(() => new FleetApiClient({ region: 'na', clientId: CLIENT_ID, proxyUrl: 'http://localhost:4443' })),
      );
      assert.equal(plain.kind, 'config');
      assert.match(plain.message, /https/);
    });

    it('sends vehicle calls to the base URL with the bearer token; endpoints joined by ; and URL-encoded', async function () {
      const c = client();
      const { state, response } = await c.getVehicle(VIN);
      assert.equal(state, 'online');
      assert.equal(response.vin, VIN);
      const data = await c.vehicleData(VIN, ['charge_state', 'location_data']);
      assert.equal(data.response.vin, VIN);
      assert.equal(data.response.state, 'online');
      assert.equal(data.response.charge_state.battery_level, 42);
      assert.equal(data.response.drive_state.latitude, 37.7765494);
      assert.equal(data.response.climate_state, undefined, 'only the requested endpoints');
      const api = apiCalls(d);
      assert.deepEqual(
        api.map((x) => [x.method, x.path, x.rawQuery, x.via, x.auth, x.status]),
        [
          ['GET', `/api/1/vehicles/${VIN}`, '', 'fleet', 'valid', 200],
          ['GET', `/api/1/vehicles/${VIN}/vehicle_data`, '?endpoints=charge_state%3Blocation_data', 'fleet', 'valid', 200],
        ],
      );
    });

    it('routes every vehicle call through the proxy when proxyUrl is set; token refresh goes to tokenUrl', async function () {
      d.setVehicle(VIN, { autoSync: true });
      const c = client({ proxyUrl: d.proxyUrl });
      await c.getVehicle(VIN);
      await c.vehicleData(VIN, ['charge_state']);
      await c.fleetStatus([VIN]);
      const created = await c.createTelemetryConfig({
        vins: [VIN],
        config: { hostname: 'telemetry.example.com', port: 4443, ca: d.ca, fields: { BatteryLevel: { interval_seconds: 60 } } },
      });
      assert.equal(created.response.updated_vehicles, 1);
      const status = await c.getTelemetryConfig(VIN);
      assert.equal(status.response.synced, true);
      assert.equal(status.response.config.port, 4443);
      await c.telemetryErrors(VIN);
      await c.deleteTelemetryConfig(VIN);
      const api = apiCalls(d);
      assert.equal(api.length, 7);
      for (const x of api) {
        assert.equal(x.via, 'proxy', `${x.method} ${x.path} went through the proxy`);
        assert.ok(x.path.startsWith('/proxy/api/1/'));
      }
      assert.deepEqual(
        tokenCalls(d).map((x) => [x.method, x.path, x.via]),
        [['POST', '/oauth2/v3/token', 'auth']],
      );
    });

    it('refuses a telemetry config without a proxy, or with a string port, before any request', async function () {
      const c = client();
      const body = { vins: [VIN], config: { hostname: 'h.example', port: 4443, fields: {} } };
      const e = await failure(c.createTelemetryConfig(body));
      assert.equal(e.kind, 'config');
      assert.match(e.message, /proxy/);
      const p = client({ proxyUrl: d.proxyUrl });
      const e2 = await failure(p.createTelemetryConfig({ ...body, config: { ...body.config, port: '4443' } }));
      assert.equal(e2.kind, 'config');
      assert.match(e2.message, /port/);
      assert.equal(d.calls.length, 0, 'nothing was sent, not even a token refresh');
    });

    it('gets the telemetry-config answers the double programs per VIN', async function () {
      const b = 'TEST00000000VIN0B';
      const m = 'TEST00000000VIN0M';
      d.setVehicle(b, { skipReason: 'unsupported_firmware' });
      d.setVehicle(m, { ignoreConfig: true });
      d.setVehicle(OFFLINE_VIN, { keyPaired: false });
      const c = client({ proxyUrl: d.proxyUrl });
      const config = { hostname: 't.example', port: 443, fields: { Soc: { interval_seconds: 30 } }, prefer_typed: true };
      const res = await c.createTelemetryConfig({ vins: [VIN, b, m, OFFLINE_VIN], config });
      assert.deepEqual(res.response, {
        updated_vehicles: 2,
        skipped_vehicles: { missing_key: [OFFLINE_VIN], unsupported_hardware: [], unsupported_firmware: [b], max_configs: [] },
      });
      assert.deepEqual((await c.getTelemetryConfig(VIN)).response, {
        synced: false,
        config,
        limit_reached: false,
        key_paired: true,
      });
      assert.deepEqual((await c.getTelemetryConfig(m)).response, {
        synced: true,
        config: null,
        limit_reached: false,
        key_paired: true,
      });
      d.settings.omitSkippedVehicles = true;
      const res2 = await c.createTelemetryConfig({ vins: [VIN], config });
      assert.deepEqual(res2.response, { updated_vehicles: 1 });
      d.setVehicle(VIN, { telemetryErrors: [{ name: 'client', error: 'Unable to parse config', vin: VIN }] });
      const errs = await c.telemetryErrors(VIN);
      assert.deepEqual(errs.response.fleet_telemetry_errors, [{ name: 'client', error: 'Unable to parse config', vin: VIN }]);
      const fs1 = await c.fleetStatus([VIN, OFFLINE_VIN]);
      assert.deepEqual(fs1.response.key_paired_vins, [VIN]);
      assert.deepEqual(fs1.response.unpaired_vins, [OFFLINE_VIN]);
      assert.equal(fs1.response.vehicle_info[VIN].fleet_telemetry_version, '1.0.0');
      assert.equal(typeof fs1.response.vehicle_info[VIN].total_number_of_keys, 'number');
    });

    it('parallel telemetry-config POSTs get 429 from the proxy; createTelemetryConfig serializes them', async function () {
      const c = client({ proxyUrl: d.proxyUrl });
      const body = { vins: [VIN], config: { hostname: 't.example', port: 443, fields: {} } };
      const raw = () => c.request({ method: 'POST', path: '/api/1/vehicles/fleet_telemetry_config', body, category: 'command', via: 'proxy' });
      await c.getVehicle(VIN); // token refreshed first, so both POSTs below are plain API calls
      const held = d.failNext(/fleet_telemetry_config$/, { hang: true, method: 'POST' });
      const first = raw();
      await held.arrived;
      const second = await failure(raw());
      assert.equal(second.kind, 'rate-limited');
      assert.equal(second.retryAfterSeconds, 1);
      held.release();
      assert.equal((await first).response.updated_vehicles, 1);

      // Through the client's serialization, the second POST leaves only after the first answered.
      const held2 = d.failNext(/fleet_telemetry_config$/, { hang: true, method: 'POST' });
      const a = c.createTelemetryConfig(body);
      await held2.arrived;
      const b = c.createTelemetryConfig(body);
      await c.getVehicle(VIN); // a full round trip while the first POST is held
      const posts = d.callsTo(/fleet_telemetry_config$/, 'POST');
      assert.equal(posts.length, 3, 'the second serialized POST was not sent while the first was in flight');
      held2.release();
      const [ra, rb] = await Promise.all([a, b]);
      assert.equal(ra.response.updated_vehicles, 1);
      assert.equal(rb.response.updated_vehicles, 1);
      assert.deepEqual(
        d.callsTo(/fleet_telemetry_config$/, 'POST').map((x) => x.status),
        [200, 429, 200, 200],
      );
    });

    it('serialized() runs one function at a time in order, nested calls run directly', async function () {
      const c = client();
      const order = [];
      let releaseA;
      const gateA = new Promise((r) => (releaseA = r));
      const a = c.serialized(async () => {
        order.push('a start');
        await gateA;
        // nested: must not deadlock
        await c.serialized(async () => order.push('a nested'));
        order.push('a end');
        return 'A';
      });
      const b = c.serialized(async () => {
        order.push('b');
        return 'B';
      });
      const failing = c.serialized(async () => {
        throw new Error('boom');
      });
      const after = c.serialized(async () => 'after a failure');
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(order, ['a start'], 'b waits while a runs');
      releaseA();
      assert.equal(await a, 'A');
      assert.equal(await b, 'B');
      await assert.rejects(failing, /boom/);
      assert.equal(await after, 'after a failure');
      assert.deepEqual(order, ['a start', 'a nested', 'a end', 'b']);
    });
  });

  describe('TLS trust', function () {
    it('trusts the double only through proxyCa; without it: kind tls, one attempt, nothing sent', async function () {
      const c = client({ proxyCa: undefined });
      const e = await failure(c.getVehicle(VIN));
      assert.equal(e.kind, 'tls');
      assert.equal(e.status, null);
      assert.match(e.message, /not trusted/);
      assert.match(e.message, /proxy CA/);
      assert.equal(d.connections, 1, 'exactly one connection attempt');
      assert.equal(d.calls.length, 0, 'no HTTP request got through');
    });

    it('with a CA that did not sign the certificate: kind tls, exactly one attempt, no retry', async function () {
      const other = makeCA({ commonName: 'Some other CA' });
      const c = client({ proxyCa: other.cert, proxyUrl: d.proxyUrl, accessToken: d.grant().accessToken });
      const e = await failure(c.vehicleData(VIN, ['charge_state']));
      assert.equal(e.kind, 'tls');
      assert.equal(e.code, 'DEPTH_ZERO_SELF_SIGNED_CERT', 'the double serves a self-signed certificate');
      assert.match(e.message, /is not trusted/);
      assert.match(e.message, /set the proxy CA/);
      assert.equal(d.connections, 1, 'exactly one connection attempt');
      assert.equal(d.calls.length, 0, 'no HTTP request got through');
      assert.deepEqual(c.meter.today().calls, { data: 0, command: 0, wake: 0, free: 0 }, 'not billed');
    });

    it('an expired server certificate is a tls error that says so', async function () {
      const ca = makeCA({ commonName: 'Expiry CA', days: 30, notBefore: Date.now() - 20 * 86400e3 });
      const t0 = Date.now() - 10 * 86400e3;
      const leaf = makeCert({ ca, notBefore: t0, notAfter: t0 + 86400e3 });
      const old = await startFleetDouble({ clientId: CLIENT_ID, tls: { cert: leaf.cert, key: leaf.key, ca: ca.cert } });
      try {
        const c = client({ fleetApiUrl: old.url, tokenUrl: old.tokenUrl, proxyCa: old.ca, refreshToken: old.currentRefreshToken });
        const e = await failure(c.getVehicle(VIN));
        assert.equal(e.kind, 'tls');
        assert.equal(e.code, 'CERT_HAS_EXPIRED');
        assert.match(e.message, /expired/);
        assert.equal(old.calls.length, 0);
      } finally {
        await old.close();
      }
    });

    it('rejects a proxyCa that is not a PEM certificate', function () {
      assert.throws(
        () => new FleetApiClient({ region: 'na', clientId: CLIENT_ID, proxyCa: 'not a certificate' }),
        (e) => e instanceof FleetApiError && e.kind === 'config',
      );
    });
  });

  describe('tokens', function () {
    it('refreshes when no access token is deployed, with only grant_type, client_id, refresh_token', async function () {
      const deployed = d.currentRefreshToken;
      const c = client();
      assert.deepEqual(c.tokenState(), { hasAccessToken: false, hasRefreshToken: true, expiresAt: null, loginRequired: false });
      await c.getVehicle(VIN);
      const [t] = tokenCalls(d);
      assert.deepEqual(t.fields, ['grant_type', 'client_id', 'refresh_token']);
      assert.equal(t.body.grant_type, 'refresh_token');
      assert.equal(t.body.client_id, CLIENT_ID);
      assert.equal(t.refreshToken, 'valid');
      assert.notEqual(d.currentRefreshToken, deployed, 'the refresh token rotated');
      const s = c.tokenState();
      assert.equal(s.hasAccessToken, true);
      assert.equal(s.expiresAt, clock.now() + 3600 * 1000, 'expires_in sets the expiry');
      assert.deepEqual(
        d.calls.map((x) => x.route),
        ['/oauth2/v3/token', `/api/1/vehicles/${VIN}`],
      );
    });

    it('uses a deployed access token while it is valid for more than 5 minutes, then refreshes first', async function () {
      const { accessToken } = d.grant(3600);
      const c = client({ accessToken });
      await c.getVehicle(VIN);
      assert.equal(tokenCalls(d).length, 0, 'no refresh while valid');
      clock.advance(3600 * 1000 - 5 * MIN - 1000); // 5 min + 1 s left
      await c.getVehicle(VIN);
      assert.equal(tokenCalls(d).length, 0, 'still more than 5 minutes left');
      clock.advance(2000); // 4 min 59 s left
      await c.getVehicle(VIN);
      assert.equal(tokenCalls(d).length, 1, 'refreshed within 5 minutes of expiry');
      const last = d.calls.slice(-2);
      assert.deepEqual(
        last.map((x) => [x.route, x.status]),
        [
          ['/oauth2/v3/token', 200],
          [`/api/1/vehicles/${VIN}`, 200],
        ],
      );
    });

    it('an expiring token is still used when the refresh fails for a transient reason', async function () {
      const { accessToken } = d.grant(120); // 2 min left
      const c = client({ accessToken });
      d.failNext(/oauth2/, { status: 503 });
      const { state } = await c.getVehicle(VIN);
      assert.equal(state, 'online');
      assert.deepEqual(
        d.calls.map((x) => [x.route, x.status, x.auth]),
        [
          ['/oauth2/v3/token', 503, null],
          [`/api/1/vehicles/${VIN}`, 200, 'valid'],
        ],
      );
    });

    it('after a 401: exactly one refresh and one retry', async function () {
      const c = client();
      await c.getVehicle(VIN);
      d.revokeAccessTokens();
      const n = d.calls.length;
      const { state } = await c.getVehicle(VIN);
      assert.equal(state, 'online');
      assert.deepEqual(
        d.calls.slice(n).map((x) => [x.route, x.status]),
        [
          [`/api/1/vehicles/${VIN}`, 401],
          ['/oauth2/v3/token', 200],
          [`/api/1/vehicles/${VIN}`, 200],
        ],
      );
    });

    it('401 on every call: one refresh per request, then kind auth, no loop', async function () {
      const c = client({ accessToken: d.grant().accessToken });
      d.failNext(/\/api\/1\//, { status: 401, times: Infinity, body: { response: null, error: 'token expired (401)' } });
      const e1 = await failure(c.getVehicle(VIN));
      assert.equal(e1.kind, 'auth');
      assert.equal(e1.status, 401);
      assert.match(e1.message, /scope|client id/);
      assert.deepEqual(
        d.calls.map((x) => x.route),
        [`/api/1/vehicles/${VIN}`, '/oauth2/v3/token', `/api/1/vehicles/${VIN}`],
      );
      const e2 = await failure(c.vehicleData(VIN, ['charge_state']));
      assert.equal(e2.kind, 'auth');
      assert.equal(tokenCalls(d).length, 2, 'one refresh per request');
      assert.equal(apiCalls(d).length, 4, 'one retry per request');
    });

    it('concurrent callers share one refresh (missing token, and concurrent 401s)', async function () {
      const c = client();
      const results = await Promise.all([VIN, VIN, ASLEEP_VIN, VIN, OFFLINE_VIN].map((v) => c.getVehicle(v)));
      assert.deepEqual(
        results.map((r) => r.state),
        ['online', 'online', 'asleep', 'online', 'offline'],
      );
      assert.equal(tokenCalls(d).length, 1);
      d.revokeAccessTokens();
      await Promise.all([VIN, VIN, VIN, VIN].map((v) => c.getVehicle(v)));
      assert.equal(tokenCalls(d).length, 2, 'the four 401s shared one refresh');
      assert.equal(apiCalls(d).filter((x) => x.status === 401).length, 4);
    });

    it('writes the rotated refresh token to a 0600 file before using it, and a new client reads it back', async function () {
      const deployed = d.currentRefreshToken;
      const dir = path.join(tmpDir(), 'tesla-tokens');
      const store = new FileTokenStore(dir, 'account-node.1');
      const savedAt = [];
      const save = store.save.bind(store);
      store.save = async (t) => {
        savedAt.push(d.calls.map((x) => x.route));
        await save(t);
      };
      const c1 = client({ tokenStore: store });
      await c1.getVehicle(VIN);
      assert.deepEqual(savedAt, [['/oauth2/v3/token']], 'saved after the refresh, before the API call');
      assert.equal(store.file, path.join(dir, 'account-node.1.json'));
      assert.equal(fs.statSync(store.file).mode & 0o777, 0o600);
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
      const onDisk = JSON.parse(fs.readFileSync(store.file, 'utf8'));
      assert.equal(onDisk.fingerprint, fingerprint(deployed));
      assert.equal(onDisk.refreshToken, d.currentRefreshToken);
      assert.equal(typeof onDisk.accessToken, 'string');
      assert.equal(onDisk.expiresAt, clock.now() + 3600 * 1000);
      assert.deepEqual(fs.readdirSync(dir), ['account-node.1.json'], 'no temporary file left');
      assert.ok(!JSON.stringify(onDisk).includes(deployed), 'the used deployed token is not stored');

      // Restart: same deployed (now used) token; the stored access token is used, no refresh.
      const c2 = client({ tokenStore: new FileTokenStore(dir, 'account-node.1'), refreshToken: deployed });
      const n = d.calls.length;
      await c2.getVehicle(VIN);
      assert.deepEqual(
        d.calls.slice(n).map((x) => [x.route, x.status]),
        [[`/api/1/vehicles/${VIN}`, 200]],
      );
      // Restart with the stored access token dead: the stored rotated refresh token works.
      d.revokeAccessTokens();
      const c3 = client({ tokenStore: new FileTokenStore(dir, 'account-node.1'), refreshToken: deployed });
      await c3.getVehicle(VIN);
      const t = tokenCalls(d).at(-1);
      assert.equal(t.refreshToken, 'valid', 'the stored rotated token was sent, not the used deployed one');
      assert.equal(JSON.parse(fs.readFileSync(store.file, 'utf8')).refreshToken, d.currentRefreshToken);
      assert.equal(fs.statSync(store.file).mode & 0o777, 0o600);
    });

    it('a newly deployed refresh token wins over the stored one', async function () {
      const dir = tmpDir();
      const c1 = client({ tokenStore: new FileTokenStore(dir, 'acc') });
      await c1.getVehicle(VIN);
      const file = path.join(dir, 'acc.json');
      const before = JSON.parse(fs.readFileSync(file, 'utf8'));

      const fresh = 'rt-SECRET-newly-deployed-0002';
      d.setRefreshToken(fresh); // the user logged in again and deployed this one
      const c2 = client({ tokenStore: new FileTokenStore(dir, 'acc'), refreshToken: fresh });
      const n = d.calls.length;
      await c2.getVehicle(VIN);
      assert.deepEqual(
        d.calls.slice(n).map((x) => [x.route, x.refreshToken, x.status]),
        [
          ['/oauth2/v3/token', 'valid', 200],
          [`/api/1/vehicles/${VIN}`, undefined, 200],
        ],
        'the stored access token was not used; the deployed refresh token was',
      );
      const after = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.equal(after.fingerprint, fingerprint(fresh));
      assert.notEqual(after.fingerprint, before.fingerprint);
      assert.equal(after.refreshToken, d.currentRefreshToken);
    });

    it('refresh refused (login_required): kind login-required, then every call fails fast without HTTP', async function () {
      const c = client({ refreshToken: 'rt-SECRET-already-used-0003' });
      const seen = [];
      c.on('login-required', (e) => seen.push(e.kind));
      const e = await failure(c.getVehicle(VIN));
      assert.equal(e.kind, 'login-required');
      assert.equal(e.status, 401);
      assert.match(e.message, /login_required/);
      assert.match(e.message, /Paste a new refresh token into the tesla-account node and deploy/);
      assert.equal(d.calls.length, 1);
      assert.equal(tokenCalls(d)[0].refreshToken, 'unknown');
      for (const call of [() => c.getVehicle(VIN), () => c.vehicleData(VIN, ['charge_state']), () => c.fleetStatus([VIN])]) {
        const again = await failure(call());
        assert.equal(again.kind, 'login-required');
        assert.equal(again.message, e.message);
      }
      assert.equal(d.calls.length, 1, 'no more HTTP requests');
      assert.deepEqual(seen, ['login-required']);
      assert.equal(c.tokenState().loginRequired, true);
    });

    it('a refresh answered 400 invalid_grant is login-required too; a 503 is not', async function () {
      const c = client();
      d.failNext(/oauth2/, { status: 503 });
      const e1 = await failure(c.getVehicle(VIN));
      assert.equal(e1.kind, 'server');
      assert.equal(c.tokenState().loginRequired, false);
      await c.getVehicle(VIN); // the next call refreshes again and works
      assert.deepEqual(
        tokenCalls(d).map((x) => x.status),
        [503, 200],
      );
      const c2 = client();
      d.failNext(/oauth2/, { status: 400, body: { error: 'invalid_grant', error_description: 'refresh token expired' } });
      const e2 = await failure(c2.getVehicle(VIN));
      assert.equal(e2.kind, 'login-required');
      assert.match(e2.message, /invalid_grant/);
    });

    it('a token file that cannot be written: a warning without secrets, and the rotated token is still used', async function () {
      const notADir = path.join(tmpDir(), 'file');
      fs.writeFileSync(notADir, 'x');
      const c = client({ tokenStore: new FileTokenStore(notADir, 'acc') });
      const warnings = [];
      c.on('warning', (m) => warnings.push(m));
      const { state } = await c.getVehicle(VIN);
      assert.equal(state, 'online');
      assert.equal(warnings.length, 2);
      assert.match(warnings[0], /Cannot read the token file .*ENOTDIR.*Using the deployed refresh token/);
      assert.match(warnings[1], /Cannot write the token file .*\((EEXIST|ENOTDIR)\)/);
      assert.match(warnings[1], /lost at restart/);
      for (const s of d.secrets()) assert.ok(!warnings.join(' ').includes(s));
      await c.getVehicle(VIN);
      assert.equal(tokenCalls(d).length, 1, 'the rotated tokens are used from memory');
    });

    it('without any refresh token and no access token: login-required, no request', async function () {
      const c = client({ refreshToken: undefined });
      const e = await failure(c.getVehicle(VIN));
      assert.equal(e.kind, 'login-required');
      assert.equal(d.calls.length, 0);
    });
  });

  describe('errors by meaning', function () {
    it('408 for an asleep or offline car: kind asleep, billed as data', async function () {
      const c = client();
      for (const vin of [ASLEEP_VIN, OFFLINE_VIN]) {
        const e = await failure(c.vehicleData(vin, ['charge_state']));
        assert.equal(e.kind, 'asleep');
        assert.equal(e.status, 408);
        assert.equal(e.vin, vin);
        assert.match(e.message, /asleep or offline/);
        assert.deepEqual(e.body, ASLEEP_BODY);
      }
      const today = c.meter.today();
      assert.equal(today.calls.data, 2);
      assert.equal(today.cost, 0.004);
      assert.equal(c.meter.billedToday(ASLEEP_VIN), 1);
      assert.equal(d.callsTo('wake_up').length, 0, 'never woken');
    });

    it('"offline or asleep" in the error text is asleep whatever the status (proxy 500), and not billed', async function () {
      const c = client({ proxyUrl: d.proxyUrl });
      d.failNext(/vehicle_data/, { status: 500, body: { response: null, error: 'vehicle unavailable: vehicle is offline or asleep' } });
      const e = await failure(c.vehicleData(VIN, ['charge_state']));
      assert.equal(e.kind, 'asleep');
      assert.equal(e.status, 500);
      assert.equal(c.meter.today().calls.data, 0);
      assert.equal(c.meter.today().unbilled, 1);
    });

    it('429: retryAfterSeconds from Retry-After seconds, HTTP-date, or body text; billed', async function () {
      const c = client();
      d.failNext(/vehicle_data/, { status: 429, headers: { 'retry-after': '120' } });
      const e1 = await failure(c.vehicleData(VIN, ['charge_state']));
      assert.equal(e1.kind, 'rate-limited');
      assert.equal(e1.retryAfterSeconds, 120);
      assert.equal(e1.retryAt, clock.now() + 120 * 1000);
      assert.match(e1.message, /retry after 120 s/);

      const date = new Date(Math.floor(clock.now() / 1000) * 1000 + 3600 * 1000).toUTCString();
      d.failNext(/vehicle_data/, { status: 429, headers: { 'retry-after': date } });
      const e2 = await failure(c.vehicleData(VIN, ['charge_state']));
      assert.equal(e2.kind, 'rate-limited');
      assert.ok(e2.retryAfterSeconds === 3600 || e2.retryAfterSeconds === 3599, `got ${e2.retryAfterSeconds}`);

      d.failNext(/vehicle_data/, { status: 429, body: { response: null, error: 'Rate limit exceeded. Retry in 37829 seconds' } });
      const e3 = await failure(c.vehicleData(VIN, ['charge_state']));
      assert.equal(e3.retryAfterSeconds, 37829);

      d.failNext(/vehicle_data/, { status: 429 });
      const e4 = await failure(c.vehicleData(VIN, ['charge_state']));
      assert.equal(e4.retryAfterSeconds, null);
      assert.equal(c.meter.today().calls.data, 4, 'every 429 is billed');
      assert.equal(apiCalls(d).length, 4, 'no automatic retry');
    });

    it('421: switches to the base URL from the body, remembers it, retries once', async function () {
      d.setRegion('eu');
      const c = client({ fleetApiUrl: d.baseUrlFor('na') });
      const regions = [];
      c.on('region', (u) => regions.push(u));
      const { state } = await c.getVehicle(VIN);
      assert.equal(state, 'online');
      assert.equal(c.baseUrl, d.baseUrlFor('eu'));
      assert.deepEqual(regions, [d.baseUrlFor('eu')]);
      assert.deepEqual(
        apiCalls(d).map((x) => [x.path, x.status]),
        [
          [`/na/api/1/vehicles/${VIN}`, 421],
          [`/eu/api/1/vehicles/${VIN}`, 200],
        ],
      );
      await c.vehicleData(VIN, ['charge_state']);
      assert.equal(apiCalls(d).at(-1).path, `/eu/api/1/vehicles/${VIN}/vehicle_data`, 'goes straight to the new base');
      assert.equal(apiCalls(d).length, 3);
    });

    it('421 naming a host that is not Tesla (nor the configured host) is reported, not followed', async function () {
      const c = client();
      d.failNext(/vehicles/, {
        status: 421,
        body: { response: null, error: 'user out of region, use base URL: https://evil.example.com, or consult' },
      });
      const e = await failure(c.getVehicle(VIN));
      assert.equal(e.kind, 'wrong-region');
      assert.equal(e.baseUrl, 'https://evil.example.com');
      assert.equal(c.baseUrl, d.url);
      assert.equal(apiCalls(d).length, 1);
    });

    it('5xx: kind server, not billed', async function () {
      const c = client();
      d.failNext(/vehicle_data/, { status: 503, body: { response: null, error: 'upstream timeout' } });
      const e = await failure(c.vehicleData(VIN, ['charge_state']));
      assert.equal(e.kind, 'server');
      assert.equal(e.status, 503);
      assert.match(e.message, /upstream timeout/);
      assert.match(e.message, /Not billed/);
      const today = c.meter.today();
      assert.equal(today.calls.data, 0);
      assert.equal(today.billed, 0);
      assert.equal(today.unbilled, 1);
    });

    it('403, 404, 412, 400 and non-JSON answers have their own kinds', async function () {
      const c = client();
      const cases = [
        [403, { response: null, error: 'missing scopes' }, 'forbidden'],
        [404, undefined, 'not-found'],
        [412, { response: null, error: 'partner account not registered' }, 'precondition'],
        [400, { response: null, error: 'invalid field' }, 'bad-request'],
      ];
      for (const [status, body, kind] of cases) {
        d.failNext(/vehicles/, { status, body });
        const e = await failure(c.getVehicle(VIN));
        assert.equal(e.kind, kind, `status ${status}`);
        assert.equal(e.status, status);
      }
      d.failNext(/vehicles/, { status: 200, body: '<html>gateway</html>' });
      const bad = await failure(c.getVehicle(VIN));
      assert.equal(bad.kind, 'bad-response');
      const unknown = await failure(c.getVehicle('NOSUCHVIN00000000'));
      assert.equal(unknown.kind, 'not-found');
      assert.match(unknown.message, /NOSUCHVIN00000000/);
    });

    it('connection refused: kind network', async function () {
      const port = await new Promise((resolve) => {
        const s = net.createServer();
        s.listen(0, '127.0.0.1', () => {
          const p = s.address().port;
          s.close(() => resolve(p));
        });
      });
      const c = client({ fleetApiUrl: `https://127.0.0.1:${port}`, accessToken: d.grant().accessToken });
      const e = await failure(c.getVehicle(VIN));
      assert.equal(e.kind, 'network');
      assert.equal(e.code, 'ECONNREFUSED');
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.equal(c.meter.today().calls.free, 0);
      assert.equal(c.meter.today().unbilled, 1);
    });

    it('a hung server: kind timeout after timeoutMs, one attempt, not billed', async function () {
      const c = client({ timeoutMs: 300, accessToken: d.grant().accessToken });
      const held = d.failNext(/vehicle_data/, { hang: true });
      const e = await failure(c.vehicleData(VIN, ['charge_state']));
      held.release();
      assert.equal(e.kind, 'timeout');
      assert.equal(e.status, null);
      assert.match(e.message, /300 ms/);
      assert.equal(d.callsTo('vehicle_data').length, 1);
      assert.equal(c.meter.today().calls.data, 0);
      assert.equal(c.meter.today().unbilled, 1);
    });

    it('close(): a call in flight fails, later calls fail at once without a request', async function () {
      const c = client({ accessToken: d.grant().accessToken });
      const held = d.failNext(/vehicle_data/, { hang: true });
      const inFlight = c.vehicleData(VIN, ['charge_state']);
      await held.arrived;
      await c.close();
      const e = await failure(inFlight);
      assert.equal(e.kind, 'network');
      const n = d.calls.length;
      const later = await failure(c.getVehicle(VIN));
      assert.equal(later.kind, 'network');
      assert.equal(later.code, 'CLOSED');
      assert.equal(d.calls.length, n);
    });

    it('the generic request refuses wake_up in any spelling and sends nothing; wakeUp() is the only wake method', async function () {
      const c = client();
      for (const p of [
        `/api/1/vehicles/${VIN}/wake_up`,
        `/api/1/vehicles/${VIN}/wake_up/`,
        `/api/1/vehicles/${VIN}/WAKE_UP`,
        `/api/1/vehicles/${VIN}/wake%5Fup`,
      ]) {
        const e = await failure(c.request({ method: 'POST', path: p, category: 'wake', vin: VIN }));
        assert.equal(e.kind, 'refused', p);
        assert.match(e.message, /never wake/);
      }
      for (const p of ['https://evil.example.com/api/1/vehicles', '//evil.example.com/x', '/api/1/../oauth2/v3/token', '/api/1/vehicles?x=1']) {
        const e = await failure(c.request({ method: 'GET', path: p, category: 'data' }));
        assert.equal(e.kind, 'config', p);
      }
      assert.equal(d.calls.length, 0);
      const wakers = Object.getOwnPropertyNames(FleetApiClient.prototype).filter((n) => /wake/i.test(n));
      assert.deepEqual(wakers, ['wakeUp']);
    });
  });

  describe('billing meter', function () {
    it('counts by category at Tesla prices; per VIN per local day; 5xx and no answer not billed', function () {
      const meter = new BillingMeter({ now: clock.now });
      const events = [];
      const off = meter.onChange((ev) => events.push(ev));
      meter.onChange(() => {
        throw new Error('a broken listener must not break recording');
      });
      for (let i = 0; i < 3; i++) meter.record('data', 'A', 200);
      meter.record('data', 'A', 408);
      meter.record('data', 'B', 429);
      meter.record('command', 'A', 200);
      meter.record('command', 'B', 412);
      meter.record('wake', 'B', 200);
      meter.record('free', 'A', 200);
      meter.record('free', null, 200);
      meter.record('data', 'A', 503);
      meter.record('data', 'A', null);
      const today = meter.today();
      assert.deepEqual(today.calls, { data: 5, command: 2, wake: 1, free: 2 });
      assert.equal(today.billed, 8);
      assert.equal(today.cost, 0.032); // 5 × 0.002 + 2 × 0.001 + 1 × 0.02
      assert.equal(today.unbilled, 2);
      assert.equal(meter.billedToday('A'), 5);
      assert.equal(meter.billedToday('B'), 3);
      assert.equal(meter.billedToday('C'), 0);
      assert.equal(formatCost(today), '8 calls ≈ $0.032');
      assert.equal(events.length, 12);
      assert.deepEqual(events[3], { category: 'data', vin: 'A', status: 408, billed: true, day: today.day });
      assert.equal(events[10].billed, false);
      off();
      // Next local calendar day: today's counts start again, the total keeps everything.
      const d0 = new Date(clock.now());
      clock.advance(new Date(d0.getFullYear(), d0.getMonth(), d0.getDate() + 1, 0, 0, 1).getTime() - clock.now());
      meter.record('data', 'A', 200);
      assert.equal(events.length, 12, 'unsubscribed');
      assert.notEqual(meter.today().day, today.day);
      assert.deepEqual(meter.today().calls, { data: 1, command: 0, wake: 0, free: 0 });
      assert.equal(meter.billedToday('A'), 1);
      assert.equal(meter.billedToday('B'), 0);
      assert.equal(meter.total().billed, 9);
      assert.equal(meter.total().cost, 0.034);
    });

    it('the client records every answer in client.meter with the right category', async function () {
      d.setVehicle(VIN, { autoSync: true });
      const c = client({ proxyUrl: d.proxyUrl });
      const changes = [];
      c.meter.onChange((ev) => changes.push(`${ev.category}:${ev.status}`));
      await c.getVehicle(VIN); // token (free) + state (free)
      await c.vehicleData(VIN, ['charge_state']); // data
      await failure(c.vehicleData(ASLEEP_VIN, ['charge_state'])); // data 408
      await c.createTelemetryConfig({ vins: [VIN], config: { hostname: 'h', port: 1, fields: {} } }); // command
      await c.getTelemetryConfig(VIN); // data
      await c.deleteTelemetryConfig(VIN); // command
      d.failNext(/fleet_status/, { status: 502 });
      await failure(c.fleetStatus([VIN])); // not billed
      assert.deepEqual(changes, ['free:200', 'free:200', 'data:200', 'data:408', 'command:200', 'data:200', 'command:200', 'data:502']);
      const today = c.meter.today();
      assert.deepEqual(today.calls, { data: 3, command: 2, wake: 0, free: 2 });
      assert.equal(today.cost, 0.008);
      assert.equal(c.meter.billedToday(VIN), 4);
    });
  });

  describe('secrets', function () {
    it('no error message, String(error), error body, event or token state contains a token or the client secret', async function () {
      const deployed = d.currentRefreshToken;
      const errors = [];
      const events = [];
      const c = client({ tokenStore: new MemoryTokenStore() });
      for (const ev of ['tokens', 'warning', 'region', 'login-required']) c.on(ev, (x) => events.push(x));
      await c.getVehicle(VIN);
      const access = d.secrets().filter((s) => s.split('.').length === 3);
      // The server echoes secrets in its error text.
      d.failNext(/vehicle_data/, {
        status: 400,
        body: { response: null, error: `bad token ${access.at(-1)} for ${deployed}`, error_description: CLIENT_SECRET },
      });
      errors.push(await failure(c.vehicleData(VIN, ['charge_state'])));
      d.failNext(/vehicle_data/, { status: 503, body: `upstream said ${d.currentRefreshToken}` });
      errors.push(await failure(c.vehicleData(VIN, ['charge_state'])));
      d.failNext(/vehicle_data/, { status: 429, headers: { 'retry-after': '5' } });
      errors.push(await failure(c.vehicleData(VIN, ['charge_state'])));
      d.failNext(/\/api\/1\//, { status: 401, times: 2 });
      errors.push(await failure(c.getVehicle(VIN)));
      const wrongCa = client({ proxyCa: makeCA().cert, refreshToken: d.currentRefreshToken });
      errors.push(await failure(wrongCa.getVehicle(VIN)));
      const refused = client({ refreshToken: 'rt-SECRET-refused-0004' });
      refused.on('login-required', (x) => events.push(x));
      errors.push(await failure(refused.getVehicle(VIN)));
      errors.push(await failure(refused.getVehicle(VIN)));

      const secrets = [...new Set([...d.secrets(), deployed, CLIENT_SECRET, 'rt-SECRET-refused-0004'])];
      assert.ok(secrets.length >= 6);
      assert.deepEqual(
        errors.map((e) => e.kind),
        ['bad-request', 'server', 'rate-limited', 'auth', 'tls', 'login-required', 'login-required'],
      );
      assert.match(errors[0].message, /\[redacted\]/, 'the echoed token was scrubbed');
      const texts = [
        ...errors.flatMap((e) => [e.message, String(e), e.stack, JSON.stringify(e), JSON.stringify(e.body ?? null)]),
        ...events.map((x) => (x instanceof Error ? `${x.message} ${x.stack}` : JSON.stringify(x))),
        JSON.stringify(c.tokenState()),
        JSON.stringify(refused.tokenState()),
      ];
      for (const text of texts) {
        for (const s of secrets) assert.ok(!String(text).includes(s), `a secret leaked into: ${String(text).slice(0, 80)}…`);
      }
    });
  });

  describe('FileTokenStore', function () {
    it('returns null for a missing or unreadable file, and sanitizes the key', async function () {
      const dir = tmpDir();
      const store = new FileTokenStore(dir, '../evil/../key');
      assert.equal(path.dirname(store.file), dir);
      assert.equal(await store.load(), null);
      fs.writeFileSync(store.file, '{not json');
      assert.equal(await store.load(), null);
      fs.writeFileSync(store.file, JSON.stringify({ fingerprint: 'x' }));
      assert.equal(await store.load(), null);
      await store.save({ fingerprint: 'f', refreshToken: 'r' });
      assert.deepEqual(await store.load(), { fingerprint: 'f', refreshToken: 'r' });
      assert.equal(fs.statSync(store.file).mode & 0o777, 0o600);
      await store.clear();
      assert.equal(fs.existsSync(store.file), false);
      assert.throws(() => new FileTokenStore(dir, ''), TypeError);
      assert.equal(fingerprint('abc'), 'ba7816bf8f01cfea');
    });
  });

  describe('parsers', function () {
    it('parses Retry-After and the 421 base URL', function () {
      const now = Date.parse('2025-01-01T00:00:00Z');
      assert.equal(parseRetryAfter('30', '', now), 30);
      assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:02:00 GMT', '', now), 120);
      assert.equal(parseRetryAfter('Wed, 01 Jan 2024 00:02:00 GMT', '', now), 0);
      assert.equal(parseRetryAfter(undefined, 'Retry in 37829 seconds', now), 37829);
      assert.equal(parseRetryAfter(undefined, 'slow down', now), null);
      assert.equal(
        parseRegionBaseUrl('user out of region, use base URL: https://fleet-api.prd.eu.vn.cloud.tesla.com, or consult developer.tesla.com'),
        'https://fleet-api.prd.eu.vn.cloud.tesla.com',
      );
      assert.equal(parseRegionBaseUrl('use base URL: http://insecure.example'), null);
      assert.equal(parseRegionBaseUrl('nothing here'), null);
    });
  });

  describe('the double itself', function () {
    function raw(method, p, headers = {}) {
      return new Promise((resolve, reject) => {
        const u = new URL(d.url + p);
        const req = https.request(
          { method, host: u.hostname, port: u.port, path: u.pathname + u.search, ca: [d.ca], agent: false, headers },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (x) => (body += x));
            res.on('end', () => resolve({ status: res.statusCode, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    }

    it('answers /health without auth; the proxy answers 403 and the Fleet API 401 without a bearer; unknown routes 404 JSON', async function () {
      assert.equal((await raw('GET', '/health')).status, 200);
      assert.equal((await raw('GET', '/proxy/health')).status, 200);
      assert.equal((await raw('GET', `/proxy/api/1/vehicles/${VIN}`)).status, 403);
      assert.equal((await raw('GET', `/proxy/api/1/vehicles/${VIN}`, { authorization: 'Basic abc' })).status, 403);
      assert.equal((await raw('GET', `/api/1/vehicles/${VIN}`)).status, 401);
      assert.equal((await raw('GET', `/api/1/vehicles/${VIN}`, { authorization: 'Bearer nope' })).status, 401);
      const unknown = await raw('GET', '/api/1/nothing/here', { authorization: `Bearer ${d.grant().accessToken}` });
      assert.equal(unknown.status, 404);
      assert.equal(JSON.parse(unknown.body).error, 'not_found');
      const wake = await raw('POST', `/api/1/vehicles/${ASLEEP_VIN}/wake_up`, { authorization: `Bearer ${d.grant().accessToken}` });
      assert.equal(wake.status, 200);
      assert.equal(d.callsTo('wake_up', 'POST').length, 1, 'wake_up exists and is recorded');
      assert.equal(d.vehicle(ASLEEP_VIN).state, 'online');
    });

    it('rotates refresh tokens: each works once; an expired access token gets 401', async function () {
      const c = client({ accessTokenTtlSeconds: undefined });
      const first = d.currentRefreshToken;
      await c.getVehicle(VIN);
      const second = d.currentRefreshToken;
      assert.notEqual(second, first);
      const reuse = client({ refreshToken: first });
      assert.equal((await failure(reuse.getVehicle(VIN))).kind, 'login-required');
      assert.equal(tokenCalls(d).at(-1).refreshToken, 'used');
      clock.advance(3601 * 1000);
      const { accessToken } = d.grant(60);
      clock.advance(61 * 1000);
      const r = await raw('GET', `/api/1/vehicles/${VIN}`, { authorization: `Bearer ${accessToken}` });
      assert.equal(r.status, 401);
      assert.equal(d.calls.at(-1).auth, 'expired');
    });

    it('vehicle_data honours endpoints; location only with location_data', async function () {
      const { accessToken } = d.grant();
      const get = async (q) =>
        JSON.parse((await raw('GET', `/api/1/vehicles/${VIN}/vehicle_data${q}`, { authorization: `Bearer ${accessToken}` })).body).response;
      const a = await get('?endpoints=drive_state%3Bcharge_state');
      assert.deepEqual(
        Object.keys(a)
          .filter((k) => a[k] && typeof a[k] === 'object' && !Array.isArray(a[k]))
          .sort(),
        ['charge_state', 'drive_state', 'granular_access'],
      );
      assert.equal(a.drive_state.latitude, undefined);
      assert.equal(a.drive_state.heading, 289);
      assert.equal(a.vin, VIN);
      assert.equal(a.state, 'online');
      const b = await get('?endpoints=location_data');
      assert.equal(b.drive_state.latitude, 37.7765494);
      assert.equal(b.charge_state, undefined);
    });
  });
});
