'use strict';
// Example 05's function node ("surplus → amps"), run from the example file as bench/solar.js
// runs it, and the solar day of the benchmark through the example's nodes as shipped.
const assert = require('node:assert/strict');
const { loadExample, functionNode, solarDay, runScenario, STEPS } = require('../../bench/solar');

describe('example 05 solar surplus charging', function () {
  const example = loadExample();

  /** Feeds `watts` values (one per 5 s) and collects the two outputs. */
  function feed(fn, ...values) {
    const out = [];
    for (const v of values.flat()) out.push(fn.call({ payload: v }));
    return out;
  }
  const times = (n, w) => Array(n).fill(w);
  const ampsOf = (outs) => outs.map(([a]) => a && a.payload).filter((a) => a !== null && a !== undefined);
  const controlsOf = (outs) => outs.map(([, c]) => c && c.command).filter(Boolean);

  it('starts after 1 min at ≥ 1,600 W, stops after 3 min below 900 W: a shorter dip or burst changes nothing', function () {
    const fn = functionNode(example.func);
    assert.deepEqual(controlsOf(feed(fn, times(11, 2000), 500, times(11, 2000))), [], '55 s of sun, a dip, 55 s again: no start');
    assert.deepEqual(controlsOf(feed(fn, 2000)), ['charge_start'], 'the 12th value in a row starts');
    assert.deepEqual(controlsOf(feed(fn, times(35, 300), 3000, times(35, 300))), [], 'a cloud of 2 min 55 s does not stop');
    assert.deepEqual(controlsOf(feed(fn, 300)), ['charge_stop'], 'the 36th value in a row below 900 W stops');
    assert.deepEqual(controlsOf(feed(fn, times(40, 300))), [], 'stopped: no second stop');
    assert.deepEqual(fn.warnings, []);
  });

  it('sets the current the surplus pays for (5–16 A at 230 V): down at once, up only with half an amp to spare, only when it changes', function () {
    const fn = functionNode(example.func);
    const start = feed(fn, times(12, 2300));
    assert.deepEqual(ampsOf(start), [10], 'with the start: 2,300 W = 10 A');
    assert.deepEqual(ampsOf(feed(fn, 2300, 2400, 2500)), [], '10.4–10.9 A: not enough to go up, and no repeat');
    assert.deepEqual(ampsOf(feed(fn, 2645)), [11], '11.5 A: up to 11');
    assert.deepEqual(ampsOf(feed(fn, 2520)), [10], 'below 11 A: down at once');
    assert.deepEqual(ampsOf(feed(fn, 9000, 1000, 1100)), [16, 5], 'capped at 16 A and at 5 A');
  });

  it('a payload that is not a number of watts is warned about and sends nothing', function () {
    const fn = functionNode(example.func);
    for (const bad of ['2000', null, undefined, { watts: 2000 }, NaN, true]) {
      assert.deepEqual(fn.call({ payload: bad }), [null]);
    }
    assert.equal(fn.warnings.length, 6);
    assert.match(fn.warnings[0], /^surplus: msg\.payload must be a number of watts; got "2000"$/);
  });

  it('the simulated solar day through the example as shipped: at most one amps command a minute, ≥ 90 % fewer than one per value', async function () {
    this.timeout(60_000);
    const day = solarDay();
    assert.equal(day.length, STEPS);
    const r = await runScenario('example', day, example);
    assert.equal(r.maxAmpsPerWindow, 1);
    assert.ok(r.minGapS >= 60, `amps commands ${r.minGapS} s apart`);
    assert.ok(r.commands <= 0.1 * STEPS, `${r.commands} billed commands for ${STEPS} values`);
    assert.ok(r.byName.charge_start >= 1 && r.byName.charge_stop >= 1, JSON.stringify(r.byName));
    assert.equal(r.wakes, 0);
    assert.equal(r.inputErrors, 0);
    assert.ok(r.check.consistent, "the client's meter agrees with the double");
    assert.ok(r.answers.superseded > 0 && r.answers.unchanged > 0, JSON.stringify(r.answers));
  });
});
