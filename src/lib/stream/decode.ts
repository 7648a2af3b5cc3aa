/**
 * Fleet Telemetry MQTT topics and payloads (docs/wire-format.md) → neutral records.
 * One parse per MQTT message, shared by every node of a broker: split on '/', a JSON.parse,
 * one normaliser look-up. No regex, no catalogue scan.
 */
import { FIELDS_BY_ID, FieldInfo } from '../catalogue/index';
import { normaliserOf } from './normalise';

export type RecordKind = 'data' | 'alert' | 'alert-history' | 'error' | 'connectivity';

export interface TopicInfo {
  vin: string;
  kind: RecordKind;
  /** Field (for `data`), alert or error name; `''` for connectivity. */
  name: string;
  /** Set when the server published the field as its number (`v/258`): `name` is then the catalogue's. */
  fieldId?: number;
}

/** A message decoded according to its topic. */
export interface Decoded extends TopicInfo {
  raw: unknown;
  payload: unknown;
  retain: boolean;
  receivedAt: number;
  /** Counts as a sign of life for freshness: not retained, not a DISCONNECTED connectivity. */
  live: boolean;
  /**
   * `data`: when this value last arrived live (ms; null when only seen retained), set by the
   * broker's car state before the message fans out. null for the other kinds.
   */
  updatedAt: number | null;
}

/** A message that could not be decoded: reported, counted, never emitted. */
export interface BadInput {
  bad: true;
  topic: string;
  reason: string;
  excerpt: string;
  /** Set when the topic was understood (the VIN is then known and filters apply). */
  info: TopicInfo | null;
  retain: boolean;
  receivedAt: number;
}

export interface Alert {
  name: string;
  active: boolean;
  startedAt: string | null;
  endedAt: string | null;
  audiences: unknown[];
}

/** Topic shapes below the base, as the server publishes them. */
export function topicFilters(topicBase: string): string[] {
  const b = `${topicBase}/+`;
  return [`${b}/v/+`, `${b}/alerts/+/current`, `${b}/alerts/+/history`, `${b}/errors/+`, `${b}/connectivity`];
}

/** Subscriptions for a base, optionally in an MQTT v5 shared-subscription group. */
export function subscriptionTopics(topicBase: string, sharedGroup?: string): string[] {
  const filters = topicFilters(topicBase);
  return sharedGroup ? filters.map((f) => `$share/${sharedGroup}/${f}`) : filters;
}

/**
 * A server older than the car's firmware publishes a newer field as its number (`v/258`); field
 * ids are stable, so the catalogue names it. Keyed by the number as the server writes it
 * (decimal, no sign, no leading zero), built once: a topic's field segment is looked up only
 * when it starts with a digit, and never parsed as a number.
 */
const FIELD_BY_NUMBER: ReadonlyMap<string, FieldInfo> = new Map([...FIELDS_BY_ID].map(([id, f]) => [String(id), f]));

/** The topic info of a data record: a field number the catalogue knows becomes its name. */
function dataInfo(vin: string, field: string): TopicInfo {
  const c = field.charCodeAt(0);
  if (c >= 0x30 && c <= 0x39) {
    const f = FIELD_BY_NUMBER.get(field);
    if (f) return { vin, kind: 'data', name: f.name, fieldId: f.id };
  }
  return { vin, kind: 'data', name: field };
}

export class TopicParser {
  private readonly prefix: string;

  /** `topicBase` is used verbatim: `''` is an empty base (topics then start with `/`). */
  constructor(readonly topicBase: string) {
    this.prefix = `${topicBase}/`;
  }

  /**
   * `<base>/<VIN>/v/<Field>`, `…/alerts/<Name>/current|history`, `…/errors/<Name>`,
   * `…/connectivity`; anything else is null. On the hot path: found with indexOf, no split
   * array; only the VIN and the name are sliced out.
   */
  parse(topic: string): TopicInfo | null {
    const prefix = this.prefix;
    if (!topic.startsWith(prefix)) return null;
    const start = prefix.length;
    const a = topic.indexOf('/', start); // end of the VIN
    if (a <= start) return null; // one level only, or an empty VIN
    const vin = topic.slice(start, a);
    const b = topic.indexOf('/', a + 1); // end of the second level
    if (b < 0) return topic.slice(a + 1) === 'connectivity' ? { vin, kind: 'connectivity', name: '' } : null;
    const c = topic.indexOf('/', b + 1); // end of the third level
    const second = b - a - 1;
    if (c < 0) {
      if (b + 1 === topic.length) return null; // empty name
      if (second === 1 && topic.charCodeAt(a + 1) === 0x76 /* v */) return dataInfo(vin, topic.slice(b + 1));
      if (second === 6 && topic.startsWith('errors', a + 1)) return { vin, kind: 'error', name: topic.slice(b + 1) };
      return null;
    }
    if (topic.indexOf('/', c + 1) >= 0) return null; // more than four levels
    if (second !== 6 || !topic.startsWith('alerts', a + 1) || c === b + 1) return null;
    const last = topic.slice(c + 1);
    if (last === 'current') return { vin, kind: 'alert', name: topic.slice(b + 1, c) };
    if (last === 'history') return { vin, kind: 'alert-history', name: topic.slice(b + 1, c) };
    return null;
  }
}

