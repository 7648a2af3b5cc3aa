/**
 * The car state a `telemetry-broker` keeps: per VIN, every field's latest normalised value with
 * `updatedAt` (ms of its last *live* arrival; `null` when it was only ever seen retained), the
 * last connectivity payload and the VIN's last live time.
 *
 * On the hot path (`update`, once per decoded message before it fans out): one Map look-up for
 * the VIN, one for the field, and assignments into the field's existing record. A deep
 * comparison only for a retained message (is it the value we hold?). Object values (locations,
 * doors) are copied once when stored, so a flow that changes the payload it was sent cannot
 * change the state.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Decoded } from './decode';
import { copyJson } from '../common/messages';
import { CAR_UNIT_FIELDS, CarUnits, carUnitsFrom } from '../catalogue/units';

interface FieldRecord {
  value: unknown;
  updatedAt: number | null;
}

interface VinState {
  fields: Map<string, FieldRecord>;
  connectivity: unknown;
  lastLive: number | null;
  /** The car's display units, derived from its settings when first asked; reset when one changes. */
  units: CarUnits | null;
}

/** One VIN as it is written to the state file. */
export interface VinRecord {
  lastLive: number | null;
  connectivity: unknown;
  /** Field → [normalised value, updatedAt]. */
  fields: Record<string, [unknown, number | null]>;
}

/** A VIN's fields as a message carries them. */
export interface StateSnapshot {
  payload: Record<string, unknown>;
  updatedAt: Record<string, number | null>;
}

/** A stored value that a file gave us in a shape we do not write. */
export class StateShapeError extends Error {}

/** Equal as values: numbers numerically (-0 equals 0), objects deeply. */
function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === 'object' && a !== null && typeof b === 'object' && isDeepStrictEqual(a, b));
}

const own = copyJson;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isTime(v: unknown): v is number | null {
  return v === null || (typeof v === 'number' && Number.isFinite(v));
}

export class CarState {
  private readonly vins = new Map<string, VinState>();
  /** Goes up on every change of what is stored; the state file writes when it moved. */
  changes = 0;

  get size(): number {
    return this.vins.size;
  }

  has(vin: string): boolean {
    return this.vins.has(vin);
  }

  vinList(): string[] {
    return [...this.vins.keys()];
  }

  /**
   * Store what a decoded message says; returns its `updatedAt` for a `data` message (null for
   * the other kinds): `receivedAt` when live; for a retained message equal to the stored value,
   * the stored `updatedAt`; otherwise null.
   */
  update(d: Decoded): number | null {
    let rec = this.vins.get(d.vin);
    if (rec === undefined) {
      rec = { fields: new Map(), connectivity: null, lastLive: null, units: null };
      this.vins.set(d.vin, rec);
      this.changes++;
    }
    if (d.live) {
      rec.lastLive = d.receivedAt;
      this.changes++;
    }
    if (d.kind === 'connectivity') {
      rec.connectivity = own(d.payload);
      this.changes++;
      return null;
    }
    if (d.kind !== 'data') return null;
    const f = rec.fields.get(d.name);
    let updatedAt: number | null = d.receivedAt;
    if (d.retain) {
      if (f !== undefined && sameValue(f.value, d.payload)) return f.updatedAt;
      updatedAt = null;
    }
    if (f === undefined) rec.fields.set(d.name, { value: own(d.payload), updatedAt });
    else {
      f.value = own(d.payload);
      f.updatedAt = updatedAt;
    }
    if (CAR_UNIT_FIELDS.has(d.name)) rec.units = null;
    this.changes++;
    return updatedAt;
  }

  /**
   * What `updatedAt` a message would carry, without storing it: `receivedAt` when live; for a
   * retained value deeply equal to the stored one, the stored `updatedAt`; otherwise null.
   */
  updatedAtFor(vin: string, field: string, value: unknown, retained: boolean, receivedAt: number): number | null {
    if (!retained) return receivedAt;
    const f = this.vins.get(vin)?.fields.get(field);
    return f !== undefined && sameValue(f.value, value) ? f.updatedAt : null;
  }

