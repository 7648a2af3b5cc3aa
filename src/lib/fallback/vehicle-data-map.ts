/**
 * Fleet API `vehicle_data` → the `telemetry-in` message contract (docs/message-contract.md
 * "Messages about one car", and "Fleet API fallback" on API messages).
 *
 * Which vehicle_data path feeds which telemetry field is catalogue data
 * (`field-catalogue.json`, `vehicleData`) and is read from `catalogue.ts`, never retyped.
 * Where vehicle_data's *vocabulary* differs from telemetry's, the translation table below
 * (`VEHICLE_DATA_TRANSLATIONS`) is the only place that says how; everything else is the
 * value at the path run through the very `normalise(field, value)` the stream uses, so both
 * sources give one payload for one fact.
 *
 * Per-field paths are split once at load; a call is a walk of a few property look-ups per
 * field, no regex, no string splitting.
 */
import { isDeepStrictEqual } from 'node:util';
import { CATALOGUE, FIELDS } from '../catalogue/index';
import { CarMessage, fieldMessage, snapshotMessage } from '../common/messages';
import { normalise } from '../stream/normalise';

/* ------------------------------------------------------------------------------------------
 * The translation table
 * ---------------------------------------------------------------------------------------- */

/**
 * vehicle_data's "no value" string (`conn_charge_cable`, `fast_charger_type`,
 * `fast_charger_brand`, `charge_port_color` …): the stream's `invalid`, i.e. `null`. Applies to
 * every single-path field, before any translation (`raw` keeps the string).
 */
export const INVALID_VALUE = '<invalid>';

/** One row of the translation table. */
export interface Translation {
  /** What vehicle_data sends, in words (documentation; shown by tests and help text). */
  readonly vehicleData: string;
  /**
   * For a field built from several paths: the leaf names the translation reads. Must equal the
   * leaves of the catalogue's paths (checked at load), so a catalogue change cannot silently
   * break the field.
   */
  readonly leaves?: readonly string[];
  /** For enum fields: the (prefix-stripped) telemetry values it can produce; checked at load against the enum list. */
  readonly produces?: readonly string[];
  /**
   * vehicle_data value → telemetry vocabulary, before `normalise`. Single-path fields get the
   * value at the path (never `null` or `"<invalid>"`: those are `null` before this runs);
   * multi-path fields get the object of their present values keyed by leaf name (= `raw`).
   * A value the translation does not know is returned unchanged (as `normalise` leaves an
   * unknown enum number as it came).
   */
  readonly translate: (raw: unknown) => unknown;
}

