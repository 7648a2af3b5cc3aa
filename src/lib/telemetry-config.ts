/**
 * telemetry-config core: presets, validation, the `fleet_telemetry_config` body, and the
 * interpretation of every Fleet API answer the node deals with. Plain TypeScript, no
 * Node-RED import: the node's runtime glue and its admin endpoints call these functions.
 *
 * Facts used here come from shared/spec/fleet-api.md ("Registering VINs for telemetry") and
 * shared/spec/setup.md (the seed's request); field names come from the catalogue module.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { FIELDS } from './catalogue';
import { parseList } from './util';

// ---------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------

/** One field's streaming settings, as Tesla's config carries them. */
export interface FieldSetting {
  /** Send the field when it changes, at most once per this many seconds (integer >= 1). */
  interval_seconds: number;
  /** Only send a numeric field when it changed by at least this much (>= 0). */
  minimum_delta?: number;
  /** Resend the field this often even when unchanged (integer >= 1; firmware 2024.44.32+). */
  resend_interval_seconds?: number;
}

/** `{Name: FieldSetting}`, in the order they are sent. */
export type FieldsSpec = Record<string, FieldSetting>;

/**
 * A field setting as it may arrive from the editor or a message: numbers may still be
 * numeric strings, optional values may be `''` or `null` (meaning "not set").
 */
export interface FieldSettingInput {
  interval_seconds?: number | string | null;
  minimum_delta?: number | string | null;
  resend_interval_seconds?: number | string | null;
  [other: string]: unknown;
}

/** A fields list as an array (the editor's table): `[{name, interval_seconds, ...}]`. */
export interface FieldRowInput extends FieldSettingInput {
  name: string;
}

/** The node's flow-JSON properties that make up the config (plus the VINs). */
export interface TelemetryConfigProps {
  /** Telemetry server hostname as the car reaches it: no scheme, no port, no path. */
  hostname?: string;
  /** Telemetry server port; an integer (a numeric string from the form is accepted). */
  port?: number | string;
  /** PEM of the CA that signed the telemetry server's certificate. */
  ca?: string;
  /** `{Name: {interval_seconds, minimum_delta?, resend_interval_seconds?}}`, or an array of rows. */
  fields?: Record<string, FieldSettingInput> | FieldRowInput[];
  /** Comma list or array, e.g. `"service"`. */
  alertTypes?: string | string[];
  /** Default true. */
  preferTyped?: boolean | string;
  /** Comma list or array. */
  vins?: string | string[];
  /** Optional config expiry, epoch seconds (`''`, `null`, `0` = not set). */
  exp?: number | string | null;
}

/** The `config` object Tesla's vehicle-command proxy expects, keys in this order. */
export interface FleetTelemetryConfig {
  hostname: string;
  port: number;
  ca: string;
  fields: FieldsSpec;
  alert_types?: string[];
  prefer_typed: boolean;
  exp?: number;
}

export interface RegisterBody {
  vins: string[];
  config: FleetTelemetryConfig;
}

export interface Problem {
  /** The input at fault: `hostname`, `port`, `ca`, `fields`, `fields.<Name>`, `alertTypes`, `vins`, `exp`. */
  input: string;
  message: string;
}

export interface ValidationResult {
  errors: Problem[];
  warnings: Problem[];
}

export const ACTIONS = ['check', 'register', 'status', 'errors', 'delete'] as const;
export type Action = (typeof ACTIONS)[number];
export const DEFAULT_ACTION: Action = 'status';

export type EntryState =
  // register
  | 'updated'
  | 'skipped'
  // status
  | 'adopted'
  | 'pending'
  | 'rejected'
  | 'key not paired'
  | 'drift'
  | 'not configured'
  // check
  | 'ready'
  | 'unsupported firmware'
  // errors
  | 'no errors'
  | 'errors'
  // delete
  | 'deleted'
  // any action
  | 'unknown'
  | 'error'
  | 'rate-limited';

/** One error the car reported after receiving a config (fleet_telemetry_errors). */
export interface TelemetryErrorInfo {
  name: string | null;
  error: string | null;
  errorName: string | null;
  createdAt: string | number | null;
  txId: string | null;
}

/** One element of `msg.payload`. The first four keys are the contract; the rest is detail. */
export interface ResultEntry {
  vin: string;
  ok: boolean;
  state: EntryState;
  reason: string;
  /** register: the `skipped_vehicles` key the VIN was listed under. */
  skipped?: string;
  /** status: the differences between the car's config and ours (drift, or a pending config). */
  differences?: string[];
  /** status: Tesla's flags as they came. */
  synced?: boolean | null;
  limitReached?: boolean | null;
  /** check / status. */
  keyPaired?: boolean | null;
  /** check. */
  firmware?: string | null;
  fleetTelemetryVersion?: string | null;
  totalNumberOfKeys?: number | null;
  vehicleCommandProtocolRequired?: boolean | null;
  /** errors: newest first. */
  errors?: TelemetryErrorInfo[];
  /** rate-limited / error. */
  retryAfterSeconds?: number | null;
  httpStatus?: number;
}

/** What a failed Fleet API call looks like to these functions (the client's error object). */
export interface CallError {
  kind?: string;
  message?: string;
  retryAfterSeconds?: number | null;
  status?: number;
}

export interface CaInfo {
  subject: string;
  issuer: string;
  /** ISO 8601. */
  validFrom: string;
  /** ISO 8601. */
  validTo: string;
  expired: boolean;
  notYetValid: boolean;
  /** Colon-separated SHA-256 fingerprint, as Node prints it. */
  fingerprint256: string;
  /** The certificate can sign others (basicConstraints CA:TRUE). */
  isCa: boolean;
  subjectAltName: string | null;
  /** Number of certificates in the PEM (the fields above describe the first). */
  count: number;
}

// ---------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------

/** Oldest firmware that accepts a telemetry config through the vehicle-command proxy. */
export const MIN_FIRMWARE = '2024.26';
/** Tesla staff: do not stream more than about this many fields per second (fleet-telemetry #165). */
export const MAX_FIELDS_PER_SECOND = 10;
const PAIRING_BASE = 'https://tesla.com/_ak/';

// ---------------------------------------------------------------------------------------
// Presets
// ---------------------------------------------------------------------------------------

export interface Preset {
  label: string;
  description: string;
  fields: Readonly<FieldsSpec>;
}

export type PresetName = 'seed' | 'charging-presence';

