'use strict';
const { lib } = require('../../support/paths');
// Units: every converted unit in every choice, exact factors, `car` from the car's settings.
const assert = require('node:assert/strict');
const { UnitConverter, carUnitsFrom, parseUnits, SENT_UNITS } = lib('catalogue/units');
const { CATALOGUE } = lib('catalogue');
const { CarState } = lib('stream/car-state');
const { decode, TopicParser } = lib('stream/decode');
const { fieldMessage, snapshotMessage } = lib('common/messages');

// The formulas as the contract states them.
const KM = (mi) => mi * 1.609344;
const F = (c) => (c * 9) / 5 + 32;
const PSI = (bar) => bar * 14.5037738;

/** One field per converted unit, a value, and what each choice gives. */
const CASES = [
  { field: 'Odometer', sent: 'mi', v: 12345.6, metric: ['km', KM(12345.6)], imperial: ['mi', 12345.6] },
  { field: 'VehicleSpeed', sent: 'mph', v: 63.5, metric: ['km/h', KM(63.5)], imperial: ['mph', 63.5] },
  { field: 'InsideTemp', sent: '°C', v: 21.5, metric: ['°C', 21.5], imperial: ['°F', F(21.5)] },
  { field: 'TpmsPressureFl', sent: 'bar', v: 2.9, metric: ['bar', 2.9], imperial: ['psi', PSI(2.9)] },
];

const parser = new TopicParser('t');
const live = (vin, field, value, at = 1000) => decode(parser, `t/${vin}/v/${field}`, JSON.stringify(value), false, at);

