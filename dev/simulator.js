'use strict';
/**
 * Fleet simulator: publishes to MQTT exactly as Tesla's fleet-telemetry server does
 * (docs/wire-format.md):
 *
 *   <base>/<VIN>/v/<Field>              one message per field, a burst per record, random order
 *   <base>/<VIN>/alerts/<Name>/current  {"Audiences":[…],"StartedAt":"…Z"} (+ "EndedAt" when over)
 *   <base>/<VIN>/alerts/<Name>/history  [the alerts of that name in one record]
 *   <base>/<VIN>/errors/<Name>          {"Body":…,"CreatedAt":…,"Tags":…}
 *   <base>/<VIN>/connectivity           {"ConnectionId":…,"CreatedAt":…,"Status":"CONNECTED"|"DISCONNECTED"}
 *
 * Payloads are Go encoding/json bytes (keys sorted, < > & escaped). Typed cars send numbers,
 * booleans, full proto enum names; legacy cars send strings, except for fields with id >= 179
 * (always typed) and Location (the server converts it). Cars drive, park, charge and sleep;
 * a car's stream can drop while it stays online (so the Fleet API fallback has work to do).
 *
 * Time runs on an injectable clock: the real one for `npm start`, or the fake clock of
 * test/support/clock.js and sim.step(ms) / sim.tick() for tests and benchmarks (a simulated day
 * in well under a second).
 *
 *   const { fakeClock } = require('../test/support/clock');
 *   const sim = createFleetSimulator({ client, clock: fakeClock(Date.UTC(2025, 0, 2)), seed: 1, preset: 'realistic' });
 *   await sim.start(); await sim.step(24 * 3600e3); await sim.stop();
 *
 * Library:  const { createFleetSimulator, encodeGoJson, fleetMessages } = require('./simulator');
 * CLI:      node dev/simulator.js --broker mqtt://127.0.0.1:1883 [--topic-base telemetry] [--seed 1] [--preset demo|realistic]
 *
 * Field ids, kinds and enum names come from the package's data files; nothing is retyped here.
 */

const CATALOGUE = require('../src/lib/catalogue/data/field-catalogue.json');
const ENUMS = require('../src/lib/catalogue/data/telemetry-enums.json');

// ---------------------------------------------------------------------------------------------
// Go encoding/json