class ShapeError extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(o: Record<string, unknown>, key: string, what: string): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new ShapeError(`${what}.${key} is not a string`);
  return v;
}

function toAlert(name: string, v: unknown): Alert {
  if (!isObject(v)) throw new ShapeError('alert is not an object');
  const aud = v.Audiences;
  if (aud !== undefined && aud !== null && !Array.isArray(aud)) throw new ShapeError('alert Audiences is not a list');
  const endedAt = optString(v, 'EndedAt', 'alert');
  return {
    name,
    active: !endedAt,
    startedAt: optString(v, 'StartedAt', 'alert'),
    endedAt,
    audiences: Array.isArray(aud) ? aud : [],
  };
}

/** The normalised payload for a record, from its JSON-parsed raw value. Throws ShapeError. */
function payloadOf(info: TopicInfo, raw: unknown): unknown {
  switch (info.kind) {
    case 'data':
      return normaliserOf(info.name)(raw);
    case 'alert':
      return toAlert(info.name, raw);
    case 'alert-history':
      if (raw === null) return [];
      if (!Array.isArray(raw)) throw new ShapeError('alert history is not a list');
      return raw.map((a) => toAlert(info.name, a));
    case 'error': {
      if (!isObject(raw)) throw new ShapeError('error is not an object');
      const tags = raw.Tags;
      if (tags !== undefined && tags !== null && !isObject(tags)) throw new ShapeError('error Tags is not an object');
      return {
        name: info.name,
        body: optString(raw, 'Body', 'error'),
        createdAt: optString(raw, 'CreatedAt', 'error'),
        tags: isObject(tags) ? tags : {},
      };
    }
    case 'connectivity':
      if (!isObject(raw)) throw new ShapeError('connectivity is not an object');
      return {
        status: optString(raw, 'Status', 'connectivity'),
        connectionId: optString(raw, 'ConnectionId', 'connectivity'),
        createdAt: optString(raw, 'CreatedAt', 'connectivity'),
      };
  }
}

/**
 * JSON nested deeper than this is bad input. No telemetry record comes near it (an alert
 * history is 3 levels), and copying, comparing or serialising a 10,000-level value overflows
 * the stack downstream (structuredClone for a second node, Node-RED's message cloning).
 */
export const MAX_DEPTH = 64;

/** True when a parsed JSON value nests objects/arrays more than MAX_DEPTH levels (no recursion). */
function tooDeep(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: Array<[object, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [object, number];
    if (depth > MAX_DEPTH) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

const EXCERPT = 80;

/** A short, printable excerpt of a payload for a warning. */
export function excerptOf(payload: Buffer | string): string {
  const s = typeof payload === 'string' ? payload.slice(0, EXCERPT * 4) : payload.subarray(0, EXCERPT * 4).toString('utf8');
  // eslint-disable-next-line no-control-regex
  const printable = s.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, '?');
  const len = typeof payload === 'string' ? payload.length : payload.length;
  return printable.length > EXCERPT || len > EXCERPT * 4 ? `${printable.slice(0, EXCERPT)}… (${len} bytes)` : printable;
}

function bad(topic: string, reason: string, payload: Buffer | string, info: TopicInfo | null, retain: boolean, receivedAt: number): BadInput {
  return { bad: true, topic, reason, excerpt: excerptOf(payload), info, retain, receivedAt };
}

/** Decode one MQTT message. Never throws. */
export function decode(parser: TopicParser, topic: string, payload: Buffer | string, retain: boolean, receivedAt: number): Decoded | BadInput {
  const info = parser.parse(topic);
  if (!info) return bad(topic, 'unknown topic shape', payload, null, retain, receivedAt);
  let raw: unknown;
  try {
    raw = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch {
    return bad(topic, 'payload is not JSON', payload, info, retain, receivedAt);
  }
  if (tooDeep(raw)) return bad(topic, `payload nests more than ${MAX_DEPTH} levels`, payload, info, retain, receivedAt);
  let value: unknown;
  try {
    value = payloadOf(info, raw);
  } catch (e) {
    const reason = e instanceof ShapeError ? e.message : 'payload could not be decoded';
    return bad(topic, reason, payload, info, retain, receivedAt);
  }
  const live = !retain && !(info.kind === 'connectivity' && (value as { status: string | null }).status === 'DISCONNECTED');
  const d: Decoded = { vin: info.vin, kind: info.kind, name: info.name, raw, payload: value, retain, receivedAt, live, updatedAt: null };
  if (info.fieldId !== undefined) d.fieldId = info.fieldId;
  return d;
}

export function isBad(d: Decoded | BadInput): d is BadInput {
  return (d as BadInput).bad === true;
}