function every(seconds: number, names: string[]): FieldsSpec {
  const out: FieldsSpec = {};
  for (const n of names) out[n] = { interval_seconds: seconds };
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/**
 * Field presets offered by the editor (served to it by the runtime at
 * `GET tesla-fleet-telemetry/presets`). Every name is checked against the catalogue at load.
 */
export const PRESETS: Readonly<Record<PresetName, Preset>> = deepFreeze({
  seed: {
    label: 'Seed (7 fields)',
    description:
      "The seed's minimum for charge management (TWCManager): battery, charge limit and state, gear, name, location, time to full, every 60 s.",
    fields: every(60, [
      'BatteryLevel',
      'ChargeLimitSoc',
      'DetailedChargeState',
      'Gear',
      'VehicleName',
      'Location',
      'TimeToFullCharge',
    ]),
  },
  'charging-presence': {
    label: 'Charging and presence',
    description:
      'Charging in detail (state, power, current, voltage, port, cable) and presence (location, gear, speed, locks, doors, sentry, home), at 10 s for fast-changing state, 60 s for levels, 5 min for slow values. Worst case about 1.6 fields per second.',
    fields: {
      // charging
      DetailedChargeState: { interval_seconds: 10 },
      ChargeAmps: { interval_seconds: 10 },
      ChargeCurrentRequest: { interval_seconds: 10 },
      ChargeCurrentRequestMax: { interval_seconds: 300 },
      ChargerPhases: { interval_seconds: 60 },
      ChargerVoltage: { interval_seconds: 10 },
      ACChargingPower: { interval_seconds: 10 },
      DCChargingPower: { interval_seconds: 10 },
      ACChargingEnergyIn: { interval_seconds: 60 },
      DCChargingEnergyIn: { interval_seconds: 60 },
      FastChargerPresent: { interval_seconds: 10 },
      ChargingCableType: { interval_seconds: 60 },
      ChargePortDoorOpen: { interval_seconds: 10 },
      ChargePortLatch: { interval_seconds: 10 },
      ChargeLimitSoc: { interval_seconds: 60 },
      BatteryLevel: { interval_seconds: 60 },
      Soc: { interval_seconds: 60 },
      EstBatteryRange: { interval_seconds: 60 },
      TimeToFullCharge: { interval_seconds: 60 },
      ScheduledChargingPending: { interval_seconds: 300 },
      // presence
      Location: { interval_seconds: 30 },
      LocatedAtHome: { interval_seconds: 10 },
      Gear: { interval_seconds: 10 },
      VehicleSpeed: { interval_seconds: 10 },
      Locked: { interval_seconds: 10 },
      DoorState: { interval_seconds: 10 },
      SentryMode: { interval_seconds: 30 },
      InsideTemp: { interval_seconds: 300 },
      OutsideTemp: { interval_seconds: 300 },
      Odometer: { interval_seconds: 300 },
      VehicleName: { interval_seconds: 3600 },
    },
  },
});

for (const [presetName, preset] of Object.entries(PRESETS)) {
  for (const field of Object.keys(preset.fields)) {
    if (!FIELDS.has(field)) {
      throw new Error(`telemetry-config: preset ${presetName} names ${field}, which is not in the field catalogue`);
    }
  }
}

/** A fresh, mutable copy of a preset's fields (for a node's default, say). */
export function presetFields(name: PresetName): FieldsSpec {
  const p = PRESETS[name];
  if (!p) throw new Error(`telemetry-config: unknown preset ${String(name)}`);
  return JSON.parse(JSON.stringify(p.fields)) as FieldsSpec;
}

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

export { parseList };

/** VINs from an array or a comma list: trimmed, empty items dropped, de-duplicated. */
export function parseVins(input: unknown): string[] {
  return parseList(input);
}

function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && !(typeof v === 'string' && v.trim() === '');
}

const NUMERIC = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** A number, or a numeric string converted; `NaN` for anything else. */
function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && NUMERIC.test(v.trim())) return Number(v.trim());
  return NaN;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse a string body as JSON when it is one; otherwise hand it back unchanged. */
function asJson(body: unknown): unknown {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body);
    } catch {
      return body;
    }
  }
  return body;
}

/** `body.response` when body is an object that has it; otherwise undefined. */
function responseOf(body: unknown): unknown {
  const b = asJson(body);
  return isObject(b) ? b.response : undefined;
}

function bodyErrorText(body: unknown): string | null {
  const b = asJson(body);
  if (isObject(b)) {
    const parts = [b.error, b.error_description].filter((x) => typeof x === 'string' && x !== '');
    if (parts.length > 0) return parts.join(': ');
  } else if (typeof b === 'string' && b.trim() !== '') {
    return b.trim().slice(0, 300);
  }
  return null;
}

/** The pairing link for a partner domain, or null without one. */
export function pairingLink(domain: string | null | undefined): string | null {
  if (typeof domain !== 'string') return null;
  const d = domain
    .trim()
    .replace(/^https?:\/\//i, '')
    .replace(/\/.*$/, '');
  return d === '' ? null : PAIRING_BASE + d;
}

function pairingAdvice(domain: string | null | undefined): string {
  const link = pairingLink(domain);
  return link
    ? `pair it by opening ${link} on the phone with the Tesla app and approving the key, then try again`
    : 'pair it at https://tesla.com/_ak/<domain> (set the domain on the tesla-account node to get the exact link), then try again';
}

/** Field rows in order, from the object or the array form. */
function fieldRows(fields: TelemetryConfigProps['fields']): Array<{ name: string; setting: FieldSettingInput }> {
  if (Array.isArray(fields)) {
    return fields.map((row) => {
      const r = isObject(row) ? (row as FieldRowInput) : ({ name: String(row) } as FieldRowInput);
      const { name, ...setting } = r;
      return { name: typeof name === 'string' ? name.trim() : String(name ?? ''), setting };
    });
  }
  if (isObject(fields)) {
    return Object.entries(fields).map(([name, setting]) => ({
      name: name.trim(),
      setting: isObject(setting) ? (setting as FieldSettingInput) : ({ interval_seconds: setting } as FieldSettingInput),
    }));
  }
  return [];
}

const FIELD_KEYS = ['interval_seconds', 'minimum_delta', 'resend_interval_seconds'] as const;

// ---------------------------------------------------------------------------------------
// CA
// ---------------------------------------------------------------------------------------

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The certificate blocks of a PEM string (`[]` when there is none). */
export function pemBlocks(pem: string): string[] {
  return pem.replace(/\r\n?/g, '\n').match(CERT_BLOCK) ?? [];
}

/** One-line form of Node's multi-line distinguished name: `CN=a, O=b`. */
function oneLineDn(dn: string | undefined): string {
  return (dn ?? '').split('\n').filter(Boolean).join(', ');
}

function isoOf(nodeDate: string): string {
  const t = Date.parse(nodeDate);
  return Number.isFinite(t) ? new Date(t).toISOString() : nodeDate;
}

function parseCertificate(block: string): X509Certificate {
  try {
    return new X509Certificate(block);
  } catch (err) {
    throw new Error(`the certificate does not parse (${(err as Error).message})`);
  }
}

function certInfo(x: X509Certificate, now: number, count: number): CaInfo {
  const from = Date.parse(x.validFrom);
  const to = Date.parse(x.validTo);
  return {
    subject: oneLineDn(x.subject),
    issuer: oneLineDn(x.issuer),
    validFrom: isoOf(x.validFrom),
    validTo: isoOf(x.validTo),
    expired: Number.isFinite(to) ? to < now : false,
    notYetValid: Number.isFinite(from) ? from > now : false,
    fingerprint256: x.fingerprint256,
    isCa: x.ca,
    subjectAltName: x.subjectAltName ?? null,
    count,
  };
}

/**
 * Describe the (first) certificate of a PEM: subject, issuer, validity, fingerprint.
 * Throws an Error with a message fit for the user when there is no usable certificate.
 */
export function describeCa(pem: unknown, now: number = Date.now()): CaInfo {
  if (typeof pem !== 'string' || pem.trim() === '') throw new Error('no certificate given: paste the PEM of the CA');
  if (!pem.includes('\n') && pem.includes('\\n')) {
    throw new Error('the PEM contains "\\n" escapes instead of line breaks: paste the certificate file as it is');
  }
  const blocks = pemBlocks(pem);
  if (blocks.length === 0) {
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
      throw new Error('this is a private key, not a certificate: paste the CA certificate (never the key)');
    }
    throw new Error('not a PEM certificate: expected a block starting with -----BEGIN CERTIFICATE-----');
  }
  const x = parseCertificate(blocks[0]);
  for (let i = 1; i < blocks.length; i++) parseCertificate(blocks[i]);
  return certInfo(x, now, blocks.length);
}