/** A lookup as a translation: known values map, others pass through. */
function lookup(table: ReadonlyMap<unknown, string>): (raw: unknown) => unknown {
  return (raw) => (table.has(raw) ? table.get(raw) : raw);
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** vehicle_data `sentry_mode` boolean → SentryModeState. */
const SENTRY_MODE: ReadonlyMap<unknown, string> = new Map<unknown, string>([
  [true, 'Armed'],
  [false, 'Off'],
]);

/** vehicle_data `climate_keeper_mode` → ClimateKeeperModeState (HA PRESET_MODES). */
const CLIMATE_KEEPER_MODE: ReadonlyMap<unknown, string> = new Map<unknown, string>([
  ['off', 'Off'],
  ['keep', 'On'],
  ['dog', 'Dog'],
  ['camp', 'Party'],
]);

/**
 * vehicle_data `defrost_mode` integer → DefrostModeState. Uncertain: Tesla does not document
 * the integers. 0 = off is certain (HA's polling switch is `bool(value)`); 2 = max defrost is
 * what third-party clients test for after `set_preconditioning_max` (together with
 * `is_front_defroster_on`), and 1 = normal defrost is the remaining value. Whether some
 * integer means AutoDefog is unknown, so no integer maps to it: any other value stays the
 * number it came as.
 */
const DEFROST_MODE: ReadonlyMap<unknown, string> = new Map<unknown, string>([
  [0, 'Off'],
  [1, 'Normal'],
  [2, 'Max'],
]);

/**
 * vehicle_data `fd_window`/`fp_window`/`rd_window`/`rp_window` integer → WindowState: 0 is
 * closed, anything else open (HA's cover uses 1 = open; vehicle_data has no "partially open",
 * so telemetry's `PartiallyOpen` is never produced from the API).
 */
const WINDOW: Translation = {
  vehicleData: 'integer: 0 closed, non-zero open',
  produces: ['Closed', 'Opened'],
  translate: (raw) => (isFiniteNumber(raw) ? (raw === 0 ? 'Closed' : 'Opened') : raw),
};

/**
 * vehicle_data door/trunk keys → the stream's `door_value` object keys (HA binary_sensor /
 * cover: df = driver front, dr = driver rear, pf = passenger front, pr = passenger rear,
 * ft = front trunk, rt = rear trunk). The catalogue notes that the *stream* swapped passenger
 * front and driver rear before firmware 2024.44.32; vehicle_data's keys are taken at their word.
 */
const DOORS: ReadonlyMap<string, string> = new Map([
  ['df', 'DriverFront'],
  ['dr', 'DriverRear'],
  ['pf', 'PassengerFront'],
  ['pr', 'PassengerRear'],
  ['ft', 'TrunkFront'],
  ['rt', 'TrunkRear'],
]);

/** One door value: 0/1 (or a boolean) → boolean; anything else → undefined (unknown). */
function doorOpen(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (isFiniteNumber(v)) return v !== 0;
  return undefined;
}

/**
 * The door object, or `null` when any door is null or missing: the stream's `door_value`
 * always carries all six booleans, so a partial object would be a shape it never sends.
 */
function doors(raw: unknown): unknown {
  const o = raw as Record<string, unknown>;
  const out: Record<string, boolean> = {};
  for (const [leaf, key] of DOORS) {
    const open = doorOpen(o[leaf]);
    if (open === undefined) return null;
    out[key] = open;
  }
  return out;
}

/** Two coordinate leaves → `{latitude, longitude}`, or `null` when either is null, missing or not a number. */
function latLon(latLeaf: string, lonLeaf: string): Translation {
  return {
    vehicleData: `${latLeaf} + ${lonLeaf} (numbers)`,
    leaves: [latLeaf, lonLeaf],
    translate: (raw) => {
      const o = raw as Record<string, unknown>;
      const latitude = o[latLeaf];
      const longitude = o[lonLeaf];
      return isFiniteNumber(latitude) && isFiniteNumber(longitude) ? { latitude, longitude } : null;
    },
  };
}

/**
 * THE translation table: field name → how its vehicle_data value becomes telemetry's value
 * (the result then goes through `normalise(field, …)` like a stream value). Only fields whose
 * vocabulary differs are here; see `VEHICLE_DATA_SAME_VOCABULARY` for the enum fields checked
 * to need none, and `INVALID_VALUE` for the rule that applies to every field.
 *
 * Not translated, deliberately (every other catalogue path is mapped as it is):
 * - `HvacLeftTemperatureRequest`/`HvacRightTemperatureRequest`: telemetry is side-based,
 *   vehicle_data driver/passenger-based; on a right-hand-drive car (`vehicle_config.rhd`) the
 *   two are swapped against the stream. The catalogue's paths are used as they are.
 * - `TimeToFullCharge`: the catalogue's `charge_state.time_to_full_charge` is in hours, like
 *   the stream; vehicle_data's `minutes_to_full_charge` (what HA uses, ×60) is not used.
 * - `Version`: vehicle_data's `car_version` carries the build hash (`"2023.7.20 7910d26d5c64"`).
 * - `SoftwareUpdateVersion`: vehicle_data sends `" "` when there is no update.
 */
export const VEHICLE_DATA_TRANSLATIONS: ReadonlyMap<string, Translation> = new Map<string, Translation>([
  [
    'SentryMode',
    {
      vehicleData: 'sentry_mode boolean: true armed, false off (no Idle/Aware/Panic/Quiet distinction)',
      produces: ['Armed', 'Off'],
      translate: lookup(SENTRY_MODE),
    },
  ],
  ['FdWindow', WINDOW],
  ['FpWindow', WINDOW],
  ['RdWindow', WINDOW],
  ['RpWindow', WINDOW],
  [
    'DoorState',
    {
      vehicleData: 'df, dr, pf, pr, ft, rt integers 0/1',
      leaves: [...DOORS.keys()],
      translate: doors,
    },
  ],
  ['Location', latLon('latitude', 'longitude')],
  ['DestinationLocation', latLon('active_route_latitude', 'active_route_longitude')],
  [
    'ClimateKeeperMode',
    {
      vehicleData: 'climate_keeper_mode "off"/"keep"/"dog"/"camp"',
      produces: [...CLIMATE_KEEPER_MODE.values()],
      translate: lookup(CLIMATE_KEEPER_MODE),
    },
  ],
  [
    'DefrostMode',
    {
      vehicleData: 'defrost_mode integer 0/1/2 (undocumented; see DEFROST_MODE)',
      produces: [...DEFROST_MODE.values()],
      translate: lookup(DEFROST_MODE),
    },
  ],
]);

/**
 * Enum fields whose vehicle_data strings already are telemetry's prefix-stripped value names
 * (checked against the catalogue's notes and `legacyValues`), so `normalise` alone suffices:
 * `charging_state` "Charging" = DetailedChargeStateCharging, `shift_state` "D" (or null),
 * `charge_port_latch` "Engaged", `cabin_overheat_protection` "Off"/"On"/"FanOnly",
 * `cop_activation_temperature` "Low"/"Medium"/"High", `conn_charge_cable` "IEC"/"SAE"/…,
 * `fast_charger_type` "Supercharger"/…, `scheduled_charging_mode` "Off"/"StartAt"/"DepartBy",
 * `media_playback_status` "Playing"/…. Every enum field with a `vehicleData` path must be
 * either here or in the translation table (checked at load).
 */
export const VEHICLE_DATA_SAME_VOCABULARY: readonly string[] = [
  'DetailedChargeState',
  'Gear',
  'ChargePortLatch',
  'CabinOverheatProtectionMode',
  'CabinOverheatProtectionTemperatureLimit',
  'ChargingCableType',
  'FastChargerType',
  'ScheduledChargingMode',
  'MediaPlaybackStatus',
];

/* ------------------------------------------------------------------------------------------
 * Per-field paths, computed once
 * ---------------------------------------------------------------------------------------- */

interface FieldMap {
  readonly name: string;
  /** Paths split into segments, in catalogue order. */
  readonly paths: readonly (readonly string[])[];
  /** The last segment of each path (keys of `raw` for multi-path fields). */
  readonly leaves: readonly string[];
  readonly translate: ((raw: unknown) => unknown) | undefined;
}

function splitPaths(spec: string): string[][] {
  return spec.split(',').map((p) => p.trim().split('.'));
}

function buildMaps(): FieldMap[] {
  const maps: FieldMap[] = [];
  for (const entry of CATALOGUE) {
    if (!entry.vehicleData) continue;
    const paths = splitPaths(entry.vehicleData);
    const leaves = paths.map((p) => p[p.length - 1]);
    if (new Set(leaves).size !== leaves.length) {
      throw new Error(`vehicle-data-map: ${entry.name} has two paths with the same leaf name`);
    }
    const t = VEHICLE_DATA_TRANSLATIONS.get(entry.name);
    if (paths.length > 1) {
      if (!t || !t.leaves) throw new Error(`vehicle-data-map: ${entry.name} is built from several paths and needs a translation`);
      if (!isDeepStrictEqual([...t.leaves].sort(), [...leaves].sort())) {
        throw new Error(`vehicle-data-map: ${entry.name}: translation reads ${t.leaves.join(',')}, catalogue has ${leaves.join(',')}`);
      }
    }
    maps.push({ name: entry.name, paths, leaves, translate: t?.translate });
  }
  return maps;
}

/** Load-time checks of the table against the catalogue and the enum lists (no retyped data goes unchecked). */
function checkTable(maps: readonly FieldMap[]): void {
  const mapped = new Set(maps.map((m) => m.name));
  for (const [name, t] of VEHICLE_DATA_TRANSLATIONS) {
    if (!mapped.has(name)) throw new Error(`vehicle-data-map: translation for ${name}, which has no vehicleData path`);
    const info = FIELDS.get(name);
    if (t.produces && info?.enumValues) {
      for (const v of t.produces) {
        if (!info.enumValues.includes(`${info.enumPrefix ?? ''}${v}`)) {
          throw new Error(`vehicle-data-map: ${name} translates to ${v}, not a value of ${info.enum}`);
        }
      }
    }
  }
  for (const name of VEHICLE_DATA_SAME_VOCABULARY) {
    if (!mapped.has(name)) throw new Error(`vehicle-data-map: ${name} listed as same vocabulary but has no vehicleData path`);
  }
  for (const m of maps) {
    const info = FIELDS.get(m.name);
    if (info?.kind === 'enum' && !VEHICLE_DATA_TRANSLATIONS.has(m.name) && !VEHICLE_DATA_SAME_VOCABULARY.includes(m.name)) {
      throw new Error(`vehicle-data-map: enum field ${m.name} needs a translation or a same-vocabulary entry`);
    }
  }
}

const MAPS: readonly FieldMap[] = buildMaps();
checkTable(MAPS);

/** Fields mapped from vehicle_data (catalogue `vehicleData`), in catalogue order. */
export const VEHICLE_DATA_FIELDS: readonly string[] = MAPS.map((m) => m.name);

/** Field → its vehicle_data path(s), dotted, in catalogue order. */
export const VEHICLE_DATA_PATHS: ReadonlyMap<string, readonly string[]> = new Map(MAPS.map((m) => [m.name, m.paths.map((p) => p.join('.'))]));

/**
 * Catalogue `vehicleDataCandidate`s: name matches no source confirms. Exported for reference,
 * NOT mapped: several differ in unit (`expected_duration_sec` vs minutes) or vocabulary
 * (`gui_distance_units` "mi/hr" vs DistanceUnit), two would duplicate a confirmed mapping
 * (`DCChargingPower`/`DCChargingEnergyIn` vs the AC fields), and a guessed mapping would break
 * the promise that both sources give one payload for one fact.
 */
export const VEHICLE_DATA_CANDIDATES: readonly { readonly field: string; readonly paths: readonly string[] }[] = CATALOGUE.filter(
  (e) => e.vehicleDataCandidate,
).map((e) => ({
  field: e.name,
  paths: splitPaths(e.vehicleDataCandidate as string).map((p) => p.join('.')),
}));

/* ------------------------------------------------------------------------------------------
 * Mapping
 * ---------------------------------------------------------------------------------------- */

const MISSING: unique symbol = Symbol('missing');
const hasOwn = Object.prototype.hasOwnProperty;

/**
 * The value at a split path. A key that is absent (or `undefined`) is MISSING; `null` at the
 * leaf, or an object on the way that is `null` (`speed_limit_mode: null`), is a present `null`:
 * vehicle_data said "no value", which the stream says with `null` too.
 */
function valueAt(root: object, path: readonly string[]): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null) return null;
    if (typeof cur !== 'object' || Array.isArray(cur)) return MISSING;
    const next = hasOwn.call(cur, seg) ? (cur as Record<string, unknown>)[seg] : undefined;
    if (next === undefined) return MISSING;
    cur = next;
  }
  return cur;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The inner `response` object of a vehicle_data answer: accepts the answer itself
 * (`{response: {...}}`) or the inner object. `null` for anything else (including an error
 * body `{response: null, error: "..."}`).
 */