  /** A field's stored value (undefined when none). Objects are the stored ones: do not change them. */
  value(vin: string, field: string): unknown {
    return this.vins.get(vin)?.fields.get(field)?.value;
  }

  /** When a field's value last arrived live (null: only seen retained), undefined when none is stored. */
  updatedAt(vin: string, field: string): number | null | undefined {
    return this.vins.get(vin)?.fields.get(field)?.updatedAt;
  }

  /** When the last live message of a VIN arrived (null: never), undefined for an unknown VIN. */
  lastLive(vin: string): number | null | undefined {
    return this.vins.get(vin)?.lastLive;
  }

  /** The last connectivity payload of a VIN (a copy), or null. */
  connectivity(vin: string): unknown {
    return own(this.vins.get(vin)?.connectivity ?? null);
  }

  /** The units the car itself shows, from its settings in the state (as sent until known). */
  carUnits(vin: string): CarUnits {
    const rec = this.vins.get(vin);
    if (!rec) return carUnitsFrom(() => undefined);
    if (rec.units === null) rec.units = carUnitsFrom((field) => rec.fields.get(field)?.value);
    return rec.units;
  }

  /**
   * A VIN's fields (only those in `fields` when given) as fresh objects a message can carry, or
   * undefined when the VIN has no field stored.
   */
  snapshot(vin: string, fields?: ReadonlySet<string> | null): StateSnapshot | undefined {
    const rec = this.vins.get(vin);
    if (!rec) return undefined;
    const payload: Record<string, unknown> = {};
    const updatedAt: Record<string, number | null> = {};
    let any = false;
    for (const [name, f] of rec.fields) {
      if (fields && !fields.has(name)) continue;
      payload[name] = own(f.value);
      updatedAt[name] = f.updatedAt;
      any = true;
    }
    return any ? { payload, updatedAt } : undefined;
  }

  /** One VIN for the state file (values are the stored ones, not copies: serialise at once). */
  record(vin: string): VinRecord | undefined {
    const rec = this.vins.get(vin);
    if (!rec) return undefined;
    const fields: Record<string, [unknown, number | null]> = {};
    for (const [name, f] of rec.fields) fields[name] = [f.value, f.updatedAt];
    return { lastLive: rec.lastLive, connectivity: rec.connectivity, fields };
  }

  /**
   * Replace the state with the VINs of a state file (`{VIN: VinRecord}`). Everything is checked
   * first: a record of the wrong shape throws StateShapeError naming it, and nothing is changed.
   */
  restore(vins: unknown): void {
    if (!isPlainObject(vins)) throw new StateShapeError('"vins" is not an object');
    const restored = new Map<string, VinState>();
    for (const [vin, r] of Object.entries(vins)) {
      if (!vin) throw new StateShapeError('a VIN is empty');
      if (!isPlainObject(r)) throw new StateShapeError(`${vin} is not an object`);
      if (!isTime(r.lastLive)) throw new StateShapeError(`${vin}: lastLive is not a time`);
      if (r.connectivity !== null && !isPlainObject(r.connectivity)) throw new StateShapeError(`${vin}: connectivity is not an object`);
      if (!isPlainObject(r.fields)) throw new StateShapeError(`${vin}: fields is not an object`);
      const fields = new Map<string, FieldRecord>();
      for (const [name, pair] of Object.entries(r.fields)) {
        if (!Array.isArray(pair) || pair.length !== 2 || !isTime(pair[1])) {
          throw new StateShapeError(`${vin}/${name} is not [value, updatedAt]`);
        }
        fields.set(name, { value: pair[0], updatedAt: pair[1] });
      }
      restored.set(vin, { fields, connectivity: r.connectivity, lastLive: r.lastLive, units: null });
    }
    this.vins.clear();
    for (const [vin, rec] of restored) this.vins.set(vin, rec);
  }
}