/** The base64 payloads of a PEM's certificates, whitespace removed: for comparing CAs. */
function caKey(pem: unknown): string {
  if (typeof pem !== 'string') return '';
  const blocks = pemBlocks(pem);
  if (blocks.length === 0) return pem.replace(/\r\n?/g, '\n').replace(/[ \t]+$/gm, '').trim();
  return blocks
    .map((b) => b.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''))
    .join('|');
}

function caLabel(pem: unknown): string {
  try {
    const info = describeCa(pem);
    return `${info.subject || '(no subject)'}, SHA-256 ${info.fingerprint256.slice(0, 11)}…`;
  } catch {
    if (typeof pem !== 'string' || pem.trim() === '') return 'none';
    return `sha256 ${createHash('sha256').update(caKey(pem)).digest('hex').slice(0, 8)}…`;
  }
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const VIN = /^[A-HJ-NPR-Z0-9]{17}$/;

function validateHostname(raw: unknown, errors: Problem[], warnings: Problem[]): void {
  const add = (message: string): void => {
    errors.push({ input: 'hostname', message });
  };
  if (!isSet(raw)) return add('hostname is required: the name the car connects to, e.g. telemetry.example.com');
  if (typeof raw !== 'string') return add('hostname must be a string');
  const h = raw.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(h)) {
    return add(`hostname "${h}" has a scheme: give only the name, e.g. ${h.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/[:/].*$/, '')}`);
  }
  if (h.includes('/')) return add(`hostname "${h}" has a path: give only the name, e.g. ${h.replace(/[:/].*$/, '')}`);
  if (/:\d*$/.test(h) && h.split(':').length === 2) {
    return add(`hostname "${h}" has a port: give the name alone and the port in "port"`);
  }
  if (/\s/.test(h)) return add(`hostname "${h}" contains spaces`);
  const name = h.endsWith('.') ? h.slice(0, -1) : h;
  if (!IPV4.test(name)) {
    const labels = name.split('.');
    if (name.length > 253 || labels.some((l) => !LABEL.test(l)) || /^\d+$/.test(labels[labels.length - 1])) {
      return add(`hostname "${h}" is not a valid host name (letters, digits, hyphens and dots; no scheme, port or path)`);
    }
  }
  if (/^(localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0)$/i.test(name)) {
    warnings.push({
      input: 'hostname',
      message: `hostname "${h}" is this machine's own name: the car connects to the hostname itself, so it must reach your server under it`,
    });
  }
}

/** Port as a number when it is a valid one (an integer 1-65535, or such a numeric string). */
export function parsePort(raw: unknown): number | null {
  if (typeof raw === 'number') return Number.isInteger(raw) && raw >= 1 && raw <= 65535 ? raw : null;
  if (typeof raw === 'string' && /^\s*\d+\s*$/.test(raw)) {
    const n = Number(raw.trim());
    return n >= 1 && n <= 65535 ? n : null;
  }
  return null;
}

function validatePort(raw: unknown, errors: Problem[]): void {
  if (!isSet(raw)) {
    errors.push({ input: 'port', message: 'port is required: the telemetry server port, e.g. 4433' });
  } else if (parsePort(raw) === null) {
    errors.push({ input: 'port', message: `port must be an integer from 1 to 65535 (got ${JSON.stringify(raw)})` });
  }
}

function validateCa(raw: unknown, hostname: unknown, now: number, errors: Problem[], warnings: Problem[]): void {
  if (!isSet(raw)) {
    errors.push({ input: 'ca', message: "ca is required: the PEM of the CA that signed the telemetry server's certificate" });
    return;
  }
  let info: CaInfo;
  try {
    info = describeCa(raw, now);
  } catch (err) {
    errors.push({ input: 'ca', message: `ca: ${(err as Error).message}` });
    return;
  }
  const blocks = pemBlocks(raw as string);
  blocks.forEach((block, i) => {
    const x = new X509Certificate(block);
    const c = certInfo(x, now, blocks.length);
    const which = blocks.length > 1 ? `certificate ${i + 1} of ${blocks.length} ` : '';
    if (c.expired) {
      errors.push({ input: 'ca', message: `ca: ${which}"${c.subject}" expired on ${c.validTo}` });
    } else if (c.notYetValid) {
      warnings.push({ input: 'ca', message: `ca: ${which}"${c.subject}" is not valid before ${c.validFrom}` });
    }
  });
  // A leaf certificate pasted as "CA": the car trusts it only if it is the server's own one.
  if (!info.isCa && typeof hostname === 'string' && hostname.trim() !== '') {
    const x = new X509Certificate(blocks[0]);
    if (x.checkHost(hostname.trim()) === undefined) {
      warnings.push({
        input: 'ca',
        message: `ca: "${info.subject}" is not a CA certificate and does not name ${hostname.trim()}: give the CA that signed the telemetry server's certificate`,
      });
    }
  }
}

