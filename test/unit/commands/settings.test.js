'use strict';
const { lib } = require('../../support/paths');
// A vehicle-command node's properties → the controller's options, or the problems that keep
// the node from sending anything.
const assert = require('node:assert/strict');
const { commandSettings, DEFAULT_VERIFY_S } = lib('commands/settings');
const { VIN, VIN2 } = require('./support');

describe('vehicle-command settings', function () {
  it('empty or missing properties take the safe defaults: wake never, no unlock, no interval, verify 60 s, no budget', function () {
    for (const config of [{}, { vins: '', command: '', wake: '', minInterval: '', verify: '', dailyBudget: '' }]) {
      const { options, problems } = commandSettings(config);
      assert.deepEqual(problems, []);
      assert.deepEqual(options, {
        vins: [],
        command: '',
        params: {},
        wake: 'never',
        allowUnlock: false,
        minIntervalMs: 0,
        verifyMs: DEFAULT_VERIFY_S * 1000,
        dailyBudget: 0,
      });
    }
    assert.equal(DEFAULT_VERIFY_S, 60);
  });

  it("reads what the editor writes: numbers as numbers or strings, fractions of seconds, a VIN list, the command's parameters", function () {
    const { options, problems } = commandSettings({
      vins: ` ${VIN}, ${VIN2},${VIN}`,
      command: 'set_charge_limit',
      params: { percent: 80, charging_amps: 16 },
      wake: 'allow',
      allowUnlock: 'true',
      minInterval: '60',
      verify: 2.5,
      dailyBudget: '20',
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(options, {
      vins: [VIN, VIN2],
      command: 'set_charge_limit',
      params: { percent: 80 },
      wake: 'allow',
      allowUnlock: true,
      minIntervalMs: 60_000,
      verifyMs: 2500,
      dailyBudget: 20,
    });
    assert.deepEqual(
      commandSettings({ command: 'set_charging_amps', params: { charging_amps: '' } }).options.params,
      {},
      'an empty parameter: from msg.payload',
    );
    assert.equal(commandSettings({ verify: 0 }).options.verifyMs, 0, 'verify 0: no confirmation');
  });

  it('names every property that cannot be used, and never guesses a riskier value', function () {
    const { problems } = commandSettings({
      vins: `${VIN}, not-a-vin`,
      command: 'open_trunk',
      wake: 'yes',
      minInterval: '-1',
      verify: 'soon',
      dailyBudget: 2.5,
    });
    assert.deepEqual(problems, [
      'vehicle-command: VINs: the string "not-a-vin" is not 17 letters and digits.',
      'vehicle-command: command the string "open_trunk" is not one of charge_start, charge_stop, set_charging_amps, set_charge_limit, charge_port_door_open, charge_port_door_close, door_lock, door_unlock, set_sentry_mode, auto_conditioning_start, auto_conditioning_stop, flash_lights, honk_horn (empty: take msg.command).',
      'vehicle-command: wake must be "never" or "allow"; got the string "yes".',
      'vehicle-command: minInterval must be a number of seconds, 0 or more; got the string "-1".',
      'vehicle-command: verify must be a number of seconds, 0 or more; got the string "soon".',
      'vehicle-command: dailyBudget must be a whole number of billed calls, 0 for no limit; got 2.5.',
    ]);
    assert.deepEqual(commandSettings({ command: 'set_charge_limit', params: { percent: 101 } }).problems, [
      "vehicle-command: the node's percent for set_charge_limit must be an integer from 50 to 100; got 101.",
    ]);
    assert.deepEqual(commandSettings({ command: 'set_sentry_mode', params: { on: 'true' } }).problems, [
      'vehicle-command: the node\'s on for set_sentry_mode must be true or false; got the string "true".',
    ]);
    assert.match(commandSettings({ params: 'percent=80' }).problems[0], /params must be an object/);
    assert.deepEqual(commandSettings({ command: 'door_unlock' }).problems, [
      'vehicle-command: door_unlock opens the car to whoever stands next to it: tick "allow unlock" in the node to send it. Nothing was sent.',
    ]);
    assert.deepEqual(commandSettings({ command: 'door_unlock', allowUnlock: true }).problems, []);
    assert.equal(commandSettings({ allowUnlock: 'yes' }).options.allowUnlock, false, 'only true ticks it');
  });
});
