'use strict';
const { lib } = require('../../support/paths');
// The car state: updatedAt per the message contract, what is stored, what a file restores.
const assert = require('node:assert/strict');
const { CarState, StateShapeError } = lib('stream/car-state');
const { decode, TopicParser } = lib('stream/decode');

const parser = new TopicParser('t');
/** A message as the broker decodes it (the real decoder). */
const data = (vin, field, value, { retain = false, at = 1000 } = {}) => decode(parser, `t/${vin}/v/${field}`, JSON.stringify(value), retain, at);
const connectivity = (vin, status, { retain = false, at = 1000 } = {}) =>
  decode(parser, `t/${vin}/connectivity`, JSON.stringify({ ConnectionId: 'c1', CreatedAt: '2025-01-02T03:04:05Z', Status: status }), retain, at);
const alert = (vin, at) => decode(parser, `t/${vin}/alerts/A1/current`, '{"StartedAt":"2025-01-02T03:04:05Z"}', false, at);

describe('car state', function () {
  it('a live value gets updatedAt = receivedAt; the value is stored normalised', function () {
    const s = new CarState();
    assert.equal(s.update(data('V1', 'BatteryLevel', '55.5', { at: 5000 })), 5000);
    assert.equal(s.value('V1', 'BatteryLevel'), 55.5);
    assert.equal(s.updatedAt('V1', 'BatteryLevel'), 5000);
    assert.equal(s.lastLive('V1'), 5000);
    assert.equal(s.update(data('V1', 'Gear', 'ShiftStateD', { at: 6000 })), 6000);
    assert.equal(s.value('V1', 'Gear'), 'D');
    assert.deepEqual(s.vinList(), ['V1']);
  });

  it('retained: equal to the stored value keeps its updatedAt, a different one (or a first one) is null', function () {
    const s = new CarState();
    s.update(data('V1', 'BatteryLevel', 55, { at: 5000 }));
    s.update(data('V1', 'Location', { latitude: 1.5, longitude: 2.5 }, { at: 5000 }));
    // Equal (a numeric string normalises to the same number; an object deeply equal).
    assert.equal(s.update(data('V1', 'BatteryLevel', '55', { retain: true, at: 9000 })), 5000);
    assert.equal(s.update(data('V1', 'Location', { latitude: 1.5, longitude: 2.5 }, { retain: true, at: 9000 })), 5000);
    assert.equal(s.updatedAt('V1', 'BatteryLevel'), 5000);
    // Different: null, and the retained value is now the stored one.
    assert.equal(s.update(data('V1', 'BatteryLevel', 54, { retain: true, at: 9000 })), null);
    assert.equal(s.value('V1', 'BatteryLevel'), 54);
    assert.equal(s.updatedAt('V1', 'BatteryLevel'), null);
    // Only ever seen retained.
    assert.equal(s.update(data('V1', 'VehicleSpeed', 10, { retain: true, at: 9000 })), null);
    // Retained messages are not live.
    assert.equal(s.lastLive('V1'), 5000);
    assert.equal(s.update(data('V2', 'BatteryLevel', 1, { retain: true })), null);
    assert.equal(s.lastLive('V2'), null);
  });

  it('updatedAtFor answers without storing anything', function () {
    const s = new CarState();
    s.update(data('V1', 'BatteryLevel', 55, { at: 5000 }));
    const before = s.changes;
    assert.equal(s.updatedAtFor('V1', 'BatteryLevel', 55, true, 9000), 5000);
    assert.equal(s.updatedAtFor('V1', 'BatteryLevel', 56, true, 9000), null);
    assert.equal(s.updatedAtFor('V1', 'BatteryLevel', 56, false, 9000), 9000);
    assert.equal(s.updatedAtFor('V9', 'BatteryLevel', 55, true, 9000), null);
    assert.equal(s.value('V1', 'BatteryLevel'), 55);
    assert.equal(s.changes, before);
  });

  it('numbers compare numerically for retained messages: -0 equals 0', function () {
    const s = new CarState();
    s.update(data('V1', 'VehicleSpeed', 0, { at: 5000 }));
    assert.equal(s.updatedAtFor('V1', 'VehicleSpeed', -0, true, 9000), 5000);
  });

  it('counts a change only when something stored changed (a retained repeat is none)', function () {
    const s = new CarState();
    s.update(data('V1', 'BatteryLevel', 55, { at: 5000 }));
    const c = s.changes;
    s.update(data('V1', 'BatteryLevel', 55, { retain: true, at: 6000 }));
    assert.equal(s.changes, c);
    s.update(data('V1', 'BatteryLevel', 55, { at: 7000 }));
    assert.ok(s.changes > c, 'a live repeat moves updatedAt');
  });

  it('keeps the last connectivity payload; DISCONNECTED is not live; any live record moves lastLive', function () {
    const s = new CarState();
    s.update(connectivity('V1', 'CONNECTED', { at: 1000 }));
    assert.deepEqual(s.connectivity('V1'), { status: 'CONNECTED', connectionId: 'c1', createdAt: '2025-01-02T03:04:05Z' });
    assert.equal(s.lastLive('V1'), 1000);
    s.update(connectivity('V1', 'DISCONNECTED', { at: 2000 }));
    assert.equal(s.connectivity('V1').status, 'DISCONNECTED');
    assert.equal(s.lastLive('V1'), 1000);
    s.update(alert('V1', 3000));
    assert.equal(s.lastLive('V1'), 3000);
    assert.equal(s.snapshot('V1'), undefined, 'no field stored');
  });

  it('a flow that changes the payload it was sent does not change the state', function () {
    const s = new CarState();
    const d = data('V1', 'Location', { latitude: 1.5, longitude: 2.5 });
    s.update(d);
    d.payload.latitude = 99; // what a downstream function node might do to msg.payload
    assert.deepEqual(s.value('V1', 'Location'), { latitude: 1.5, longitude: 2.5 });
    const snap = s.snapshot('V1');
    snap.payload.Location.longitude = 99;
    assert.deepEqual(s.value('V1', 'Location'), { latitude: 1.5, longitude: 2.5 });
  });

  it('snapshot: fresh objects of the stored values and their updatedAt, filtered by field', function () {
    const s = new CarState();
    s.update(data('V1', 'BatteryLevel', 55, { at: 5000 }));
    s.update(data('V1', 'Gear', 'ShiftStateP', { retain: true }));
    s.update(data('V1', 'Odometer', 1234.5, { at: 6000 }));
    assert.deepEqual(s.snapshot('V1'), {
      payload: { BatteryLevel: 55, Gear: 'P', Odometer: 1234.5 },
      updatedAt: { BatteryLevel: 5000, Gear: null, Odometer: 6000 },
    });
    assert.deepEqual(s.snapshot('V1', new Set(['Gear', 'Nope'])), { payload: { Gear: 'P' }, updatedAt: { Gear: null } });
    assert.equal(s.snapshot('V1', new Set(['Nope'])), undefined);
    assert.equal(s.snapshot('V9'), undefined);
  });

  it('record → JSON → restore gives the same state', function () {
    const s = new CarState();
    s.update(data('V1', 'BatteryLevel', 55, { at: 5000 }));
    s.update(data('V1', 'Location', { latitude: 1.5, longitude: 2.5 }, { at: 5100 }));
    s.update(data('V1', 'Gear', 'ShiftStateP', { retain: true }));
    s.update(connectivity('V1', 'CONNECTED', { at: 5200 }));
    s.update(data('V2', 'VehicleName', 'Blue', { retain: true }));
    const json = JSON.stringify(Object.fromEntries(s.vinList().map((v) => [v, s.record(v)])));
    const r = new CarState();
    r.restore(JSON.parse(json));
    assert.deepEqual(r.vinList(), ['V1', 'V2']);
    assert.deepEqual(r.snapshot('V1'), s.snapshot('V1'));
    assert.deepEqual(r.snapshot('V2'), s.snapshot('V2'));
    assert.equal(r.lastLive('V1'), 5200);
    assert.equal(r.lastLive('V2'), null);
    assert.deepEqual(r.connectivity('V1'), s.connectivity('V1'));
    // A retained repeat after the restore keeps the restored updatedAt.
    assert.equal(r.update(data('V1', 'BatteryLevel', 55, { retain: true, at: 99_000 })), 5000);
  });

  it('a record holds any value JSON can: escapes, nesting, null, odd field names', function () {
    const s = new CarState();
    const odd = { 'a"b': ['x\\y', { n: null, t: true }], e: 1e21, f: -1.5e-7 };
    s.update(data('V1', 'Field261', odd, { at: 1 }));
    s.update(data('V1', 'VehicleName', 'Tab\t"quoted" ünïcode', { at: 2 }));
    s.update(data('V1', 'BatteryLevel', null, { retain: true }));
    s.update(decode(parser, 't/V1/v/we"ird\\name', '"x"', false, 5));
    const rec = JSON.parse(JSON.stringify(s.record('V1')));
    assert.deepEqual(rec.fields, {
      Field261: [odd, 1],
      VehicleName: ['Tab\t"quoted" ünïcode', 2],
      BatteryLevel: [null, null],
      'we"ird\\name': ['x', 5],
    });
    const back = new CarState();
    back.restore({ V1: rec });
    assert.deepEqual(back.snapshot('V1'), s.snapshot('V1'));
    assert.equal(s.record('NOPE'), undefined);
  });

  it('restore rejects a record of the wrong shape, naming it, and changes nothing', function () {
    const s = new CarState();
    s.update(data('V0', 'BatteryLevel', 1, { at: 1 }));
    const good = { lastLive: 1, connectivity: null, fields: { BatteryLevel: [1, 1] } };
    const bad = [
      [null, /"vins" is not an object/],
      [[], /"vins" is not an object/],
      [{ V1: 5 }, /V1 is not an object/],
      [{ V1: { ...good, lastLive: 'x' } }, /V1: lastLive/],
      [{ V1: { ...good, connectivity: 'x' } }, /V1: connectivity/],
      [{ V1: { ...good, fields: [] } }, /V1: fields/],
      [{ V1: good, V2: { ...good, fields: { Gear: ['P'] } } }, /V2\/Gear is not \[value, updatedAt\]/],
      [{ V1: { ...good, fields: { Gear: ['P', 'yesterday'] } } }, /V1\/Gear/],
    ];
    for (const [vins, re] of bad) {
      assert.throws(
        () => s.restore(vins),
        (e) => e instanceof StateShapeError && re.test(e.message),
        JSON.stringify(vins),
      );
    }
    assert.deepEqual(s.vinList(), ['V0']);
  });
});