function suggestField(name: string): string {
  const lower = name.toLowerCase();
  for (const known of FIELDS.keys()) if (known.toLowerCase() === lower) return ` (did you mean ${known}?)`;
  return '';
}

function validateFields(raw: TelemetryConfigProps['fields'], errors: Problem[], warnings: Problem[]): void {
  if (raw !== undefined && raw !== null && !Array.isArray(raw) && !isObject(raw)) {
    errors.push({ input: 'fields', message: 'fields must be an object {Name: {interval_seconds}}' });
    return;
  }
  const rows = fieldRows(raw);
  if (rows.length === 0) {
    errors.push({ input: 'fields', message: 'at least one field is needed (pick a preset or add fields from the catalogue)' });
    return;
  }
  const seen = new Set<string>();
  let perSecond = 0;
  rows.forEach(({ name, setting }, i) => {
    const input = name ? `fields.${name}` : `fields[${i}]`;
    const add = (message: string): void => {
      errors.push({ input, message });
    };
    if (!name) return add(`field ${i + 1} has no name`);
    if (seen.has(name)) return add(`${name} is listed twice`);
    seen.add(name);
    const info = FIELDS.get(name);
    if (!info) add(`${name} is not a field of the catalogue${suggestField(name)}`);
    else if (info.id === 0 || /^(Deprecated|Experimental)_\d+$/.test(name)) {
      warnings.push({ input, message: `${name} is a placeholder in Tesla's list, not a real signal` });
    }
    const iv = toNumber(setting.interval_seconds);
    if (!isSet(setting.interval_seconds)) add(`${name}: interval_seconds is required (an integer >= 1)`);
    else if (!Number.isInteger(iv) || iv < 1) {
      add(`${name}: interval_seconds must be an integer >= 1 (got ${JSON.stringify(setting.interval_seconds)})`);
    } else perSecond += 1 / iv;
    if (isSet(setting.minimum_delta)) {
      const d = toNumber(setting.minimum_delta);
      if (!Number.isFinite(d) || d < 0) {
        add(`${name}: minimum_delta must be a number >= 0 (got ${JSON.stringify(setting.minimum_delta)})`);
      } else if (info && !['number', 'integer', 'location'].includes(info.kind)) {
        warnings.push({ input, message: `${name}: minimum_delta is meant for numeric fields; ${name} is of kind ${info.kind}` });
      }
    }
    if (isSet(setting.resend_interval_seconds)) {
      const r = toNumber(setting.resend_interval_seconds);
      if (!Number.isInteger(r) || r < 1) {
        add(`${name}: resend_interval_seconds must be an integer >= 1 (got ${JSON.stringify(setting.resend_interval_seconds)})`);
      }
    }
    const unknownKeys = Object.keys(setting).filter((k) => !(FIELD_KEYS as readonly string[]).includes(k));
    if (unknownKeys.length > 0) {
      warnings.push({ input, message: `${name}: ${unknownKeys.join(', ')} not sent (only ${FIELD_KEYS.join(', ')})` });
    }
  });
  if (perSecond > MAX_FIELDS_PER_SECOND) {
    warnings.push({
      input: 'fields',
      message: `these intervals allow up to ${perSecond.toFixed(1)} fields per second; Tesla advises at most about ${MAX_FIELDS_PER_SECOND}`,
    });
  }
}

/** `exp` as epoch seconds, or null when not set. NaN when set but not a number. */
function parseExp(raw: unknown): number | null {
  if (!isSet(raw) || raw === 0 || raw === '0') return null;
  return toNumber(raw);
}

function validateExp(raw: unknown, now: number, errors: Problem[]): void {
  const exp = parseExp(raw);
  if (exp === null) return;
  const add = (message: string): void => {
    errors.push({ input: 'exp', message });
  };
  if (!Number.isInteger(exp) || exp < 0) return add(`exp must be a whole number of seconds since the epoch (got ${JSON.stringify(raw)})`);
  if (exp > 1e11) return add(`exp ${exp} looks like milliseconds: give seconds since the epoch (${Math.floor(exp / 1000)})`);
  if (exp * 1000 <= now) return add(`exp ${exp} (${new Date(exp * 1000).toISOString()}) is not in the future`);
}

function validateVins(raw: unknown, errors: Problem[], warnings: Problem[]): void {
  const vins = parseVins(raw);
  if (vins.length === 0) {
    errors.push({ input: 'vins', message: 'at least one VIN is needed (the node setting, or msg.vins)' });
    return;
  }
  for (const vin of vins) {
    if (vin.length !== 17) {
      warnings.push({ input: 'vins', message: `VIN "${vin}" has ${vin.length} characters, not 17` });
    } else if (!VIN.test(vin)) {
      warnings.push({ input: 'vins', message: `VIN "${vin}" has characters a VIN does not use (only A-Z without I, O, Q, and 0-9)` });
    }
  }
}

export interface ValidateOptions {
  /** Milliseconds since the epoch to judge expiry against (tests). Default now. */
  now?: number;
  /**
   * `all` (default): everything a `register` call needs. `vins`: only the VIN list (for
   * `check`, `status`, `errors`, `delete`, which send no config).
   */
  scope?: 'all' | 'vins';
}

/**
 * Check the node's settings before any HTTP call. Errors block the call; warnings do not.
 * Every problem names the input at fault.
 */
export function validate(props: TelemetryConfigProps, options: ValidateOptions = {}): ValidationResult {
  const now = options.now ?? Date.now();
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  const p: TelemetryConfigProps = isObject(props) ? props : {};
  if (options.scope !== 'vins') {
    validateHostname(p.hostname, errors, warnings);
    validatePort(p.port, errors);
    validateCa(p.ca, p.hostname, now, errors, warnings);
    validateFields(p.fields, errors, warnings);
    validateExp(p.exp, now, errors);
    if (p.alertTypes !== undefined && p.alertTypes !== null && typeof p.alertTypes !== 'string' && !Array.isArray(p.alertTypes)) {
      errors.push({ input: 'alertTypes', message: 'alertTypes must be a comma list or an array' });
    }
  }
  validateVins(p.vins, errors, warnings);
  return { errors, warnings };
}

/** Problems as one line: `hostname: …; port: …`. */
export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => (p.message.startsWith(p.input) ? p.message : `${p.input}: ${p.message}`)).join('; ');
}

// ---------------------------------------------------------------------------------------
// Building the body
// ---------------------------------------------------------------------------------------

