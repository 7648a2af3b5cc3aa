'use strict';
const { lib } = require('../../support/paths');
// Confirmation by the stream. Timing cases: the stream interface driven by the test on a fake
// clock. End to end: the simulator publishing as the real server into aedes, a real
// BrokerConnection, and the Fleet API double whose commands the simulator reflects (the
// wiring npm start uses).
const assert = require('node:assert/strict');
const { BrokerConnection } = lib('stream/broker-connection');
const { FleetApiClient } = lib('fleet-api');
const { VehicleCommandController } = lib('commands/controller');
const { BrokerCommandStream } = lib('commands/broker-stream');
const { startFleetDouble } = require('../../../dev/fleet-double');
const { createFleetSimulator, DEMO_CARS } = require('../../../dev/simulator');
const { linkCommands } = require('../../../dev/start');
const { startBroker } = require('../../support/broker');
const { recordingSink } = require('../../support/sink');
const { fakeClock } = require('../../support/clock');
const { CLIENT_ID, VIN, VIN2, carData, defaults, setup, until, manualStream } = require('./support');

const SEC = 1000;

describe('vehicle-command confirmation', function () {
  describe('timing (stream interface, fake clock)', function () {
    let h;
    let stream;
    afterEach(async function () {
      if (h) await h.close();
      h = null;
    });

    async function start(options, vehicles) {
      stream = manualStream();
      h = await setup({ stream, options: { verifyMs: 60 * SEC, ...options }, vehicles });
    }

    it('done, then a live matching value: verified true at its receivedAt; other values, cars and fields do not confirm', async function () {
      await start();
      const pending = h.ctl.handle({ command: 'set_charge_limit', payload: { percent: 70 }, vin: VIN });
      await until(() => h.ctl.pendingTimers() === 1, 'the confirmation wait');
      stream.emit(VIN, 'ChargeLimitSoc', 80, h.clock.t);
      stream.emit(VIN2, 'ChargeLimitSoc', 70, h.clock.t);
      stream.emit(VIN, 'BatteryLevel', 70, h.clock.t);
      stream.emit(VIN, 'ChargeLimitSoc', null, h.clock.t);
      h.clock.advance(3 * SEC);
      assert.equal(h.out.sent.length, 0, 'the answer waits for the confirmation');
      assert.equal(h.ctl.pendingTimers(), 1);
      const at = h.clock.t - 250; // the message's own receivedAt
      stream.emit(VIN, 'ChargeLimitSoc', 70, at);
      const [p] = await pending;
      assert.equal(p.state, 'done');
      assert.equal(p.verified, true);
      assert.equal(p.verifiedAt, at);
      assert.equal(h.ctl.pendingTimers(), 0);
      assert.equal(h.clock.timers.size, 0);
    });

    it('no confirming value: verified false exactly verify seconds later, not before', async function () {
      await start({ verifyMs: 30 * SEC });
      // The car state says unlocked when the command is sent.
      stream.emit(VIN, 'Locked', false, h.clock.t);
      const pending = h.ctl.handle({ command: 'door_lock', vin: VIN });
      await until(() => h.ctl.pendingTimers() === 1, 'the confirmation wait');
      h.clock.advance(30 * SEC - 1);
      await new Promise((r) => setImmediate(r));
      assert.equal(h.out.sent.length, 0, 'still waiting 1 ms before');
      h.clock.advance(1);
      const [p] = await pending;
      assert.deepEqual([p.state, p.ok, p.verified, p.verifiedAt], ['done', true, false, null]);
    });

    it('done, and the car state already held the value when the command was sent: verified true at once (the car sends nothing new)', async function () {
      await start();
      stream.set(VIN, 'Locked', true);
      stream.set(VIN2, 'ChargeLimitSoc', 60);
      const sentAt = h.clock.t;
      const hung = h.d.failNext('/command/', { hang: true });
      const pending = h.ctl.handle({ command: 'door_lock', vin: VIN });
      await hung.arrived;
      h.clock.advance(1500); // the answer comes 1.5 s after the send
      hung.release();
      const [p] = await pending;
      assert.deepEqual([p.state, p.ok, p.verified], ['done', true, true]);
      assert.equal(p.verifiedAt, sentAt + 1500, 'verifiedAt: the time of the answer');
      assert.equal(h.ctl.pendingTimers(), 0, 'no wait for the stream');
      assert.equal(h.commandCalls().length, 1, 'the command was still sent');
      // Typed enum values in the car state confirm alike.
      stream.set(VIN, 'SentryMode', 'SentryModeStateArmed');
      const [q] = await h.ctl.handle({ command: 'set_sentry_mode', payload: { on: true }, vin: VIN });
      assert.deepEqual([q.state, q.verified, q.verifiedAt], ['done', true, h.clock.t]);
      // Another car's value, another field's value, or a different value is no confirmation.
      stream.set(VIN, 'BatteryLevel', 60);
      stream.set(VIN, 'ChargeLimitSoc', 61);
      const waiting = h.ctl.handle({ command: 'set_charge_limit', payload: { percent: 60 }, vin: VIN });
      await until(() => h.ctl.pendingTimers() === 1, 'the confirmation wait');
      h.clock.advance(60 * SEC);
      const [r] = await waiting;
      assert.deepEqual([r.state, r.verified, r.verifiedAt], ['done', false, null]);
    });

    it('the car state is read when the command is sent: a value that only reaches it later (not live) does not confirm', async function () {
      await start({ verifyMs: 20 * SEC });
      const hung = h.d.failNext('/command/', { hang: true });
      const pending = h.ctl.handle({ command: 'door_lock', vin: VIN });
      await hung.arrived;
      stream.set(VIN, 'Locked', true); // a retained re-delivery, say: not a live message
      hung.release();
      await until(() => h.ctl.pendingTimers() === 1, 'the confirmation wait');
      h.clock.advance(20 * SEC);
      const [p] = await pending;
      assert.deepEqual([p.state, p.verified], ['done', false]);
    });

    it('a live value that arrives while the command is in flight confirms (listened for before sending)', async function () {
      await start();
      const hung = h.d.failNext('/command/', { hang: true });
      const pending = h.ctl.handle({ command: 'set_sentry_mode', payload: { on: true }, vin: VIN });
      await hung.arrived;
      stream.emit(VIN, 'SentryMode', 'SentryModeStateArmed', h.clock.t);
      hung.release();
      const [p] = await pending;
      assert.deepEqual([p.state, p.verified, p.verifiedAt], ['done', true, h.clock.t]);
      assert.equal(h.clock.timers.size, 0, 'no wait was needed');
    });

    it('already: a matching value already in the car state confirms at once; otherwise it waits for a live one', async function () {
      await start({}, { [VIN]: { state: 'online', data: carData({ charge: { charging_state: 'Charging' } }) } });
      stream.set(VIN, 'DetailedChargeState', 'Charging');
      const [p] = await h.ctl.handle({ command: 'charge_start', vin: VIN });
      assert.deepEqual([p.state, p.ok, p.verified, p.verifiedAt], ['already', true, true, h.clock.t]);
      assert.match(p.reason, /^Already so, nothing to change \(charge_start: car could not execute command: is_charging\)$/);
      assert.equal(h.clock.timers.size, 0, 'confirmed without waiting');
      // The car state says otherwise (a stale value): wait for a live message.
      stream.set(VIN, 'DetailedChargeState', 'Stopped');
      const pending = h.ctl.handle({ command: 'charge_start', vin: VIN });
      await until(() => h.ctl.pendingTimers() === 1, 'the confirmation wait');
      stream.emit(VIN, 'DetailedChargeState', 'DetailedChargeStateCharging', h.clock.t + 1);
      const [q] = await pending;
      assert.deepEqual([q.state, q.verified, q.verifiedAt], ['already', true, h.clock.t + 1]);
    });

    it('verified null: no stream, verify 0, a command without a field, a refused or asleep answer', async function () {
      h = await setup({ options: { verifyMs: 60 * SEC } });
      assert.equal((await h.ctl.handle({ command: 'door_lock', vin: VIN }))[0].verified, null, 'no stream');
      await h.close();
      await start({ verifyMs: 0 });
      assert.equal((await h.ctl.handle({ command: 'door_lock', vin: VIN }))[0].verified, null, 'verify 0');
      await h.close();
      await start({}, { [VIN]: { state: 'online', data: carData({ charge: { charging_state: 'Disconnected' } }) }, [VIN2]: { state: 'asleep' } });
      assert.equal((await h.ctl.handle({ command: 'flash_lights', vin: VIN }))[0].verified, null, 'not confirmed by the table');
      const [r] = await h.ctl.handle({ command: 'charge_start', vin: VIN });
      assert.deepEqual([r.state, r.verified], ['rejected', null]);
      const [a] = await h.ctl.handle({ command: 'door_lock', vin: VIN2 });
      assert.deepEqual([a.state, a.verified], ['asleep', null]);
      assert.equal(h.clock.timers.size, 0);
    });

    it('stop while waiting for the stream: no timer left, no answer, the stream listener removed', async function () {
      await start();
      const pending = h.ctl.handle({ command: 'door_lock', vin: VIN });
      await until(() => h.ctl.pendingTimers() === 1, 'the confirmation wait');
      assert.equal(stream.listeners.size, 1);
      await h.ctl.stop();
      assert.equal(h.clock.timers.size, 0);
      assert.deepEqual(await pending, []);
      stream.emit(VIN, 'Locked', true, h.clock.t);
      assert.equal(h.out.sent.length, 0);
      assert.equal(stream.listeners.size, 0);
    });

    it('a car state that throws, an odd value, or a send that throws never escapes', async function () {
      await start({}, { [VIN]: { state: 'online', data: carData({ charge: { charge_limit_soc: 80 } }) } });
      h.out.send = () => {
        throw new Error('downstream node failed');
      };
      stream.current = () => {
        throw new Error('car state broken');
      };
      const pending = h.ctl.handle({ command: 'set_charge_limit', payload: { percent: 80 }, vin: VIN });
      await until(() => h.ctl.pendingTimers() === 1, 'the confirmation wait (the car state could not be read)');
      stream.emit(VIN, 'ChargeLimitSoc', { weird: 'object' }, h.clock.t);
      stream.emit(VIN, 'ChargeLimitSoc', '80', h.clock.t);
      const [p] = await pending;
      assert.deepEqual([p.state, p.verified], ['already', true]);
      assert.deepEqual(h.out.warnings, ['vehicle-command: an answer could not be sent: downstream node failed']);
    });
  });

  describe('end to end: simulator → aedes → BrokerConnection, double → simulator (npm start wiring)', function () {
    const TYPED = DEMO_CARS[0].vin;
    const LEGACY = DEMO_CARS[1].vin;
    let broker;
    let conn;
    let stream;
    let sim;
    let d;
    let client;
    let ctl;
    let out;
    let unlink;

    before(async function () {
      broker = await startBroker();
      conn = new BrokerConnection({ url: broker.url, topicBase: 'telemetry', reconnectPeriodMs: 200 });
      const connected = new Promise((resolve) => conn.on('state', (s) => s === 'connected' && resolve()));
      stream = new BrokerCommandStream(conn);
      await connected;
      sim = createFleetSimulator({
        url: broker.url,
        cars: DEMO_CARS.slice(0, 2),
        clock: fakeClock(Date.now()),
        seed: 7,
        scripted: false,
        alertRate: 0,
        errorRate: 0,
      });
      const vehicles = {};
      for (const vin of sim.vins()) vehicles[vin] = { state: 'online', data: sim.carState(vin).data };
      d = await startFleetDouble({ clientId: CLIENT_ID, vehicles });
      sim.onState((st) => d.setVehicle(st.vin, { state: st.online ? 'online' : 'asleep', data: st.data }));
      unlink = linkCommands(d, sim);
      await sim.start();
      for (const vin of sim.vins()) await sim.setPhase(vin, 'charge');
      await until(() => stream.current(TYPED, 'DetailedChargeState') === 'Charging', 'the typed car charging on the stream');
      client = new FleetApiClient({
        region: 'na',
        fleetApiUrl: d.url,
        proxyUrl: d.proxyUrl,
        proxyCa: d.ca,
        tokenUrl: d.tokenUrl,
        clientId: CLIENT_ID,
        refreshToken: d.currentRefreshToken,
        timeoutMs: 5000,
      });
      out = recordingSink();
      out.send = (m) => out.sent.push(m);
      ctl = new VehicleCommandController(client, defaults({ verifyMs: 10 * SEC, allowUnlock: true }), out, { stream });
      ctl.start();
    });

    after(async function () {
      await ctl.stop();
      unlink();
      await sim.stop();
      await stream.close();
      await conn.close();
      await client.close();
      await d.close();
      await broker.close();
    });

    it('every confirmable command is carried out by the double, shown by the simulated car, and verified', async function () {
      const steps = [
        ['set_charge_limit', { percent: 70 }, 'ChargeLimitSoc', 70],
        ['set_charging_amps', { charging_amps: 10 }, 'ChargeCurrentRequest', 10],
        ['charge_stop', undefined, 'DetailedChargeState', 'Stopped'],
        ['charge_start', undefined, 'DetailedChargeState', 'Starting'],
        ['charge_port_door_close', undefined, 'ChargePortDoorOpen', false],
        ['charge_port_door_open', undefined, 'ChargePortDoorOpen', true],
        ['door_unlock', undefined, 'Locked', false],
        ['door_lock', undefined, 'Locked', true],
        ['set_sentry_mode', { on: false }, 'SentryMode', 'Off'],
        ['set_sentry_mode', { on: true }, 'SentryMode', 'Armed'],
        ['auto_conditioning_start', undefined, 'HvacPower', 'On'],
        ['auto_conditioning_stop', undefined, 'HvacPower', 'Off'],
      ];
      for (const [command, payload, field, value] of steps) {
        const before = Date.now();
        const [p] = await ctl.handle({ command, payload, vin: TYPED });
        assert.equal(p.state, 'done', `${command}: ${p.reason}`);
        assert.equal(p.verified, true, `${command} verified by ${field}`);
        assert.ok(p.verifiedAt >= before && p.verifiedAt <= Date.now(), `${command}: verifiedAt is the message's time`);
        assert.deepEqual(stream.current(TYPED, field), value, `${command}: the car state shows it`);
      }
      // charge_start showed Starting first; the next record (within 3.6 s of car time) says Charging.
      await sim.step(4 * SEC);
      await until(() => stream.current(TYPED, 'DetailedChargeState') === 'Charging', 'Charging after Starting');
    });

    it('a legacy car (string values) confirms alike; an already-so command is confirmed by the car state at once', async function () {
      const [p] = await ctl.handle({ command: 'set_charge_limit', payload: { percent: 75 }, vin: LEGACY });
      assert.deepEqual([p.state, p.verified], ['done', true]);
      const [q] = await ctl.handle({ command: 'set_charge_limit', payload: { percent: 75 }, vin: LEGACY });
      assert.deepEqual([q.state, q.teslaReason, q.verified], ['already', 'car could not execute command: already_set', true]);
      assert.equal(ctl.pendingTimers(), 0);
    });

    it("the simulator's publishes are the only confirmation: a command the car does not show is not verified", async function () {
      // The double accepts set_charging_amps, but this time nothing reaches the simulator.
      unlink();
      try {
        const clock = fakeClock();
        const short = new VehicleCommandController(client, defaults({ verifyMs: 10 * SEC }), out, { stream, clock });
        short.start();
        const pending = short.handle({ command: 'set_charging_amps', payload: 12, vin: TYPED });
        await until(() => short.pendingTimers() === 1, 'the confirmation wait');
        clock.advance(10 * SEC);
        const [p] = await pending;
        assert.deepEqual([p.state, p.verified], ['done', false]);
        assert.equal(stream.current(TYPED, 'ChargeCurrentRequest'), 10, 'the car still shows the earlier value');
        await short.stop();
      } finally {
        unlink = linkCommands(d, sim);
      }
    });
  });
});
