/**
 * Types and constants of the registration capability: the node's properties, Tesla's config
 * and request shapes, result entries.
 */

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

/** Actions on the cars' config itself, one Fleet API call (or one per VIN) each: runAction. */
export const CONFIG_ACTIONS = ['check', 'register', 'status', 'errors', 'delete'] as const;
export type ConfigAction = (typeof CONFIG_ACTIONS)[number];
/** The doctor and what builds on it (ensure), and the broker's usage: runRegistrationAction. */
export const REGISTRATION_ACTIONS = ['doctor', 'ensure', 'usage'] as const;
export type RegistrationAction = (typeof REGISTRATION_ACTIONS)[number];
/** Every action of a telemetry-config node, in the order the editor and the errors list them. */
export const ACTIONS = [...CONFIG_ACTIONS, ...REGISTRATION_ACTIONS] as const;
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
export const PAIRING_BASE = 'https://tesla.com/_ak/';
