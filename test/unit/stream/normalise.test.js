'use strict';
const { lib } = require('../../support/paths');
// docs/message-contract.md "Normalising a value", rule by rule, and the decoder's shapes.
const assert = require('node:assert/strict');
const { normalise, parseNumeric, parseLegacyLocation } = lib('stream/normalise');
const { decode, TopicParser, topicFilters, excerptOf } = lib('stream/decode');

describe('normalise', function () {
  it('1. null stays null whatever the kind', function () {
    for (const f of ['BatteryLevel', 'Gear', 'Locked', 'Location', 'VehicleName', 'TpmsSoftWarnings', '261']) {
      assert.equal(normalise(f, null), null, f);
    }
  });

  it('2. {} is null, except tire-location fields and unknown fields', function () {
    for (const f of ['Soc', 'Gear', 'Locked', 'Location', 'DoorState', 'VehicleName', 'RouteLastUpdated']) {
      assert.equal(normalise(f, {}), null, f);
    }
    assert.deepEqual(normalise('TpmsSoftWarnings', {}), {});
    assert.deepEqual(normalise('TpmsHardWarnings', {}), {});
    assert.deepEqual(normalise('261', {}), {});
    assert.deepEqual(normalise('NotInTheCatalogue', {}), {});
  });

  it('3. numbers: JSON numbers stay, numeric strings become numbers, other strings stay', function () {
    const cases = [
      ['34.797', 34.797],
      ['0.00150', 0.0015],
      ['1e-3', 0.001],
      ['90', 90],
      ['-12.5', -12.5],
      ['+3', 3],
      ['2E+2', 200],
      ['21.30000091344118', 21.30000091344118],
      ['', ''],
      ['NaN', 'NaN'],
      ['Infinity', 'Infinity'],
      ['1e999', '1e999'],
      [' 5', ' 5'],
      ['5.', '5.'],
      ['0x10', '0x10'],
      [42, 42],
      [1e-7, 1e-7],
    ];
    for (const [raw, want] of cases) assert.equal(normalise('VehicleSpeed', raw), want, JSON.stringify(raw));
    assert.equal(normalise('ChargeLimitSoc', '80'), 80); // integer kind
    assert.ok(Object.is(normalise('VehicleSpeed', -0), -0));
    assert.equal(parseNumeric('7'), 7);
  });

  it('4. booleans: "true"/"false" become booleans, anything else stays', function () {
    assert.equal(normalise('Locked', 'true'), true);
    assert.equal(normalise('Locked', 'false'), false);
    assert.equal(normalise('Locked', true), true);
    assert.equal(normalise('Locked', 'TRUE'), 'TRUE');
    assert.equal(normalise('Locked', 1), 1);
  });

  it('5. enums lose the prefix derived from the enum list; legacy and unknown values stay', function () {
    assert.equal(normalise('Gear', 'ShiftStateD'), 'D');
    assert.equal(normalise('Gear', 'D'), 'D');
    assert.equal(normalise('DetailedChargeState', 'DetailedChargeStateCharging'), 'Charging');
    assert.equal(normalise('ChargePortLatch', 'ChargePortLatchEngaged'), 'Engaged');
    assert.equal(normalise('HvacPower', 'HvacPowerStateUnknown'), 'Unknown');
    assert.equal(normalise('SentryMode', 'SentryModeStateArmed'), 'Armed');
    assert.equal(normalise('CabinOverheatProtectionMode', 'CabinOverheatProtectionModeStateFanOnly'), 'FanOnly');
    assert.equal(normalise('SettingChargeUnit', 'ChargeUnitPercent'), 'Percent');
    assert.equal(normalise('CruiseFollowDistance', 'FollowDistance3'), '3');
    assert.equal(normalise('Gear', '99'), '99');
    assert.equal(normalise('Gear', 99), 99);
  });

  it('6. locations: objects stay, legacy strings are converted (S and W negative)', function () {
    assert.deepEqual(normalise('Location', { latitude: 1, longitude: 2 }), { latitude: 1, longitude: 2 });
    assert.deepEqual(normalise('Location', '(37.412374 S, 122.145867 E)'), { latitude: -37.412374, longitude: 122.145867 });
    assert.deepEqual(normalise('OriginLocation', '(37.41 N, 122.14 W)'), { latitude: 37.41, longitude: -122.14 });
    assert.deepEqual(normalise('DestinationLocation', '(0 N, 0 E)'), { latitude: 0, longitude: 0 });
    assert.equal(normalise('Location', 'somewhere'), 'somewhere');
    assert.equal(parseLegacyLocation(5), 5);
  });

  it('7. strings, doors, times, tire locations and unknown fields are unchanged', function () {
    assert.equal(normalise('VehicleName', '42'), '42');
    assert.equal(normalise('VehicleName', 'true'), 'true');
    const doors = { DriverFront: true, DriverRear: false };
    assert.equal(normalise('DoorState', doors), doors);
    assert.equal(normalise('RouteLastUpdated', '07:05:00'), '07:05:00');
    assert.equal(normalise('261', '3.25'), '3.25');
  });
});

