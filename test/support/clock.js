'use strict';
// The one fake clock of the tests, the benchmarks and the simulator: @sinonjs/fake-timers behind
// the core's Clock interface (src/lib/common/clock.ts: now, setTimeout, clearTimeout,
// setInterval, clearInterval), so a FreshnessTracker, a Coalescer, a VehicleDataController or
// the fleet simulator runs hours of schedule in microseconds. Nothing global is replaced.
//
//   advance(ms)                 fire every timer due in the next ms, in order, at its own time
//   advanceAsync(ms, afterEach) the same one timer at a time: await the promise the timer
//                               returned, then afterEach() (e.g. until real HTTP calls are done),
//                               so whatever a timer starts finishes at that timer's time
//   next()                      run the earliest timer (and await it); false when none is set
//   pending()                   how many timers are set
const FakeTimers = require('@sinonjs/fake-timers');

function fakeClock(start = 1_000_000) {
  const fake = FakeTimers.createClock(start);
  let returned; // what the timer that ran last returned (a promise for an async callback)
  const wrap = (fn) => () => {
    returned = fn();
  };

  /**
   * Run, one at a time, the timers due before a marker set `ms` from now (a timer due at the
   * marker's time runs first if it was set before the marker). Resolves with how many ran.
   */
  async function runToMarker(ms, afterEach) {
    let reached = false;
    fake.setTimeout(() => (reached = true), ms);
    let ran = 0;
    for (;;) {
      returned = undefined;
      fake.next();
      if (reached) return ran;
      ran++;
      if (returned && typeof returned.then === 'function') await returned;
      await afterEach();
    }
  }

  const clock = {
    now: () => fake.now,
    setTimeout: (fn, ms) => fake.setTimeout(wrap(fn), ms),
    clearTimeout: (h) => fake.clearTimeout(h),
    setInterval: (fn, ms) => fake.setInterval(wrap(fn), ms),
    clearInterval: (h) => fake.clearInterval(h),
    pending: () => fake.countTimers(),
    /** The current time; setting it moves the clock without firing timers (a wall-clock jump). */
    get t() {
      return fake.now;
    },
    set t(ms) {
      fake.setSystemTime(ms);
    },
    /** `timers.size`: how many timers are set. */
    timers: {
      get size() {
        return fake.countTimers();
      },
    },
    advance(ms) {
      fake.tick(Math.max(0, ms));
    },
    async advanceAsync(ms, afterEach = async () => {}) {
      await afterEach();
      await runToMarker(Math.max(0, ms), afterEach);
      // At the end: what a timer set meanwhile for exactly this time runs too.
      while ((await runToMarker(0, afterEach)) > 0);
      await afterEach();
    },
    async next() {
      if (fake.countTimers() === 0) return false;
      returned = undefined;
      fake.next();
      if (returned && typeof returned.then === 'function') await returned;
      return true;
    },
  };
  return clock;
}

module.exports = { fakeClock };
