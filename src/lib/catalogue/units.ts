/**
 * The units a user reads: `sent` (as Tesla sends them: mi, mph, °C, bar), `metric` (km, km/h,
 * °C, bar), `imperial` (mi, mph, °F, psi) or `car` (what the car's own SettingDistanceUnit,
 * SettingTemperatureUnit and SettingTirePressureUnit say; `sent` until they are known).
 *
 * Only numeric payloads of fields whose catalogue unit is mi, mph, °C or bar are converted,
 * with exact factors and no rounding; `raw` is never touched. Every field's conversions are
 * built once at load, so a message costs a Map look-up and, for a converted field, one
 * multiply (and an add for °F).
 */
import { FIELDS } from './index';
import type { CarMessage } from '../common/messages';

export type UnitsChoice = 'sent' | 'metric' | 'imperial' | 'car';

export const UNITS_CHOICES: readonly UnitsChoice[] = ['sent', 'metric', 'imperial', 'car'];

/** An editor value as a units choice (`sent` for anything else). */
export function parseUnits(value: unknown): UnitsChoice {
  return UNITS_CHOICES.includes(value as UnitsChoice) ? (value as UnitsChoice) : 'sent';
}

/** What a convertible unit measures; the car has one setting per quantity. */
type Quantity = 'distance' | 'speed' | 'temperature' | 'pressure';

interface UnitRow {
  /** The catalogue's unit (what Tesla sends). */
  sent: string;
  quantity: Quantity;
  /** The other unit, and how to get there from a number in the sent unit. */
  other: string;
  toOther: (v: number) => number;
  /** Which of the two `metric` and `imperial` use. */
  metric: 'sent' | 'other';
  imperial: 'sent' | 'other';
}

/**
 * The unit names and factors, in one table: 1 mi = 1.609344 km, °F = °C × 9/5 + 32,
 * 1 bar = 14.5037738 psi.
 */
const UNIT_TABLE: readonly UnitRow[] = [
  { sent: 'mi', quantity: 'distance', other: 'km', toOther: (v) => v * 1.609344, metric: 'other', imperial: 'sent' },
  { sent: 'mph', quantity: 'speed', other: 'km/h', toOther: (v) => v * 1.609344, metric: 'other', imperial: 'sent' },
  { sent: '°C', quantity: 'temperature', other: '°F', toOther: (v) => (v * 9) / 5 + 32, metric: 'sent', imperial: 'other' },
  { sent: 'bar', quantity: 'pressure', other: 'psi', toOther: (v) => v * 14.5037738, metric: 'sent', imperial: 'other' },
];

const ROW_OF_UNIT: ReadonlyMap<string, UnitRow> = new Map(UNIT_TABLE.map((r) => [r.sent, r]));

/**
 * The car's settings: field → the quantities it governs, and the (normalised) value that
 * means the car shows the table's `other` unit. Speed follows the distance setting (the car shows
 * km/h when it shows km). Any other value (`Miles`, `Celsius`, `Bar`, `Unknown`) means as sent.
 */
const CAR_SETTINGS: ReadonlyMap<string, { quantities: readonly Quantity[]; other: string }> = new Map([
  ['SettingDistanceUnit', { quantities: ['distance', 'speed'], other: 'Kilometers' }],
  ['SettingTemperatureUnit', { quantities: ['temperature'], other: 'Fahrenheit' }],
  ['SettingTirePressureUnit', { quantities: ['pressure'], other: 'Psi' }],
]);

/** The fields whose value decides the `car` units. */
export const CAR_UNIT_FIELDS: ReadonlySet<string> = new Set(CAR_SETTINGS.keys());

/** What the car shows, per quantity: true = the table's `other` unit, false = as sent. */
export type CarUnits = Readonly<Record<Quantity, boolean>>;

/** Units as sent: what `car` uses until the car's settings are known. */
export const SENT_UNITS: CarUnits = Object.freeze({ distance: false, speed: false, temperature: false, pressure: false });

/** The words of a setting's enum, prefix stripped (`Unknown`, `Miles`, `Kilometers`), index = number. */
function settingWords(field: string): readonly string[] {
  const info = FIELDS.get(field);
  if (!info?.enumValues) throw new Error(`units: ${field} is not an enum field of the catalogue`);
  const cut = info.enumPrefix?.length ?? 0;
  return info.enumValues.map((name) => name.slice(cut));
}

const SETTING_WORDS: ReadonlyMap<string, readonly string[]> = new Map(
  [...CAR_SETTINGS].map(([field, s]) => {
    const words = settingWords(field);
    if (!words.includes(s.other)) throw new Error(`units: ${field} has no value ${s.other}`);
    return [field, words];
  }),
);