describe('decode', function () {
  const p = new TopicParser('telemetry');

  it('parses the five topic shapes and nothing else', function () {
    assert.deepEqual(p.parse('telemetry/V/v/BatteryLevel'), { vin: 'V', kind: 'data', name: 'BatteryLevel' });
    assert.deepEqual(p.parse('telemetry/V/alerts/A/current'), { vin: 'V', kind: 'alert', name: 'A' });
    assert.deepEqual(p.parse('telemetry/V/alerts/A/history'), { vin: 'V', kind: 'alert-history', name: 'A' });
    assert.deepEqual(p.parse('telemetry/V/errors/E'), { vin: 'V', kind: 'error', name: 'E' });
    assert.deepEqual(p.parse('telemetry/V/connectivity'), { vin: 'V', kind: 'connectivity', name: '' });
    for (const t of [
      'telemetry//v/X',
      'telemetry/V/v/',
      'telemetry/V/v/X/extra',
      'telemetry/V/alerts/A',
      'telemetry/V/alerts/A/other',
      'telemetry/V/x/A',
      'other/V/v/X',
      'telemetryX/V/v/X',
      'telemetry/V',
    ]) {
      assert.equal(p.parse(t), null, t);
    }
  });

  it('uses the topic base verbatim: multi-level and empty', function () {
    assert.deepEqual(new TopicParser('a/b/c').parse('a/b/c/V/v/F'), { vin: 'V', kind: 'data', name: 'F' });
    assert.deepEqual(new TopicParser('').parse('/V/v/F'), { vin: 'V', kind: 'data', name: 'F' });
    assert.equal(new TopicParser('').parse('V/v/F'), null);
    assert.deepEqual(topicFilters(''), ['/+/v/+', '/+/alerts/+/current', '/+/alerts/+/history', '/+/errors/+', '/+/connectivity']);
  });

  it('maps alerts, history, errors and connectivity to the contract', function () {
    const d = decode(
      p,
      'telemetry/V/alerts/A/current',
      '{"Audiences":["Customer"],"EndedAt":"2025-01-02T04:00:00Z","StartedAt":"2025-01-02T03:04:05Z"}',
      false,
      1,
    );
    assert.deepEqual(d.payload, {
      name: 'A',
      active: false,
      startedAt: '2025-01-02T03:04:05Z',
      endedAt: '2025-01-02T04:00:00Z',
      audiences: ['Customer'],
    });
    assert.deepEqual(decode(p, 'telemetry/V/alerts/A/current', '{}', false, 1).payload, {
      name: 'A',
      active: true,
      startedAt: null,
      endedAt: null,
      audiences: [],
    });
    assert.deepEqual(decode(p, 'telemetry/V/alerts/A/history', 'null', false, 1).payload, []);
    assert.deepEqual(decode(p, 'telemetry/V/errors/E', '{"Body":"x","CreatedAt":"t","Tags":null}', false, 1).payload, {
      name: 'E',
      body: 'x',
      createdAt: 't',
      tags: {},
    });
    const c = decode(p, 'telemetry/V/connectivity', '{"ConnectionId":"id","CreatedAt":"t","Status":"DISCONNECTED"}', false, 1);
    assert.deepEqual(c.payload, { status: 'DISCONNECTED', connectionId: 'id', createdAt: 't' });
    assert.equal(c.live, false, 'DISCONNECTED is not a sign of life');
    assert.equal(decode(p, 'telemetry/V/connectivity', '{"Status":"CONNECTED"}', false, 1).live, true);
    assert.equal(decode(p, 'telemetry/V/v/X', '1', true, 1).live, false, 'retained is not live');
  });

  it('reports wrong shapes instead of emitting them', function () {
    const cases = [
      ['telemetry/V/v/X', '{nope', 'payload is not JSON'],
      ['telemetry/V/alerts/A/current', '[1]', 'alert is not an object'],
      ['telemetry/V/alerts/A/current', '{"Audiences":"x"}', 'alert Audiences is not a list'],
      ['telemetry/V/alerts/A/current', '{"StartedAt":5}', 'alert.StartedAt is not a string'],
      ['telemetry/V/alerts/A/history', '{}', 'alert history is not a list'],
      ['telemetry/V/alerts/A/history', '[1]', 'alert is not an object'],
      ['telemetry/V/errors/E', '"x"', 'error is not an object'],
      ['telemetry/V/errors/E', '{"Tags":[1]}', 'error Tags is not an object'],
      ['telemetry/V/connectivity', 'null', 'connectivity is not an object'],
      ['telemetry/V/nope', '1', 'unknown topic shape'],
    ];
    for (const [topic, payload, reason] of cases) {
      const d = decode(p, topic, Buffer.from(payload), false, 1);
      assert.equal(d.bad, true, topic);
      assert.equal(d.reason, reason, `${topic} ${payload}`);
    }
  });

  it('keeps warnings short and printable', function () {
    assert.equal(excerptOf('abc'), 'abc');
    assert.equal(excerptOf(Buffer.from([0, 1, 0x41])), '??A');
    const e = excerptOf(Buffer.alloc(1024 * 1024, 0x61));
    assert.ok(e.length < 120);
    assert.match(e, /\(1048576 bytes\)$/);
  });
});