const ASCII_ONLY = /^[\x00-\x7f]*$/;
const GO_EXTRA_ESCAPES = /[<>&\u2028\u2029]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function goString(s) {
  // Go replaces invalid UTF-8 (a lone surrogate, seen from JS) with U+FFFD; JSON.stringify
  // already escapes control characters as Go >= 1.22 does (\b \f \n \r \t, else \u00xx).
  const wellFormed = s.replace(LONE_SURROGATE, '\ufffd');
  return JSON.stringify(wellFormed).replace(GO_EXTRA_ESCAPES, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** Go sorts map keys by their UTF-8 bytes (equal to UTF-16 order except around surrogates). */
function compareKeys(a, b) {
  if (ASCII_ONLY.test(a) && ASCII_ONLY.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function goNumber(n) {
  if (!Number.isFinite(n)) throw new TypeError(`json: unsupported value: ${n}`);
  if (Object.is(n, -0)) return '-0';
  // For float64 Go prints %f-style for 1e-6 <= |n| < 1e21 and %e-style outside, with the
  // shortest round-trip digits and a 1-digit minimum exponent: exactly what JS prints.
  return String(n);
}

/**
 * The bytes Go's encoding/json (json.Marshal) produces for a JSON-like value: no spaces,
 * object keys sorted, <, >, & and U+2028/U+2029 escaped as \u003c etc., -0 kept.
 */
function encodeGoJson(value) {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return goString(value);
    case 'number':
      return goNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'object': {
      if (Array.isArray(value)) return '[' + value.map((v) => encodeGoJson(v)).join(',') + ']';
      if (Buffer.isBuffer(value)) return goString(value.toString('base64'));
      const keys = Object.keys(value).filter((k) => value[k] !== undefined && typeof value[k] !== 'function');
      keys.sort(compareKeys);
      return '{' + keys.map((k) => goString(k) + ':' + encodeGoJson(value[k])).join(',') + '}';
    }
    default:
      throw new TypeError(`json: unsupported type: ${typeof value}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

/** FNV-1a of a string (or a number's string), as a uint32 seed. */
function hashSeed(x) {
  const s = String(x);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** mulberry32 with helpers. */
function createRng(seed) {
  let a = hashSeed(seed) || 0x9e3779b9;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng = {
    next,
    float: (lo, hi) => lo + (hi - lo) * next(),
    int: (lo, hi) => lo + Math.floor((hi - lo + 1) * next()),
    chance: (p) => next() < p,
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    shuffle(arr) {
      for (let i = arr.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [arr[i], arr[j]] = [arr[j], arr[i]];
      }
      return arr;
    },
    uuid() {
      const b = [];
      for (let i = 0; i < 16; i++) b.push(Math.floor(next() * 256));
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      const h = b.map((x) => x.toString(16).padStart(2, '0')).join('');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    },
  };
  return rng;
}

// ---------------------------------------------------------------------------------------------
// Time

/** RFC 3339, UTC, whole seconds: 2025-01-02T03:04:05Z. */
function rfc3339(ms) {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const realClock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h),
});

// ---------------------------------------------------------------------------------------------
// Fields: the catalogue, and how the server encodes each value

function commonPrefix(values) {
  if (!values || values.length === 0) return '';
  let prefix = values[0];
  for (const v of values) {
    let i = 0;
    while (i < prefix.length && i < v.length && prefix[i] === v[i]) i++;
    prefix = prefix.slice(0, i);
  }
  return prefix;
}

/** Field name -> {name, id, kind, enum, enumValues, prefix, vehicleData}. */
const FIELDS = new Map(
  CATALOGUE.map((e) => {
    const info = { ...e };
    if (e.kind === 'enum' && e.enum && ENUMS[e.enum]) {
      info.enumValues = ENUMS[e.enum];
      info.prefix = commonPrefix(ENUMS[e.enum]);
    }
    return [e.name, info];
  }),
);

/** Fields with id >= 179 are always sent typed, whatever the firmware. */
const ALWAYS_TYPED_FROM_ID = 179;

/** Legacy floats that went through a float32 in the car print with float32 noise. */
const FLOAT32_FIELDS = new Set([
  'InsideTemp',
  'OutsideTemp',
  'TpmsPressureFl',
  'TpmsPressureFr',
  'TpmsPressureRl',
  'TpmsPressureRr',
  'ACChargingPower',
  'EstBatteryRange',
  'RatedRange',
]);

/** "1.5e-3" -> "0.00150": the server rewrites scientific string values that have a dot. */
function serverStringRewrite(s) {
  if (/^[+-]?\d+\.\d+[eE][+-]?\d+$/.test(s)) return Number(s).toFixed(5);
  return s;
}

function legacyNumber(name, v) {
  if (Number.isInteger(v)) return String(v);
  const n = FLOAT32_FIELDS.has(name) ? Math.fround(v) : v;
  return serverStringRewrite(String(n));
}

/** Full proto enum name for a short name ("D"), a full name, or an index. */
function enumFullName(info, v) {
  if (typeof v === 'number') return info.enumValues[v] !== undefined ? info.enumValues[v] : v;
  const s = String(v);
  if (info.enumValues.includes(s)) return s;
  const full = info.prefix + s;
  if (info.enumValues.includes(full)) return full;
  return s;
}

/** The legacy (string_value) vocabulary: the full name without the enum's common prefix. */
function enumShortName(info, v) {
  const full = enumFullName(info, v);
  if (typeof full === 'string' && info.prefix && full.startsWith(info.prefix) && full.length > info.prefix.length) {
    return full.slice(info.prefix.length);
  }
  return typeof full === 'number' ? String(full) : full;
}

function legacyLocationString(loc) {
  const lat = Math.abs(loc.latitude);
  const lon = Math.abs(loc.longitude);
  return `(${lat} ${loc.latitude < 0 ? 'S' : 'N'}, ${lon} ${loc.longitude < 0 ? 'W' : 'E'})`;
}

/**
 * The JSON value the server publishes for one field, given the model value (numbers,
 * booleans, enum short or full names, {latitude, longitude}, door objects, tyre objects).
 * typed=false gives what a legacy (string_value) car produces.
 */
function encodeFieldValue(name, value, typed) {
  if (value === null || value === undefined) return null; // the car sent "invalid"
  const info = FIELDS.get(name);
  if (!info) return value; // unknown field (published as its number): verbatim
  const isTyped = typed || info.id >= ALWAYS_TYPED_FROM_ID;
  switch (info.kind) {
    case 'number':
    case 'integer':
      if (typeof value !== 'number') return value;
      return isTyped ? value : legacyNumber(name, value);
    case 'boolean':
      if (typeof value !== 'boolean') return value;
      return isTyped ? value : String(value);
    case 'enum':
      if (!info.enumValues) return value;
      return isTyped ? enumFullName(info, value) : enumShortName(info, value);
    case 'location':
      if (typeof value !== 'object') return value;
      // The server converts a legacy Location string to an object; other locations pass as strings.
      if (isTyped || name === 'Location') return { latitude: value.latitude, longitude: value.longitude };
      return legacyLocationString(value);
    case 'tireLocation': {
      if (typeof value !== 'object') return value;
      const out = {};
      for (const k of Object.keys(value)) if (value[k]) out[k] = true;
      return out;
    }
    case 'doors':
      return typeof value === 'object' ? { ...value } : value;
    default:
      return value;
  }
}

// --- vehicle_data vocabulary (what the Fleet API double serves for a car) --------------------

const DOOR_LEAVES = { df: 'DriverFront', dr: 'DriverRear', pf: 'PassengerFront', pr: 'PassengerRear', ft: 'TrunkFront', rt: 'TrunkRear' };
const CLIMATE_KEEPER_API = { Off: 'off', On: 'keep', Dog: 'dog', Party: 'camp' };

function apiEnumValue(info, v) {
  const short = enumShortName(info, v);
  if (info.name === 'SentryMode') return short !== 'Off' && short !== 'Unknown';
  if (info.enum === 'WindowState') return short === 'Closed' ? 0 : 1;
  if (info.name === 'ClimateKeeperMode') return CLIMATE_KEEPER_API[short] || short;
  return short;
}

function setPath(obj, path, value) {
  const parts = path.split('.');
  let o = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    if (typeof o[parts[i]] !== 'object' || o[parts[i]] === null) o[parts[i]] = {};
    o = o[parts[i]];
  }
  o[parts[parts.length - 1]] = value;
}

/** Model field values -> a vehicle_data `response` object, placed by the catalogue's paths. */
function vehicleDataFromFields(values, base) {
  const data = {
    charge_state: {},
    climate_state: {},
    drive_state: {},
    gui_settings: {},
    vehicle_config: {},
    vehicle_state: {},
    ...base,
  };
  for (const name of Object.keys(values)) {
    const info = FIELDS.get(name);
    if (!info || !info.vehicleData) continue;
    const v = values[name];
    const paths = info.vehicleData.split(',').map((p) => p.trim());
    if (info.kind === 'location') {
      setPath(data, paths[0], v ? v.latitude : null);
      if (paths[1]) setPath(data, paths[1], v ? v.longitude : null);
    } else if (info.kind === 'doors') {
      for (const p of paths) {
        const leaf = p.split('.').pop();
        setPath(data, p, v && v[DOOR_LEAVES[leaf]] ? 1 : 0);
      }
    } else if (info.kind === 'enum' && info.enumValues && v !== null && v !== undefined) {
      setPath(data, paths[0], apiEnumValue(info, v));
    } else {
      setPath(data, paths[0], v === undefined ? null : v);
    }
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// The car model

const PRESETS = {
  /** npm start: records every few seconds, a drive/charge/sleep cycle in a few minutes. */
  demo: {
    recordMs: 3000,
    parkedRecordFactor: 2,
    warp: 30, // one real second is half a minute for the car's physics
    jitter: 0.2,
    durations: { drive: 60e3, park: 30e3, charge: 90e3, sleep: 90e3 },
    alertRate: 0.3,
    errorRate: 0.01,
  },
  /** Real pace, for scripted days in benchmarks (use a fake clock). */
  realistic: {
    recordMs: 10e3,
    parkedRecordFactor: 6,
    warp: 1,
    jitter: 0.2,
    durations: { drive: 30 * 60e3, park: 2 * 3600e3, charge: 3 * 3600e3, sleep: 8 * 3600e3 },
    alertRate: 0.3,
    errorRate: 0.002,
  },
};

/** The fields each simulated car streams (a typical configuration, ~30 fields). */
const DEFAULT_FIELDS = [
  'VehicleName',
  'Version',
  'Gear',
  'VehicleSpeed',
  'Location',
  'GpsHeading',
  'Odometer',
  'LongitudinalAcceleration',
  'BatteryLevel',
  'Soc',
  'EstBatteryRange',
  'RatedRange',
  'DetailedChargeState',
  'ChargeAmps',
  'ChargeCurrentRequest',
  'ACChargingPower',
  'ChargerVoltage',
  'TimeToFullCharge',
  'ChargeLimitSoc',
  'ChargePortLatch',
  'ChargePortDoorOpen',
  'FastChargerPresent',
  'Locked',
  'SentryMode',
  'DoorState',
  'FdWindow',
  'InsideTemp',
  'OutsideTemp',
  'HvacPower',
  'ClimateKeeperMode',
  'TpmsPressureFl',
  'TpmsPressureFr',
  'TpmsPressureRl',
  'TpmsPressureRr',
  'TpmsSoftWarnings',
  'MinutesToArrival',
  'DestinationLocation',
];

/** Three cars for npm start: one typed, one legacy, one whose stream drops while it is online. */
const DEMO_CARS = [
  {
    vin: '5YJ3E1EA1SF000001',
    name: 'Typed Model 3',
    typed: true,
    home: { latitude: 37.7749, longitude: -122.4194 },
    battery: 64,
    chargeLimit: 80,
    odometer: 15720.07,
    sentry: true,
    chargeAmps: 32,
    chargerVoltage: 240,
    script: [{ phase: 'drive' }, { phase: 'park' }, { phase: 'charge' }, { phase: 'park' }, { phase: 'sleep' }],
  },
  {
    vin: '5YJSA1E2XHF000002',
    name: 'Legacy <S> & Co',
    typed: false,
    home: { latitude: 52.520008, longitude: 13.404954 },
    battery: 48,
    chargeLimit: 90,
    odometer: 48211.5,
    sentry: false,
    chargeAmps: 16,
    chargerVoltage: 230,
    lowTyre: 'rear_right',
    outsideTemp: 8,
    script: [{ phase: 'park', x: 0.7 }, { phase: 'drive', x: 0.8 }, { phase: 'park' }, { phase: 'sleep', x: 1.3 }, { phase: 'charge', x: 0.7 }],
  },
  {
    vin: '7SAYGDEE5RF000003',
    name: 'Dropout Model Y',
    typed: true,
    home: { latitude: -33.8688, longitude: 151.2093 },
    battery: 35,
    chargeLimit: 90,
    odometer: 3120.9,
    sentry: true,
    chargeAmps: 24,
    chargerVoltage: 230,
    dropsStream: true,
    outsideTemp: 24,
    script: [{ phase: 'drive', x: 0.7 }, { phase: 'charge', x: 2.7, stream: false }, { phase: 'park' }, { phase: 'sleep', x: 0.7 }],
  },
];

const ALERTS = [
  { name: 'DoorOpen', audiences: ['Customer'], on: 'park' },
  { name: 'TirePressureLow', audiences: ['Customer', 'Service'], on: 'drive' },
  { name: 'ChargePortFault', audiences: ['Service', 'ServiceFix'], on: 'charge' },
  { name: 'BatteryThermalLimit', audiences: null, on: 'charge' },
];
const ERRORS = [
  { name: 'CloudConnectionReset', body: 'websocket closed by peer', tags: { interface: 'lte' } },
  { name: 'ConfigFieldUnsupported', body: 'field not supported on this firmware', tags: null },
  { name: 'RecordTooLarge', body: 'record dropped: size > 1MB <limit> & retry', tags: { size: '1048577' } },
];

const round = (v, d) => {
  const f = 10 ** d;
  return Math.round(v * f) / f;
};
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const MILES_PER_DEG_LAT = 69.0;

class SimCar {
  constructor(spec, sim) {
    this.sim = sim;
    this.vin = spec.vin;
    this.name = spec.name || spec.vin;
    this.typed = spec.typed !== false;
    this.spec = spec;
    this.fields = spec.fields || DEFAULT_FIELDS;
    this.rng = createRng(`${sim.seed}:${spec.vin}`);
    this.script = spec.script || [{ phase: 'drive' }, { phase: 'park' }, { phase: 'charge' }, { phase: 'park' }, { phase: 'sleep' }];
    this.scriptIndex = -1;
    this.phase = null;
    this.phaseItem = null;
    this.online = false;
    this.streaming = false;
    this.connected = false;
    this.connectionId = null;
    this.lastSent = new Map(); // field -> encoded payload
    this.activeAlerts = new Map();
    this.tickTimer = null;
    this.phaseTimer = null;
    const home = spec.home || { latitude: 37.4, longitude: -122.1 };
    this.home = { ...home };
    this.s = {
      lat: home.latitude,
      lon: home.longitude,
      heading: this.rng.int(0, 359),
      speed: 0,
      accel: 0,
      odometer: spec.odometer !== undefined ? spec.odometer : 12000 + this.rng.float(0, 20000),
      battery: spec.battery !== undefined ? spec.battery : 60,
      capacity: spec.capacity || 75,
      chargeLimit: spec.chargeLimit || 80,
      chargeState: 'Disconnected',
      chargeAmps: 0,
      chargePower: 0,
      chargeRequest: spec.chargeAmps || 32,
      chargerVoltage: 0,
      timeToFull: 0,
      latch: 'Disengaged',
      portOpen: false,
      gear: 'P',
      locked: true,
      sentry: 'Off',
      doors: { DriverFront: false, DriverRear: false, PassengerFront: false, PassengerRear: false, TrunkFront: false, TrunkRear: false },
      window: 'Closed',
      outside: spec.outsideTemp !== undefined ? spec.outsideTemp : 16,
      inside: 20,
      hvac: 'Off',
      keeper: 'Off',
      tyres: { fl: 2.9, fr: 2.9, rl: 2.9, rr: 2.9 },
      destination: null,
      minutesToArrival: null,
      version: spec.version || (this.typed ? '2025.20.6 f3d2a7c21b' : '2023.44.30.8 4b7e2c1f3a'),
    };
    if (spec.lowTyre) this.s.tyres[{ front_left: 'fl', front_right: 'fr', rear_left: 'rl', rear_right: 'rr' }[spec.lowTyre]] = 2.35;
    this.lastPhysics = null;
  }

  // --- values -------------------------------------------------------------------------------

  /** Model values of the streamed fields (before the server's encoding); all=true: every modelled field. */
  values(all = false) {
    const s = this.s;
    const tyreWarn = {};
    for (const [k, key] of [
      ['fl', 'front_left'],
      ['fr', 'front_right'],
      ['rl', 'rear_left'],
      ['rr', 'rear_right'],
    ]) {
      if (s.tyres[k] < 2.5) tyreWarn[key] = true;
    }
    const v = {
      VehicleName: this.name,
      Version: s.version,
      Gear: s.gear,
      VehicleSpeed: round(s.speed, 3),
      Location: { latitude: round(s.lat, 6), longitude: round(s.lon, 6) },
      GpsHeading: Math.round(s.heading) % 360,
      Odometer: round(s.odometer, 3),
      LongitudinalAcceleration: s.accel,
      BatteryLevel: round(s.battery, 2),
      Soc: round(Math.max(0, s.battery - 0.6), 2),
      EstBatteryRange: round(s.battery * 3.1, 2),
      RatedRange: round(s.battery * 2.9, 2),
      DetailedChargeState: s.chargeState,
      ChargeAmps: s.chargeAmps,
      ChargeCurrentRequest: s.chargeRequest,
      ACChargingPower: round(s.chargePower, 2),
      ChargerVoltage: s.chargerVoltage,
      TimeToFullCharge: s.chargeState === 'Charging' ? round(s.timeToFull, 2) : 0,
      ChargeLimitSoc: s.chargeLimit,
      ChargePortLatch: s.latch,
      ChargePortDoorOpen: s.portOpen,
      FastChargerPresent: false,
      Locked: s.locked,
      SentryMode: s.sentry,
      DoorState: { ...s.doors },
      FdWindow: s.window,
      InsideTemp: round(s.inside, 1),
      OutsideTemp: round(s.outside, 1),
      HvacPower: s.hvac,
      ClimateKeeperMode: s.keeper,
      TpmsPressureFl: round(s.tyres.fl, 2),
      TpmsPressureFr: round(s.tyres.fr, 2),
      TpmsPressureRl: round(s.tyres.rl, 2),
      TpmsPressureRr: round(s.tyres.rr, 2),
      TpmsSoftWarnings: tyreWarn,
      MinutesToArrival: s.minutesToArrival === null ? null : round(s.minutesToArrival, 1),
      DestinationLocation: s.destination ? { latitude: round(s.destination.latitude, 6), longitude: round(s.destination.longitude, 6) } : null,
    };
    if (all) return v;
    const out = {};
    for (const f of this.fields) if (f in v) out[f] = v[f];
    return out;
  }

  /** A vehicle_data-shaped object (what the Fleet API would answer now). */
  vehicleData() {
    const now = this.sim.clock.now();
    // The API reports every mapped value, whether or not the car streams the field.
    const values = this.values(true);
    const data = vehicleDataFromFields(values, {
      id: 100000 + (hashSeed(this.vin) % 900000),
      vehicle_id: 200000 + (hashSeed('v' + this.vin) % 700000),
      vin: this.vin,
      display_name: this.name,
      state: this.online ? 'online' : 'asleep',
      in_service: false,
      api_version: 80,
    });
    data.vehicle_state.vehicle_name = this.name;
    data.vehicle_state.timestamp = now;
    data.charge_state.timestamp = now;
    data.climate_state.timestamp = now;
    data.drive_state.timestamp = now;
    data.drive_state.gps_as_of = Math.floor(now / 1000);
    data.drive_state.power = round(this.s.chargePower ? -this.s.chargePower : this.s.speed * 0.25, 0);
    if (this.s.gear === 'P') data.drive_state.speed = null;
    data.charge_state.usable_battery_level = Math.floor(values.Soc);
    data.charge_state.battery_level = Math.round(values.BatteryLevel);
    data.charge_state.minutes_to_full_charge = Math.round((values.TimeToFullCharge || 0) * 60);
    for (const k of ['fl', 'fr', 'rl', 'rr']) {
      data.vehicle_state[`tpms_soft_warning_${k}`] = this.s.tyres[k] < 2.5;
      data.vehicle_state[`tpms_hard_warning_${k}`] = false;
    }
    return data;
  }

  state() {
    return {
      vin: this.vin,
      name: this.name,
      typed: this.typed,
      phase: this.phase,
      online: this.online,
      streaming: this.streaming,
      connected: this.connected,
      connectionId: this.connectionId,
      data: this.vehicleData(),
    };
  }

  // --- physics ------------------------------------------------------------------------------

  physics() {
    const now = this.sim.clock.now();
    const last = this.lastPhysics === null ? now : this.lastPhysics;
    this.lastPhysics = now;
    const h = ((now - last) * this.sim.warp) / 3.6e6; // simulated hours
    if (h <= 0) return;
    const s = this.s;
    const rng = this.rng;
    s.outside = clamp(s.outside + rng.float(-0.3, 0.3), -20, 45);
    switch (this.phase) {
      case 'drive': {
        const prev = s.speed;
        s.speed = clamp(s.speed + rng.float(-10, 10), 12, 72);
        s.accel = round((s.speed - prev) / (h * 3600) / 21.94, 4); // mph/s -> g
        const target = this.phaseProgress() > 0.5 ? this.home : s.destination;
        if (target) {
          const bearing = (Math.atan2((target.longitude - s.lon) * Math.cos((s.lat * Math.PI) / 180), target.latitude - s.lat) * 180) / Math.PI;
          s.heading = (bearing + rng.float(-20, 20) + 360) % 360;
        }
        const miles = s.speed * h;
        const rad = (s.heading * Math.PI) / 180;
        s.lat += (miles * Math.cos(rad)) / MILES_PER_DEG_LAT;
        s.lon += (miles * Math.sin(rad)) / (MILES_PER_DEG_LAT * Math.max(0.2, Math.cos((s.lat * Math.PI) / 180)));
        s.odometer += miles;
        s.battery = clamp(s.battery - miles * 0.33, 3, 100);
        if (s.destination) {
          const d = Math.hypot(s.destination.latitude - s.lat, (s.destination.longitude - s.lon) * Math.cos((s.lat * Math.PI) / 180));
          s.minutesToArrival = round(((d * MILES_PER_DEG_LAT) / Math.max(s.speed, 1)) * 60, 1);
        }
        s.inside += (21 - s.inside) * Math.min(1, h * 4);
        for (const k of Object.keys(s.tyres)) s.tyres[k] = Math.min(s.tyres[k] + 0.05 * h, this.baseTyre(k) + 0.15);
        break;
      }
      case 'charge': {
        s.accel = round(rng.float(-3e-7, 3e-7), 9);
        if (s.chargeState === 'Charging') {
          s.battery += ((s.chargePower * h) / s.capacity) * 100;
          if (s.battery >= s.chargeLimit) {
            s.battery = s.chargeLimit;
            s.chargeState = 'Complete';
            s.chargeAmps = 0;
            s.chargePower = 0;
            s.timeToFull = 0;
          } else {
            s.chargeAmps = clamp(s.chargeRequest + rng.int(-1, 0), 0, 80);
            s.chargePower = (s.chargeAmps * s.chargerVoltage) / 1000;
            s.timeToFull = (((s.chargeLimit - s.battery) / 100) * s.capacity) / Math.max(s.chargePower, 0.1);
          }
        }
        s.inside += (s.outside - s.inside) * Math.min(1, h * 0.5);
        this.settleTyres(h);
        break;
      }
      default: {
        // park, sleep: slow vampire drain, cabin follows the weather
        s.accel = this.phase === 'sleep' ? 0 : round(rng.float(-3e-7, 3e-7), 9);
        s.battery = clamp(s.battery - h * (s.sentry === 'Armed' ? 0.25 : 0.05), 3, 100);
        s.inside += (s.outside - s.inside) * Math.min(1, h * 0.5);
        this.settleTyres(h);
      }
    }
  }

  baseTyre(k) {
    const map = { fl: 'front_left', fr: 'front_right', rl: 'rear_left', rr: 'rear_right' };
    return this.spec.lowTyre === map[k] ? 2.35 : 2.9;
  }

  settleTyres(h) {
    for (const k of Object.keys(this.s.tyres)) {
      const b = this.baseTyre(k);
      this.s.tyres[k] = b + (this.s.tyres[k] - b) * Math.max(0, 1 - h);
    }
  }

  phaseProgress() {
    if (!this.phaseStarted || !this.phaseMs) return 0;
    return clamp((this.sim.clock.now() - this.phaseStarted) / this.phaseMs, 0, 1);
  }

  // --- phases -------------------------------------------------------------------------------

  start() {
    this.lastPhysics = this.sim.clock.now();
    this.nextPhase();
  }

  stop() {
    if (this.tickTimer) this.sim.clock.clearTimeout(this.tickTimer);
    if (this.phaseTimer) this.sim.clock.clearTimeout(this.phaseTimer);
    this.tickTimer = null;
    this.phaseTimer = null;
  }

  nextPhase() {
    this.scriptIndex = (this.scriptIndex + 1) % this.script.length;
    const item = this.script[this.scriptIndex];
    const base = this.sim.durations[item.phase] || 60e3;
    const ms = item.ms !== undefined ? item.ms : base * (item.x || 1) * this.jitter();
    this.enterPhase(item.phase, { ms, stream: item.stream !== false, scripted: true });
  }

  jitter() {
    const j = this.sim.jitter;
    return j ? this.rng.float(1 - j, 1 + j) : 1;
  }

  /**
   * Enter a phase now: 'drive' | 'park' | 'charge' | 'sleep'. opts.stream false keeps the car
   * online but silent (the stream dropped). opts.ms: when the scripted next phase follows
   * (omit/Infinity to stay until told otherwise).
   */
  enterPhase(phase, opts = {}) {
    const clock = this.sim.clock;
    this.physics();
    if (this.phaseTimer) clock.clearTimeout(this.phaseTimer);
    this.phaseTimer = null;
    const prev = this.phase;
    this.phase = phase;
    this.phaseItem = opts;
    this.phaseStarted = clock.now();
    this.phaseMs = opts.ms;
    const s = this.s;
    const wantStream = phase !== 'sleep' && opts.stream !== false;

    // leaving a phase
    if (prev === 'charge' && phase !== 'charge') {
      s.chargeState = 'Disconnected';
      s.chargeAmps = 0;
      s.chargePower = 0;
      s.chargerVoltage = 0;
      s.timeToFull = 0;
      s.latch = 'Disengaged';
      s.portOpen = false;
    }
    if (prev === 'drive' && phase !== 'drive') {
      s.speed = 0;
      s.gear = 'P';
      s.destination = null;
      s.minutesToArrival = null;
      s.hvac = 'Off';
    }

    // entering
    switch (phase) {
      case 'drive': {
        s.gear = 'D';
        s.speed = this.rng.float(15, 30);
        s.locked = true;
        s.sentry = 'Off';
        s.hvac = 'On';
        s.window = this.rng.chance(0.3) ? 'PartiallyOpen' : 'Closed';
        const dist = this.rng.float(4, 12) / MILES_PER_DEG_LAT;
        const ang = this.rng.float(0, 2 * Math.PI);
        s.destination = { latitude: this.home.latitude + dist * Math.cos(ang), longitude: this.home.longitude + dist * Math.sin(ang) };
        break;
      }
      case 'park':
        s.gear = 'P';
        s.speed = 0;
        s.window = 'Closed';
        s.doors = { ...s.doors, DriverFront: true };
        this.closeDoorsNextTick = true;
        s.locked = false;
        this.lockNextTick = true;
        break;
      case 'charge':
        s.gear = 'P';
        s.speed = 0;
        s.portOpen = true;
        s.latch = 'Engaged';
        s.chargerVoltage = this.spec.chargerVoltage || 240;
        s.chargeState = s.battery < s.chargeLimit - 0.5 ? 'Charging' : 'Complete';
        s.chargeAmps = s.chargeState === 'Charging' ? s.chargeRequest : 0;
        s.chargePower = (s.chargeAmps * s.chargerVoltage) / 1000;
        s.timeToFull = s.chargePower ? (((s.chargeLimit - s.battery) / 100) * s.capacity) / s.chargePower : 0;
        s.locked = true;
        break;
      case 'sleep':
        s.gear = 'P';
        s.speed = 0;
        s.locked = true;
        s.hvac = 'Off';
        break;
      default:
        throw new Error(`unknown phase ${phase}`);
    }
    if (phase !== 'drive') s.sentry = this.spec.sentry && phase !== 'drive' ? 'Armed' : 'Off';

    // connection
    if (phase === 'sleep') {
      this.online = false;
      if (this.connected && this.streaming) this.publishConnectivity('DISCONNECTED');
      this.connected = false;
      this.streaming = false;
    } else {
      this.online = true;
      if (wantStream && !this.streaming) {
        this.streaming = true;
        this.connected = true;
        this.connectionId = this.rng.uuid();
        this.lastSent.clear(); // a new connection starts with a full record
        this.publishConnectivity('CONNECTED');
      } else if (!wantStream && this.streaming) {
        // The stream drops silently (no DISCONNECTED: a dead connection is only silence).
        this.streaming = false;
      }
    }

    if (opts.scripted !== false && this.sim.alertRate && this.streaming) {
      const candidates = ALERTS.filter((a) => a.on === phase && !this.activeAlerts.has(a.name));
      if (candidates.length && this.rng.chance(this.sim.alertRate)) this.startAlert(this.rng.pick(candidates));
    }

    this.sim.emitState(this);
    if (opts.ms !== undefined && Number.isFinite(opts.ms) && this.sim.scripted) {
      this.phaseTimer = clock.setTimeout(() => {
        this.phaseTimer = null;
        this.nextPhase();
      }, opts.ms);
    }
    this.tick(false);
  }

  scheduleTick() {
    if (this.tickTimer) this.sim.clock.clearTimeout(this.tickTimer);
    const factor = this.phase === 'park' || this.phase === 'sleep' ? this.sim.parkedRecordFactor : 1;
    this.tickTimer = this.sim.clock.setTimeout(
      () => {
        this.tickTimer = null;
        this.tick(true);
      },
      Math.round(this.sim.recordMs * factor * this.jitter()),
    );
  }

  /** One record: update the physics, publish the changed fields (if streaming). */
  tick(runPhysics) {
    if (runPhysics) this.physics();
    if (this.chargingNextTick && runPhysics) {
      this.chargingNextTick = false;
      if (this.s.chargeState === 'Starting') this.startCharging();
    }
    if (this.streaming) {
      this.publishChanged();
      this.tickAlerts();
      if (this.sim.errorRate && this.rng.chance(this.sim.errorRate)) this.publishError(this.rng.pick(ERRORS));
    }
    if (this.closeDoorsNextTick && runPhysics) {
      this.closeDoorsNextTick = false;
      this.s.doors = { ...this.s.doors, DriverFront: false };
    }
    if (this.lockNextTick && runPhysics) {
      this.lockNextTick = false;
      this.s.locked = true;
    }
    this.sim.emitState(this);
    this.scheduleTick();
  }

  startCharging() {
    const s = this.s;
    s.chargeState = 'Charging';
    s.chargeAmps = s.chargeRequest;
    s.chargePower = (s.chargeAmps * s.chargerVoltage) / 1000;
    s.timeToFull = s.chargePower ? (((s.chargeLimit - s.battery) / 100) * s.capacity) / s.chargePower : 0;
  }

  /**
   * Reflect a command the Fleet API double carried out (or a wake_up): change the model and
   * publish the changed fields at once, as the car's next record. charge_start shows
   * Starting, then Charging at the next record. Returns false when the command changes
   * nothing here (charge_start without a plugged-in cable, say).
   */
  applyCommand(name, body = {}) {
    const s = this.s;
    const charging = s.chargeState === 'Charging' || s.chargeState === 'Starting';
    if (name === 'wake_up') {
      if (this.online) return false;
      this.enterPhase('park', { ms: this.sim.durations.park * this.jitter(), stream: true, scripted: false });
      return true;
    }
    this.physics();
    switch (name) {
      case 'charge_start':
        if (this.phase !== 'charge' || charging || s.chargeState === 'Complete') return false;
        s.chargeState = 'Starting';
        this.chargingNextTick = true;
        break;
      case 'charge_stop':
        if (!charging) return false;
        s.chargeState = 'Stopped';
        s.chargeAmps = 0;
        s.chargePower = 0;
        s.timeToFull = 0;
        this.chargingNextTick = false;
        break;
      case 'set_charging_amps':
        if (typeof body.charging_amps !== 'number') return false;
        s.chargeRequest = clamp(Math.round(body.charging_amps), 0, 48);
        if (s.chargeState === 'Charging') {
          s.chargeAmps = s.chargeRequest;
          s.chargePower = (s.chargeAmps * s.chargerVoltage) / 1000;
        }
        break;
      case 'set_charge_limit':
        if (typeof body.percent !== 'number') return false;
        s.chargeLimit = clamp(Math.round(body.percent), 50, 100);
        break;
      case 'charge_port_door_open':
      case 'charge_port_door_close':
        s.portOpen = name === 'charge_port_door_open';
        break;
      case 'door_lock':
      case 'door_unlock':
        s.locked = name === 'door_lock';
        this.lockNextTick = false;
        break;
      case 'set_sentry_mode':
        s.sentry = body.on ? 'Armed' : 'Off';
        break;
      case 'auto_conditioning_start':
      case 'auto_conditioning_stop':
        s.hvac = name === 'auto_conditioning_start' ? 'On' : 'Off';
        break;
      default:
        return false;
    }
    if (this.streaming) this.publishChanged();
    this.sim.emitState(this);
    return true;
  }

  publishChanged() {
    const values = this.values();
    const changed = {};
    for (const name of Object.keys(values)) {
      const payload = encodeGoJson(encodeFieldValue(name, values[name], this.typed));
      if (this.lastSent.get(name) !== payload) changed[name] = payload;
    }
    const names = Object.keys(changed);
    if (!names.length) return;
    this.rng.shuffle(names);
    for (const name of names) {
      this.lastSent.set(name, changed[name]);
      this.sim.publishRaw(`${this.vin}/v/${name}`, changed[name]);
    }
  }

  publishConnectivity(status) {
    this.sim.publishRaw(
      `${this.vin}/connectivity`,
      encodeGoJson({ ConnectionId: this.connectionId, CreatedAt: rfc3339(this.sim.clock.now()), Status: status }),
    );
  }

  startAlert(def, opts = {}) {
    const alert = {
      Audiences: def.audiences === undefined ? ['Customer'] : def.audiences,
      StartedAt: rfc3339(this.sim.clock.now()),
    };
    this.activeAlerts.set(def.name, { alert, ticksLeft: opts.ticks || this.rng.int(2, 6) });
    this.publishAlert(def.name, [alert]);
  }

  tickAlerts() {
    for (const [name, a] of this.activeAlerts) {
      if (--a.ticksLeft > 0) continue;
      this.activeAlerts.delete(name);
      this.publishAlert(name, [{ ...a.alert, EndedAt: rfc3339(this.sim.clock.now()) }]);
    }
  }

  /** One alerts record with these alerts of one name: current = the last, history = all. */
  publishAlert(name, alerts) {
    this.sim.publishRaw(`${this.vin}/alerts/${name}/current`, encodeGoJson(alerts[alerts.length - 1]));
    this.sim.publishRaw(`${this.vin}/alerts/${name}/history`, encodeGoJson(alerts));
  }

  publishError(def) {
    this.sim.publishRaw(
      `${this.vin}/errors/${def.name}`,
      encodeGoJson({ Body: def.body, CreatedAt: rfc3339(this.sim.clock.now()), Tags: def.tags === undefined ? null : def.tags }),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The simulator

/**
 * createFleetSimulator(options) -> sim (not started: `await sim.start()`).
 *
 * options:
 *   url        MQTT URL to connect to (mqtt.js), or
 *   client     an mqtt.js client (or anything with publish(topic, payload, opts, cb)); not ended by stop()
 *   topicBase  'telemetry' (verbatim; '' gives topics starting with '/')
 *   qos 1, retain true        as the seed's server config
 *   cars       [{vin, name, typed, script?, home?, battery?, chargeLimit?, sentry?, dropsStream?, fields?, …}]
 *              (default: DEMO_CARS, three cars: typed, legacy, stream drops while online)
 *   seed       number or string: everything random (values, field order, ConnectionIds) follows from it
 *   clock      {now(), setTimeout(fn, ms), clearTimeout(h)}; sim.step() and sim.tick() need a fake
 *              clock (advanceAsync, next: test/support/clock.js)
 *   preset     'demo' (default) | 'realistic'; recordMs, warp, durations, jitter, parkedRecordFactor,
 *              alertRate, errorRate override the preset's values
 *   scripted   true: cars follow their scripts; false: they stay in their first phase until told
 */
function createFleetSimulator(options = {}) {
  const preset = PRESETS[options.preset || 'demo'];
  if (!preset) throw new Error(`unknown preset ${options.preset}`);
  const topicBase = options.topicBase === undefined ? 'telemetry' : String(options.topicBase);
  const qos = options.qos === undefined ? 1 : options.qos;
  const retain = options.retain === undefined ? true : !!options.retain;
  const clock = options.clock || realClock;
  const stateListeners = new Set();
  const publishListeners = new Set();
  const inflight = new Set();
  let client = options.client || null;
  const ownClient = !client;
  let running = false;
  let publishErrors = 0;

  const sim = {
    seed: options.seed === undefined ? Date.now() : options.seed,
    clock,
    topicBase,
    qos,
    retain,
    recordMs: options.recordMs || preset.recordMs,
    parkedRecordFactor: options.parkedRecordFactor || preset.parkedRecordFactor,
    warp: options.warp || preset.warp,
    jitter: options.jitter === undefined ? preset.jitter : options.jitter,
    durations: { ...preset.durations, ...(options.durations || {}) },
    alertRate: options.alertRate === undefined ? preset.alertRate : options.alertRate,
    errorRate: options.errorRate === undefined ? preset.errorRate : options.errorRate,
    scripted: options.scripted !== false,
    cars: new Map(),
    get running() {
      return running;
    },
    get client() {
      return client;
    },
    get publishErrors() {
      return publishErrors;
    },
    get pending() {
      return inflight.size;
    },
  };

  for (const spec of options.cars || DEMO_CARS) {
    if (!spec || !spec.vin) throw new Error('every car needs a vin');
    if (sim.cars.has(spec.vin)) throw new Error(`duplicate vin ${spec.vin}`);
    sim.cars.set(spec.vin, new SimCar(spec, sim));
  }

  function car(vin) {
    const c = sim.cars.get(vin);
    if (!c) throw new Error(`unknown vin ${vin}`);
    return c;
  }

  /** The topic for a path below the base ("VIN/v/Field"). */
  sim.topic = (path) => `${topicBase}/${path}`;

  /** Publish one message (payload: the exact bytes as a string or Buffer). Resolves when acknowledged. */
  sim.publishRaw = (path, payload) => {
    const topic = sim.topic(path);
    const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(String(payload), 'utf8');
    for (const cb of publishListeners) cb({ topic, payload: buf });
    if (!client) throw new Error('simulator not started (no MQTT client)');
    const p = new Promise((resolve) => {
      client.publish(topic, buf, { qos, retain }, (err) => {
        if (err) {
          publishErrors++;
          if (options.onError) options.onError(err);
        }
        resolve();
      });
    });
    inflight.add(p);
    p.then(() => inflight.delete(p));
    return p;
  };

  sim.emitState = (c) => {
    if (!stateListeners.size) return;
    const st = c.state();
    for (const cb of stateListeners) cb(st);
  };

  /** Wait until every publish so far is acknowledged (QoS 1) or written (QoS 0). */
  sim.flush = async () => {
    while (inflight.size) await Promise.all([...inflight]);
  };

  sim.start = async () => {
    if (running) return sim;
    if (!client) {
      if (!options.url) throw new Error('createFleetSimulator needs url or client');
      const mqtt = require('mqtt');
      client = mqtt.connect(options.url, {
        clientId: options.clientId || `fleet-telemetry-sim-${hashSeed(String(sim.seed) + Date.now()).toString(16)}`,
        reconnectPeriod: 1000,
        connectTimeout: 10000,
        ...(options.mqttOptions || {}),
      });
      await new Promise((resolve, reject) => {
        const onError = (err) => {
          client.removeListener('connect', onConnect);
          client.end(true);
          reject(err);
        };
        const onConnect = () => {
          client.removeListener('error', onError);
          resolve();
        };
        client.once('connect', onConnect);
        client.once('error', onError);
      });
      client.on('error', (err) => {
        if (options.onError) options.onError(err);
      });
    }
    running = true;
    for (const c of sim.cars.values()) c.start();
    return sim;
  };

  /** Stop every timer, wait for outstanding publishes, end the MQTT client if we made it. */
  sim.stop = async () => {
    running = false;
    for (const c of sim.cars.values()) c.stop();
    if (client && (ownClient ? client.connected : true)) {
      await Promise.race([sim.flush(), new Promise((r) => realClock.setTimeout(r, 2000).unref())]);
    }
    if (ownClient && client) {
      const c = client;
      client = null;
      await new Promise((resolve) => c.end(false, {}, () => resolve()));
    }
    stateListeners.clear();
  };

  /** Advance a fake clock by ms, running every car's records due in that span; resolves when published. */
  sim.step = async (ms) => {
    if (!clock.advanceAsync) throw new Error('sim.step needs a fake clock (test/support/clock.js)');
    await clock.advanceAsync(ms, async () => {
      if (inflight.size > 2000) await sim.flush();
    });
    await sim.flush();
  };

  /** Run the next scheduled event of any car (one record or phase change) on a fake clock; resolves when published. */
  sim.tick = async () => {
    if (!clock.next) throw new Error('sim.tick needs a fake clock (test/support/clock.js)');
    await clock.next();
    await sim.flush();
    return clock.now();
  };

  /** Subscribe to car state changes: cb({vin, name, typed, phase, online, streaming, connected, connectionId, data}). */
  sim.onState = (cb) => {
    stateListeners.add(cb);
    return () => stateListeners.delete(cb);
  };

  /** Observe every message as it is published: cb({topic, payload: Buffer}). */
  sim.onPublish = (cb) => {
    publishListeners.add(cb);
    return () => publishListeners.delete(cb);
  };

  sim.carState = (vin) => car(vin).state();
  sim.vins = () => [...sim.cars.keys()];

  /**
   * Publish one V record for a car: fields {Name: model value}. Values are encoded as that
   * car (typed or legacy) would send them; {raw: true} publishes them verbatim (already wire
   * values); {typed} overrides the car's setting; a VIN the simulator does not know is allowed.
   * Resolves with the [{topic, payload}] published, in publishing (random) order.
   */
  sim.publishRecord = async (vin, fields, opts = {}) => {
    const c = sim.cars.get(vin);
    const typed = opts.typed !== undefined ? opts.typed : c ? c.typed : true;
    const rng = c ? c.rng : createRng(`${sim.seed}:${vin}`);
    const names = Object.keys(fields);
    if (opts.shuffle !== false) rng.shuffle(names);
    const out = [];
    const ps = [];
    for (const name of names) {
      const wire = opts.raw ? fields[name] : encodeFieldValue(name, fields[name], typed);
      const payload = encodeGoJson(wire);
      if (c) c.lastSent.set(name, payload);
      out.push({ topic: sim.topic(`${vin}/v/${name}`), payload });
      ps.push(sim.publishRaw(`${vin}/v/${name}`, payload));
    }
    await Promise.all(ps);
    return out;
  };

  /** Publish an alert of a name: {audiences, startedAt (ms), endedAt (ms)}; history = [that alert]. */
  sim.publishAlert = async (vin, name, { audiences = ['Customer'], startedAt, endedAt } = {}) => {
    const alert = { Audiences: audiences, StartedAt: rfc3339(startedAt !== undefined ? startedAt : clock.now()) };
    if (endedAt !== undefined && endedAt !== null) alert.EndedAt = rfc3339(endedAt);
    await Promise.all([
      sim.publishRaw(`${vin}/alerts/${name}/current`, encodeGoJson(alert)),
      sim.publishRaw(`${vin}/alerts/${name}/history`, encodeGoJson([alert])),
    ]);
    return alert;
  };

  sim.publishError = async (vin, name, body, tags = null) => {
    const err = { Body: body, CreatedAt: rfc3339(clock.now()), Tags: tags };
    await sim.publishRaw(`${vin}/errors/${name}`, encodeGoJson(err));
    return err;
  };

  /**
   * A command the Fleet API double carried out ({vin, name, body} of double.onCommand), or a
   * wake_up: the car changes and publishes the changed fields. Resolves with whether it changed.
   */
  sim.applyCommand = async (vin, name, body = {}) => {
    const changed = car(vin).applyCommand(name, body || {});
    await sim.flush();
    return changed;
  };

  /** Force a car into a phase now ('drive' | 'park' | 'charge' | 'sleep'); {ms} to resume the script after. */
  sim.setPhase = (vin, phase, opts = {}) => {
    car(vin).enterPhase(phase, { ms: opts.ms, stream: opts.stream !== false, scripted: false });
    return sim.flush();
  };
  sim.sleep = (vin, opts) => sim.setPhase(vin, 'sleep', opts);
  sim.wake = (vin, opts = {}) => sim.setPhase(vin, opts.phase || 'park', opts);
  /** The car stays online (Fleet API says "online") but its stream goes silent. */
  sim.dropStream = (vin, opts = {}) => sim.setPhase(vin, opts.phase || car(vin).phase || 'park', { ...opts, stream: false });
  sim.resumeStream = (vin, opts = {}) => sim.setPhase(vin, opts.phase || car(vin).phase || 'park', { ...opts, stream: true });

  return sim;
}

// ---------------------------------------------------------------------------------------------
// Benchmark message generator

const OBJECT_FIELDS = ['Location', 'DoorState', 'TpmsSoftWarnings', 'DestinationLocation', 'TpmsHardWarnings'];

function randomNumber(info, rng) {
  if (info.kind === 'integer') return rng.int(0, info.unit === 'percent' ? 100 : 5000);
  switch (info.unit) {
    case 'percent':
      return round(rng.float(0, 100), rng.int(0, 14));
    case 'mph':
      return round(rng.float(0, 80), 3);
    case 'bar':
      return round(rng.float(2.3, 3.2), 2);
    case '°C':
      return round(rng.float(-10, 40), 1);
    default:
      return rng.chance(0.02) ? rng.float(-3e-7, 3e-7) : round(rng.float(-50, 5000), rng.int(0, 6));
  }
}

function randomObject(name, rng) {
  switch (name) {
    case 'Location':
    case 'DestinationLocation':
      return { latitude: round(rng.float(-60, 70), 6), longitude: round(rng.float(-180, 180), 6) };
    case 'DoorState':
      return Object.fromEntries(Object.values(DOOR_LEAVES).map((k) => [k, rng.chance(0.15)]));
    default: {
      const out = {};
      for (const k of ['front_left', 'front_right', 'rear_left', 'rear_right']) if (rng.chance(0.2)) out[k] = true;
      return out;
    }
  }
}

/**
 * A deterministic stream of {topic, payload} shaped like a real fleet: bursts of one message
 * per field for one VIN at a time; about 70% numeric fields, 20% enum fields, 10% objects
 * (Location, DoorState, tyre warnings). Half of the VINs are legacy cars (strings for ids < 179).
 *
 *   fleetMessages({vins: 100 | [...], count: 10000, seed: 1, topicBase: 'telemetry',
 *                  typedShare: 0.5, burst: [5, 20], asString: false})
 */
function* fleetMessages(opts = {}) {
  const rng = createRng(opts.seed === undefined ? 1 : opts.seed);
  const count = opts.count === undefined ? 10000 : opts.count;
  const topicBase = opts.topicBase === undefined ? 'telemetry' : opts.topicBase;
  const typedShare = opts.typedShare === undefined ? 0.5 : opts.typedShare;
  const [bMin, bMax] = opts.burst || [5, 20];
  let vins = opts.vins === undefined ? 10 : opts.vins;
  if (typeof vins === 'number') {
    const n = vins;
    vins = [];
    for (let i = 0; i < n; i++) vins.push(`5YJ3E1EA${String(i).padStart(9, '0')}`);
  }
  const typedVin = new Map(vins.map((v, i) => [v, i / vins.length < typedShare]));
  const numeric = [...FIELDS.values()].filter((f) => f.kind === 'number' || f.kind === 'integer').map((f) => f.name);
  const enums = [...FIELDS.values()].filter((f) => f.kind === 'enum' && f.enumValues).map((f) => f.name);
  let produced = 0;
  while (produced < count) {
    const vin = rng.pick(vins);
    const typed = typedVin.get(vin);
    const size = Math.min(rng.int(bMin, bMax), count - produced);
    const seen = new Set();
    for (let i = 0; i < size; i++) {
      const r = rng.next();
      const pool = r < 0.7 ? numeric : r < 0.9 ? enums : OBJECT_FIELDS;
      let name = rng.pick(pool);
      // a field appears once per record: redraw, and fall back to a numeric field
      for (let tries = 0; seen.has(name) && tries < 8; tries++) name = rng.pick(pool);
      while (seen.has(name)) name = rng.pick(numeric);
      seen.add(name);
      let value;
      const info = FIELDS.get(name);
      if (info.kind === 'enum') value = rng.int(1, info.enumValues.length - 1);
      else if (OBJECT_FIELDS.includes(name)) value = randomObject(name, rng);
      else value = randomNumber(info, rng);
      const wire = encodeFieldValue(name, value, typed);
      // A legacy DestinationLocation is a string; keep the objects share by sending it typed.
      const payload = encodeGoJson(name === 'DestinationLocation' ? value : wire);
      produced++;
      yield { topic: `${topicBase}/${vin}/v/${name}`, payload: opts.asString ? payload : Buffer.from(payload) };
    }
  }
}

module.exports = {
  createFleetSimulator,
  realClock,
  encodeGoJson,
  encodeFieldValue,
  vehicleDataFromFields,
  fleetMessages,
  createRng,
  rfc3339,
  FIELDS,
  DEFAULT_FIELDS,
  DEMO_CARS,
  PRESETS,
  ALERTS,
  ERRORS,
};

// ---------------------------------------------------------------------------------------------
// CLI: publish the demo fleet into any broker.

if (require.main === module) {
  const args = process.argv.slice(2);
  const get = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
  };
  if (args.includes('--help') || args.includes('-h')) {
    console.log('usage: node dev/simulator.js [--broker mqtt://127.0.0.1:1883] [--topic-base telemetry] [--seed N] [--preset demo|realistic]');
    process.exit(0);
  }
  const url = get('--broker', 'mqtt://127.0.0.1:1883');
  const sim = createFleetSimulator({
    url,
    topicBase: get('--topic-base', 'telemetry'),
    seed: get('--seed', undefined),
    preset: get('--preset', 'demo'),
    onError: (err) => console.error('simulator:', err.message),
  });
  let lastPhase = {};
  sim.onState((st) => {
    const key = `${st.phase}/${st.online}/${st.streaming}`;
    if (lastPhase[st.vin] === key) return;
    lastPhase[st.vin] = key;
    console.log(
      `${new Date().toISOString()} ${st.vin} ${st.phase}${st.online ? '' : ' (asleep)'}${st.online && !st.streaming ? ' (online, stream dropped)' : ''}`,
    );
  });
  sim
    .start()
    .then(() => console.log(`simulating ${sim.vins().join(', ')} on ${url} (topic base "${sim.topicBase}"); Ctrl-C stops`))
    .catch((err) => {
      console.error(`cannot connect to ${url}: ${err.message}`);
      process.exit(1);
    });
  const shutdown = () => {
    lastPhase = {};
    sim.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
