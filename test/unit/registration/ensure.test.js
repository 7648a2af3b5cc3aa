'use strict';
const { lib } = require('../../support/paths');
/**
 * `ensure` (src/lib/ensure.ts through src/lib/registration-actions.ts) against the HTTPS
 * proxy double with the real FleetApiClient: exactly the right VINs pushed in one POST, the
 * 24 h cap kept in a real 0600 file across a reload, a corrupt or unwritable cap file, 429.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { runRegistrationAction } = lib('registration/actions');
const { runAction } = lib('registration/controller');
const { EnsureCap, dataDir, planEnsure, parseEnsureEvery, PUSH_INTERVAL_MS } = lib('registration/ensure');
const { setup, V, nodeProps, ours, HOUR, DAY } = require('./fixture');

const ALL = Object.values(V);
const TO_PUSH = [V.none, V.drift, V.expiring];

describe('ensure (HTTPS proxy double, fake clock, real cap file)', function () {
  let f;
  let userDir;
  let warnings;

  beforeEach(async function () {
    f = await setup({ broker: false });
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ensure-test-'));
    warnings = [];
  });

  afterEach(async function () {
    await f.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  const capFor = (id = 'tc1') => EnsureCap.forNode(dataDir(userDir), id, { warn: (w) => warnings.push(w), now: f.clock.now });
  const ensure = (cap, vins = ALL, extra = {}) => runRegistrationAction(f.ctx({ cap }), nodeProps({ action: 'ensure', ...extra }), { vins });
  const posts = () => f.d.callsTo(/\/proxy\/api\/1\/vehicles\/fleet_telemetry_config$/, 'POST');

  it('pushes exactly the not configured, drift and expiring VINs, in one POST through the proxy, and merges the result', async function () {
    const result = await ensure(capFor());
    assert.equal(posts().length, 1);
    const body = posts()[0].body;
    assert.deepEqual(body.vins, TO_PUSH);
    assert.deepEqual(body.config, ours());
    for (const e of result.payload) {
      if (TO_PUSH.includes(e.vin)) {
        assert.equal(e.pushed, true, e.vin);
        assert.deepEqual(e.register, {
          ok: true,
          state: 'updated',
          reason: 'Tesla accepted the config for this car; it adopts it at its next connection (check with the status action)',
        });
        assert.match(e.reason, /— pushed this node's config: Tesla accepted/);
        assert.match(e.fix, /^Wait for the car to connect to Tesla/);
      } else {
        assert.equal(e.pushed, false, e.vin);
        assert.equal(e.register, undefined);
      }
    }
    // The double now holds our config, pending, for the pushed VINs only.
    for (const v of TO_PUSH) assert.deepEqual(f.d.vehicle(v).telemetry.config, ours());
    assert.equal(f.d.vehicle(V.nullcfg).telemetry.config, null);
    // No broker here: the car that would be silent counts as healthy.
    assert.equal(result.summary, '3 healthy · 3 pushed · 1 pending · 4 needs you');
    assert.deepEqual(result.response.register, {
      response: {
        updated_vehicles: 3,
        skipped_vehicles: { missing_key: [], unsupported_hardware: [], unsupported_firmware: [], max_configs: [] },
      },
    });
    // Nothing to push: no POST at all.
    const before = posts().length;
    const calm = await ensure(capFor('tc2'), [V.healthy, V.pending, V.nokey]);
    assert.equal(posts().length, before);
    assert.ok(calm.payload.every((e) => e.pushed === false));
  });

  it('pushes a VIN at most once per 24 h, kept across a reload of the cap file (0600 in a 0700 directory)', async function () {
    const t1 = f.clock.now();
    await ensure(capFor(), [V.none]);
    assert.equal(posts().length, 1);
    const file = path.join(userDir, 'tesla-fleet-telemetry', 'ensure-tc1.json');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')).pushed, { [V.none]: t1 });

    // The car lost it again; Node-RED restarts (a new cap read from the file).
    f.d.setVehicle(V.none, { telemetry: { config: null, synced: false } });
    f.clock.advance(HOUR);
    const held = (await ensure(capFor(), [V.none])).payload[0];
    assert.equal(posts().length, 1, 'no second push within 24 h');
    assert.equal(held.state, 'not configured');
    assert.equal(held.pushed, false);
    assert.equal(held.nextPushAt, t1 + PUSH_INTERVAL_MS);
    assert.match(held.reason, /at most once per 24 h/);
    assert.match(held.fix, /^Run register to push at once/);

    // Another node has its own cap.
    await ensure(capFor('tc2'), [V.none]);
    assert.equal(posts().length, 2);
    f.d.setVehicle(V.none, { telemetry: { config: null, synced: false } });

    f.clock.advance(DAY - HOUR);
    const again = (await ensure(capFor(), [V.none])).payload[0];
    assert.equal(again.pushed, true, 'allowed again after 24 h');
    assert.equal(posts().length, 3);
    assert.deepEqual(warnings, []);
  });

  it('sets a corrupt cap file aside with one warning naming it, and carries on', async function () {
    const dir = dataDir(userDir);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'ensure-tc1.json');
    for (const [i, text] of ['{"format":"tesla-fleet', '', '{"format":"something-else","version":1,"pushed":{}}'].entries()) {
      fs.writeFileSync(file, text);
      warnings.length = 0;
      f.d.setVehicle(V.none, { telemetry: { config: null, synced: false } });
      f.clock.advance(DAY + 1);
      const e = (await ensure(capFor(), [V.none])).payload[0];
      assert.equal(e.pushed, true, `case ${i}`);
      assert.equal(warnings.length, 1, `case ${i}`);
      assert.ok(warnings[0].includes(file), warnings[0]);
      const aside = `${file}.corrupt-${f.clock.now()}`;
      assert.ok(warnings[0].includes(aside), warnings[0]);
      assert.equal(fs.readFileSync(aside, 'utf8'), text, 'the unreadable file is kept, not overwritten');
      assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).pushed), [V.none], 'a fresh file written');
    }
  });

  it('keeps the cap in memory when the file cannot be written, warned once per cause', async function () {
    const blocker = path.join(userDir, 'not-a-directory');
    fs.writeFileSync(blocker, 'x');
    const cap = EnsureCap.forNode(path.join(blocker, 'tesla-fleet-telemetry'), 'tc1', { warn: (w) => warnings.push(w) });
    await ensure(cap, [V.none]);
    f.d.setVehicle(V.none, { telemetry: { config: null, synced: false } });
    const held = (await ensure(cap, [V.none])).payload[0];
    assert.equal(posts().length, 1);
    assert.equal(held.pushed, false);
    assert.equal(held.nextPushAt, f.clock.now() + PUSH_INTERVAL_MS);
    await cap.record([V.drift], f.clock.now());
    const written = warnings.filter((w) => /cannot be written/.test(w));
    assert.equal(written.length, 1, `once per cause: ${warnings.join('\n')}`);
    assert.match(written[0], /ensure-tc1\.json cannot be written \(ENOTDIR\): the 24 h push limit is kept in memory/);
  });

  it('honours a 429: no cap recorded, and no call of the account at all until Retry-After', async function () {
    f.d.failNext(/fleet_telemetry_config$/, { method: 'POST', status: 429, headers: { 'retry-after': '120' } });
    const cap = capFor();
    const result = await ensure(cap, [V.none, V.drift]);
    for (const e of result.payload) {
      assert.equal(e.pushed, false);
      assert.equal(e.register.state, 'rate-limited');
      assert.equal(e.register.ok, false);
      assert.match(e.reason, /the push failed: rate limited by Tesla: retry in 120 s/);
      assert.match(e.fix, /^Wait 2 min \(Tesla's Retry-After\)/);
    }
    assert.equal(cap.lastPush(V.none), null, 'a refused push is not a push');
    assert.equal(result.summary, '2 rate-limited');

    const before = f.d.calls.length;
    f.clock.advance(60_000);
    const blocked = await runRegistrationAction(f.ctx({ cap }), nodeProps({ action: 'doctor' }), { vins: [V.none, V.healthy] });
    assert.equal(f.d.calls.length, before, 'no call while blocked');
    for (const e of blocked.payload) {
      assert.equal(e.state, 'rate-limited');
      assert.match(e.reason, /Tesla asked to wait: no call made; retry in 60 s/);
    }
    // The other actions of the same account are held too.
    const status = await runAction(f.client, nodeProps({ action: 'status', vins: [V.none] }), {}, { now: f.clock.now });
    assert.equal(status.payload[0].state, 'rate-limited');
    assert.equal(f.d.calls.length, before);

    f.clock.advance(61_000);
    const after = await ensure(cap, [V.none, V.drift]);
    assert.ok(after.payload.every((e) => e.pushed === true));
    assert.equal(posts().length, 2, 'the refused POST and the one after Retry-After');
  });

  it("a 429 on fleet_status makes every entry rate-limited with Tesla's wait, and no per-VIN call", async function () {
    f.d.failNext(/fleet_status$/, { status: 429, headers: { 'retry-after': '3600' } });
    const before = f.apiCalls().length;
    const { payload } = await runRegistrationAction(f.ctx({ cap: capFor() }), nodeProps({ action: 'ensure' }), { vins: TO_PUSH });
    assert.deepEqual(
      f
        .apiCalls()
        .slice(before)
        .map((c) => c.route),
      ['/api/1/vehicles/fleet_status'],
      'fleet_status only',
    );
    for (const e of payload) {
      assert.equal(e.state, 'rate-limited');
      assert.equal(e.retryAfterSeconds, 3600);
      assert.match(e.reason, /^fleet_status could not be read \(rate limited by Tesla: retry in 3600 s/);
      assert.match(e.fix, /^Wait 1 h \(Tesla's Retry-After\)/);
      assert.equal(e.pushed, false);
    }
    assert.equal(posts().length, 0);
  });

  it('reports what Tesla skipped, with the fix for it, and still records the push', async function () {
    f.d.setVehicle(V.none, { skipReason: 'unsupported_hardware' });
    const cap = capFor();
    const e = (await ensure(cap, [V.none])).payload[0];
    assert.equal(e.pushed, true);
    assert.equal(e.register.state, 'skipped');
    assert.equal(e.register.skipped, 'unsupported_hardware');
    assert.match(e.fix, /hardware cannot stream Fleet Telemetry/);
    assert.equal(cap.lastPush(V.none), f.clock.now());
  });

  it("does not push an expiring VIN when this node's own exp is within 7 days too", async function () {
    const exp = f.d.vehicle(V.expiring).telemetry.config.exp; // the car's own, 3 days ahead
    const { payload } = await ensure(capFor(), [V.expiring], { exp });
    assert.equal(payload[0].state, 'expiring');
    assert.equal(posts().length, 0);
    assert.equal(payload[0].pushed, false);
    assert.match(payload[0].fix, /^Set a later exp/);
    // planEnsure alone: the same rule, and the cap.
    const entries = [
      { vin: 'A', state: 'expiring' },
      { vin: 'B', state: 'drift' },
      { vin: 'C', state: 'pending' },
      { vin: 'D', state: 'not configured' },
    ];
    const plan = planEnsure(entries, { heldUntil: (vin) => (vin === 'D' ? 5 : null) }, 0, null);
    assert.deepEqual(plan.push, ['A', 'B']);
    assert.deepEqual([...plan.held], [['D', 5]]);
  });

  it('checks the whole config before any call', async function () {
    await assert.rejects(ensure(capFor(), [V.none], { hostname: '' }), (e) => e.name === 'ValidationError' && /hostname is required/.test(e.message));
    assert.equal(f.d.calls.length, 0);
  });

  it('stops at the daily budget per VIN: no call once it is spent', async function () {
    const first = await runRegistrationAction(f.ctx(), nodeProps({ action: 'doctor', dailyBudget: 3 }), { vins: [V.healthy] });
    assert.equal(first.payload[0].state, 'healthy');
    assert.equal(f.client.meter.billedToday(V.healthy), 3, 'fleet_status, config, errors; the state check is free');
    const before = f.d.calls.length;
    const second = await runRegistrationAction(f.ctx(), nodeProps({ action: 'doctor', dailyBudget: 3 }), { vins: [V.healthy] });
    assert.equal(f.d.calls.length, before);
    assert.equal(second.payload[0].state, 'error');
    assert.match(second.payload[0].reason, /daily budget of 3 billed calls for this VIN spent: no call made/);
  });
});

describe('parseEnsureEvery', function () {
  it('reads hours (fractions allowed) as ms, empty or 0 as off', function () {
    assert.deepEqual([undefined, null, '', ' ', 0, '0', 24, '24', 0.5, '1.5', 168].map(parseEnsureEvery), [
      0,
      0,
      0,
      0,
      0,
      0,
      24 * HOUR,
      24 * HOUR,
      HOUR / 2,
      1.5 * HOUR,
      168 * HOUR,
    ]);
  });

  it('refuses anything else, naming the value and the range (a week at most: a Node.js timer holds less than 25 days)', function () {
    for (const bad of [-1, '-1', 169, '1e3', 'daily', NaN, Infinity, true, {}, '24h']) {
      assert.throws(
        () => parseEnsureEvery(bad),
        (e) => /^ensureEvery must be a number of hours from 0 \(off\) to 168 \(got .*\): ensure does not run by itself$/.test(e.message),
        String(bad),
      );
    }
  });
});
