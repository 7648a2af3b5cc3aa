/**
 * Fleet Telemetry MQTT topics and payloads (spec/fleet-telemetry-mqtt.md) → neutral records.
 * One parse per MQTT message, shared by every node of a broker: split on '/', a JSON.parse,
 * one normaliser look-up. No regex, no catalogue scan.
 */
import { normaliserOf } from './normalise';

export type RecordKind = 'data' | 'alert' | 'alert-history' | 'error' | 'connectivity';

export interface TopicInfo {
  vin: string;
  kind: RecordKind;
  /** Field (for `data`), alert or error name; `''` for connectivity. */
  name: string;
}

/** A message decoded according to its topic. */
export interface Decoded extends TopicInfo {
  raw: unknown;
  payload: unknown;
  retain: boolean;
  receivedAt: number;
  /** Counts as a sign of life for freshness: not retained, not a DISCONNECTED connectivity. */
  live: boolean;
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

export class TopicParser {
  private readonly prefix: string;

  /** `topicBase` is used verbatim: `''` is an empty base (topics then start with `/`). */
  constructor(readonly topicBase: string) {
    this.prefix = `${topicBase}/`;
  }

  parse(topic: string): TopicInfo | null {
    if (!topic.startsWith(this.prefix)) return null;
    const parts = topic.slice(this.prefix.length).split('/');
    const vin = parts[0];
    if (!vin) return null;
    switch (parts.length) {
      case 2:
        return parts[1] === 'connectivity' ? { vin, kind: 'connectivity', name: '' } : null;
      case 3:
        if (!parts[2]) return null;
        if (parts[1] === 'v') return { vin, kind: 'data', name: parts[2] };
        if (parts[1] === 'errors') return { vin, kind: 'error', name: parts[2] };
        return null;
      case 4:
        if (parts[1] !== 'alerts' || !parts[2]) return null;
        if (parts[3] === 'current') return { vin, kind: 'alert', name: parts[2] };
        if (parts[3] === 'history') return { vin, kind: 'alert-history', name: parts[2] };
        return null;
      default:
        return null;
    }
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
export function decode(
  parser: TopicParser,
  topic: string,
  payload: Buffer | string,
  retain: boolean,
  receivedAt: number,
): Decoded | BadInput {
  const info = parser.parse(topic);
  if (!info) return bad(topic, 'unknown topic shape', payload, null, retain, receivedAt);
  let raw: unknown;
  try {
    raw = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch {
    return bad(topic, 'payload is not JSON', payload, info, retain, receivedAt);
  }
  let value: unknown;
  try {
    value = payloadOf(info, raw);
  } catch (e) {
    const reason = e instanceof ShapeError ? e.message : 'payload could not be decoded';
    return bad(topic, reason, payload, info, retain, receivedAt);
  }
  const live =
    !retain && !(info.kind === 'connectivity' && (value as { status: string | null }).status === 'DISCONNECTED');
  return { vin: info.vin, kind: info.kind, name: info.name, raw, payload: value, retain, receivedAt, live };
}

export function isBad(d: Decoded | BadInput): d is BadInput {
  return (d as BadInput).bad === true;
}