describe('units', function () {
  it('the catalogue spells the converted units mi, mph, °C and bar', function () {
    const units = new Set(CATALOGUE.map((f) => f.unit));
    for (const u of ['mi', 'mph', '°C', 'bar']) assert.ok(units.has(u), u);
    for (const c of CASES) assert.equal(CATALOGUE.find((f) => f.name === c.field).unit, c.sent);
  });

  for (const choice of ['sent', 'metric', 'imperial']) {
    it(`"${choice}": each converted unit, exact factors, no rounding`, function () {
      const conv = new UnitConverter(choice);
      for (const c of CASES) {
        const [unit, value] = choice === 'sent' ? [c.sent, c.v] : c[choice];
        const k = conv.of(c.field);
        assert.equal(k.unit, unit, c.field);
        assert.ok(k.apply(c.v) === value, `${c.field}: ${k.apply(c.v)} !== ${value}`);
      }
    });
  }

  it('known values: 100 mi = 160.9344 km, 100 °C = 212 °F, 1 bar = 14.5037738 psi, 0 °C = 32 °F', function () {
    assert.equal(new UnitConverter('metric').of('Odometer').apply(100), 160.9344);
    assert.equal(new UnitConverter('imperial').of('OutsideTemp').apply(100), 212);
    assert.equal(new UnitConverter('imperial').of('OutsideTemp').apply(0), 32);
    assert.equal(new UnitConverter('imperial').of('TpmsPressureRr').apply(1), 14.5037738);
  });

  it('every catalogue field of a converted unit converts in the choices that change it; other units and fields stay', function () {
    const metric = new UnitConverter('metric');
    const imperial = new UnitConverter('imperial');
    for (const f of CATALOGUE) {
      const m = metric.of(f.name);
      const i = imperial.of(f.name);
      const changesM = f.unit === 'mi' || f.unit === 'mph';
      const changesI = f.unit === '°C' || f.unit === 'bar';
      assert.equal(m.apply(10) !== 10, changesM, `${f.name} metric`);
      assert.equal(i.apply(10) !== 10, changesI, `${f.name} imperial`);
      if (!changesM) assert.equal(m.unit, f.unit, f.name);
      if (!changesI) assert.equal(i.unit, f.unit, f.name);
    }
    assert.deepEqual([metric.of('Field261').unit, metric.of('PackVoltage').unit, metric.of('Gear').unit], [null, 'V', null]);
  });

  it('only numbers convert: null, strings and objects stay as they are', function () {
    const k = new UnitConverter('metric').of('Odometer');
    for (const v of [null, 'NaN', '', { a: 1 }, true]) assert.deepEqual(k.apply(v), v);
  });

  it('parseUnits accepts the four choices and defaults to sent', function () {
    for (const c of ['sent', 'metric', 'imperial', 'car']) assert.equal(parseUnits(c), c);
    for (const c of [undefined, '', 'Metric', 'si']) assert.equal(parseUnits(c), 'sent');
  });

  it('"car": as sent until the settings are known, then what the car shows; numbers of the enum work too', function () {
    const conv = new UnitConverter('car');
    assert.equal(conv.of('Odometer').unit, 'mi');
    const settings = (o) => carUnitsFrom((f) => o[f]);
    assert.equal(settings({}), SENT_UNITS);
    const km = settings({ SettingDistanceUnit: 'Kilometers' });
    assert.deepEqual([conv.of('Odometer', km).unit, conv.of('VehicleSpeed', km).unit, conv.of('InsideTemp', km).unit], ['km', 'km/h', '°C']);
    assert.equal(conv.of('Odometer', km).apply(10), KM(10));
    const us = settings({ SettingDistanceUnit: 'Miles', SettingTemperatureUnit: 'Fahrenheit', SettingTirePressureUnit: 'Psi' });
    assert.deepEqual(
      CASES.map((c) => [conv.of(c.field, us).unit, conv.of(c.field, us).apply(c.v)]),
      CASES.map((c) => c.imperial),
    );
    const eu = settings({ SettingDistanceUnit: 2, SettingTemperatureUnit: '2', SettingTirePressureUnit: 'Bar' });
    assert.deepEqual(
      CASES.map((c) => [conv.of(c.field, eu).unit, conv.of(c.field, eu).apply(c.v)]),
      CASES.map((c) => c.metric),
    );
    const unknown = settings({ SettingDistanceUnit: 'Unknown', SettingTemperatureUnit: 0, SettingTirePressureUnit: 'Furlongs' });
    assert.deepEqual(unknown, SENT_UNITS);
  });

  it('"car" switches when the car\'s setting arrives in the car state (normalised from the typed enum name)', function () {
    const s = new CarState();
    const conv = new UnitConverter('car');
    s.update(live('V1', 'Odometer', 100));
    assert.equal(conv.of('Odometer', s.carUnits('V1')).unit, 'mi');
    s.update(live('V1', 'SettingDistanceUnit', 'DistanceUnitKilometers'));
    assert.equal(s.value('V1', 'SettingDistanceUnit'), 'Kilometers');
    assert.equal(conv.of('Odometer', s.carUnits('V1')).unit, 'km');
    assert.equal(conv.of('Odometer', s.carUnits('V1')).apply(100), 160.9344);
    s.update(live('V1', 'SettingTemperatureUnit', 'TemperatureUnitFahrenheit'));
    assert.equal(conv.of('InsideTemp', s.carUnits('V1')).unit, '°F');
    s.update(live('V1', 'SettingDistanceUnit', 'DistanceUnitMiles'));
    assert.equal(conv.of('Odometer', s.carUnits('V1')).unit, 'mi');
    assert.equal(conv.of('InsideTemp', s.carUnits('V1')).unit, '°F', 'the other settings stay');
    assert.equal(conv.of('Odometer', s.carUnits('NOPE')).unit, 'mi');
  });

  it('applyTo: a field message gets msg.unit; a snapshot is converted in place and gets msg.units; raw is never converted', function () {
    const conv = new UnitConverter('imperial');
    const m = fieldMessage('V1', 'InsideTemp', 20, '20', 'telemetry', 1);
    conv.applyTo(m);
    assert.deepEqual([m.payload, m.unit, m.raw], [68, '°F', '20']);
    const g = fieldMessage('V1', 'Gear', 'D', 'ShiftStateD', 'telemetry', 1);
    conv.applyTo(g);
    assert.deepEqual([g.payload, g.unit], ['D', null]);
    const snap = snapshotMessage(
      'V1',
      { InsideTemp: 20, Gear: 'D', PackVoltage: 400, TpmsPressureFl: null },
      ['InsideTemp'],
      { InsideTemp: '20' },
      'api',
      1,
    );
    conv.applyTo(snap);
    assert.deepEqual(snap.payload, { InsideTemp: 68, Gear: 'D', PackVoltage: 400, TpmsPressureFl: null });
    assert.deepEqual(snap.units, { InsideTemp: '°F', PackVoltage: 'V', TpmsPressureFl: 'psi' });
    assert.deepEqual(snap.raw, { InsideTemp: '20' });
    const sent = snapshotMessage('V1', { Odometer: 5, Gear: 'D' }, [], {}, 'telemetry', 1);
    new UnitConverter('sent').applyTo(sent);
    assert.deepEqual([sent.payload, sent.units], [{ Odometer: 5, Gear: 'D' }, { Odometer: 'mi' }]);
  });
});