function preferTypedOf(raw: unknown): boolean {
  if (raw === undefined || raw === null || raw === '') return true;
  if (typeof raw === 'string') return raw.trim().toLowerCase() !== 'false';
  return Boolean(raw);
}

/**
 * The `config` object exactly as Tesla's proxy expects it: `hostname` (trimmed), `port` (a
 * number), `ca` (the PEM untouched), `fields` (only the three known keys, optional ones only
 * when set), `alert_types` (only when non-empty), `prefer_typed`, `exp` (only when set).
 * Does not validate: call `validate` first.
 */
export function buildConfig(props: TelemetryConfigProps): FleetTelemetryConfig {
  const p: TelemetryConfigProps = isObject(props) ? props : {};
  const fields: FieldsSpec = {};
  for (const { name, setting } of fieldRows(p.fields)) {
    const f: FieldSetting = { interval_seconds: toNumber(setting.interval_seconds) };
    if (isSet(setting.minimum_delta)) f.minimum_delta = toNumber(setting.minimum_delta);
    if (isSet(setting.resend_interval_seconds)) f.resend_interval_seconds = toNumber(setting.resend_interval_seconds);
    fields[name] = f;
  }
  const alertTypes = parseList(p.alertTypes);
  const exp = parseExp(p.exp);
  // Keys in the documented order: hostname, port, ca, fields, alert_types?, prefer_typed, exp?
  const config: FleetTelemetryConfig = {
    hostname: typeof p.hostname === 'string' ? p.hostname.trim() : String(p.hostname ?? ''),
    port: parsePort(p.port) ?? toNumber(p.port),
    ca: typeof p.ca === 'string' ? p.ca : '',
    fields,
    ...(alertTypes.length > 0 ? { alert_types: alertTypes } : {}),
    prefer_typed: preferTypedOf(p.preferTyped),
    ...(exp !== null ? { exp } : {}),
  };
  return config;
}

/** The POST body for `/api/1/vehicles/fleet_telemetry_config`. */
export function buildRegisterBody(vins: unknown, config: FleetTelemetryConfig): RegisterBody {
  return { vins: parseVins(vins), config };
}

// ---------------------------------------------------------------------------------------
// Merging the message into the node's settings
// ---------------------------------------------------------------------------------------

export function isAction(a: unknown): a is Action {
  return typeof a === 'string' && (ACTIONS as readonly string[]).includes(a);
}

/** Tesla's config keys → the node's property names. */
const CONFIG_TO_PROPS: Record<string, keyof TelemetryConfigProps> = {
  hostname: 'hostname',
  port: 'port',
  ca: 'ca',
  fields: 'fields',
  alert_types: 'alertTypes',
  alertTypes: 'alertTypes',
  prefer_typed: 'preferTyped',
  preferTyped: 'preferTyped',
  exp: 'exp',
};

/**
 * The action and the settings for one input message: `msg.action` overrides the node's
 * action, `msg.vins` its VINs, and each key of `msg.config` (Tesla's names like
 * `alert_types`/`prefer_typed`, or the node's `alertTypes`/`preferTyped`) the matching
 * setting. Throws an Error (message fit for the user) for an unknown action or a
 * `msg.config` that is not an object.
 */
export function mergeMessage(
  props: TelemetryConfigProps & { action?: string },
  msg: { action?: unknown; vins?: unknown; config?: unknown } | null | undefined,
): { action: Action; props: TelemetryConfigProps } {
  const m = msg ?? {};
  const rawAction = isSet(m.action) ? m.action : isSet(props.action) ? props.action : DEFAULT_ACTION;
  const action = typeof rawAction === 'string' ? rawAction.trim().toLowerCase() : rawAction;
  if (!isAction(action)) {
    throw new Error(`unknown action ${JSON.stringify(rawAction)}: use one of ${ACTIONS.join(', ')}`);
  }
  const out: TelemetryConfigProps = {
    hostname: props.hostname,
    port: props.port,
    ca: props.ca,
    fields: props.fields,
    alertTypes: props.alertTypes,
    preferTyped: props.preferTyped,
    vins: props.vins,
    exp: props.exp,
  };
  if (m.config !== undefined && m.config !== null) {
    if (!isObject(m.config)) throw new Error('msg.config must be an object (a fleet_telemetry_config, or some of its keys)');
    for (const [k, v] of Object.entries(m.config)) {
      const prop = CONFIG_TO_PROPS[k];
      if (prop) (out as Record<string, unknown>)[prop] = v;
    }
  }
  if (isSet(m.vins) && !(Array.isArray(m.vins) && m.vins.length === 0)) out.vins = m.vins as string | string[];
  return { action, props: out };
}

// ---------------------------------------------------------------------------------------
// Interpreting answers
// ---------------------------------------------------------------------------------------

/** Entry for a failed call: `rate-limited` (with the retry time) or `error`. */
export function errorEntry(vin: string, err: unknown): ResultEntry {
  const e: CallError = isObject(err) ? (err as CallError) : {};
  const message =
    typeof e.message === 'string' && e.message !== ''
      ? e.message
      : err instanceof Error
        ? err.message
        : typeof err === 'string'
          ? err
          : 'unknown error';
  if (e.kind === 'rate-limited' || e.status === 429) {
    const s = typeof e.retryAfterSeconds === 'number' && Number.isFinite(e.retryAfterSeconds) ? Math.max(0, Math.ceil(e.retryAfterSeconds)) : null;
    return {
      vin,
      ok: false,
      state: 'rate-limited',
      reason:
        s !== null
          ? `rate limited by Tesla: retry in ${s} s${s >= 120 ? ` (about ${formatDuration(s)})` : ''}`
          : 'rate limited by Tesla: retry later (no Retry-After given)',
      retryAfterSeconds: s,
    };
  }
  const entry: ResultEntry = { vin, ok: false, state: 'error', reason: message };
  if (typeof e.status === 'number') entry.httpStatus = e.status;
  return entry;
}

function formatDuration(s: number): string {
  if (s < 3600) return `${Math.round(s / 60)} min`;
  const h = Math.floor(s / 3600);
  const m = Math.round((s % 3600) / 60);
  return m ? `${h} h ${m} min` : `${h} h`;
}

function httpErrorEntry(vin: string, status: number, body: unknown, retryAfterSeconds?: number | null): ResultEntry {
  if (status === 429) return errorEntry(vin, { kind: 'rate-limited', retryAfterSeconds, status });
  const text = bodyErrorText(body);
  const hint: Record<number, string> = {
    401: 'token expired or invalid',
    403: 'missing scope, or the proxy got no token',
    404: 'unknown vehicle for this account',
    408: 'the car is offline or asleep',
    412: 'precondition failed (partner account not registered, or the config was not signed by the proxy)',
    421: 'wrong region for this account',
  };
  const what = [hint[status], text].filter(Boolean).join(': ');
  return { vin, ok: false, state: 'error', reason: `HTTP ${status}${what ? ` — ${what}` : ''}`, httpStatus: status };
}

