/**
 * The `fleet_telemetry_config` request body, and merging a message into the node's settings.
 */
import { parseList } from '../common/util';
import { fieldRows, isObject, isSet, parseVins, toNumber } from './helpers';
import {
  ACTIONS,
  Action,
  CONFIG_ACTIONS,
  ConfigAction,
  DEFAULT_ACTION,
  FieldSetting,
  FieldsSpec,
  FleetTelemetryConfig,
  REGISTRATION_ACTIONS,
  RegisterBody,
  RegistrationAction,
  TelemetryConfigProps,
} from './types';
import { parseExp, parsePort } from './validation';

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

export function isConfigAction(a: unknown): a is ConfigAction {
  return typeof a === 'string' && (CONFIG_ACTIONS as readonly string[]).includes(a);
}

export function isRegistrationAction(a: unknown): a is RegistrationAction {
  return typeof a === 'string' && (REGISTRATION_ACTIONS as readonly string[]).includes(a);
}

/**
 * The action of one input: `msg.action` when set, else the node's, else `status`; trimmed and
 * lower-cased. Throws an Error (message fit for the user) naming an unknown one.
 */
export function actionOf(nodeAction: unknown, msgAction: unknown): Action {
  const raw = isSet(msgAction) ? msgAction : isSet(nodeAction) ? nodeAction : DEFAULT_ACTION;
  const action = typeof raw === 'string' ? raw.trim().toLowerCase() : raw;
  if (!isAction(action)) throw new Error(`unknown action ${JSON.stringify(raw)}: use one of ${ACTIONS.join(', ')}`);
  return action;
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
 * The settings for one input message: `msg.vins` overrides the node's VINs, and each key of
 * `msg.config` (Tesla's names like `alert_types`/`prefer_typed`, or the node's
 * `alertTypes`/`preferTyped`) the matching setting. Throws an Error (message fit for the
 * user) for a `msg.config` that is not an object.
 */
export function mergeSettings(props: TelemetryConfigProps, msg: { vins?: unknown; config?: unknown } | null | undefined): TelemetryConfigProps {
  const m = msg ?? {};
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
  return out;
}

/** The action (actionOf) and the settings (mergeSettings) for one input message. */
export function mergeMessage(
  props: TelemetryConfigProps & { action?: string },
  msg: { action?: unknown; vins?: unknown; config?: unknown } | null | undefined,
): { action: Action; props: TelemetryConfigProps } {
  const action = actionOf(props.action, msg?.action);
  return { action, props: mergeSettings(props, msg) };
}
