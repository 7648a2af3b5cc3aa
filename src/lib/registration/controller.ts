/**
 * What a `telemetry-config` node does with one input, without Node-RED: merge the message
 * into the node's settings, validate before any call, run the action through the account's
 * Fleet API client (one config call at a time per account, Retry-After honoured), and turn
 * Tesla's answers into one result entry per VIN.
 */
import type { FleetApiClient } from '../fleet-api/client';
import { FieldsFromFlowError, FlowSource, applyFieldsFrom } from './fields-from-flow';
import { ERRORS } from './texts';
import {
  ConfigAction,
  FleetTelemetryConfig,
  ResultEntry,
  TelemetryConfigProps,
  buildConfig,
  buildRegisterBody,
  errorEntry,
  formatProblems,
  interpretCheck,
  interpretDelete,
  interpretErrors,
  interpretRegister,
  interpretStatus,
  isConfigAction,
  mergeMessage,
  parseVins,
  validate,
} from './index';

export type ConfigClient = Pick<
  FleetApiClient,
  'fleetStatus' | 'createTelemetryConfig' | 'getTelemetryConfig' | 'deleteTelemetryConfig' | 'telemetryErrors' | 'serialized'
>;

export interface ActionResult {
  action: ConfigAction;
  payload: ResultEntry[];
  /** The raw answer (check, register) or answers keyed by VIN (status, errors, delete). */
  response: unknown;
  warnings: string[];
}

/** Validation failed: nothing was sent. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
}

/** Per client: no config call before this time (a 429's Retry-After). */
export const blockedUntil = new WeakMap<object, number>();

export function retryAtOf(e: unknown, now: number): number | null {
  const err = e as { kind?: string; retryAfterSeconds?: number | null; retryAt?: number | null };
  if (err?.kind !== 'rate-limited') return null;
  if (typeof err.retryAt === 'number') return err.retryAt;
  return now + (err.retryAfterSeconds ?? 60) * 1000;
}

function blockedEntry(vin: string, until: number, now: number): ResultEntry {
  const seconds = Math.ceil((until - now) / 1000);
  return {
    vin,
    ok: false,
    state: 'rate-limited',
    reason: `Tesla asked to wait: no call made; retry in ${seconds} s`,
    retryAfterSeconds: seconds,
  };
}

/**
 * Run `check`, `register`, `status`, `errors` or `delete` for one input message. Throws
 * ValidationError before any call for bad settings (and for the actions runRegistrationAction
 * runs). With `fieldsFrom: "flow"`, register sends and status compares the fields the flow's
 * telemetry-in nodes on `options.flow.brokerId` listen to.
 */
export async function runAction(
  client: ConfigClient,
  nodeProps: TelemetryConfigProps & { action?: string; fieldsFrom?: unknown; defaultInterval?: unknown },
  msg: { action?: unknown; vins?: unknown; config?: unknown },
  options: { domain?: string; now?: () => number; flow?: FlowSource | null } = {},
): Promise<ActionResult> {
  const now = options.now ?? Date.now;
  const merged = mergeMessage(nodeProps, msg);
  const action = merged.action;
  if (!isConfigAction(action)) throw new ValidationError(ERRORS.notConfigAction(action));
  let props = merged.props;
  const notes: string[] = [];
  if (action === 'register' || action === 'status') {
    try {
      props = applyFieldsFrom(props, { fieldsFrom: nodeProps.fieldsFrom, defaultInterval: nodeProps.defaultInterval, flow: options.flow });
    } catch (e) {
      if (!(e instanceof FieldsFromFlowError)) throw e;
      if (action === 'register') throw new ValidationError(`telemetry-config register: ${e.message}`);
      // status: the cars are still read, but there is no config of ours to compare with.
      props = { ...props, fields: {} };
      notes.push(`fields: ${e.message}`);
    }
  }
  const check = validate(props, { scope: action === 'register' ? 'all' : 'vins', now: now() });
  if (check.errors.length) throw new ValidationError(`telemetry-config ${action}: ${formatProblems(check.errors)}`);
  const warnings = [...notes, ...check.warnings.map((w) => `${w.input}: ${w.message}`)];
  const vins = parseVins(props.vins);
  const domain = options.domain;

  return client.serialized(async () => {
    const until = blockedUntil.get(client) ?? 0;
    if (until > now()) {
      return { action, payload: vins.map((v) => blockedEntry(v, until, now())), response: null, warnings };
    }
    const block = (e: unknown): void => {
      const at = retryAtOf(e, now());
      if (at !== null) blockedUntil.set(client, at);
    };
    /** One call for all VINs. */
    const whole = async (call: () => Promise<unknown>, read: (body: unknown) => ResultEntry[]): Promise<ActionResult> => {
      try {
        const body = await call();
        return { action, payload: read(body), response: body, warnings };
      } catch (e) {
        block(e);
        return { action, payload: vins.map((v) => errorEntry(v, e)), response: (e as { body?: unknown }).body ?? null, warnings };
      }
    };
    /** One call per VIN; after a 429 the rest are not called. */
    const each = async (call: (vin: string) => Promise<unknown>, read: (vin: string, body: unknown) => ResultEntry): Promise<ActionResult> => {
      const payload: ResultEntry[] = [];
      const response: Record<string, unknown> = {};
      for (const vin of vins) {
        const stop = blockedUntil.get(client) ?? 0;
        if (stop > now()) {
          payload.push(blockedEntry(vin, stop, now()));
          continue;
        }
        try {
          const body = await call(vin);
          response[vin] = body;
          payload.push(read(vin, body));
        } catch (e) {
          block(e);
          response[vin] = (e as { body?: unknown }).body ?? null;
          payload.push(errorEntry(vin, e));
        }
      }
      return { action, payload, response, warnings };
    };

    switch (action) {
      case 'check':
        return whole(
          () => client.fleetStatus(vins),
          (body) => interpretCheck(vins, body, { domain }),
        );
      case 'register': {
        const config = buildConfig(props);
        return whole(
          () => client.createTelemetryConfig(buildRegisterBody(vins, config) as Parameters<ConfigClient['createTelemetryConfig']>[0]),
          (body) => interpretRegister(vins, 200, body, { domain }),
        );
      }
      case 'status': {
        // Compare with our config only when the node holds a complete one.
        const ours: FleetTelemetryConfig | null = validate(props, { now: now() }).errors.length ? null : buildConfig(props);
        return each(
          (vin) => client.getTelemetryConfig(vin),
          (vin, body) => interpretStatus(vin, body, ours, { domain }),
        );
      }
      case 'errors':
        return each(
          (vin) => client.telemetryErrors(vin),
          (vin, body) => interpretErrors(vin, body),
        );
      case 'delete':
        return each(
          (vin) => client.deleteTelemetryConfig(vin),
          (vin, body) => interpretDelete(vin, 200, body),
        );
    }
  });
}

/** A one-line summary for the node status, e.g. `register: 2 updated, 1 skipped`. */
export function summarise(result: ActionResult): string {
  const counts = new Map<string, number>();
  for (const e of result.payload) counts.set(e.state, (counts.get(e.state) ?? 0) + 1);
  return `${result.action}: ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ') || 'no VIN'}`;
}
