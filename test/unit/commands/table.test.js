'use strict';
const { lib } = require('../../support/paths');
// The command table on its own: what it says about each command, checked against the contract
// and the field catalogue; validation; the body; "already" reasons; confirmation tests.
const assert = require('node:assert/strict');
const { COMMANDS, COMMAND_NAMES, CommandInputError, commandSpec, commandBody, confirmationTest, meansAlready, validateCommand } =
  lib('commands/table');
const { FIELDS } = lib('catalogue');
const { VIN, VIN2 } = require('./support');

const allow = { allowUnlock: true };

/** The CommandInputError of a validation that must fail. */
function fault(command, params, vins, opts = allow) {
  try {
    validateCommand(command, params, vins, opts);
  } catch (e) {
    assert.ok(e instanceof CommandInputError, `not a CommandInputError: ${e}`);
    return e;
  }
  assert.fail(`${JSON.stringify([command, params, vins])} was accepted`);
}

describe('vehicle-command table', function () {
  it("has exactly the contract's thirteen commands, and only door_unlock and charge_port_door_open open the car", function () {
    assert.deepEqual([...COMMAND_NAMES].sort(), [
      'auto_conditioning_start',
      'auto_conditioning_stop',
      'charge_port_door_close',
      'charge_port_door_open',
      'charge_start',
      'charge_stop',
      'door_lock',
      'door_unlock',
      'flash_lights',
      'honk_horn',
      'set_charge_limit',
      'set_charging_amps',
      'set_sentry_mode',
    ]);
    assert.deepEqual(
      COMMANDS.filter((c) => c.opensCar)
        .map((c) => c.name)
        .sort(),
      ['charge_port_door_open', 'door_unlock'],
    );
    assert.deepEqual(Object.fromEntries(COMMANDS.filter((c) => c.params.length).map((c) => [c.name, c.params])), {
      set_charging_amps: [{ name: 'charging_amps', type: 'integer', min: 0, max: 48 }],
      set_charge_limit: [{ name: 'percent', type: 'integer', min: 50, max: 100 }],
      set_sentry_mode: [{ name: 'on', type: 'boolean' }],
    });
  });

  it('confirms on catalogue fields, with enum values the catalogue knows; flash_lights and honk_horn are not confirmed', function () {
    const fields = Object.fromEntries(COMMANDS.map((c) => [c.name, c.confirm && c.confirm.field]));
    assert.deepEqual(fields, {
      charge_start: 'DetailedChargeState',
      charge_stop: 'DetailedChargeState',
      set_charging_amps: 'ChargeCurrentRequest',
      set_charge_limit: 'ChargeLimitSoc',
      charge_port_door_open: 'ChargePortDoorOpen',
      charge_port_door_close: 'ChargePortDoorOpen',
      door_lock: 'Locked',
      door_unlock: 'Locked',
      set_sentry_mode: 'SentryMode',
      auto_conditioning_start: 'HvacPower',
      auto_conditioning_stop: 'HvacPower',
      flash_lights: null,
      honk_horn: null,
    });
    const values = (e) => (e.oneOf || e.noneOf || []).concat(e.byParam ? [...values(e.ifTrue), ...values(e.ifFalse)] : []);
    for (const c of COMMANDS.filter((x) => x.confirm)) {
      const info = FIELDS.get(c.confirm.field);
      assert.ok(info, `${c.confirm.field} in the catalogue`);
      for (const v of values(c.confirm.expect)) {
        if (info.kind === 'enum') {
          assert.ok(info.enumValues.includes(info.enumPrefix + v), `${c.name}: ${v} is a value of ${info.enum}`);
        } else {
          assert.equal(typeof v, info.kind === 'boolean' ? 'boolean' : 'number', `${c.name}: ${v} fits ${info.kind}`);
        }
      }
      if (c.confirm.expect.param) {
        const p = c.params.find((x) => x.name === c.confirm.expect.param);
        assert.equal(p.type, 'integer');
        assert.equal(info.kind, 'integer', `${c.name}: ${c.confirm.field} is an integer field`);
      }
    }
  });

  it('validates parameters: boundaries accepted, everything else refused naming the parameter', function () {
    for (const [cmd, ok] of [
      ['set_charging_amps', [0, 1, 16, 48]],
      ['set_charge_limit', [50, 80, 100]],
      ['set_sentry_mode', [true, false]],
    ]) {
      const name = commandSpec(cmd).params[0].name;
      for (const v of ok) {
        assert.deepEqual(validateCommand(cmd, { [name]: v }, [VIN], allow).params, { [name]: v });
        assert.deepEqual(validateCommand(cmd, v, [VIN], allow).params, { [name]: v }, 'a bare value for a one-parameter command');
      }
    }
    const cases = [
      ['set_charging_amps', {}, /needs msg\.payload\.charging_amps \(an integer from 0 to 48\)/],
      ['set_charging_amps', undefined, /needs msg\.payload\.charging_amps/],
      ['set_charging_amps', { charging_amps: null }, /needs msg\.payload\.charging_amps/],
      ['set_charging_amps', { charging_amps: 49 }, /charging_amps must be an integer from 0 to 48; got 49/],
      ['set_charging_amps', { charging_amps: -1 }, /charging_amps must be .*; got -1/],
      ['set_charging_amps', { charging_amps: 16.5 }, /charging_amps must be .*; got 16\.5/],
      ['set_charging_amps', { charging_amps: '16' }, /charging_amps must be .*; got the string "16"/],
      ['set_charging_amps', '16', /charging_amps must be .*; got the string "16"/],
      ['set_charging_amps', { charging_amp: 16 }, /needs msg\.payload\.charging_amps/],
      ['set_charging_amps', [16], /charging_amps must be .*; got \[16\]/],
      ['set_charge_limit', { percent: 49 }, /percent must be an integer from 50 to 100; got 49/],
      ['set_charge_limit', { percent: 101 }, /percent must be an integer from 50 to 100; got 101/],
      ['set_charge_limit', { percent: Number.NaN }, /percent must be/],
      ['set_sentry_mode', { on: 'true' }, /on must be true or false; got the string "true"/],
      ['set_sentry_mode', { on: 1 }, /on must be true or false; got 1/],
      ['set_sentry_mode', {}, /needs msg\.payload\.on \(true or false\)/],
    ];
    for (const [cmd, params, re] of cases) {
      const e = fault(cmd, params, [VIN]);
      assert.equal(e.input, 'params', `${cmd} ${JSON.stringify(params)}`);
      assert.match(e.message, re);
      assert.match(e.message, new RegExp(`^vehicle-command: ${cmd}`));
    }
  });

  it('refuses an unknown or missing command, an opening command without allowUnlock, and bad VINs', function () {
    let e = fault('charge_startt', {}, [VIN]);
    assert.equal(e.input, 'command');
    assert.match(e.message, /unknown command the string "charge_startt": use one of charge_start, charge_stop/);
    e = fault(42, {}, [VIN]);
    assert.equal(e.input, 'command');
    for (const none of [undefined, null, '']) assert.equal(fault(none, {}, [VIN]).input, 'command');
    for (const cmd of ['door_unlock', 'charge_port_door_open']) {
      e = fault(cmd, {}, [VIN], { allowUnlock: false });
      assert.equal(e.input, 'allowUnlock');
      assert.match(e.message, new RegExp(`${cmd} opens the car .*tick "allow unlock".*Nothing was sent`));
      assert.equal(validateCommand(cmd, {}, [VIN], { allowUnlock: true }).spec.name, cmd);
    }
    for (const bad of ['5YJ3E1EA1SF00000', '5YJ3E1EA1SF0000011', '5YJ3E1EA1SF00000/', '../../oauth2/v3/tok']) {
      e = fault('door_lock', {}, [VIN, bad]);
      assert.equal(e.input, 'vins');
      assert.match(e.message, /is not 17 letters and digits/);
      assert.ok(e.message.includes(JSON.stringify(bad)), 'names the VIN');
    }
    e = fault('door_lock', {}, []);
    assert.equal(e.input, 'vins');
    assert.match(e.message, /no VIN: set msg\.vin/);
    assert.deepEqual(validateCommand('door_lock', {}, `${VIN}, ${VIN2},${VIN}`, allow).vins, [VIN, VIN2], 'a comma list, de-duplicated');
  });

  it('builds the body from the table only: extra keys and an inject timestamp are never sent', function () {
    const v = validateCommand('set_charging_amps', { charging_amps: 16, percent: 80, token: 'x' }, [VIN], allow);
    assert.deepEqual(commandBody(v.spec, v.params), { charging_amps: 16 });
    const lock = validateCommand('door_lock', 1733212800000, [VIN], allow);
    assert.deepEqual(commandBody(lock.spec, lock.params), {});
    const sentry = validateCommand('set_sentry_mode', { on: false, extra: 1 }, [VIN], allow);
    assert.deepEqual(commandBody(sentry.spec, sentry.params), { on: false });
  });

  it('takes parameters set in the node before msg.payload: a fixed one is never read from the payload, and is checked too', function () {
    const fixed = (params) => ({ allowUnlock: false, fixedParams: params });
    // Every parameter fixed: the payload (an inject timestamp, an object) is ignored.
    assert.deepEqual(validateCommand('set_charge_limit', 1733212800000, [VIN], fixed({ percent: 80 })).params, { percent: 80 });
    assert.deepEqual(validateCommand('set_charge_limit', { percent: 55 }, [VIN], fixed({ percent: 80 })).params, { percent: 80 });
    assert.deepEqual(validateCommand('set_sentry_mode', 'on', [VIN], fixed({ on: false })).params, { on: false });
    // None fixed (or another command's): from the payload, as always.
    assert.deepEqual(validateCommand('set_charging_amps', 16, [VIN], fixed({})).params, { charging_amps: 16 });
    assert.deepEqual(validateCommand('set_charging_amps', 16, [VIN], fixed({ percent: 80 })).params, { charging_amps: 16 });
    const e = fault('set_charge_limit', undefined, [VIN], fixed({ percent: 49 }));
    assert.equal(e.input, 'params');
    assert.match(e.message, /percent must be an integer from 50 to 100; got 49/);
  });

  it('reads "already so" from result:false reasons as whole words, per command', function () {
    const said = (text) => `car could not execute command: ${text}`;
    assert.equal(meansAlready(commandSpec('charge_start'), said('is_charging')), true);
    assert.equal(meansAlready(commandSpec('charge_stop'), said('is_charging')), false, 'is_charging answers only charge_start');
    assert.equal(meansAlready(commandSpec('charge_stop'), said('not_charging')), true);
    assert.equal(meansAlready(commandSpec('charge_start'), said('not_charging')), false);
    assert.equal(meansAlready(commandSpec('charge_start'), said('complete')), true);
    assert.equal(meansAlready(commandSpec('set_charge_limit'), said('already_set')), true);
    assert.equal(meansAlready(commandSpec('set_charge_limit'), 'already_set'), true, 'owner-API wording without the proxy prefix');
    assert.equal(meansAlready(commandSpec('charge_start'), said('disconnected')), false);
    assert.equal(meansAlready(commandSpec('charge_start'), said('incomplete_data')), false, 'a word inside another is not it');
    assert.equal(meansAlready(commandSpec('door_lock'), ''), false);
  });

  it('confirmation tests normalise first: typed and legacy values alike; null and Unknown never confirm', function () {
    const t = (cmd, params = {}) => confirmationTest(commandSpec(cmd), params).test;
    assert.equal(confirmationTest(commandSpec('flash_lights'), {}), null);
    const start = t('charge_start');
    for (const v of ['Starting', 'Charging', 'DetailedChargeStateCharging', 'DetailedChargeStateStarting']) assert.equal(start(v), true, v);
    for (const v of ['Stopped', 'Complete', null, undefined, {}, 'Unknown']) assert.equal(start(v), false, String(v));
    const stop = t('charge_stop');
    for (const v of ['Stopped', 'Complete', 'Disconnected', 'DetailedChargeStateStopped']) assert.equal(stop(v), true, v);
    for (const v of ['Charging', 'Starting', 'Unknown', 'DetailedChargeStateUnknown', null, 4]) assert.equal(stop(v), false, String(v));
    const amps = t('set_charging_amps', { charging_amps: 16 });
    assert.equal(amps(16), true);
    assert.equal(amps('16'), true, 'a legacy numeric string');
    assert.equal(amps(17), false);
    const sentryOn = t('set_sentry_mode', { on: true });
    const sentryOff = t('set_sentry_mode', { on: false });
    for (const v of ['Armed', 'Idle', 'SentryModeStateAware']) assert.equal(sentryOn(v), true, v);
    for (const v of ['Off', 'SentryModeStateOff', 'Unknown', null]) assert.equal(sentryOn(v), false, String(v));
    assert.equal(sentryOff('SentryModeStateOff'), true);
    assert.equal(sentryOff('Armed'), false);
    assert.equal(t('door_lock')(true), true);
    assert.equal(t('door_lock')('true'), true, 'a legacy boolean string');
    assert.equal(t('door_lock')(false), false);
    assert.equal(t('auto_conditioning_start')('HvacPowerStateOn'), true);
    assert.equal(t('auto_conditioning_stop')('On'), false);
  });
});
