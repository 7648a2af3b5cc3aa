'use strict';
const { lib } = require('../../support/paths');
/**
 * The registration doctor (src/lib/doctor.ts through src/lib/registration-actions.ts) against
 * the HTTPS Fleet API / proxy double, with the real FleetApiClient, and the stream's evidence
 * from a real aedes broker. Time is a fake clock shared by all three.
 */
const assert = require('node:assert/strict');
const { runRegistrationAction, summariseEntries, registrationStatus } = lib('registration/actions');
const { diagnose, DOCTOR_STATES } = lib('registration/doctor');
const { setup, V, nodeProps, ours, DOMAIN, HOUR } = require('./fixture');

const ALL = Object.values(V);
const EXPECTED = {
  [V.nokey]: 'key not paired',
  [V.fw]: 'unsupported firmware',
  [V.limit]: 'rejected',
  [V.nullcfg]: 'rejected',
  [V.none]: 'not configured',
  [V.pending]: 'pending',
  [V.drift]: 'drift',
  [V.expiring]: 'expiring',
  [V.silent]: 'silent',
  [V.healthy]: 'healthy',
  [V.asleep]: 'healthy',
};

describe('registration doctor (HTTPS double, aedes broker, fake clock)', function () {
  let f;
  let t0;

  beforeEach(async function () {
    f = await setup();
    // The silent car streamed once, two hours ago; then the broker saw it disconnect (not live).
    t0 = f.clock.now();
    await f.publish(`telemetry/${V.silent}/v/BatteryLevel`, 70);
    f.clock.advance(2 * HOUR);
    await f.publish(`telemetry/${V.silent}/connectivity`, {
      Status: 'DISCONNECTED',
      ConnectionId: 'c9',
      CreatedAt: '2026-03-10T14:00:00Z',
    });
    await f.publish(`telemetry/${V.healthy}/v/BatteryLevel`, 80);
    f.clock.advance(5 * 60_000);
  });

  afterEach(async function () {
    await f.close();
  });

  const doctor = (vins, extra = {}, ctx = {}) => runRegistrationAction(f.ctx(ctx), nodeProps({ action: 'doctor', ...extra }), { vins });

  it('finds each state, one VIN at a time, with a one-sentence fix', async function () {
    for (const vin of ALL) {
      const { payload } = await doctor([vin]);
      assert.equal(payload.length, 1);
      const e = payload[0];
      assert.equal(e.vin, vin);
      assert.equal(e.state, EXPECTED[vin], `${vin}: ${e.reason}`);
      assert.equal(e.ok, e.state === 'healthy');
      assert.equal(typeof e.reason, 'string');
      assert.ok(e.reason.length > 10, e.reason);
      assert.match(e.fix, /^[A-Z][^]*\.$/, `a sentence: ${e.fix}`);
      assert.doesNotMatch(e.fix, /[.!?]\s+[A-Z]/, `one sentence: ${e.fix}`);
    }
  });

  it('diagnoses several VINs at once: one fleet_status, three reads per undecided VIN, never vehicle_data or wake_up', async function () {
    const before = f.apiCalls().length;
    const result = await doctor(ALL);
    const calls = f.apiCalls().slice(before);
    assert.deepEqual(
      result.payload.map((e) => e.vin),
      ALL,
      'entries in the order asked',
    );
    assert.deepEqual(
      result.payload.map((e) => e.state),
      ALL.map((v) => EXPECTED[v]),
    );
    const status = calls.filter((c) => c.route === '/api/1/vehicles/fleet_status');
    assert.equal(status.length, 1);
    assert.deepEqual(status[0].body, { vins: ALL });
    const undecided = ALL.filter((v) => v !== V.nokey && v !== V.fw).sort();
    const perVin = (suffix) =>
      calls
        .filter((c) => c.method === 'GET')
        .map((c) => /^\/api\/1\/vehicles\/([^/]+)(\/[a-z_]+)?$/.exec(c.route))
        .filter((m) => m && (m[2] ?? '') === suffix)
        .map((m) => m[1])
        .sort();
    assert.deepEqual(perVin('/fleet_telemetry_config'), undecided);
    assert.deepEqual(perVin('/fleet_telemetry_errors'), undecided);
    assert.deepEqual(perVin(''), undecided, 'the free state check');
    assert.equal(calls.length, 1 + 3 * undecided.length, 'nothing else');
    assert.ok(!calls.some((c) => /vehicle_data|wake_up|command/.test(c.route)));
    assert.equal(result.summary, '2 healthy · 1 pending · 3 to push · 5 needs you');
    assert.equal(summariseEntries(result.payload), result.summary);
    assert.deepEqual(registrationStatus(result), { fill: 'red', shape: 'ring', text: result.summary });
    // msg.response: the raw answers.
    assert.ok(result.response.fleet_status.response.key_paired_vins.includes(V.healthy));
    assert.equal(result.response.vins[V.drift].fleet_telemetry_config.response.config.port, 4443);
  });

  it('fills the evidence with what was read', async function () {
    const { payload } = await doctor([V.silent, V.expiring, V.nokey, V.asleep, V.limit, V.healthy]);
    const [silent, expiring, nokey, asleep, limit, healthy] = payload;
    const keys = ['keyPaired', 'firmware', 'synced', 'limitReached', 'differences', 'exp', 'vehicleState', 'lastLive', 'lastConnectivity', 'errors'];
    for (const e of payload) assert.deepEqual(Object.keys(e.evidence), keys, e.vin);
    assert.deepEqual(silent.evidence, {
      keyPaired: true,
      firmware: '2024.44.25',
      synced: true,
      limitReached: false,
      differences: [],
      exp: null,
      vehicleState: 'online',
      lastLive: t0,
      lastConnectivity: { status: 'DISCONNECTED', connectionId: 'c9', createdAt: '2026-03-10T14:00:00Z' },
      errors: [
        {
          name: 'dial_error',
          error: 'x509: certificate signed by unknown authority',
          errorName: 'tls_handshake',
          createdAt: new Date(t0 - HOUR).toISOString(),
          txId: 'tx1',
        },
      ],
    });
    assert.match(silent.reason, /no live message from it reached the broker for 2 h 5 min/);
    assert.match(silent.reason, /DISCONNECTED/);
    assert.match(
      silent.fix,
      /^Check that telemetry\.example\.com:4433 is reachable from the internet and serves a certificate signed by the CA given \("CN=Telemetry Test CA"\); the car reported "dial_error \/ tls_handshake \/ x509: certificate signed by unknown authority"\.$/,
    );
    assert.equal(expiring.evidence.exp, Math.floor(t0 / 1000) + 3 * 86400);
    assert.match(expiring.fix, /later exp/);
    assert.deepEqual(expiring.evidence.differences, [], 'an exp the node did not set is not a difference');
    assert.equal(nokey.evidence.keyPaired, false);
    assert.equal(nokey.evidence.synced, null, 'no per-VIN call for a VIN fleet_status already decided');
    assert.equal(
      nokey.fix,
      `Open https://tesla.com/_ak/${DOMAIN} on the phone with the Tesla app, approve the key for this car, then run doctor again.`,
    );
    assert.equal(asleep.evidence.vehicleState, 'asleep');
    assert.equal(asleep.evidence.lastLive, null);
    assert.match(asleep.reason, /asleep/);
    assert.equal(limit.evidence.limitReached, true);
    assert.match(limit.fix, /Remove another app's telemetry config/);
    assert.equal(healthy.evidence.lastLive, t0 + 2 * HOUR);
    assert.match(healthy.reason, /streams \(last live message 5 min ago\)/);
  });

  it('concludes silent only with broker evidence; without a broker the same car is healthy', async function () {
    const withBroker = (await doctor([V.silent])).payload[0];
    assert.equal(withBroker.state, 'silent');
    const without = (await doctor([V.silent], {}, { stream: null })).payload[0];
    assert.equal(without.state, 'healthy');
    assert.equal(without.ok, true);
    assert.match(without.reason, /no broker set/);
    assert.equal(without.evidence.lastLive, null);
    // A car that never streamed at all is silent too (none ever), once online.
    f.d.setVehicle(V.asleep, { state: 'online' });
    const never = (await doctor([V.asleep])).payload[0];
    assert.equal(never.state, 'silent');
    assert.match(never.reason, /ever reached the broker/);
    assert.match(never.fix, /the car reported no telemetry errors\.$/);
    // While the broker connection is down, silence proves nothing.
    await f.broker.close();
    await new Promise((resolve) => (f.conn.state === 'connected' ? f.conn.once('state', resolve) : resolve()));
    f.broker = null;
    const down = (await doctor([V.silent])).payload[0];
    assert.equal(down.state, 'healthy');
    assert.match(down.reason, /broker is not connected/);
  });

  it('a silent car streaming again within the hour is healthy', async function () {
    await f.publish(`telemetry/${V.silent}/v/BatteryLevel`, 71);
    f.clock.advance(59 * 60_000);
    assert.equal((await doctor([V.silent])).payload[0].state, 'healthy');
    f.clock.advance(60_000);
    assert.equal((await doctor([V.silent])).payload[0].state, 'silent', 'exactly 60 min of silence');
  });

  it('applies the priority order when several states apply', async function () {
    const now = Math.floor(f.clock.now() / 1000);
    const drifted = { ...ours(), port: 4443, exp: now + 86400 };
    const cases = [
      ['key not paired', { keyPaired: false, firmware: '2024.20.1', telemetry: { config: drifted, synced: true, limitReached: true } }],
      ['unsupported firmware', { firmware: '2024.20.1', telemetry: { config: drifted, synced: true, limitReached: true } }],
      ['rejected', { telemetry: { config: drifted, synced: true, limitReached: true } }],
      ['pending', { telemetry: { config: drifted, synced: false } }],
      ['drift', { telemetry: { config: drifted, synced: true } }],
      ['expiring', { telemetry: { config: { ...ours(), exp: now + 86400 }, synced: true } }],
      ['silent', { telemetry: { config: ours(), synced: true } }],
    ];
    const vins = cases.map((_, i) => `5YJ3E1EA7KF1000${String(i).padStart(2, '0')}`);
    cases.forEach(([, car], i) => f.d.setVehicle(vins[i], car));
    const { payload } = await doctor(vins);
    assert.deepEqual(
      payload.map((e) => e.state),
      cases.map(([s]) => s),
    );
    assert.ok(DOCTOR_STATES.indexOf('key not paired') < DOCTOR_STATES.indexOf('healthy'));
    // pending names the differences and says how to replace the pending config.
    assert.match(payload[3].reason, /port: 4443 on the car, 4433 here/);
    assert.match(payload[3].fix, /Run register to replace the pending config/);
    assert.deepEqual(payload[4].evidence.differences, ['port: 4443 on the car, 4433 here']);
  });

  it('counts an exp this node set as a difference (drift), and an expired config as expiring', async function () {
    const now = Math.floor(f.clock.now() / 1000);
    const exp = now + 30 * 86400;
    const drift = (await doctor([V.healthy], { exp })).payload[0];
    assert.equal(drift.state, 'drift');
    assert.deepEqual(drift.evidence.differences, [`exp: not set on the car, ${exp} here`]);
    f.d.setVehicle(V.healthy, { telemetry: { config: { ...ours(), exp }, synced: true } });
    assert.equal((await doctor([V.healthy], { exp })).payload[0].state, 'healthy');
    f.d.setVehicle(V.healthy, { telemetry: { config: { ...ours(), exp: now - 60 }, synced: true } });
    const expired = (await doctor([V.healthy])).payload[0];
    assert.equal(expired.state, 'expiring');
    assert.match(expired.reason, /expired at/);
  });

  it('reports a failed read as error naming it, and goes on with the other VINs', async function () {
    f.d.failNext(new RegExp(`${V.pending}/fleet_telemetry_config$`), { status: 500, body: { response: null, error: 'upstream timeout' } });
    const { payload } = await doctor([V.pending, V.none]);
    assert.equal(payload[0].state, 'error');
    assert.match(payload[0].reason, /^fleet_telemetry_config could not be read/);
    assert.equal(payload[0].httpStatus, 500);
    assert.match(payload[0].fix, /reachable/);
    assert.equal(payload[1].state, 'not configured');
    // A failed errors read or state check does not hide the verdict.
    f.d.failNext(/fleet_telemetry_errors$/, { status: 503 });
    f.d.failNext(new RegExp(`vehicles/${V.silent}$`), { status: 503 });
    const silent = (await doctor([V.silent])).payload[0];
    assert.equal(silent.state, 'healthy', 'online not known: silent cannot be concluded');
    assert.match(silent.reason, /could not be told/);
    assert.deepEqual(silent.evidence.errors, []);
    // fleet_status failing (not a 429) leaves the per-VIN reads to decide, and says so.
    f.d.failNext(/fleet_status$/, { status: 502 });
    const [none, nokey] = (await doctor([V.none, V.nokey])).payload;
    assert.equal(none.state, 'not configured');
    assert.match(none.reason, /\(fleet_status could not be read \(.*failed \(502\)/);
    assert.equal(none.evidence.firmware, null);
    assert.equal(nokey.state, 'key not paired', "the config answer's key_paired decides");
    // fleet_status and the config answer disagree (a key removed since): not paired wins.
    const body = { response: { synced: true, config: ours(), limit_reached: false, key_paired: false } };
    const fleetStatus = {
      body: {
        response: { key_paired_vins: [V.healthy], unpaired_vins: [], vehicle_info: { [V.healthy]: { firmware_version: '2025.2.6' } } },
      },
    };
    const e = diagnose({ vin: V.healthy, now: f.clock.now(), fleetStatus, telemetryConfig: { body }, ours: ours() });
    assert.equal(e.state, 'key not paired');
    assert.equal(e.evidence.keyPaired, false);
    assert.match(e.reason, /not paired/);
  });

  it('diagnose() is pure: the same answers give the same entry, and a missing config answer is an error', function () {
    const body = { response: { synced: true, config: ours(), limit_reached: false, key_paired: true } };
    const input = { vin: V.healthy, now: 1e12, telemetryConfig: { body }, vehicle: { body: { state: 'online' } }, ours: ours() };
    assert.equal(diagnose(input).state, 'healthy');
    assert.deepEqual(diagnose(input), diagnose(input));
    assert.equal(diagnose({ vin: V.healthy, now: 1e12 }).state, 'error');
    assert.equal(diagnose({ ...input, telemetryConfig: { body: 'garbage' } }).state, 'error');
  });
});