export function unwrapVehicleData(response: unknown): Record<string, unknown> | null {
  if (!isPlainObject(response)) return null;
  if (hasOwn.call(response, 'response')) {
    const inner = response.response;
    return isPlainObject(inner) ? inner : null;
  }
  return response;
}

/** One mapped field. */
export interface MappedField {
  field: string;
  /** Normalised, in telemetry's vocabulary. */
  payload: unknown;
  /** The vehicle_data value at the path; for a multi-path field, `{leaf: value}` of the present paths. */
  raw: unknown;
}

/** A field filter: names to keep. Empty or absent = every field (as `telemetry-in`'s `fields`). */
export type FieldFilter = ReadonlySet<string> | readonly string[] | null | undefined;

export interface MapOptions {
  fields?: FieldFilter;
}

function filterSet(fields: FieldFilter): ReadonlySet<string> | null {
  if (!fields) return null;
  const set: ReadonlySet<string> = fields instanceof Set ? fields : new Set(fields as readonly string[]);
  return set.size ? set : null;
}

/**
 * Every catalogue field whose vehicleData path(s) the response contains, in catalogue order.
 * A path present with `null` counts (payload `null`); a path missing entirely omits the field;
 * a multi-path field is present when any of its paths is.
 */
export function mapVehicleData(response: unknown, options: MapOptions = {}): MappedField[] {
  const inner = unwrapVehicleData(response);
  if (!inner) return [];
  const only = filterSet(options.fields);
  const out: MappedField[] = [];
  for (const m of MAPS) {
    if (only && !only.has(m.name)) continue;
    if (m.paths.length === 1) {
      const v = valueAt(inner, m.paths[0]);
      if (v === MISSING) continue;
      const payload = v === null || v === INVALID_VALUE ? null : normalise(m.name, m.translate ? m.translate(v) : v);
      out.push({ field: m.name, payload, raw: v });
      continue;
    }
    let raw: Record<string, unknown> | null = null;
    for (let i = 0; i < m.paths.length; i++) {
      const v = valueAt(inner, m.paths[i]);
      if (v === MISSING) continue;
      (raw ??= {})[m.leaves[i]] = v;
    }
    if (!raw) continue;
    // Multi-path fields always have a translation (checked at load).
    out.push({ field: m.name, payload: normalise(m.name, (m.translate as (r: unknown) => unknown)(raw)), raw });
  }
  return out;
}