const SKIP_REASONS: Record<string, (domain: string | null | undefined) => string> = {
  missing_key: (d) => `skipped: the virtual key is not paired with this car — ${pairingAdvice(d)}`,
  unsupported_firmware: () =>
    `skipped: the car's firmware is too old — it needs ${MIN_FIRMWARE} or later for a telemetry config through the vehicle-command proxy; update the car's software, then register again`,
  unsupported_hardware: () => "skipped: this car's hardware does not support Fleet Telemetry",
  max_configs: () =>
    'skipped: the car already has the maximum number of telemetry configs (other apps have registered theirs) — remove one, then register again',
};

export interface RegisterOptions {
  /** The partner domain of the tesla-account node, for the pairing link. */
  domain?: string | null;
  /** From the Retry-After header, for an HTTP 429. */
  retryAfterSeconds?: number | null;
}

/**
 * One entry per VIN for a `register` answer. Skipped VINs are read from
 * `response.skipped_vehicles` whatever the HTTP status; VINs Tesla does not account for in
 * `updated_vehicles` are `unknown`, never claimed as updated.
 */
export function interpretRegister(
  vins: unknown,
  httpStatus: number,
  body: unknown,
  options: RegisterOptions = {},
): ResultEntry[] {
  const list = parseVins(vins);
  if (!(httpStatus >= 200 && httpStatus < 300)) {
    return list.map((vin) => httpErrorEntry(vin, httpStatus, body, options.retryAfterSeconds));
  }
  const response = responseOf(body);
  if (!isObject(response)) {
    const text = bodyErrorText(body);
    return list.map((vin) => ({
      vin,
      ok: false,
      state: 'unknown' as const,
      reason: `HTTP ${httpStatus} without a response object${text ? ` (${text})` : ''}: check the status to see whether the car got the config`,
    }));
  }
  const skippedBy = new Map<string, string>();
  if (isObject(response.skipped_vehicles)) {
    for (const [key, value] of Object.entries(response.skipped_vehicles)) {
      for (const v of parseVins(value)) {
        const k = v.toUpperCase();
        if (!skippedBy.has(k)) skippedBy.set(k, key);
      }
    }
  }
  const notSkipped = list.filter((v) => !skippedBy.has(v.toUpperCase()));
  const updatedRaw = response.updated_vehicles;
  const updated = typeof updatedRaw === 'number' ? updatedRaw : toNumber(updatedRaw);
  const accounted = Number.isFinite(updated) && updated >= notSkipped.length;
  return list.map((vin): ResultEntry => {
    const key = skippedBy.get(vin.toUpperCase());
    if (key !== undefined) {
      const why = SKIP_REASONS[key];
      return {
        vin,
        ok: false,
        state: 'skipped',
        reason: why ? why(options.domain) : `skipped by Tesla: ${key}`,
        skipped: key,
      };
    }
    if (accounted) {
      return {
        vin,
        ok: true,
        state: 'updated',
        reason: 'Tesla accepted the config for this car; it adopts it at its next connection (check with the status action)',
      };
    }
    return {
      vin,
      ok: false,
      state: 'unknown',
      reason: Number.isFinite(updated)
        ? `Tesla reports ${updated} updated vehicle(s) for ${notSkipped.length} not skipped, so this one may not have been updated: check with the status action`
        : 'Tesla did not say how many vehicles were updated: check with the status action',
    };
  });
}

/** A config as found in Tesla's answer, normalised for comparison. */
interface ComparableConfig {
  hostname?: string;
  port?: number;
  ca?: string;
  fields?: Map<string, { interval_seconds?: number; minimum_delta?: number; resend_interval_seconds?: number }>;
  alert_types?: string[];
  prefer_typed?: boolean;
}

function comparable(c: unknown): ComparableConfig {
  if (!isObject(c)) return {};
  const out: ComparableConfig = {};
  if (isSet(c.hostname)) out.hostname = String(c.hostname).trim().toLowerCase().replace(/\.$/, '');
  if (isSet(c.port)) {
    const port = toNumber(typeof c.port === 'number' ? c.port : String(c.port));
    if (Number.isFinite(port)) out.port = port;
  }
  if (typeof c.ca === 'string' && c.ca.trim() !== '') out.ca = c.ca;
  if (isObject(c.fields) || Array.isArray(c.fields)) {
    out.fields = new Map();
    for (const { name, setting } of fieldRows(c.fields as TelemetryConfigProps['fields'])) {
      const f: { interval_seconds?: number; minimum_delta?: number; resend_interval_seconds?: number } = {};
      for (const k of FIELD_KEYS) if (isSet(setting[k])) f[k] = toNumber(setting[k]);
      out.fields.set(name, f);
    }
  }
  if (c.alert_types !== undefined && c.alert_types !== null) out.alert_types = parseList(c.alert_types).sort();
  if (typeof c.prefer_typed === 'boolean') out.prefer_typed = c.prefer_typed;
  return out;
}

function show(v: unknown): string {
  return v === undefined ? 'not set' : JSON.stringify(v);
}

/**
 * The differences between the car's config and ours, in words (empty when they match).
 * Each item reads "<what>: <on the car> on the car, <ours> here".
 */
export function configDifferences(carConfig: unknown, ourConfig: unknown): string[] {
  const car = comparable(carConfig);
  const ours = comparable(ourConfig);
  const diffs: string[] = [];
  if (ours.hostname !== undefined && car.hostname !== ours.hostname) {
    diffs.push(`hostname: ${show(car.hostname)} on the car, ${show(ours.hostname)} here`);
  }
  if (ours.port !== undefined && car.port !== ours.port) {
    diffs.push(`port: ${show(car.port)} on the car, ${show(ours.port)} here`);
  }
  if (ours.ca !== undefined && caKey(car.ca) !== caKey(ours.ca)) {
    diffs.push(`CA differs: ${car.ca === undefined ? 'none' : caLabel(car.ca)} on the car, ${caLabel(ours.ca)} here`);
  }
  if (ours.fields && ours.fields.size > 0) {
    const carFields = car.fields ?? new Map();
    const missing = [...ours.fields.keys()].filter((n) => !carFields.has(n));
    const extra = [...carFields.keys()].filter((n) => !ours.fields!.has(n));
    if (missing.length) diffs.push(`fields missing on the car: ${missing.join(', ')}`);
    if (extra.length) diffs.push(`extra fields on the car: ${extra.join(', ')}`);
    for (const [name, mine] of ours.fields) {
      const theirs = carFields.get(name);
      if (!theirs) continue;
      for (const k of FIELD_KEYS) {
        if (theirs[k] !== mine[k]) diffs.push(`${name} ${k}: ${show(theirs[k])} on the car, ${show(mine[k])} here`);
      }
    }
  }
  if (ours.alert_types !== undefined && car.alert_types !== undefined && car.alert_types.join(',') !== ours.alert_types.join(',')) {
    diffs.push(`alert_types: ${show(car.alert_types)} on the car, ${show(ours.alert_types)} here`);
  }
  if (ours.prefer_typed !== undefined && car.prefer_typed !== undefined && car.prefer_typed !== ours.prefer_typed) {
    diffs.push(`prefer_typed: ${car.prefer_typed} on the car, ${ours.prefer_typed} here`);
  }
  return diffs;
}

