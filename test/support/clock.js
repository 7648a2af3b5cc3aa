'use strict';
// A fake clock with timers, for running hours of schedule in microseconds: advance(ms) fires
// every due timer in order. Works as a FreshnessTracker clock, a Coalescer clock and a
// VehicleDataController clock.
function fakeClock() {
  const timers = new Map();
  let id = 0;
  const c = {
    t: 1_000_000,
    now: () => c.t,
    setInterval(fn, ms) {
      timers.set(++id, { fn, ms, next: c.t + ms, repeat: true });
      return id;
    },
    setTimeout(fn, ms) {
      timers.set(++id, { fn, ms, next: c.t + ms, repeat: false });
      return id;
    },
    clearInterval: (h) => timers.delete(h),
    clearTimeout: (h) => timers.delete(h),
    timers,
    advance(ms) {
      const end = c.t + ms;
      for (;;) {
        let due = null;
        for (const [k, tm] of timers) if (tm.next <= end && (!due || tm.next < due[1].next)) due = [k, tm];
        if (!due) break;
        c.t = due[1].next;
        if (due[1].repeat) due[1].next += due[1].ms;
        else timers.delete(due[0]);
        due[1].fn();
      }
      c.t = end;
    },
  };
  return c;
}

module.exports = { fakeClock };