/**
 * A setting's normalised value as a word of its enum. Normalising strips the enum prefix from a
 * string (`Kilometers`); an enum number (`2`, `"2"`) stays a number, so it is looked up here.
 */
function settingWord(field: string, value: unknown): string | undefined {
  if (typeof value === 'string' && !/^\d+$/.test(value)) return value;
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isInteger(n) ? SETTING_WORDS.get(field)?.[n] : undefined;
}

/**
 * The car's units from its settings (`value(field)` reads the car state). A setting that is
 * missing, unknown or `Unknown` leaves its quantities as sent.
 */
export function carUnitsFrom(value: (field: string) => unknown): CarUnits {
  const out: Record<Quantity, boolean> = { ...SENT_UNITS };
  let any = false;
  for (const [field, s] of CAR_SETTINGS) {
    const word = settingWord(field, value(field));
    if (word !== s.other) continue;
    for (const q of s.quantities) out[q] = true;
    any = true;
  }
  return any ? Object.freeze(out) : SENT_UNITS;
}

/** One field's payload in one unit: its unit name, and the function that gets it there. */
export interface Conversion {
  /** The payload's unit after `apply` (the catalogue unit when not converted), or null. */
  readonly unit: string | null;
  /** Numbers are converted; anything else (null, a string that is not a number) is returned as it came. */
  readonly apply: (payload: unknown) => unknown;
}

const identity = (v: unknown): unknown => v;
const NO_UNIT: Conversion = Object.freeze({ unit: null, apply: identity });

function numbersOnly(to: (v: number) => number): (v: unknown) => unknown {
  return (v) => (typeof v === 'number' ? to(v) : v);
}

interface FieldUnits {
  sent: Conversion;
  other: Conversion | null;
  quantity: Quantity | null;
  metric: Conversion;
  imperial: Conversion;
}

function fieldUnits(unit: string | null): FieldUnits {
  if (unit === null) return { sent: NO_UNIT, other: null, quantity: null, metric: NO_UNIT, imperial: NO_UNIT };
  const sent: Conversion = Object.freeze({ unit, apply: identity });
  const row = ROW_OF_UNIT.get(unit);
  if (!row) return { sent, other: null, quantity: null, metric: sent, imperial: sent };
  const other: Conversion = Object.freeze({ unit: row.other, apply: numbersOnly(row.toOther) });
  return {
    sent,
    other,
    quantity: row.quantity,
    metric: row.metric === 'other' ? other : sent,
    imperial: row.imperial === 'other' ? other : sent,
  };
}

/** Every catalogue field's conversions, built once. */
const FIELD_UNITS: ReadonlyMap<string, FieldUnits> = new Map([...FIELDS.values()].map((f) => [f.name, fieldUnits(f.unit)]));
const UNKNOWN_FIELD = fieldUnits(null);

/** The conversions of one units choice. `car` needs the car's units per call. */
export class UnitConverter {
  private readonly fixed: ReadonlyMap<string, Conversion> | null;

  constructor(readonly choice: UnitsChoice) {
    if (choice === 'car') {
      this.fixed = null;
      return;
    }
    const key = choice === 'metric' ? 'metric' : choice === 'imperial' ? 'imperial' : 'sent';
    this.fixed = new Map([...FIELD_UNITS].map(([name, u]) => [name, u[key]]));
  }

  /** True when this choice needs the car's settings (`car`). */
  get needsCar(): boolean {
    return this.fixed === null;
  }

  /** The conversion of a field; `car` units from `car` (as sent when omitted). */
  of(field: string, car: CarUnits = SENT_UNITS): Conversion {
    if (this.fixed) return this.fixed.get(field) ?? NO_UNIT;
    const u = FIELD_UNITS.get(field) ?? UNKNOWN_FIELD;
    return u.quantity !== null && car[u.quantity] && u.other ? u.other : u.sent;
  }

  /**
   * Convert a `data` or `vehicle` message in place (the message and a snapshot's payload object
   * must be the caller's own) and set `msg.unit` / `msg.units`. `raw` is untouched.
   */
  applyTo(msg: CarMessage, car: CarUnits = SENT_UNITS): void {
    if (msg.event === 'data' && typeof msg.field === 'string') {
      const c = this.of(msg.field, car);
      msg.payload = c.apply(msg.payload);
      msg.unit = c.unit;
      return;
    }
    if (msg.event !== 'vehicle' || !msg.payload || typeof msg.payload !== 'object') return;
    const payload = msg.payload as Record<string, unknown>;
    const units: Record<string, string> = {};
    for (const field in payload) {
      const c = this.of(field, car);
      if (c.unit === null) continue;
      units[field] = c.unit;
      if (c.apply !== identity) payload[field] = c.apply(payload[field]);
    }
    msg.units = units;
  }
}