export interface StatusOptions {
  /** The partner domain of the tesla-account node, for the pairing link. */
  domain?: string | null;
}

/**
 * The state of one VIN from `GET /api/1/vehicles/{vin}/fleet_telemetry_config`
 * (`{response: {synced, config, limit_reached, key_paired}}`), compared with our config
 * (omit it to skip the comparison).
 */
export function interpretStatus(
  vin: string,
  body: unknown,
  ourConfig?: FleetTelemetryConfig | null,
  options: StatusOptions = {},
): ResultEntry {
  const response = responseOf(body);
  if (!isObject(response)) {
    const text = bodyErrorText(body);
    return { vin, ok: false, state: 'error', reason: `unexpected answer: no response object${text ? ` (${text})` : ''}` };
  }
  const synced = typeof response.synced === 'boolean' ? response.synced : null;
  const limitReached = typeof response.limit_reached === 'boolean' ? response.limit_reached : null;
  const keyPaired = typeof response.key_paired === 'boolean' ? response.key_paired : null;
  const config = isObject(response.config) ? response.config : null;
  const base = { vin, synced, limitReached, keyPaired };
  if (keyPaired === false) {
    return {
      ...base,
      ok: false,
      state: 'key not paired',
      reason: `the virtual key is not paired with this car, so it cannot receive a signed config — ${pairingAdvice(options.domain)}`,
    };
  }
  if (limitReached === true) {
    return {
      ...base,
      ok: false,
      state: 'rejected',
      reason:
        'limit reached: the car already has the maximum number of telemetry configs (other apps have registered theirs), so it ignores this one — remove another config, then register again',
    };
  }
  if (config === null) {
    if (synced === true) {
      return {
        ...base,
        ok: false,
        state: 'rejected',
        reason:
          'synced with no config: the car ignored the config, usually because it already has too many telemetry configs (other apps) — remove one, then register again (expected only right after a delete)',
      };
    }
    return { ...base, ok: false, state: 'not configured', reason: 'no telemetry config is registered for this car, and none is pending' };
  }
  const ours = comparable(ourConfig);
  const compared = ours.hostname !== undefined || ours.port !== undefined || ours.ca !== undefined || (ours.fields?.size ?? 0) > 0;
  const differences = compared ? configDifferences(config, ourConfig) : [];
  if (synced !== true) {
    const note = differences.length ? `; the pending config differs from this node's: ${differences.join('; ')}` : '';
    return {
      ...base,
      ok: false,
      state: 'pending',
      reason: `not yet synced: the car adopts the config at its next connection to Tesla (minutes to a day; a sleeping car waits until it wakes)${note}`,
      differences,
    };
  }
  if (differences.length > 0) {
    return {
      ...base,
      ok: false,
      state: 'drift',
      reason: `the car runs a config that differs from this node's: ${differences.join('; ')}`,
      differences,
    };
  }
  return {
    ...base,
    ok: true,
    state: 'adopted',
    reason: compared ? "the car runs this node's config" : 'the car runs a telemetry config (not compared: no config given)',
    differences,
  };
}

