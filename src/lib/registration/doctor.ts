/**
 * The registration doctor: from what Tesla and the broker say about one VIN, the first state
 * that applies, in this order —
 *
 *   key not paired, unsupported firmware, rejected, not configured, pending, drift,
 *   expiring (the car's `exp` within 7 days), silent (adopted, online, nothing live on the
 *   broker for 60 min or ever — only with broker evidence), healthy
 *
 * — with a reason (what was found), a fix (one sentence: what to do) and the evidence read.
 * Tesla's answers are interpreted by the telemetry-config functions (interpretCheck,
 * interpretStatus, interpretErrors); this module only orders their verdicts and adds the
 * stream's evidence. Plain data in, plain data out: no HTTP, no clock of its own.
 */
import {
  FleetTelemetryConfig,
  MIN_FIRMWARE,
  ResultEntry,
  TelemetryErrorInfo,
  compareFirmware,
  describeCa,
  errorEntry,
  interpretCheck,
  interpretErrors,
  interpretStatus,
} from './index';
import { FIXES, REASONS, caName } from './texts';

/** Doctor states, in priority order (the first that applies wins), then the failures. */
export const DOCTOR_STATES = [
  'key not paired',
  'unsupported firmware',
  'rejected',
  'not configured',
  'pending',
  'drift',
  'expiring',
  'silent',
  'healthy',
] as const;

export type DoctorState = (typeof DOCTOR_STATES)[number] | 'error' | 'rate-limited';

/** States `ensure` fixes by pushing this node's config. */
export const PUSH_STATES: ReadonlySet<DoctorState> = new Set<DoctorState>(['not configured', 'drift', 'expiring']);

export const EXPIRING_WITHIN_MS = 7 * 86_400_000;
export const SILENT_AFTER_MS = 60 * 60_000;

export interface DoctorEvidence {
  keyPaired: boolean | null;
  firmware: string | null;
  synced: boolean | null;
  limitReached: boolean | null;
  differences: string[];
  /** The car's config expiry, epoch seconds (null: none). */
  exp: number | null;
  /** `online` | `asleep` | `offline` from the free state check; null when not read. */
  vehicleState: string | null;
  /** ms of the VIN's last live message on the broker; null: never, or no broker. */
  lastLive: number | null;
  /** The last connectivity payload on the broker ({status, connectionId, createdAt}); null: none. */
  lastConnectivity: unknown;
  /** What the car reported (fleet_telemetry_errors), newest first. */
  errors: TelemetryErrorInfo[];
}

/** The register result merged into an entry `ensure` pushed. */
export interface PushResult {
  ok: boolean;
  state: string;
  reason: string;
  skipped?: string;
}

export interface DoctorEntry {
  vin: string;
  ok: boolean;
  state: DoctorState;
  reason: string;
  fix: string;
  evidence: DoctorEvidence;
  /** rate-limited / error. */
  retryAfterSeconds?: number | null;
  httpStatus?: number;
  /** ensure: true on the VINs it pushed, false on the others. */
  pushed?: boolean;
  /** ensure: the register answer for this VIN. */
  register?: PushResult;
  /** ensure: when the next push is allowed (ms), for a VIN held by the 24 h cap. */
  nextPushAt?: number;
}

/** One read: the answer's body, or what failed instead; undefined when not read at all. */
export type Read<T = unknown> = { body: T } | { error: unknown } | undefined;

/** What the broker knows about a VIN's stream. */
export interface StreamEvidence {
  /** ms of the last live message; null or undefined: none ever. */
  lastLive(vin: string): number | null | undefined;
  /** The last connectivity payload, when the broker keeps it. */
  lastConnectivity?(vin: string): unknown;
  /** False while the broker connection is down (then silence proves nothing). */
  connected?(): boolean;
}

