'use strict';
const { lib, ROOT, FIXTURES } = require('../../support/paths');
// vehicle_data → the telemetry-in contract (source "api"): catalogue paths, the translation
// table, and the key property that both sources give one payload for one fact.
const assert = require('node:assert/strict');
const { sameValue } = require('../../support/values');
const fs = require('node:fs');
const path = require('node:path');
const vdm = lib('fallback/vehicle-data-map');
const { normalise } = lib('stream/normalise');

const root = ROOT;
const SAMPLE_FILE = path.join(FIXTURES, 'vehicle-data-sample.json');
const SHARED_SAMPLE = path.join(root, '..', 'shared', 'data', 'vehicle-data-sample.json');
// The catalogue and enum lists read as plain JSON, independently of the module under test.
const CATALOGUE = JSON.parse(fs.readFileSync(path.join(root, 'src', 'lib', 'catalogue', 'data', 'field-catalogue.json'), 'utf8'));
const ENUMS = JSON.parse(fs.readFileSync(path.join(root, 'src', 'lib', 'catalogue', 'data', 'telemetry-enums.json'), 'utf8'));
const BY_NAME = new Map(CATALOGUE.map((e) => [e.name, e]));

/** A fresh copy of the whole answer ({response: {...}}). */
function sample() {
  return JSON.parse(fs.readFileSync(SAMPLE_FILE, 'utf8'));
}

const pathsOf = (spec) => spec.split(',').map((p) => p.trim().split('.'));
const leafOf = (segs) => segs[segs.length - 1];

/** [present, value] at a split path, walking plain own properties. */
function walk(obj, segs) {
  let cur = obj;
  for (const s of segs) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, s)) return [false];
    cur = cur[s];
  }
  return [true, cur];
}

/** Set a value at a split path, creating objects on the way. */
function put(obj, segs, value) {
  let cur = obj;
  for (const s of segs.slice(0, -1)) cur = cur[s] ??= {};
  cur[leafOf(segs)] = value;
}

/** Catalogue fields with a vehicleData path present in `inner`, in catalogue order (independent of the module). */
function expectedFields(inner) {
  return CATALOGUE.filter((e) => e.vehicleData && pathsOf(e.vehicleData).some((p) => walk(inner, p)[0])).map((e) => e.name);
}

/** field → {payload, raw} of one mapping. */
function byField(list) {
  const m = new Map();
  for (const f of list) {
    assert.ok(!m.has(f.field), `${f.field} emitted twice`);
    m.set(f.field, f);
  }
  return m;
}

/** The API's payload for one field after setting its catalogue path(s) to `values` (one value per path) in the sample. */
function apiPayload(field, values) {
  const answer = sample();
  const paths = pathsOf(BY_NAME.get(field).vehicleData);
  assert.equal(paths.length, values.length, `${field}: one value per path`);
  paths.forEach((p, i) => put(answer.response, p, values[i]));
  const got = byField(vdm.mapVehicleData(answer)).get(field);
  assert.ok(got, `${field} not emitted`);
  return got.payload;
}

