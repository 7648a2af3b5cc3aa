/**
 * docs/message-contract.md "Normalising a value": legacy strings and typed values give one payload.
 * Each field gets its normaliser once (a closure chosen by kind), so the hot path is a
 * Map look-up and one call. The regexes are module constants, compiled once.
 */
import { FIELDS, FieldInfo, FieldKind } from '../catalogue/index';

export type Normaliser = (raw: unknown) => unknown;

/** Optional sign, digits with an optional fraction, optional exponent. */
const NUMERIC = /^[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
/** Legacy location string: `(37.412374 S, 122.145867 E)`. */
const LEGACY_LOCATION = /^\(\s*([+-]?\d+(?:\.\d+)?)\s*([NS])\s*,\s*([+-]?\d+(?:\.\d+)?)\s*([EW])\s*\)$/;

function isEmptyObject(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  for (const _ in v) return false;
  return true;
}

/** A numeric string as a number; anything else unchanged. */
export function parseNumeric(v: unknown): unknown {
  if (typeof v !== 'string' || !NUMERIC.test(v)) return v;
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
}

/** A legacy `(lat N|S, lon E|W)` string as `{latitude, longitude}`; anything else unchanged. */
export function parseLegacyLocation(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const m = LEGACY_LOCATION.exec(v);
  if (!m) return v;
  const lat = Number(m[1]) * (m[2] === 'S' ? -1 : 1);
  const lon = Number(m[3]) * (m[4] === 'W' ? -1 : 1);
  return { latitude: lat, longitude: lon };
}

function numberValue(raw: unknown): unknown {
  return typeof raw === 'string' ? parseNumeric(raw) : raw;
}

function booleanValue(raw: unknown): unknown {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  return raw;
}

function enumValue(prefix: string): Normaliser {
  const len = prefix.length;
  return (raw) => (typeof raw === 'string' && len > 0 && raw.length > len && raw.startsWith(prefix) ? raw.slice(len) : raw);
}

const identity: Normaliser = (raw) => raw;

/** Rules 1 and 2 wrap the kind's own rule: null stays null, `{}` becomes null where it means "undecodable". */
function withNulls(inner: Normaliser, emptyObjectIsNull: boolean): Normaliser {
  return (raw) => {
    if (raw === null) return null;
    if (emptyObjectIsNull && typeof raw === 'object' && isEmptyObject(raw)) return null;
    return inner(raw);
  };
}

function normaliserFor(kind: FieldKind, info: FieldInfo | undefined): Normaliser {
  const emptyIsNull = kind !== 'tireLocation' && kind !== 'unknown';
  switch (kind) {
    case 'number':
    case 'integer':
      return withNulls(numberValue, emptyIsNull);
    case 'boolean':
      return withNulls(booleanValue, emptyIsNull);
    case 'enum':
      return withNulls(enumValue(info?.enumPrefix ?? ''), emptyIsNull);
    case 'location':
      return withNulls(parseLegacyLocation, emptyIsNull);
    default:
      return withNulls(identity, emptyIsNull);
  }
}

const NORMALISERS: ReadonlyMap<string, Normaliser> = new Map([...FIELDS.values()].map((f) => [f.name, normaliserFor(f.kind, f)]));
const UNKNOWN_FIELD: Normaliser = normaliserFor('unknown', undefined);

/** The normaliser of a field (kind `unknown` for a field the catalogue lacks). */
export function normaliserOf(field: string): Normaliser {
  return NORMALISERS.get(field) ?? UNKNOWN_FIELD;
}

/** Normalise one field's raw value. */
export function normalise(field: string, raw: unknown): unknown {
  return normaliserOf(field)(raw);
}