/** Compare firmware versions numerically: "2024.44.32.1 abcdef" vs "2024.26". NaN when unparseable. */
export function compareFirmware(a: unknown, b: unknown): number {
  const parse = (v: unknown): number[] | null => {
    if (typeof v !== 'string') return null;
    const m = v.trim().match(/^v?(\d+(?:\.\d+)*)/);
    return m ? m[1].split('.').map(Number) : null;
  };
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return NaN;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

interface VehicleCheckInfo {
  keyPaired: boolean | null;
  firmware: string | null;
  fleetTelemetryVersion: string | null;
  totalNumberOfKeys: number | null;
  vehicleCommandProtocolRequired: boolean | null;
  found: boolean;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null;
}

function num(v: unknown): number | null {
  const n = typeof v === 'number' ? v : toNumber(v);
  return Number.isFinite(n) ? n : null;
}

function bool(v: unknown): boolean | null {
  return typeof v === 'boolean' ? v : null;
}

function checkInfoFrom(o: Record<string, unknown>): Omit<VehicleCheckInfo, 'keyPaired' | 'found'> {
  return {
    firmware: str(o.firmware_version ?? o.firmware ?? o.car_version),
    fleetTelemetryVersion: str(o.fleet_telemetry_version),
    totalNumberOfKeys: num(o.total_number_of_keys),
    vehicleCommandProtocolRequired: bool(o.vehicle_command_protocol_required),
  };
}

/** Per-VIN info from a fleet_status answer, of either known shape. */
function fleetStatusInfo(body: unknown): Map<string, VehicleCheckInfo> {
  const b = asJson(body);
  const r = isObject(b) && 'response' in b ? b.response : b;
  const out = new Map<string, VehicleCheckInfo>();
  const put = (vin: string, patch: Partial<VehicleCheckInfo>) => {
    const k = vin.toUpperCase();
    const prev: VehicleCheckInfo = out.get(k) ?? {
      keyPaired: null,
      firmware: null,
      fleetTelemetryVersion: null,
      totalNumberOfKeys: null,
      vehicleCommandProtocolRequired: null,
      found: true,
    };
    const next = { ...prev };
    for (const [key, value] of Object.entries(patch)) {
      if (value !== null && value !== undefined) (next as Record<string, unknown>)[key] = value;
    }
    out.set(k, next);
  };
  const perVin = (items: unknown[]) => {
    for (const item of items) {
      if (!isObject(item) || typeof item.vin !== 'string') continue;
      put(item.vin, { ...checkInfoFrom(item), keyPaired: bool(item.key_paired) });
    }
  };
  if (Array.isArray(r)) perVin(r);
  else if (isObject(r)) {
    for (const v of parseVins(r.key_paired_vins)) put(v, { keyPaired: true });
    for (const v of parseVins(r.unpaired_vins)) put(v, { keyPaired: false });
    if (isObject(r.vehicle_info)) {
      for (const [vin, info] of Object.entries(r.vehicle_info)) {
        if (isObject(info)) put(vin, { ...checkInfoFrom(info), keyPaired: bool(info.key_paired) });
      }
    }
    if (Array.isArray(r.vehicles)) perVin(r.vehicles);
  }
  return out;
}

/** One entry per VIN from a `POST /api/1/vehicles/fleet_status` answer. */
export function interpretCheck(vins: unknown, body: unknown, options: StatusOptions = {}): ResultEntry[] {
  const info = fleetStatusInfo(body);
  return parseVins(vins).map((vin): ResultEntry => {
    const i = info.get(vin.toUpperCase());
    if (!i) {
      return {
        vin,
        ok: false,
        state: 'unknown',
        reason: 'fleet_status says nothing about this VIN (not on this account, or a typo?)',
        keyPaired: null,
        firmware: null,
        fleetTelemetryVersion: null,
        totalNumberOfKeys: null,
      };
    }
    const details = {
      keyPaired: i.keyPaired,
      firmware: i.firmware,
      fleetTelemetryVersion: i.fleetTelemetryVersion,
      totalNumberOfKeys: i.totalNumberOfKeys,
      vehicleCommandProtocolRequired: i.vehicleCommandProtocolRequired,
    };
    const cmp = compareFirmware(i.firmware, MIN_FIRMWARE);
    const fwOld = cmp < 0;
    const fwText = i.firmware ? `firmware ${i.firmware}` : 'firmware unknown';
    const extras = [
      i.fleetTelemetryVersion ? `fleet telemetry version ${i.fleetTelemetryVersion}` : null,
      i.totalNumberOfKeys !== null ? `${i.totalNumberOfKeys} key(s) on the car` : null,
    ].filter(Boolean);
    const tail = extras.length ? `; ${extras.join(', ')}` : '';
    if (i.keyPaired === false) {
      return {
        vin,
        ok: false,
        state: 'key not paired',
        reason: `the virtual key is not paired with this car — ${pairingAdvice(options.domain)}${fwOld ? `; also, ${fwText} is older than ${MIN_FIRMWARE}` : ''}`,
        ...details,
      };
    }
    if (fwOld) {
      return {
        vin,
        ok: false,
        state: 'unsupported firmware',
        reason: `${fwText} is older than ${MIN_FIRMWARE}, the minimum for a telemetry config through the vehicle-command proxy: update the car's software${tail}`,
        ...details,
      };
    }
    if (i.keyPaired === null || Number.isNaN(cmp)) {
      const missing = [i.keyPaired === null ? 'whether the key is paired' : null, Number.isNaN(cmp) ? 'the firmware version' : null]
        .filter(Boolean)
        .join(' and ');
      return { vin, ok: false, state: 'unknown', reason: `fleet_status did not say ${missing}${tail}`, ...details };
    }
    return {
      vin,
      ok: true,
      state: 'ready',
      reason: `key paired, ${fwText} (>= ${MIN_FIRMWARE})${tail}: ready to register`,
      ...details,
    };
  });
}

function timeOf(v: unknown): number {
  if (typeof v === 'number') return v < 1e11 ? v * 1000 : v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isFinite(t) ? t : NaN;
  }
  if (isObject(v) && typeof v.seconds === 'number') return v.seconds * 1000;
  return NaN;
}

/**
 * One entry for `GET /api/1/vehicles/{vin}/fleet_telemetry_errors`
 * (`{response: {fleet_telemetry_errors: [...]}}`, or a bare array). `errors` lists them
 * newest first; entries for another VIN are left out.
 */
export function interpretErrors(vin: string, body: unknown): ResultEntry {
  const b = asJson(body);
  const r = isObject(b) && 'response' in b ? b.response : b;
  let list: unknown;
  if (Array.isArray(r)) list = r;
  else if (isObject(r)) list = r.fleet_telemetry_errors ?? r.errors ?? [];
  else if (isObject(b) && Array.isArray(b.fleet_telemetry_errors)) list = b.fleet_telemetry_errors;
  if (!Array.isArray(list)) {
    const text = bodyErrorText(body);
    return { vin, ok: false, state: 'error', reason: `unexpected answer: no list of errors${text ? ` (${text})` : ''}` };
  }
  const errors: TelemetryErrorInfo[] = list
    .filter((e): e is Record<string, unknown> => isObject(e))
    .filter((e) => typeof e.vin !== 'string' || e.vin.toUpperCase() === vin.toUpperCase())
    .map((e) => ({
      name: str(e.name),
      error: str(e.error),
      errorName: str(e.error_name),
      createdAt: typeof e.created_at === 'string' || typeof e.created_at === 'number' ? e.created_at : null,
      txId: str(e.txID ?? e.txid ?? e.tx_id),
    }))
    .map((e, i) => ({ e, i, t: timeOf(e.createdAt) }))
    .sort((x, y) => (Number.isFinite(y.t) && Number.isFinite(x.t) ? y.t - x.t : x.i - y.i))
    .map(({ e }) => e);
  if (errors.length === 0) {
    return { vin, ok: true, state: 'no errors', reason: 'the car reported no telemetry errors', errors };
  }
  const latest = errors[0];
  const what = [latest.name, latest.errorName, latest.error].filter(Boolean).join(' / ') || 'no details';
  const when = latest.createdAt !== null ? ` at ${latest.createdAt}` : '';
  return {
    vin,
    ok: false,
    state: 'errors',
    reason: `the car reported ${errors.length} telemetry error(s); latest${when}: ${what}`,
    errors,
  };
}

/** One entry for `DELETE /api/1/vehicles/{vin}/fleet_telemetry_config`. */
export function interpretDelete(vin: string, status: number, body: unknown, retryAfterSeconds?: number | null): ResultEntry {
  if (!(status >= 200 && status < 300)) return httpErrorEntry(vin, status, body, retryAfterSeconds);
  const r = responseOf(body);
  const updated = isObject(r) ? num(r.updated_vehicles) : null;
  if (updated === 0) {
    return {
      vin,
      ok: false,
      state: 'unknown',
      reason: 'Tesla answered but updated no vehicle (nothing to remove, or the key is not paired): check with the status action',
    };
  }
  return {
    vin,
    ok: true,
    state: 'deleted',
    reason: 'the telemetry config is removed; the car stops streaming to the server at its next connection',
  };
}
