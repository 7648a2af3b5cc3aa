/**
 * Interpretation of every Fleet API answer the telemetry-config node deals with.
 */
import { parseList } from '../common/util';
import { caKey, caLabel } from './ca';
import { FIELD_KEYS, asJson, bodyErrorText, fieldRows, isObject, isSet, pairingAdvice, parseVins, responseOf, toNumber } from './helpers';
import { CallError, FleetTelemetryConfig, MIN_FIRMWARE, ResultEntry, TelemetryConfigProps, TelemetryErrorInfo } from './types';

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
export function interpretRegister(vins: unknown, httpStatus: number, body: unknown, options: RegisterOptions = {}): ResultEntry[] {
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
export function interpretStatus(vin: string, body: unknown, ourConfig?: FleetTelemetryConfig | null, options: StatusOptions = {}): ResultEntry {
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
