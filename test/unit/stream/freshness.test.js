'use strict';
const { lib } = require('../../support/paths');
// Freshness on a fake clock: thresholds, retained-only VINs, outages, one sweep timer.
const assert = require('node:assert/strict');
const { FreshnessTracker, sweepPeriodFor } = lib('stream/freshness');
const { Coalescer } = lib('stream/coalesce');
const { ReportLimiter } = lib('common/rate-limit');
const { fakeClock } = require('../../support/clock');

describe('freshness tracker', function () {
  it('turns a VIN stale within the sweep lag and fresh on the next live message', function () {
    const clock = fakeClock();
    const tr = new FreshnessTracker(clock);
    const events = [];
    const w = tr.watch({ staleAfterMs: 60 * 60_000, onStale: (e) => events.push(['stale', e]), onFresh: (e) => events.push(['fresh', e]) });
    assert.equal(clock.pending(), 1, 'one sweep timer');
    tr.touch('A', true);
    const t0 = clock.now();
    clock.advance(60 * 60_000 - 1);
    assert.equal(events.length, 0);
    clock.advance(60_000);
    assert.equal(events.length, 1, 'detected within a minute of the threshold');
    assert.equal(events[0][0], 'stale');
    assert.equal(events[0][1].lastSeen, t0);
    assert.ok(events[0][1].silentFor >= 60 * 60_000 && events[0][1].silentFor < 61 * 60_000);
    assert.deepEqual(w.counts(), { known: 1, stale: 1 });
    clock.advance(3 * 60 * 60_000);
    assert.equal(events.length, 1, 'stale is sent once');
    tr.touch('A', false); // retained: not live
    assert.equal(events.length, 1);
    tr.touch('A', true);
    assert.equal(events[1][0], 'fresh');
    assert.equal(events[1][1].lastSeen, t0);
    assert.deepEqual(w.counts(), { known: 1, stale: 0 });
    w.close();
    assert.equal(clock.pending(), 0, 'no timer without watchers');
  });

  it('short thresholds are checked every few seconds at most', function () {
    assert.equal(sweepPeriodFor(60 * 60_000), 30_000);
    assert.equal(sweepPeriodFor(5 * 60_000), 5_000);
    assert.equal(sweepPeriodFor(300), 75);
  });

  it('a VIN known only from retained messages or configured is stale staleAfter after first seen, lastSeen null', function () {
    const clock = fakeClock();
    const tr = new FreshnessTracker(clock);
    const stale = [];
    tr.watch({ staleAfterMs: 10_000, vins: new Set(['CFG']), onStale: (e) => stale.push(e) });
    tr.touch('RET', false);
    clock.advance(10_000 + 2_500);
    assert.deepEqual(
      stale.map((e) => [e.vin, e.lastSeen]),
      [['CFG', null]],
      'the filter keeps RET out',
    );
    const all = [];
    tr.watch({ staleAfterMs: 10_000, onStale: (e) => all.push(e.vin) });
    clock.advance(2_500);
    assert.deepEqual(all.sort(), ['CFG', 'RET']);
  });

  it('does not count time the broker was unreachable as silence', function () {
    const clock = fakeClock();
    const tr = new FreshnessTracker(clock);
    const events = [];
    tr.watch({ staleAfterMs: 60_000, onStale: (e) => events.push(e) });
    tr.touch('A', true);
    clock.advance(30_000);
    tr.connectionDown();
    clock.advance(10 * 60_000);
    assert.equal(events.length, 0, 'no stale while we could not hear');
    tr.connectionUp();
    clock.advance(29_000);
    assert.equal(events.length, 0);
    clock.advance(7_000);
    assert.equal(events.length, 1);
    assert.ok(events[0].silentFor >= 60_000 && events[0].silentFor < 70_000, String(events[0].silentFor));
  });

  it('each watcher applies its own threshold; staleAfter 0 is off', function () {
    const clock = fakeClock();
    const tr = new FreshnessTracker(clock);
    const a = [];
    const b = [];
    tr.watch({ staleAfterMs: 1_000, onStale: (e) => a.push(e.vin) });
    tr.watch({ staleAfterMs: 0, onStale: (e) => b.push(e.vin) });
    tr.touch('X', true);
    clock.advance(5_000);
    assert.deepEqual(a, ['X']);
    assert.deepEqual(b, []);
  });
});

describe('coalescer', function () {
  it('emits one snapshot per burst, after quietMs of quiet, with changed fields', function () {
    const clock = fakeClock();
    const out = [];
    const c = new Coalescer(100, (s) => out.push(s), clock);
    c.add('V', 'A', 1, '1', false);
    clock.advance(60);
    c.add('V', 'B', { x: 1 }, { x: 1 }, false);
    clock.advance(60);
    assert.equal(out.length, 0, 'still inside the burst');
    clock.advance(50);
    assert.equal(out.length, 1);
    assert.deepEqual(out[0].payload, { A: 1, B: { x: 1 } });
    assert.deepEqual(out[0].changed, ['A', 'B']);
    c.add('V', 'B', { x: 1 }, { x: 1 }, false);
    c.add('V', 'A', 2, 2, false);
    clock.advance(200);
    assert.deepEqual(out[1].changed, ['A']);
    assert.deepEqual(out[1].raw, { B: { x: 1 }, A: 2 });
    assert.notEqual(out[0].payload, out[1].payload, 'every snapshot is its own object');
    assert.equal(out[0].payload.A, 1);
  });

  it('never mixes retained and live messages in one snapshot', function () {
    const clock = fakeClock();
    const out = [];
    const c = new Coalescer(100, (s) => out.push(s), clock);
    c.add('V', 'A', 1, 1, true);
    c.add('V', 'B', 2, 2, false);
    assert.equal(out.length, 1);
    assert.equal(out[0].retain, true);
    clock.advance(100);
    assert.equal(out[1].retain, false);
    c.add('V', 'C', 3, 3, false);
    c.close();
    clock.advance(1000);
    assert.equal(out.length, 2, 'close drops open bursts');
    assert.equal(clock.pending(), 0);
  });
});

describe('report limiter', function () {
  it('reports the first at once, then once per interval with the count suppressed', function () {
    let t = 0;
    const l = new ReportLimiter(10_000, () => t);
    assert.equal(l.take(), 0);
    for (let i = 0; i < 9_999; i++) assert.equal(l.take(), null);
    t = 10_000;
    assert.equal(l.take(), 9_999);
    assert.equal(l.take(), null);
  });
});