describe('vehicle-data-map', function () {
  describe('sample fixture', function () {
    it('test/fixtures/vehicle-data-sample.json is identical to shared/data/vehicle-data-sample.json', function () {
      if (!fs.existsSync(SHARED_SAMPLE)) this.skip(); // a clone without ../shared beside it
      assert.ok(fs.readFileSync(SAMPLE_FILE).equals(fs.readFileSync(SHARED_SAMPLE)));
    });
  });

  describe('mapVehicleData on the sample', function () {
    const answer = sample();
    const inner = answer.response;
    const mapped = vdm.mapVehicleData(answer);
    const got = byField(mapped);

    it('emits exactly the catalogue fields whose vehicleData path the sample has, in catalogue order', function () {
      const expected = expectedFields(inner);
      assert.ok(expected.length > 80, `only ${expected.length} expected fields`);
      assert.deepEqual(
        mapped.map((f) => f.field),
        expected,
      );
      // Fields whose paths the sample lacks (not navigating) are omitted.
      for (const f of ['MilesToArrival', 'MinutesToArrival', 'DestinationName', 'ExpectedEnergyPercentAtTripArrival']) {
        assert.ok(!got.has(f), `${f} emitted though its path is absent`);
      }
    });

    it('accepts the inner response object as well as the outer answer', function () {
      assert.deepEqual(vdm.mapVehicleData(inner), mapped);
      assert.equal(vdm.unwrapVehicleData(answer), inner);
      assert.equal(vdm.unwrapVehicleData(inner), inner);
    });

    it('gives the expected payloads', function () {
      const expected = {
        BatteryLevel: 42,
        Soc: 42,
        ChargeLimitSoc: 90,
        DetailedChargeState: 'Disconnected',
        ChargePortLatch: 'Engaged',
        Location: { latitude: 37.7765494, longitude: -122.4195418 },
        DestinationLocation: { latitude: 37.7765494, longitude: -122.4195418 },
        DoorState: {
          DriverFront: false,
          DriverRear: false,
          PassengerFront: false,
          PassengerRear: false,
          TrunkFront: false,
          TrunkRear: false,
        },
        Locked: true,
        SentryMode: 'Off',
        FdWindow: 'Closed',
        FpWindow: 'Closed',
        RdWindow: 'Closed',
        RpWindow: 'Closed',
        VehicleName: 'grADOFIN',
        Odometer: 15720.074889,
        ChargingCableType: null,
        FastChargerType: null,
        Gear: null,
        VehicleSpeed: null,
        ChargerPhases: null,
        ScheduledChargingStartTime: null,
        ClimateKeeperMode: 'Off',
        DefrostMode: 'Off',
        CabinOverheatProtectionMode: 'On',
        CabinOverheatProtectionTemperatureLimit: 'High',
        ScheduledChargingMode: 'Off',
        SpeedLimitMode: false,
        CurrentLimitMph: 85,
        TimeToFullCharge: 0,
        GpsHeading: 289,
        RatedRange: 133.99,
        ACChargingEnergyIn: 48.45,
        ChargeEnableRequest: true,
        TpmsPressureRl: 3.15,
        TpmsLastSeenPressureTimeFl: 1692136878,
        InsideTemp: 38.4,
        HvacLeftTemperatureRequest: 21,
        HvacACEnabled: false,
        RouteTrafficMinutesDelay: 0,
        SoftwareUpdateInstallationPercentComplete: 1,
        SoftwareUpdateVersion: ' ',
        Version: '2023.7.20 7910d26d5c64',
        WheelType: 'Apollo19',
        MediaPlaybackStatus: 'Playing',
        MediaPlaybackSource: '13',
        MediaAudioVolume: 2.6667,
        MediaNowPlayingTitle: 'PBS Newshour',
      };
      for (const [field, payload] of Object.entries(expected)) {
        assert.ok(got.has(field), `${field} not emitted`);
        sameValue(got.get(field).payload, payload, field);
      }
    });

    it('raw is the value at the path; multi-path fields give {leaf: value}', function () {
      let single = 0;
      for (const f of mapped) {
        const paths = pathsOf(BY_NAME.get(f.field).vehicleData);
        if (paths.length === 1) {
          single++;
          assert.equal(f.raw, walk(inner, paths[0])[1], f.field);
        }
      }
      assert.ok(single > 80, `only ${single} single-path fields checked`);
      assert.deepEqual(got.get('Location').raw, { latitude: 37.7765494, longitude: -122.4195418 });
      assert.deepEqual(got.get('DestinationLocation').raw, {
        active_route_latitude: 37.7765494,
        active_route_longitude: -122.4195418,
      });
      assert.deepEqual(got.get('DoorState').raw, { df: 0, dr: 0, pf: 0, pr: 0, ft: 0, rt: 0 });
      assert.equal(got.get('SentryMode').raw, false);
      assert.equal(got.get('ClimateKeeperMode').raw, 'off');
      assert.equal(got.get('ChargingCableType').raw, '<invalid>');
      assert.equal(got.get('FdWindow').raw, 0);
    });

    it('does not change the response', function () {
      const before = sample();
      vdm.mapVehicleData(before);
      vdm.apiMessages('V', before, { mode: 'vehicle', receivedAt: 1 });
      vdm.apiMessages('V', before, { mode: 'field', receivedAt: 1 });
      assert.deepEqual(before, sample());
    });

    it('maps no vehicleDataCandidate (exported separately)', function () {
      const candidates = CATALOGUE.filter((e) => e.vehicleDataCandidate);
      assert.ok(candidates.length > 0);
      assert.deepEqual(
        vdm.VEHICLE_DATA_CANDIDATES.map((c) => c.field),
        candidates.map((e) => e.name),
      );
      for (const c of vdm.VEHICLE_DATA_CANDIDATES) {
        assert.deepEqual(c.paths, BY_NAME.get(c.field).vehicleDataCandidate.split(','), c.field);
      }
      // The sample has e.g. charge_port_cold_weather_mode and gui_settings, yet no candidate is emitted.
      assert.ok(walk(inner, ['charge_state', 'charge_port_cold_weather_mode'])[0]);
      for (const c of candidates) assert.ok(!got.has(c.name), `candidate ${c.name} emitted`);
    });

    it('exports the mapped fields and their paths from the catalogue', function () {
      const withPath = CATALOGUE.filter((e) => e.vehicleData);
      assert.deepEqual(
        vdm.VEHICLE_DATA_FIELDS,
        withPath.map((e) => e.name),
      );
      for (const e of withPath) assert.deepEqual(vdm.VEHICLE_DATA_PATHS.get(e.name), e.vehicleData.split(','), e.name);
    });
  });

  describe('presence rules', function () {
    it('a path present with null gives payload null; a missing path omits the field', function () {
      const answer = sample();
      answer.response.vehicle_state.vehicle_name = null;
      delete answer.response.vehicle_state.odometer;
      const got = byField(vdm.mapVehicleData(answer));
      assert.ok(got.has('VehicleName'));
      assert.equal(got.get('VehicleName').payload, null);
      assert.equal(got.get('VehicleName').raw, null);
      assert.ok(!got.has('Odometer'));
    });

    it('an endpoint not requested omits all its fields', function () {
      const answer = sample();
      delete answer.response.climate_state;
      const got = byField(vdm.mapVehicleData(answer));
      const climate = CATALOGUE.filter((e) => e.vehicleData && e.vehicleData.startsWith('climate_state.'));
      assert.ok(climate.length > 5);
      for (const e of climate) assert.ok(!got.has(e.name), e.name);
      assert.ok(got.has('BatteryLevel'));
      assert.deepEqual([...got.keys()], expectedFields(answer.response));
    });

    it('a multi-path field is present when any of its paths is; missing parts are left out of raw', function () {
      const answer = sample();
      delete answer.response.drive_state.longitude;
      for (const k of ['dr', 'pf', 'pr', 'ft', 'rt']) delete answer.response.vehicle_state[k];
      delete answer.response.drive_state.active_route_latitude;
      delete answer.response.drive_state.active_route_longitude;
      const got = byField(vdm.mapVehicleData(answer));
      assert.equal(got.get('Location').payload, null);
      assert.deepEqual(got.get('Location').raw, { latitude: 37.7765494 });
      assert.equal(got.get('DoorState').payload, null);
      assert.deepEqual(got.get('DoorState').raw, { df: 0 });
      assert.ok(!got.has('DestinationLocation'));
    });

    it('Location is null when latitude or longitude is null', function () {
      assert.equal(apiPayload('Location', [null, -122.4]), null);
      assert.equal(apiPayload('Location', [37.7, null]), null);
      assert.equal(apiPayload('DestinationLocation', [null, null]), null);
    });

    it('an object on the way that is null is a present null (speed_limit_mode: null)', function () {
      const answer = sample();
      answer.response.vehicle_state.speed_limit_mode = null;
      const got = byField(vdm.mapVehicleData(answer));
      assert.equal(got.get('SpeedLimitMode').payload, null);
      assert.equal(got.get('CurrentLimitMph').payload, null);
    });

    it('anything that is not a vehicle_data answer maps to nothing', function () {
      for (const r of [null, undefined, 42, 'x', [], { response: null, error: 'vehicle unavailable' }]) {
        assert.deepEqual(vdm.mapVehicleData(r), [], JSON.stringify(r));
        assert.deepEqual(vdm.apiMessages('V', r, { mode: 'vehicle', receivedAt: 1 }), [], JSON.stringify(r));
      }
      assert.deepEqual(vdm.mapVehicleData({}), []);
    });
  });

  describe('field filter', function () {
    it('keeps only the named fields (array or Set), in catalogue order', function () {
      const want = ['Location', 'BatteryLevel', 'NotAField', 'MilesToArrival'];
      for (const fields of [want, new Set(want)]) {
        const out = vdm.mapVehicleData(sample(), { fields });
        assert.deepEqual(
          out.map((f) => f.field),
          ['Location', 'BatteryLevel'],
        );
      }
    });

    it('an empty filter means every field (as telemetry-in)', function () {
      const all = vdm.mapVehicleData(sample()).length;
      assert.equal(vdm.mapVehicleData(sample(), { fields: [] }).length, all);
      assert.equal(vdm.mapVehicleData(sample(), { fields: new Set() }).length, all);
    });

    it('applies to messages too', function () {
      const msgs = vdm.apiMessages('V', sample(), { mode: 'field', fields: ['Gear', 'Locked'], receivedAt: 5 });
      assert.deepEqual(
        msgs.map((m) => m.field),
        ['Gear', 'Locked'],
      );
      const [snap] = vdm.apiMessages('V', sample(), { mode: 'vehicle', fields: new Set(['Locked']), receivedAt: 5 });
      assert.deepEqual(snap.payload, { Locked: true });
    });
  });

  describe('translation table', function () {
    it('sentry_mode boolean → Armed / Off', function () {
      assert.equal(apiPayload('SentryMode', [true]), 'Armed');
      assert.equal(apiPayload('SentryMode', [false]), 'Off');
      assert.equal(apiPayload('SentryMode', [null]), null);
    });

    it('windows: 0 → Closed, non-zero → Opened', function () {
      for (const f of ['FdWindow', 'FpWindow', 'RdWindow', 'RpWindow']) {
        assert.equal(apiPayload(f, [0]), 'Closed', f);
        assert.equal(apiPayload(f, [1]), 'Opened', f);
        assert.equal(apiPayload(f, [2]), 'Opened', f);
        assert.equal(apiPayload(f, [null]), null, f);
      }
    });

    it('doors: df/dr/pf/pr/ft/rt → DriverFront/DriverRear/PassengerFront/PassengerRear/TrunkFront/TrunkRear', function () {
      const keys = ['DriverFront', 'DriverRear', 'PassengerFront', 'PassengerRear', 'TrunkFront', 'TrunkRear'];
      for (let i = 0; i < 6; i++) {
        const values = [0, 0, 0, 0, 0, 0];
        values[i] = 1;
        const expected = Object.fromEntries(keys.map((k, j) => [k, j === i]));
        assert.deepEqual(apiPayload('DoorState', values), expected, keys[i]);
      }
      const answer = sample();
      answer.response.vehicle_state.pf = null;
      assert.equal(byField(vdm.mapVehicleData(answer)).get('DoorState').payload, null);
    });

    it('climate_keeper_mode off/keep/dog/camp → Off/On/Dog/Party', function () {
      assert.equal(apiPayload('ClimateKeeperMode', ['off']), 'Off');
      assert.equal(apiPayload('ClimateKeeperMode', ['keep']), 'On');
      assert.equal(apiPayload('ClimateKeeperMode', ['dog']), 'Dog');
      assert.equal(apiPayload('ClimateKeeperMode', ['camp']), 'Party');
      assert.equal(apiPayload('ClimateKeeperMode', ['sauna']), 'sauna'); // unknown: as it came
    });

    it('defrost_mode 0/1/2 → Off/Normal/Max; other integers stay', function () {
      assert.equal(apiPayload('DefrostMode', [0]), 'Off');
      assert.equal(apiPayload('DefrostMode', [1]), 'Normal');
      assert.equal(apiPayload('DefrostMode', [2]), 'Max');
      assert.equal(apiPayload('DefrostMode', [7]), 7);
    });

    it('"<invalid>" → null; cable and fast-charger strings stay', function () {
      assert.equal(apiPayload('ChargingCableType', ['<invalid>']), null);
      assert.equal(apiPayload('FastChargerType', ['<invalid>']), null);
      assert.equal(apiPayload('ChargingCableType', ['IEC']), 'IEC');
      assert.equal(apiPayload('FastChargerType', ['Supercharger']), 'Supercharger');
    });

    it('identity vocabularies: charging_state, shift_state, cabin overheat protection', function () {
      assert.equal(apiPayload('DetailedChargeState', ['Charging']), 'Charging');
      assert.equal(apiPayload('Gear', ['D']), 'D');
      assert.equal(apiPayload('Gear', ['P']), 'P');
      assert.equal(apiPayload('Gear', [null]), null);
      assert.equal(apiPayload('CabinOverheatProtectionMode', ['FanOnly']), 'FanOnly');
      assert.equal(apiPayload('CabinOverheatProtectionTemperatureLimit', ['Low']), 'Low');
    });

    it('speed_limit_mode.active (nested path) → SpeedLimitMode', function () {
      assert.equal(apiPayload('SpeedLimitMode', [true]), true);
      assert.equal(apiPayload('SpeedLimitMode', [false]), false);
    });

    it("every value the table produces is a value of the field's telemetry enum", function () {
      let checked = 0;
      for (const [field, t] of vdm.VEHICLE_DATA_TRANSLATIONS) {
        assert.ok(BY_NAME.get(field).vehicleData, `${field} has no vehicleData path`);
        const entry = BY_NAME.get(field);
        if (entry.kind !== 'enum') continue;
        assert.ok(t.produces && t.produces.length, `${field}: produces not declared`);
        const names = ENUMS[entry.enum];
        for (const v of t.produces) {
          assert.ok(
            names.some((n) => n.endsWith(v) && normalise(field, n) === v),
            `${field}: ${v} not in ${entry.enum}`,
          );
          checked++;
        }
      }
      assert.ok(checked >= 10);
    });

    it('every mapped enum field is translated or listed as same vocabulary', function () {
      const enums = CATALOGUE.filter((e) => e.vehicleData && e.kind === 'enum').map((e) => e.name);
      assert.ok(enums.length > 10);
      for (const f of enums) {
        assert.ok(
          vdm.VEHICLE_DATA_TRANSLATIONS.has(f) || vdm.VEHICLE_DATA_SAME_VOCABULARY.includes(f),
          `${f} neither translated nor same vocabulary`,
        );
      }
    });
  });

  describe('stream and API give one payload for one fact', function () {
    // [field, telemetry typed value, telemetry legacy string, vehicle_data value(s) at the catalogue path(s)]
    const facts = [
      ['SentryMode', 'SentryModeStateArmed', 'Armed', [true]],
      ['SentryMode', 'SentryModeStateOff', 'Off', [false]],
      ['DetailedChargeState', 'DetailedChargeStateCharging', 'Charging', ['Charging']],
      ['DetailedChargeState', 'DetailedChargeStateComplete', 'Complete', ['Complete']],
      ['FdWindow', 'WindowStateOpened', 'Opened', [1]],
      ['RpWindow', 'WindowStateOpened', 'Opened', [1]],
      ['FpWindow', 'WindowStateClosed', 'Closed', [0]],
      ['ClimateKeeperMode', 'ClimateKeeperModeStateDog', 'Dog', ['dog']],
      ['ClimateKeeperMode', 'ClimateKeeperModeStateParty', 'Party', ['camp']],
      ['ClimateKeeperMode', 'ClimateKeeperModeStateOn', 'On', ['keep']],
      ['Gear', 'ShiftStateD', 'D', ['D']],
      ['Gear', 'ShiftStateR', 'R', ['R']],
      ['DefrostMode', 'DefrostModeStateMax', 'Max', [2]],
      ['ChargePortLatch', 'ChargePortLatchEngaged', 'Engaged', ['Engaged']],
      ['ChargingCableType', 'CableTypeIEC', 'IEC', ['IEC']],
      ['FastChargerType', 'FastChargerSupercharger', 'Supercharger', ['Supercharger']],
      ['CabinOverheatProtectionMode', 'CabinOverheatProtectionModeStateFanOnly', 'FanOnly', ['FanOnly']],
      ['CabinOverheatProtectionTemperatureLimit', 'ClimateOverheatProtectionTempLimitLow', 'Low', ['Low']],
      ['BatteryLevel', 42.5, '42.5', [42.5]],
      ['Locked', true, 'true', [true]],
      ['SpeedLimitMode', true, 'true', [true]],
      ['Location', { latitude: 37.412374, longitude: -122.145867 }, '(37.412374 N, 122.145867 W)', [37.412374, -122.145867]],
      // No value: the stream's invalid is null, vehicle_data says "<invalid>" or null.
      ['ChargingCableType', null, null, ['<invalid>']],
      ['Gear', null, null, [null]],
    ];
    for (const [field, typed, legacy, values] of facts) {
      it(`${field}: ${JSON.stringify(typed)} / ${JSON.stringify(legacy)} = vehicle_data ${JSON.stringify(values)}`, function () {
        const api = apiPayload(field, values);
        sameValue(api, normalise(field, typed), `${field} vs typed`);
        sameValue(api, normalise(field, legacy), `${field} vs legacy`);
      });
    }

    it("DoorState: the stream's door object = vehicle_data 0/1 keys", function () {
      const stream = {
        DriverFront: true,
        DriverRear: false,
        PassengerFront: false,
        PassengerRear: true,
        TrunkFront: false,
        TrunkRear: true,
      };
      sameValue(apiPayload('DoorState', [1, 0, 0, 1, 0, 1]), normalise('DoorState', stream));
    });

    it('same-vocabulary enum fields: every enum value, typed on the stream = its name on vehicle_data', function () {
      let checked = 0;
      for (const field of vdm.VEHICLE_DATA_SAME_VOCABULARY) {
        const entry = BY_NAME.get(field);
        for (const typed of ENUMS[entry.enum]) {
          const legacy = normalise(field, typed);
          if (typeof legacy !== 'string' || legacy === typed) continue;
          assert.equal(apiPayload(field, [legacy]), legacy, `${field} ${typed}`);
          checked++;
        }
        for (const legacy of entry.legacyValues || []) {
          assert.ok(
            ENUMS[entry.enum].some((n) => normalise(field, n) === legacy),
            `${field}: legacy ${legacy} is no enum value`,
          );
        }
      }
      assert.ok(checked > 30, `only ${checked} checked`);
    });
  });

  describe('apiMessages', function () {
    const VIN = 'TEST00000000VIN01';

    it('mode field: one telemetry-in data message per mapped field, source "api", sharing vehicleData', function () {
      const answer = sample();
      const inner = answer.response;
      const mapped = vdm.mapVehicleData(answer);
      const msgs = vdm.apiMessages(VIN, answer, { mode: 'field', receivedAt: 1700000000123 });
      assert.equal(msgs.length, mapped.length);
      assert.ok(msgs.length > 80);
      msgs.forEach((m, i) => {
        assert.equal(m.event, 'data');
        assert.equal(m.topic, `${VIN}/${mapped[i].field}`);
        assert.equal(m.vin, VIN);
        assert.equal(m.field, mapped[i].field);
        assert.equal(m.source, 'api');
        assert.equal(m.receivedAt, 1700000000123);
        assert.equal(m.retain, false);
        assert.deepEqual(m.payload, mapped[i].payload);
        assert.deepEqual(m.raw, mapped[i].raw);
        assert.equal(m.vehicleData, inner, 'vehicleData is the inner response object');
      });
      const loc = msgs.find((m) => m.field === 'Location');
      assert.deepEqual(loc.payload, { latitude: 37.7765494, longitude: -122.4195418 });
      assert.deepEqual(loc.raw, { latitude: 37.7765494, longitude: -122.4195418 });
      const sentry = msgs.find((m) => m.field === 'SentryMode');
      assert.equal(sentry.payload, 'Off');
      assert.equal(sentry.raw, false);
    });

    it('mode field from the inner object gives vehicleData = that object', function () {
      const inner = sample().response;
      const msgs = vdm.apiMessages(VIN, inner, { mode: 'field', receivedAt: 9 });
      assert.ok(msgs.length > 0);
      for (const m of msgs) assert.equal(m.vehicleData, inner);
    });

    it('receivedAt defaults to now', function () {
      const before = Date.now();
      const [m] = vdm.apiMessages(VIN, sample(), { mode: 'field', fields: ['Locked'] });
      assert.ok(m.receivedAt >= before && m.receivedAt <= Date.now());
    });

    it('mode vehicle without previous: one snapshot, every field changed', function () {
      const answer = sample();
      const mapped = vdm.mapVehicleData(answer);
      const msgs = vdm.apiMessages(VIN, answer, { mode: 'vehicle', receivedAt: 77 });
      assert.equal(msgs.length, 1);
      const [m] = msgs;
      assert.equal(m.event, 'vehicle');
      assert.equal(m.topic, VIN);
      assert.equal(m.vin, VIN);
      assert.equal(m.source, 'api');
      assert.equal(m.receivedAt, 77);
      assert.equal(m.retain, false);
      assert.equal(m.field, undefined);
      assert.equal(m.vehicleData, answer.response);
      assert.deepEqual(m.payload, Object.fromEntries(mapped.map((f) => [f.field, f.payload])));
      assert.deepEqual(m.raw, Object.fromEntries(mapped.map((f) => [f.field, f.raw])));
      assert.deepEqual(
        m.changed,
        mapped.map((f) => f.field),
      );
      assert.equal(m.payload.BatteryLevel, 42);
      assert.deepEqual(m.raw.DoorState, { df: 0, dr: 0, pf: 0, pr: 0, ft: 0, rt: 0 });
    });

    it('mode vehicle with previous: changed = fields that differ (deep) or are new', function () {
      const [first] = vdm.apiMessages(VIN, sample(), { mode: 'vehicle', receivedAt: 1 });
      // previous: a deep copy (new Location/DoorState objects), minus one field.
      const previous = JSON.parse(JSON.stringify(first.payload));
      delete previous.Odometer;
      const answer = sample();
      answer.response.charge_state.battery_level = 43;
      answer.response.vehicle_state.sentry_mode = true;
      answer.response.drive_state.latitude = 37.8;
      answer.response.vehicle_state.rt = 1;
      const [m] = vdm.apiMessages(VIN, answer, { mode: 'vehicle', receivedAt: 2, previous });
      assert.deepEqual(m.changed, ['Odometer', 'Location', 'BatteryLevel', 'DoorState', 'SentryMode']);
      assert.equal(m.payload.SentryMode, 'Armed');
      assert.equal(m.payload.DoorState.TrunkRear, true);

      const [same] = vdm.apiMessages(VIN, sample(), { mode: 'vehicle', receivedAt: 3, previous: first.payload });
      assert.deepEqual(same.changed, []);
    });

    it('no mapped field: no message', function () {
      assert.deepEqual(vdm.apiMessages(VIN, { response: { id: 1 } }, { mode: 'vehicle', receivedAt: 1 }), []);
      assert.deepEqual(vdm.apiMessages(VIN, { response: { id: 1 } }, { mode: 'field', receivedAt: 1 }), []);
    });
  });
});