export interface DoctorInput {
  vin: string;
  /** ms since the epoch. */
  now: number;
  /** The shared `POST fleet_status` answer (for every VIN). */
  fleetStatus?: Read;
  /** `GET …/fleet_telemetry_config`. */
  telemetryConfig?: Read;
  /** `GET …/fleet_telemetry_errors`. */
  telemetryErrors?: Read;
  /** `GET /api/1/vehicles/{vin}` as the client returns it: `{state}`. */
  vehicle?: Read<{ state: string | null }>;
  /** The broker's evidence; without it `silent` is never concluded. */
  stream?: StreamEvidence | null;
  /** This node's config, when it holds a complete one (compared for drift). */
  ours?: FleetTelemetryConfig | null;
  /** Partner domain, for the pairing link. */
  domain?: string | null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bodyOf(r: Read): unknown {
  return r !== undefined && 'body' in r ? r.body : undefined;
}

function failureOf(r: Read): unknown {
  return r !== undefined && 'error' in r ? r.error : undefined;
}

/** The car's config object from a fleet_telemetry_config answer, or null. */
function carConfigOf(body: unknown): Record<string, unknown> | null {
  const r = isObject(body) ? body.response : undefined;
  return isObject(r) && isObject(r.config) ? r.config : null;
}

function expOf(config: Record<string, unknown> | null): number | null {
  if (!config) return null;
  const e = typeof config.exp === 'number' ? config.exp : typeof config.exp === 'string' ? Number(config.exp) : NaN;
  return Number.isFinite(e) && e > 0 ? e : null;
}

function emptyEvidence(): DoctorEvidence {
  return {
    keyPaired: null,
    firmware: null,
    synced: null,
    limitReached: null,
    differences: [],
    exp: null,
    vehicleState: null,
    lastLive: null,
    lastConnectivity: null,
    errors: [],
  };
}

/** Why a read failed, in a few words (the entry errorEntry makes of it). */
function whyFailed(vin: string, error: unknown): string {
  return errorEntry(vin, error).reason;
}

/** An entry for a VIN whose verdict could not be reached: `error` or `rate-limited`. */
export function failedEntry(vin: string, error: unknown, evidence: DoctorEvidence = emptyEvidence(), what?: string): DoctorEntry {
  const e = errorEntry(vin, error);
  const entry: DoctorEntry = {
    vin,
    ok: false,
    state: e.state === 'rate-limited' ? 'rate-limited' : 'error',
    reason: what ? REASONS.notRead(what, e.reason) : e.reason,
    fix: e.state === 'rate-limited' ? FIXES.rateLimited(e.retryAfterSeconds ?? null) : FIXES.error(e.httpStatus),
    evidence,
  };
  if (e.retryAfterSeconds !== undefined) entry.retryAfterSeconds = e.retryAfterSeconds;
  if (e.httpStatus !== undefined) entry.httpStatus = e.httpStatus;
  return entry;
}

/** The diagnosis of one VIN. Never throws. */
export function diagnose(input: DoctorInput): DoctorEntry {
  const { vin, now } = input;
  const ev = emptyEvidence();
  const notes: string[] = [];
  const entry = (state: DoctorState, reason: string, fix: string): DoctorEntry => ({
    vin,
    ok: state === 'healthy',
    state,
    reason: notes.length ? `${reason} (${notes.join('; ')})` : reason,
    fix,
    evidence: ev,
  });

  // What was read.
  const statusBody = bodyOf(input.fleetStatus);
  const check: ResultEntry | null = statusBody !== undefined ? interpretCheck([vin], statusBody, { domain: input.domain })[0] : null;
  if (check) {
    ev.keyPaired = check.keyPaired ?? null;
    ev.firmware = check.firmware ?? null;
  } else if (input.fleetStatus !== undefined) {
    notes.push(REASONS.notRead('fleet_status', whyFailed(vin, failureOf(input.fleetStatus))));
  }
  const configBody = bodyOf(input.telemetryConfig);
  const status: ResultEntry | null = configBody !== undefined ? interpretStatus(vin, configBody, input.ours ?? null, { domain: input.domain }) : null;
  const carConfig = carConfigOf(configBody);
  if (status && status.state !== 'error') {
    ev.synced = status.synced ?? null;
    ev.limitReached = status.limitReached ?? null;
    // Either answer saying "not paired" is enough: the car cannot take a signed config.
    if (ev.keyPaired === null || status.keyPaired === false) ev.keyPaired = status.keyPaired ?? null;
    ev.exp = expOf(carConfig);
  }
  const errorsBody = bodyOf(input.telemetryErrors);
  if (errorsBody !== undefined) {
    const e = interpretErrors(vin, errorsBody);
    ev.errors = e.errors ?? [];
  }
  const vehicleBody = bodyOf(input.vehicle);
  ev.vehicleState = isObject(vehicleBody) && typeof vehicleBody.state === 'string' ? vehicleBody.state : null;
  const stream = input.stream ?? null;
  if (stream) {
    const last = stream.lastLive(vin);
    ev.lastLive = typeof last === 'number' ? last : null;
    ev.lastConnectivity = stream.lastConnectivity?.(vin) ?? null;
  }

  // 1. key not paired (fleet_status, or the config answer's key_paired).
  if (ev.keyPaired === false) {
    const reason = check?.state === 'key not paired' ? check.reason : status?.state === 'key not paired' ? status.reason : REASONS.keyNotPaired();
    return entry('key not paired', reason, FIXES.keyNotPaired(input.domain));
  }
  // 2. unsupported firmware.
  if (ev.firmware !== null && compareFirmware(ev.firmware, MIN_FIRMWARE) < 0) {
    return entry('unsupported firmware', REASONS.firmwareOld(ev.firmware), FIXES.unsupportedFirmware(ev.firmware));
  }
  // From here on the car's config answer decides.
  if (!status) {
    const failure = failureOf(input.telemetryConfig);
    return failedEntry(vin, failure ?? 'not read', ev, 'fleet_telemetry_config');
  }
  if (status.state === 'error') return failedEntry(vin, status.reason, ev, 'fleet_telemetry_config');
  switch (status.state) {
    case 'rejected':
      return entry('rejected', status.reason, ev.limitReached ? FIXES.limitReached() : FIXES.configNull());
    case 'not configured':
      return entry('not configured', status.reason, FIXES.notConfigured());
    case 'pending':
      ev.differences = status.differences ?? [];
      return entry('pending', status.reason, ev.differences.length ? FIXES.pendingDiffers() : FIXES.pending());
    default:
      break;
  }
  // Adopted or drifted: an exp this node set counts as a difference; one it did not set does not.
  const differences = [...(status.differences ?? [])];
  const ourExp = input.ours?.exp;
  if (typeof ourExp === 'number' && ourExp !== ev.exp) differences.push(REASONS.expDiffers(ev.exp, ourExp));
  ev.differences = differences;
  if (differences.length > 0) return entry('drift', REASONS.drift(differences), FIXES.drift());
  if (ev.exp !== null && ev.exp * 1000 - now <= EXPIRING_WITHIN_MS) {
    return entry('expiring', REASONS.expiring(ev.exp, now), FIXES.expiring(ev.exp));
  }

  // Adopted: does it stream?
  if (!stream) return entry('healthy', REASONS.healthyNoBroker(), FIXES.healthy());
  if (stream.connected && !stream.connected()) return entry('healthy', REASONS.healthyBrokerDown(), FIXES.healthy());
  const silentFor = ev.lastLive === null ? Infinity : now - ev.lastLive;
  if (silentFor < SILENT_AFTER_MS) return entry('healthy', REASONS.healthyStreaming(silentFor), FIXES.healthy());
  if (ev.vehicleState === null) {
    const why = input.vehicle && 'error' in input.vehicle ? whyFailed(vin, input.vehicle.error) : 'the car state was not read';
    return entry('healthy', REASONS.healthyStateUnknown(`car state: ${why}`), FIXES.healthy());
  }
  if (ev.vehicleState !== 'online') return entry('healthy', REASONS.healthyAsleep(ev.vehicleState), FIXES.healthy());
  const connectivity = REASONS.connectivity(ev.lastConnectivity as { status?: unknown; createdAt?: unknown } | null);
  const reason = ev.lastLive === null ? REASONS.silentNever(connectivity) : REASONS.silentFor(silentFor, connectivity);
  const target = serverOf(carConfig, input.ours ?? null);
  return entry('silent', reason, FIXES.silent(target.hostname, target.port, target.ca, ev.errors));
}

/** Where the car sends its stream: its own config's hostname, port and CA (ours when it lacks one). */
function serverOf(car: Record<string, unknown> | null, ours: FleetTelemetryConfig | null): { hostname: string; port: string; ca: string } {
  const hostname = typeof car?.hostname === 'string' && car.hostname ? car.hostname : (ours?.hostname ?? '<hostname>');
  const port = car?.port !== undefined && car.port !== null ? String(car.port) : ours ? String(ours.port) : '<port>';
  const pem = typeof car?.ca === 'string' && car.ca ? car.ca : ours?.ca;
  let subject: string | null = null;
  try {
    subject = describeCa(pem).subject || null;
  } catch {
    subject = null;
  }
  return { hostname, port, ca: caName(subject) };
}
