'use strict';
const { lib } = require('../../support/paths');
// VehicleCommandController against the HTTPS Fleet API double, through the real client and the
// proxy path; the controller's timers on a fake clock (the HTTP answers are real I/O).
const assert = require('node:assert/strict');
const net = require('node:net');
const { COMMANDS, CommandInputError } = lib('commands/table');
const { WAKE_POLL_MS } = lib('commands/controller');
const { fakeClock } = require('../../support/clock');
const { CLIENT_SECRET, REFRESH_TOKEN, VIN, VIN2, VIN3, carData, setup, until } = require('./support');

const SEC = 1000;
const stopped = () => carData({ charge: { charging_state: 'Stopped', charge_limit_soc: 90 } });

describe('vehicle-command controller (HTTPS double, proxy path)', function () {
  let h;
  afterEach(async function () {
    if (h) await h.close();
    h = null;
  });

  it("every command of the table: state check first, then POST <proxy>/…/command/{name} with exactly the table's body", async function () {
    h = await setup({ vehicles: { [VIN]: { state: 'online', data: stopped() } }, options: { allowUnlock: true } });
    const sample = { integer: (p) => p.min + 7, boolean: () => true };
    const expected = [];
    for (const c of COMMANDS) {
      const body = Object.fromEntries(c.params.map((p) => [p.name, sample[p.type](p)]));
      expected.push({ name: c.name, body });
      // Parameters with an extra key; parameterless commands get an inject timestamp.
      const payload = c.params.length ? { ...body, extra: 'never sent' } : 1733212800000;
      const [p] = await h.ctl.handle({ command: c.name, payload, vin: VIN });
      assert.equal(p.state, 'done', `${c.name}: ${p.reason}`);
      assert.equal(p.ok, true);
      assert.deepEqual(p.params, body);
    }
    const api = h.d.calls.filter((c) => c.route.startsWith('/api/1'));
    assert.equal(api.length, 2 * COMMANDS.length);
    expected.forEach((e, i) => {
      const [check, cmd] = [api[2 * i], api[2 * i + 1]];
      assert.equal(`${check.method} ${check.path}`, `GET /proxy/api/1/vehicles/${VIN}`, `${e.name}: free state check first`);
      assert.equal(`${cmd.method} ${cmd.path}`, `POST /proxy/api/1/vehicles/${VIN}/command/${e.name}`);
      assert.deepEqual(cmd.body, e.body, `${e.name}: body`);
      assert.equal(cmd.status, 200);
    });
    assert.deepEqual(h.client.meter.today().calls, { data: 0, command: COMMANDS.length, wake: 0, free: COMMANDS.length + 1 });
    const msg = h.out.sent[0];
    assert.deepEqual(
      { event: msg.event, topic: msg.topic, vin: msg.vin, source: msg.source, response: msg.response },
      { event: 'command', topic: `${VIN}/command/charge_start`, vin: VIN, source: 'api', response: { response: { result: true, reason: '' } } },
    );
    assert.deepEqual(msg.payload, {
      vin: VIN,
      command: 'charge_start',
      params: {},
      ok: true,
      state: 'done',
      reason: null,
      teslaReason: null,
      verified: null,
      verifiedAt: null,
    });
    assert.match(h.out.statuses.at(-1).text, /today 13 commands ≈ \$0\.013$/);
  });

  it('bad input: a CommandInputError naming the input, counted, and not one HTTP call (token endpoint included)', async function () {
    h = await setup({ options: { vins: [VIN] } });
    const cases = [
      [{ command: 'charge_startt' }, 'command', /unknown command the string "charge_startt"/],
      [{}, 'command', /no command/],
      [{ command: 'door_unlock' }, 'allowUnlock', /door_unlock opens the car/],
      [{ command: 'charge_port_door_open' }, 'allowUnlock', /charge_port_door_open opens the car/],
      [{ command: 'set_charging_amps', payload: { charging_amps: 49 } }, 'params', /charging_amps must be an integer from 0 to 48; got 49/],
      [{ command: 'set_charging_amps' }, 'params', /needs msg\.payload\.charging_amps/],
      [{ command: 'set_charge_limit', payload: { percent: '80' } }, 'params', /percent must be .* got the string "80"/],
      [{ command: 'door_lock', vin: '5YJ3E1EA1SF00000' }, 'vins', /VIN the string "5YJ3E1EA1SF00000" is not 17 letters and digits/],
      [{ command: 'door_lock', vins: [VIN, 'nope'] }, 'vins', /"nope" is not 17/],
    ];
    for (const [input, at, re] of cases) {
      const e = await h.ctl.handle(input).then(
        () => assert.fail(`${JSON.stringify(input)} was accepted`),
        (err) => err,
      );
      assert.ok(e instanceof CommandInputError);
      assert.equal(e.input, at, JSON.stringify(input));
      assert.match(e.message, re);
    }
    assert.equal(h.d.calls.length, 0, 'no call at all, not even for a token');
    assert.equal(h.out.sent.length, 0);
    assert.equal(h.ctl.counts.invalid, cases.length);
    assert.equal(h.ctl.counts.inputs, cases.length);
  });

  it("msg.vin / msg.vins pick the cars, else the node's VINs; the node's command wins over msg.command", async function () {
    h = await setup({
      vehicles: { [VIN]: { state: 'online' }, [VIN2]: { state: 'online' }, [VIN3]: { state: 'online' } },
      options: { vins: [VIN, VIN2], command: 'door_lock' },
    });
    let res = await h.ctl.handle({ command: 'honk_horn' });
    assert.deepEqual(
      res.map((p) => [p.vin, p.command, p.state]),
      [
        [VIN, 'door_lock', 'done'],
        [VIN2, 'door_lock', 'done'],
      ],
    );
    res = await h.ctl.handle({ vins: `${VIN3}` });
    assert.deepEqual(
      res.map((p) => p.vin),
      [VIN3],
    );
    res = await h.ctl.handle({ vin: VIN2 });
    assert.deepEqual(
      res.map((p) => p.vin),
      [VIN2],
    );
    assert.equal(h.out.sent.length, 4, 'one message per VIN per input');
    assert.equal(h.commandCalls().filter((c) => /honk_horn/.test(c.path)).length, 0);
  });

  it('asleep with wake never: one free state check, no billed call, state asleep', async function () {
    h = await setup({ vehicles: { [VIN]: { state: 'asleep' }, [VIN2]: { state: 'offline' } } });
    const res = await h.ctl.handle({ command: 'charge_start', vins: [VIN, VIN2] });
    assert.deepEqual(
      res.map((p) => [p.state, p.ok]),
      [
        ['asleep', false],
        ['asleep', false],
      ],
    );
    assert.match(res[0].reason, /The car is asleep; it was not woken \(wake is set to never\)/);
    assert.match(res[1].reason, /The car is offline/);
    assert.equal(h.d.callsTo('/wake_up').length, 0, 'never woken');
    assert.equal(h.commandCalls().length, 0);
    assert.deepEqual(h.client.meter.today().calls, { data: 0, command: 0, wake: 0, free: 3 });
    assert.equal(h.out.statuses.at(-1).fill, 'blue');
  });

  it('asleep with wake allow: ONE wake_up, free state checks every 5 s, then the command', async function () {
    h = await setup({ vehicles: { [VIN]: { state: 'asleep', wakeAfterChecks: 3 } }, options: { wake: 'allow' } });
    const pending = h.ctl.handle({ command: 'set_charge_limit', payload: { percent: 70 }, vin: VIN });
    await h.d.waitForCall((c) => /wake_up/.test(c.path));
    const wokeAt = h.clock.t;
    // A second input for the same sleeping car shares the wake-up (its state check is the first after it).
    const second = h.ctl.handle({ command: 'door_lock', vin: VIN });
    for (let i = 0; i < 2; i++) {
      await until(
        () => h.ctl.pendingTimers() === 1 && h.d.callsTo(new RegExp(`/vehicles/${VIN}$`), 'GET').length === 2 + i,
        'the next state check to be scheduled',
      );
      h.clock.advance(WAKE_POLL_MS);
    }
    const [p] = await pending;
    const [q] = await second;
    assert.equal(p.state, 'done');
    assert.equal(q.state, 'done');
    assert.equal(h.d.callsTo('/wake_up', 'POST').length, 1, 'one wake_up for both inputs');
    const checks = h.d.callsTo(new RegExp(`/vehicles/${VIN}$`), 'GET').map((c) => c.at - wokeAt);
    assert.deepEqual(checks.slice(1), [0, 5 * SEC, 10 * SEC], 'then a state check every 5 s after the wake-up');
    assert.deepEqual(h.client.meter.today().calls, { data: 0, command: 2, wake: 1, free: 5 });
    assert.match(h.out.statuses.at(-1).text, /today 2 commands, 1 wake ≈ \$0\.022$/);
  });

  it('wake allow, the car never wakes: 12 state checks over 60 s, then asleep; no command', async function () {
    h = await setup({ vehicles: { [VIN]: { state: 'asleep', wakeAfterChecks: null } }, options: { wake: 'allow' } });
    const pending = h.ctl.handle({ command: 'charge_start', vin: VIN });
    await h.d.waitForCall((c) => /wake_up/.test(c.path));
    for (let i = 0; i < 12; i++) {
      await until(() => h.ctl.pendingTimers() === 1, `state check ${i + 1} to be scheduled`);
      h.clock.advance(WAKE_POLL_MS);
    }
    const [p] = await pending;
    assert.equal(p.state, 'asleep');
    assert.match(p.reason, /asked to wake up once but was not online within 60 s/);
    assert.equal(h.d.callsTo(new RegExp(`/vehicles/${VIN}$`), 'GET').length, 13, 'the first check and 12 after the wake-up');
    assert.equal(h.d.callsTo('/wake_up').length, 1);
    assert.equal(h.commandCalls().length, 0);
    assert.equal(h.ctl.pendingTimers(), 0);
  });

  describe('answers', function () {
    const refused = (text) => ({ status: 200, body: { response: { result: false, reason: `car could not execute command: ${text}` } } });
    const cases = [
      ['charge_start', refused('is_charging'), 'already', true],
      ['charge_start', refused('complete'), 'already', true],
      ['charge_stop', refused('not_charging'), 'already', true],
      ['charge_stop', refused('is_charging'), 'rejected', false],
      ['set_charge_limit', refused('already_set'), 'already', true],
      ['door_lock', refused('user_not_present'), 'rejected', false],
      ['charge_start', { status: 200, body: { response: { result: false, string: 'car could not execute command: is_charging' } } }, 'already', true],
      ['door_lock', { status: 408 }, 'asleep', false],
      ['door_lock', { status: 500, body: { error: 'internal_error' } }, 'error', false],
      ['door_lock', { status: 502, body: { error: 'bad gateway' } }, 'error', false],
      ['door_lock', { status: 503, body: { error: 'timed out waiting for the vehicle' } }, 'error', false],
      ['door_lock', { status: 504, body: { error: 'gateway timeout' } }, 'error', false],
      ['door_lock', { status: 200, body: { response: {} } }, 'error', false],
      ['door_lock', { status: 403, body: { error: 'missing scope vehicle_cmds' } }, 'error', false],
    ];
    for (const [command, answer, state, ok] of cases) {
      it(`${command} answered ${answer.status} ${JSON.stringify(answer.body || '')} → ${state}`, async function () {
        h = await setup({ options: { allowUnlock: true } });
        h.d.failNext('/command/', answer);
        const payload = command === 'set_charge_limit' ? { percent: 80 } : undefined;
        const [p] = await h.ctl.handle({ command, payload, vin: VIN });
        assert.equal(p.state, state, p.reason);
        assert.equal(p.ok, ok);
        assert.equal(h.commandCalls().length, 1);
        const msg = h.out.sent[0];
        if (answer.body) assert.deepEqual(msg.response, answer.body, 'the raw answer is kept');
        if (answer.body && answer.body.response && (answer.body.response.reason || answer.body.response.string)) {
          const tesla = answer.body.response.reason || answer.body.response.string;
          assert.equal(p.teslaReason, tesla, "Tesla's reason kept");
          assert.ok(p.reason.includes(tesla), 'and said in words');
        }
        if (state === 'rejected') assert.match(p.reason, new RegExp(`^The car refused ${command}: car could not execute command: `));
        if (state === 'error') assert.ok(p.reason.length > 10, p.reason);
        if (answer.status >= 500) assert.equal(h.client.meter.today().calls.command, 0, '5xx not billed');
      });
    }

    it("the double's own answers: is_charging, not_charging, already_set, disconnected", async function () {
      h = await setup({
        vehicles: {
          [VIN]: { state: 'online', data: carData({ charge: { charging_state: 'Charging', charge_limit_soc: 80 } }) },
          [VIN2]: { state: 'online', data: carData({ charge: { charging_state: 'Disconnected' } }) },
        },
      });
      const one = async (command, vin, payload) => (await h.ctl.handle({ command, vin, payload }))[0];
      assert.equal((await one('charge_start', VIN)).state, 'already');
      assert.equal((await one('set_charge_limit', VIN, { percent: 80 })).state, 'already');
      assert.equal((await one('charge_stop', VIN)).state, 'done');
      assert.equal((await one('charge_stop', VIN)).state, 'already');
      const p = await one('charge_start', VIN2);
      assert.equal(p.state, 'rejected');
      assert.equal(p.teslaReason, 'car could not execute command: disconnected');
    });

    it('network failure and timeout: error, not billed, and the reason says what to check', async function () {
      const port = await new Promise((resolve) => {
        const s = net.createServer().listen(0, '127.0.0.1', () => {
          const p = s.address().port;
          s.close(() => resolve(p));
        });
      });
      h = await setup({ clientOptions: { timeoutMs: 300 } });
      // The proxy hangs on the command: the client's timeout ends it.
      const hung = h.d.failNext('/command/', { hang: true });
      const [t] = await h.ctl.handle({ command: 'door_lock', vin: VIN });
      hung.release();
      assert.equal(t.state, 'error');
      assert.match(t.reason, /No answer from .* within 300 ms/);
      assert.equal(h.client.meter.today().calls.command, 0);
      await h.close();
      // Nothing listens where the proxy should be.
      h = await setup({ clientOptions: { proxyUrl: `https://127.0.0.1:${port}` } });
      const [n] = await h.ctl.handle({ command: 'door_lock', vin: VIN });
      assert.equal(n.state, 'error');
      assert.match(n.reason, /Cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
      assert.equal(h.out.statuses.at(-1).fill, 'red');
    });
  });

  it('429 blocks that VIN only until Retry-After: no call meanwhile, other cars go on', async function () {
    h = await setup({ vehicles: { [VIN]: { state: 'online' }, [VIN2]: { state: 'online' } } });
    h.d.failNext(`/vehicles/${VIN}/command/`, { status: 429, headers: { 'retry-after': '120' }, body: { error: 'Retry in 120 seconds' } });
    const [p] = await h.ctl.handle({ command: 'door_lock', vin: VIN });
    assert.equal(p.state, 'rate-limited');
    assert.match(p.reason, /no call before \d\d:\d\d:\d\d/);
    assert.deepEqual(h.out.sent[0].response, { error: 'Retry in 120 seconds' });
    const n = h.d.calls.length;
    h.clock.advance(119 * SEC);
    const [q] = await h.ctl.handle({ command: 'set_charge_limit', payload: { percent: 70 }, vin: VIN });
    assert.equal(q.state, 'rate-limited', 'any command to that car');
    assert.equal(h.d.calls.length, n, 'not even a state check');
    const [other] = await h.ctl.handle({ command: 'door_lock', vin: VIN2 });
    assert.equal(other.state, 'done', 'another car is not blocked');
    h.clock.advance(1 * SEC);
    const [r] = await h.ctl.handle({ command: 'door_lock', vin: VIN });
    assert.equal(r.state, 'done', 'after Retry-After the car is called again');
    assert.equal(h.commandCalls().filter((c) => c.path.includes(VIN)).length, 2);
  });

  describe('coalescing (minInterval 60 s, fake clock)', function () {
    const amps = (a, vin = VIN) => h.ctl.handle({ command: 'set_charging_amps', payload: { charging_amps: a }, vin });
    const sentBodies = () =>
      h
        .commandCalls()
        .filter((c) => c.path.includes(`${VIN}/command/set_charging_amps`))
        .map((c) => c.body.charging_amps);

    it('the newest waiting value is sent when the interval ends; older waiting inputs are superseded without a call', async function () {
      h = await setup({ vehicles: { [VIN]: { state: 'online' }, [VIN2]: { state: 'online' } }, options: { minIntervalMs: 60 * SEC } });
      const t0 = h.clock.t;
      assert.equal((await amps(16))[0].state, 'done');
      h.clock.advance(5 * SEC);
      const p17 = amps(17);
      h.clock.advance(5 * SEC);
      const p18 = amps(18);
      const [s17] = await p17;
      assert.equal(s17.state, 'superseded', 'answered as soon as a newer one came');
      assert.equal(s17.ok, false);
      assert.match(s17.reason, /A newer set_charging_amps for this car came within the minimum interval of 60 s/);
      assert.deepEqual(sentBodies(), [16], 'nothing sent before the interval ends');
      // Another car, or another command, is not held back.
      assert.equal((await amps(17, VIN2))[0].state, 'done');
      assert.equal((await h.ctl.handle({ command: 'door_lock', vin: VIN }))[0].state, 'done');
      h.clock.advance(60 * SEC - 10 * SEC - 1);
      assert.equal(h.ctl.pendingTimers(), 1, 'still waiting 1 ms before the interval ends');
      h.clock.advance(1);
      const [s18] = await p18;
      assert.equal(s18.state, 'done');
      assert.deepEqual(sentBodies(), [16, 18]);
      assert.equal(h.d.callsTo('/command/set_charging_amps').find((c) => c.body.charging_amps === 18).at, t0 + 60 * SEC);
      assert.deepEqual(
        h.out.sent
          .filter((m) => m.vin === VIN && m.payload.command === 'set_charging_amps')
          .map((m) => [m.payload.params.charging_amps, m.payload.state]),
        [
          [16, 'done'],
          [17, 'superseded'],
          [18, 'done'],
        ],
      );
    });

    it('the same value as the last success within the interval is unchanged (no call); a newer equal wish cancels a waiting one', async function () {
      h = await setup({ options: { minIntervalMs: 60 * SEC } });
      assert.equal((await amps(16))[0].state, 'done');
      h.clock.advance(5 * SEC);
      const [u] = await amps(16);
      assert.equal(u.state, 'unchanged');
      assert.equal(u.ok, true);
      assert.match(u.reason, /The same set_charging_amps succeeded 5 s ago \(minimum interval 60 s\); not sent again/);
      // 20 waits, then the wish goes back to 16: 20 is outdated, 16 is what the car has.
      h.clock.advance(5 * SEC);
      const p20 = amps(20);
      h.clock.advance(5 * SEC);
      const [back] = await amps(16);
      const [s20] = await p20;
      assert.equal(back.state, 'unchanged');
      assert.equal(s20.state, 'superseded');
      assert.equal(h.ctl.pendingTimers(), 0, 'no send left waiting');
      h.clock.advance(60 * SEC);
      assert.deepEqual(sentBodies(), [16], 'one call in all');
      // After the interval the same value is sent again.
      assert.equal((await amps(16))[0].state, 'done');
      assert.deepEqual(sentBodies(), [16, 16]);
    });

    it('minInterval 0: every input is sent', async function () {
      h = await setup();
      const res = await Promise.all([amps(16), amps(17), amps(16)]);
      assert.deepEqual(
        res.map(([p]) => p.state),
        ['done', 'done', 'done'],
      );
      assert.deepEqual(sentBodies().sort(), [16, 16, 17]);
    });
  });

  it('dailyBudget: billed commands per car per day; over budget makes no call, warns once; no wake without room for the command', async function () {
    h = await setup({ vehicles: { [VIN]: { state: 'online' }, [VIN2]: { state: 'asleep' } }, options: { dailyBudget: 2, wake: 'allow' } });
    for (const expected of ['done', 'done', 'over budget', 'over budget']) {
      const [p] = await h.ctl.handle({ command: 'door_lock', vin: VIN });
      assert.equal(p.state, expected);
    }
    assert.equal(h.commandCalls().length, 2);
    assert.match(h.out.sent[2].payload.reason, /The daily budget of 2 billed commands for this car is spent; nothing was sent/);
    assert.deepEqual(h.out.warnings, [`${VIN}: daily budget of 2 billed commands spent; no more commands to this car today.`]);
    assert.equal(h.out.statuses.at(-1).fill, 'yellow');
    await h.close();
    h = await setup({ vehicles: { [VIN2]: { state: 'asleep' } }, options: { dailyBudget: 1, wake: 'allow' } });
    const [w] = await h.ctl.handle({ command: 'door_lock', vin: VIN2 });
    assert.equal(w.state, 'over budget');
    assert.match(w.reason, /no room for a wake-up and the command/);
    assert.equal(h.d.callsTo('/wake_up').length, 0);
    assert.deepEqual(h.client.meter.today().calls, { data: 0, command: 0, wake: 0, free: 2 }, 'only the free state check (and the token)');
    // The next local day has a new budget.
    h.clock.advance(24 * 3600 * SEC);
    h.d.setVehicle(VIN2, { state: 'online' });
    assert.equal((await h.ctl.handle({ command: 'door_lock', vin: VIN2 }))[0].state, 'done');
  });

  it('no token or client secret in any message, reason, status or warning, even when an error body quotes them', async function () {
    h = await setup({ vehicles: { [VIN]: { state: 'online' }, [VIN2]: { state: 'asleep' } }, options: { dailyBudget: 3 } });
    await h.ctl.handle({ command: 'door_lock', vin: VIN });
    h.d.failNext('/command/', {
      status: 502,
      body: { error: `proxy failed: refresh ${REFRESH_TOKEN} secret ${CLIENT_SECRET}`, error_description: `bearer ${h.d.secrets().at(-1)}` },
    });
    await h.ctl.handle({ command: 'door_lock', vin: VIN });
    h.d.failNext('/command/', {
      status: 200,
      body: { response: { result: false, reason: `car could not execute command: ${h.d.secrets().at(-1)}` } },
    });
    await h.ctl.handle({ command: 'door_lock', vin: VIN });
    await h.ctl.handle({ command: 'door_lock', vins: [VIN, VIN2] });
    await h.ctl.handle({ command: 'nope', vin: VIN }).catch((e) => h.out.errors.push({ text: e.message }));
    const text = JSON.stringify([h.out.sent, h.out.statuses, h.out.warnings, h.out.errors]);
    assert.ok(h.out.sent.length >= 5);
    assert.ok(text.includes('[redacted]'), 'the quoted secrets were replaced');
    for (const s of [...h.d.secrets(), CLIENT_SECRET, REFRESH_TOKEN]) assert.ok(!text.includes(s), `a secret leaked: ${s.slice(0, 6)}…`);
  });

  describe('stop()', function () {
    it('mid-wait: no timer left, inputs resolve without an answer, nothing sent after (coalescing, wake, in-flight call)', async function () {
      const clock = fakeClock();
      h = await setup({
        clock,
        vehicles: { [VIN]: { state: 'online' }, [VIN2]: { state: 'asleep', wakeAfterChecks: null }, [VIN3]: { state: 'online' } },
        options: { minIntervalMs: 60 * SEC, wake: 'allow' },
      });
      await h.ctl.handle({ command: 'set_charging_amps', payload: 16, vin: VIN });
      const waiting = h.ctl.handle({ command: 'set_charging_amps', payload: 17, vin: VIN });
      const waking = h.ctl.handle({ command: 'door_lock', vin: VIN2 });
      await h.d.waitForCall((c) => /wake_up/.test(c.path));
      const hung = h.d.failNext('/command/', { hang: true });
      const inFlight = h.ctl.handle({ command: 'door_lock', vin: VIN3 });
      await hung.arrived;
      await until(() => h.ctl.pendingTimers() === 2, 'the coalescing and the wake timers');
      assert.ok(clock.timers.size >= 2);
      const sent = h.out.sent.length;
      await h.ctl.stop();
      assert.equal(h.ctl.pendingTimers(), 0);
      assert.equal(clock.timers.size, 0, 'no timer left on the clock');
      assert.deepEqual(await waiting, []);
      assert.deepEqual(await waking, []);
      hung.release();
      assert.deepEqual(await inFlight, [], 'the call in flight came back after stop: no answer');
      clock.advance(3600 * SEC);
      assert.equal(h.out.sent.length, sent, 'nothing sent after stop');
      assert.deepEqual(await h.ctl.handle({ command: 'door_lock', vin: VIN }), [], 'inputs after stop are ignored');
    });
  });
});