/* ------------------------------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------------------------- */

export interface ApiMessageOptions extends MapOptions {
  mode: 'field' | 'vehicle';
  /** ms since the epoch; `Date.now()` when absent. */
  receivedAt?: number;
  /** Mode `vehicle`: the last snapshot's payload; fields that differ from it (deep) are `changed`. */
  previous?: Readonly<Record<string, unknown>> | null;
}

/**
 * Messages in the `telemetry-in` contract with `source: "api"` and `retain: false`, each with
 * `msg.vehicleData` = the inner `response` object. Mode `field`: one message per mapped field,
 * all sharing ONE `vehicleData` reference (not copied per message; a downstream node that
 * mutates it changes it for its siblings). Mode `vehicle`: one snapshot whose `changed` lists
 * the fields that differ from `previous` (deep-equal as the stream's coalescer compares;
 * every field when no `previous`). No mapped field → no message.
 */
export function apiMessages(vin: string, response: unknown, options: ApiMessageOptions): CarMessage[] {
  const inner = unwrapVehicleData(response);
  if (!inner) return [];
  const mapped = mapVehicleData(inner, options);
  if (mapped.length === 0) return [];
  const receivedAt = isFiniteNumber(options.receivedAt) ? options.receivedAt : Date.now();
  if (options.mode === 'vehicle') {
    const payload: Record<string, unknown> = {};
    const raw: Record<string, unknown> = {};
    const changed: string[] = [];
    const previous = options.previous;
    for (const f of mapped) {
      payload[f.field] = f.payload;
      raw[f.field] = f.raw;
      if (!previous || !hasOwn.call(previous, f.field) || !isDeepStrictEqual(previous[f.field], f.payload)) {
        changed.push(f.field);
      }
    }
    const msg = snapshotMessage(vin, payload, changed, raw, 'api', receivedAt, false);
    msg.vehicleData = inner;
    return [msg];
  }
  return mapped.map((f) => {
    const msg = fieldMessage(vin, f.field, f.payload, f.raw, 'api', receivedAt, false);
    msg.vehicleData = inner;
    return msg;
  });
}
