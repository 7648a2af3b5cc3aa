'use strict';
// The Clock interface, and the fake clock every time-based test, benchmark and simulated day
// runs on (test/support/clock.js): timers fire in order at their own time, one at a time when
// asked to, waiting for what each timer started.
const assert = require('node:assert/strict');
const { fakeClock } = require('../../support/clock');
const { lib } = require('../../support/paths');
const { realClock } = lib('common/clock');

const tick = () => new Promise((r) => setImmediate(r));

describe('clock', function () {
  it('the fake clock has every method of the Clock interface the real one has', function () {
    const clock = fakeClock();
    for (const [name, fn] of Object.entries(realClock)) assert.equal(typeof clock[name], typeof fn, name);
  });

  it('advance: every due timer fires in order at its own time, timers set by timers included; cleared ones never', function () {
    const clock = fakeClock(1000);
    const fired = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 200);
    clock.setTimeout(() => {
      fired.push(['a', clock.now()]);
      clock.setTimeout(() => fired.push(['a+50', clock.now()]), 50);
    }, 100);
    const gone = clock.setTimeout(() => fired.push(['cleared', clock.now()]), 120);
    const every = clock.setInterval(() => fired.push(['every', clock.now()]), 90);
    clock.clearTimeout(gone);
    assert.equal(clock.pending(), 3);
    clock.advance(200);
    assert.deepEqual(fired, [
      ['every', 1090],
      ['a', 1100],
      ['a+50', 1150],
      ['every', 1180],
      ['b', 1200],
    ]);
    assert.equal(clock.now(), 1200);
    clock.clearInterval(every);
    assert.equal(clock.pending(), 0);
    clock.advance(1000);
    assert.equal(fired.length, 5);
  });

  it('advanceAsync: waits for what a timer started before the next one, and runs what it set for within the span', async function () {
    const clock = fakeClock(0);
    const log = [];
    let outstanding = 0;
    // A poll that makes a "call" answered on the real event loop, then schedules the next poll.
    const poll = async () => {
      log.push(`poll ${clock.now()}`);
      outstanding++;
      await tick();
      outstanding--;
      clock.setTimeout(poll, 100);
    };
    clock.setTimeout(poll, 100);
    clock.setTimeout(() => log.push(`other ${clock.now()}`), 150);
    await clock.advanceAsync(300, async () => {
      assert.equal(outstanding, 0, 'afterEach runs once the timer has finished');
      log.push('after');
    });
    assert.deepEqual(log, ['after', 'poll 100', 'after', 'other 150', 'after', 'poll 200', 'after', 'poll 300', 'after', 'after']);
    assert.equal(clock.now(), 300);
    assert.equal(clock.pending(), 1, 'the poll set for 400');
  });

  it('advanceAsync: a timer set during the run for exactly the end still runs; afterEach can set timers too', async function () {
    const clock = fakeClock(0);
    const log = [];
    clock.setTimeout(() => clock.setTimeout(() => log.push(`end ${clock.now()}`), 50), 50);
    let once = false;
    await clock.advanceAsync(100, async () => {
      if (once) return;
      once = true;
      clock.setTimeout(() => log.push(`set in afterEach ${clock.now()}`), 30);
    });
    assert.deepEqual(log, ['set in afterEach 30', 'end 100']);
    assert.equal(clock.pending(), 0);
  });

  it('next: runs the earliest timer, waiting for its promise; false when none is set', async function () {
    const clock = fakeClock(0);
    let done = false;
    clock.setTimeout(async () => {
      await tick();
      done = true;
    }, 500);
    assert.equal(await clock.next(), true);
    assert.equal(done, true);
    assert.equal(clock.now(), 500);
    assert.equal(await clock.next(), false);
  });
});
