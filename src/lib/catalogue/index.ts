/**
 * The one place the package's data lives: the field catalogue and the enum lists copied
 * verbatim from the upstream catalogue (a test checks they are identical). Everything derived from
 * them (enum prefixes, look-up tables) is computed here once at load time, so the hot
 * path only does Map look-ups.
 */
import catalogueJson from './data/field-catalogue.json';
import enumsJson from './data/telemetry-enums.json';

export type FieldKind = 'number' | 'integer' | 'boolean' | 'enum' | 'string' | 'location' | 'doors' | 'time' | 'tireLocation' | 'unknown';

/** One entry of data/field-catalogue.json. */
export interface CatalogueEntry {
  name: string;
  id: number;
  kind: FieldKind;
  unit: string | null;
  /** vehicle_data path(s), comma-separated when the field is built from several. */
  vehicleData: string | null;
  vehicleDataCandidate?: string;
  enum?: string;
  legacyValues?: string[];
  knownValues?: string[];
  source?: string;
  note?: string;
}

/** A catalogue entry with what is derived from it. */
export interface FieldInfo extends CatalogueEntry {
  /** For enums: the longest common prefix of the enum's value names, e.g. `ShiftState`. */
  enumPrefix?: string;
  /** For enums: the value names, index = numeric value. */
  enumValues?: readonly string[];
}

export const CATALOGUE: readonly CatalogueEntry[] = catalogueJson as CatalogueEntry[];
export const ENUMS: Readonly<Record<string, readonly string[]>> = enumsJson as Record<string, string[]>;

/** The longest common prefix of a list of strings (`''` for an empty list). */
export function commonPrefix(values: readonly string[]): string {
  if (values.length === 0) return '';
  let prefix = values[0];
  for (const v of values) {
    let i = 0;
    while (i < prefix.length && i < v.length && prefix.charCodeAt(i) === v.charCodeAt(i)) i++;
    prefix = prefix.slice(0, i);
    if (prefix === '') break;
  }
  return prefix;
}

/** Enum name → prefix, derived from the enum list. */
export const ENUM_PREFIXES: ReadonlyMap<string, string> = new Map(Object.entries(ENUMS).map(([name, values]) => [name, commonPrefix(values)]));

function derive(entry: CatalogueEntry): FieldInfo {
  if (entry.kind !== 'enum' || !entry.enum) return entry;
  const enumValues = ENUMS[entry.enum];
  if (!enumValues) throw new Error(`catalogue: field ${entry.name} names unknown enum ${entry.enum}`);
  return { ...entry, enumValues, enumPrefix: ENUM_PREFIXES.get(entry.enum) };
}

/** Field name (proto enum name) → field info. */
export const FIELDS: ReadonlyMap<string, FieldInfo> = new Map(CATALOGUE.map((e) => [e.name, derive(e)]));

/** Field number → field info (the server publishes unknown field numbers as digits). */
export const FIELDS_BY_ID: ReadonlyMap<number, FieldInfo> = new Map([...FIELDS.values()].map((f) => [f.id, f]));

/** Every field name, in catalogue order (for editors' autocomplete). */
export const FIELD_NAMES: readonly string[] = CATALOGUE.map((e) => e.name);

/** Field info for a topic's field segment, or undefined for a field the catalogue lacks. */
export function fieldInfo(name: string): FieldInfo | undefined {
  return FIELDS.get(name);
}
