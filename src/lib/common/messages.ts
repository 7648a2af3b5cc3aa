/**
 * The message contract (docs/message-contract.md), in one place for both sources (`telemetry` and `api`).
 */
import type { Decoded, RecordKind } from '../stream/decode';

export type Source = 'telemetry' | 'api';

export interface CarMessage {
  event: string;
  topic: string;
  vin: string;
  source: Source;
  receivedAt: number;
  payload: unknown;
  field?: string;
  /** The field's number, when the server published the field as its number. */
  fieldId?: number;
  raw?: unknown;
  retain?: boolean;
  changed?: string[];
  [key: string]: unknown;
}

/** Output index of `telemetry-in` per record kind: 0 data, 1 alerts and errors, 2 vehicle status. */
export const OUTPUT_OF: Readonly<Record<RecordKind, 0 | 1 | 2>> = {
  data: 0,
  alert: 1,
  'alert-history': 1,
  error: 1,
  connectivity: 2,
};

function topicOf(d: Decoded): string {
  switch (d.kind) {
    case 'data':
      return `${d.vin}/${d.name}`;
    case 'alert':
    case 'alert-history':
      return `${d.vin}/alerts/${d.name}`;
    case 'error':
      return `${d.vin}/errors/${d.name}`;
    case 'connectivity':
      return `${d.vin}/connectivity`;
  }
}

/** A `telemetry-in` message (field mode) from a decoded MQTT message. */
export function messageFromDecoded(d: Decoded, payload: unknown = d.payload, raw: unknown = d.raw): CarMessage {
  if (d.kind === 'data') {
    const msg = fieldMessage(d.vin, d.name, payload, raw, 'telemetry', d.receivedAt, d.retain);
    // A field the server published as its number: `field` is the catalogue's name, this the number.
    if (d.fieldId !== undefined) msg.fieldId = d.fieldId;
    return msg;
  }
  return { event: d.kind, topic: topicOf(d), vin: d.vin, payload, raw, retain: d.retain, source: 'telemetry', receivedAt: d.receivedAt };
}

/** One field's message, for either source. */
export function fieldMessage(
  vin: string,
  field: string,
  payload: unknown,
  raw: unknown,
  source: Source,
  receivedAt: number,
  retain = false,
): CarMessage {
  return { event: 'data', topic: `${vin}/${field}`, vin, field, payload, raw, retain, source, receivedAt };
}

/** A vehicle snapshot (mode `vehicle`), for either source. */
export function snapshotMessage(
  vin: string,
  payload: Record<string, unknown>,
  changed: string[],
  raw: Record<string, unknown>,
  source: Source,
  receivedAt: number,
  retain = false,
): CarMessage {
  return { event: 'vehicle', topic: vin, vin, payload, changed, raw, retain, source, receivedAt };
}

/** A `stale` / `fresh` / `asleep` / `offline` message. */
export function statusMessage(event: string, vin: string, payload: unknown, source: Source, receivedAt: number): CarMessage {
  return { event, topic: `${vin}/${event}`, vin, payload, source, receivedAt };
}

/**
 * A deep copy of a JSON value (primitives are returned as they are). A plain walk: several
 * times faster than structuredClone on the small objects telemetry carries (a location, the
 * doors). Values come from JSON.parse, nested at most 64 levels (the decoder's limit).
 */
export function copyJson<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    const a: unknown[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) a[i] = copyJson(v[i]);
    return a as T;
  }
  const o: Record<string, unknown> = {};
  for (const k in v) {
    const value = copyJson((v as Record<string, unknown>)[k]);
    // JSON.parse makes "__proto__" an own key; an assignment would set the copy's prototype.
    if (k === '__proto__') Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
    else o[k] = value;
  }
  return o as T;
}
