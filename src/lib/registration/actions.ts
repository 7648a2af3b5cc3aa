/**
 * The `telemetry-config` actions `doctor`, `ensure` and `usage`, without Node-RED, in the
 * style of the runner of the other actions (and sharing its per-account 429 block):
 *
 * - `doctor`: one `fleet_status` for all VINs, then per VIN `fleet_telemetry_config`,
 *   `fleet_telemetry_errors` and the free state check `GET /api/1/vehicles/{vin}` — never
 *   `vehicle_data`, never `wake_up` — and the broker's evidence, into one doctor entry per VIN.
 * - `ensure`: `doctor`, then one `fleet_telemetry_config` POST for exactly the VINs found
 *   `not configured`, `drift` or `expiring` and not pushed within 24 h.
 * - `usage`: the broker's signal counts and jitter advice for the node's VINs.
 *
 * A 429 blocks every further call of the account until Retry-After; the VINs not read say so.
 * With a daily budget, a VIN whose billed calls today reached it gets no call.
 */
import type { BrokerConnection } from '../stream/broker-connection';
import { DoctorEntry, DoctorEvidence, PUSH_STATES, Read, StreamEvidence, diagnose, failedEntry } from './doctor';
import { EnsureCap, planEnsure } from './ensure';
import { FieldsFromFlowError, FlowSource, applyFieldsFrom } from './fields-from-flow';
import type { FleetApiClient } from '../fleet-api/client';
import { ERRORS, FIXES, REASONS, SUMMARY_LABELS, usageSummary } from './texts';
import type { NodeStatus } from '../common/status';
import {
  FleetTelemetryConfig,
  REGISTRATION_ACTIONS,
  RegistrationAction,
  ResultEntry,
  TelemetryConfigProps,
  buildConfig,
  buildRegisterBody,
  compareFirmware,
  errorEntry,
  formatProblems,
  interpretCheck,
  interpretRegister,
  actionOf,
  isRegistrationAction,
  isSet,
  mergeSettings,
  MIN_FIRMWARE,
  parseVins,
  validate,
} from './index';
import { ValidationError, blockedUntil, retryAtOf } from './controller';
import type { UsageMeter, UsageReport } from '../stream/usage';

export { REGISTRATION_ACTIONS, isRegistrationAction };
export type { RegistrationAction };

/** What these actions need of the account's Fleet API client. */
export type RegistrationClient = Pick<
  FleetApiClient,
  'fleetStatus' | 'getTelemetryConfig' | 'telemetryErrors' | 'getVehicle' | 'createTelemetryConfig' | 'serialized'
> & { meter?: { billedToday(vin: string): number } };

/** The node's properties these actions read, beyond the config itself. */
export interface RegistrationProps extends TelemetryConfigProps {
  action?: string;
  /** `"node"` (default): the fields table; `"flow"`: what the flow's telemetry-in nodes listen to. */
  fieldsFrom?: string;
  /** Seconds, for fields the flow names and the table does not (default 60). */
  defaultInterval?: number | string;
  /** Billed calls per VIN per day, 0 = none. */
  dailyBudget?: number | string;
}

export interface RegistrationContext {
  /** The account's client (doctor, ensure). */
  client?: RegistrationClient | null;
  /** Partner domain of the tesla-account node, for the pairing link. */
  domain?: string | null;
  now?: () => number;
  /** The broker's evidence (doctor, ensure): without it `silent` is never concluded. */
  stream?: StreamEvidence | null;
  /** The broker's usage meter (usage). */
  usage?: Pick<UsageMeter, 'report'> | null;
  /** The node's 24 h push cap (ensure); an in-memory one per client when absent. */
  cap?: EnsureCap | null;
  /** The deployed flow and the node's broker id (fieldsFrom "flow"). */
  flow?: FlowSource | null;
}

export interface RegistrationResult {
  action: RegistrationAction;
  /** doctor, ensure: one entry per VIN; usage: the usage object. */
  payload: DoctorEntry[] | UsageReport;
  /** The raw answers: `{fleet_status, vins: {VIN: {...}}, register?}`; null for usage. */
  response: unknown;
  warnings: string[];
  /** One line for the node status, e.g. `3 healthy · 1 pending · 1 needs you`. */
  summary: string;
}

/** Per client without a cap of its own: pushes remembered in memory for the process's life. */
const memoryCaps = new WeakMap<object, EnsureCap>();

const VIN_RE = /^[A-HJ-NPR-Z0-9]{17}$/;

/** VINs from the merged settings; throws ValidationError for a list of the wrong type or a malformed VIN. */
function checkedVins(msgVins: unknown, merged: unknown, required: boolean): string[] {
  if (isSet(msgVins) && !(typeof msgVins === 'string' || (Array.isArray(msgVins) && msgVins.every((v) => typeof v === 'string')))) {
    throw new ValidationError(ERRORS.vinsType(msgVins));
  }
  const vins = parseVins(merged);
  for (const v of vins) if (!VIN_RE.test(v)) throw new ValidationError(ERRORS.vinMalformed(v));
  if (required && vins.length === 0) throw new ValidationError(ERRORS.noVins());
  return vins;
}

function parseBudget(raw: unknown): number {
  if (!isSet(raw)) return 0;
  const n = typeof raw === 'number' ? raw : /^\s*\d+\s*$/.test(String(raw)) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 0) throw new ValidationError(ERRORS.dailyBudgetBad(raw));
  return n;
}

/**
 * The action of an input: `msg.action`, else the node's. Throws ValidationError naming an
 * unknown one, or one the other runner (runAction) runs.
 */
export function registrationActionOf(nodeAction: unknown, msgAction: unknown): RegistrationAction {
  let a: string;
  try {
    a = actionOf(nodeAction, msgAction);
  } catch (e) {
    throw new ValidationError((e as Error).message);
  }
  if (!isRegistrationAction(a)) throw new ValidationError(ERRORS.notRegistrationAction(a, REGISTRATION_ACTIONS));
  return a;
}

/**
 * The broker's evidence for the doctor, from a broker connection: the last live message per
 * VIN, whether the connection is up, and the last connectivity payload — by default the car
 * state's; `lastConnectivity` replaces that source.
 */
export function streamEvidenceOf(
  conn: Pick<BrokerConnection, 'tracker' | 'state'> & { carState?: Pick<BrokerConnection['carState'], 'connectivity'> },
  lastConnectivity?: (vin: string) => unknown,
): StreamEvidence {
  return {
    lastLive: (vin) => conn.tracker.lastLive(vin),
    lastConnectivity: lastConnectivity ?? ((vin) => conn.carState?.connectivity(vin) ?? null),
    connected: () => conn.state === 'connected',
  };
}

/** Run `doctor`, `ensure` or `usage` for one input message. Throws ValidationError before any call for bad input. */
export async function runRegistrationAction(
  ctx: RegistrationContext,
  nodeProps: RegistrationProps,
  msg: { action?: unknown; vins?: unknown; config?: unknown },
): Promise<RegistrationResult> {
  const now = ctx.now ?? Date.now;
  const action = registrationActionOf(nodeProps.action, msg?.action);
  let props: TelemetryConfigProps;
  try {
    props = mergeSettings(nodeProps, msg);
  } catch (e) {
    throw new ValidationError(`telemetry-config ${action}: ${(e as Error).message}`);
  }

  if (action === 'usage') {
    const vins = checkedVins(msg?.vins, props.vins, false);
    if (!ctx.usage) throw new ValidationError(ERRORS.noBroker('usage'));
    const report = ctx.usage.report(vins);
    return {
      action,
      payload: report,
      response: null,
      warnings: [],
      summary: usageSummary(report.total.signals, report.total.usd, Object.keys(report.vins).length),
    };
  }

  const vins = checkedVins(msg?.vins, props.vins, true);
  const client = ctx.client;
  if (!client) throw new ValidationError(ERRORS.noClient(action));
  const budget = parseBudget(nodeProps.dailyBudget);
  try {
    props = applyFieldsFrom(props, { fieldsFrom: nodeProps.fieldsFrom, defaultInterval: nodeProps.defaultInterval, flow: ctx.flow });
  } catch (e) {
    if (e instanceof FieldsFromFlowError) throw new ValidationError(`telemetry-config ${action}: ${e.message}`);
    throw e;
  }
  const check = validate(props, { now: now() });
  if (action === 'ensure' && check.errors.length) throw new ValidationError(ERRORS.ensureInvalid(formatProblems(check.errors)));
  const warnings = check.errors.length ? [] : check.warnings.map((w) => `${w.input}: ${w.message}`);
  const ours: FleetTelemetryConfig | null = check.errors.length ? null : buildConfig(props);
  const cap = action === 'ensure' ? (ctx.cap ?? memoryCapOf(client)) : null;
  if (cap) await cap.load();

  return client.serialized(async () => {
    const doctor = await runDoctor(client, vins, ours, ctx, now, budget);
    if (action === 'doctor')
      return { action, payload: doctor.entries, response: doctor.response, warnings, summary: summariseEntries(doctor.entries) };
    const pushed = await push(client, doctor.entries, ours as FleetTelemetryConfig, cap as EnsureCap, ctx, now, budget);
    return {
      action,
      payload: pushed.entries,
      response: { ...doctor.response, register: pushed.response },
      warnings,
      summary: summariseEntries(pushed.entries),
    };
  });
}

function memoryCapOf(client: object): EnsureCap {
  let cap = memoryCaps.get(client);
  if (!cap) memoryCaps.set(client, (cap = new EnsureCap(null)));
  return cap;
}

function blockedAt(client: object, now: number): number | null {
  const until = blockedUntil.get(client) ?? 0;
  return until > now ? until : null;
}

function blockedDoctorEntry(vin: string, until: number, now: number, evidence?: DoctorEvidence): DoctorEntry {
  const seconds = Math.ceil((until - now) / 1000);
  const e = failedEntry(vin, { kind: 'rate-limited', retryAfterSeconds: seconds }, evidence);
  e.reason = REASONS.blocked(seconds);
  return e;
}

interface DoctorRun {
  entries: DoctorEntry[];
  response: { fleet_status: unknown; vins: Record<string, Record<string, unknown>> };
}

async function runDoctor(
  client: RegistrationClient,
  vins: string[],
  ours: FleetTelemetryConfig | null,
  ctx: RegistrationContext,
  now: () => number,
  budget: number,
): Promise<DoctorRun> {
  const response: DoctorRun['response'] = { fleet_status: null, vins: {} };
  const byVin = new Map<string, DoctorEntry>();
  const block = (e: unknown): void => {
    const at = retryAtOf(e, now());
    if (at !== null) blockedUntil.set(client, at);
  };
  const overBudget = (vin: string): boolean => budget > 0 && (client.meter?.billedToday(vin) ?? 0) >= budget;
  /** One read; undefined when the account is blocked (no call made). */
  const read = async <T>(call: () => Promise<T>): Promise<Read<T>> => {
    if (blockedAt(client, now()) !== null) return undefined;
    try {
      return { body: await call() };
    } catch (e) {
      block(e);
      return { error: e };
    }
  };

  const active: string[] = [];
  for (const vin of vins) {
    if (overBudget(vin)) {
      byVin.set(vin, {
        ...failedEntry(vin, REASONS.overBudget(budget)),
        fix: FIXES.overBudget(),
      });
    } else active.push(vin);
  }

  let fleetStatus: Read = undefined;
  if (active.length) {
    fleetStatus = await read(() => client.fleetStatus(active));
    response.fleet_status = fleetStatus && 'body' in fleetStatus ? fleetStatus.body : ((fleetStatus?.error as { body?: unknown })?.body ?? null);
  }
  const checks = new Map<string, ResultEntry>();
  if (fleetStatus && 'body' in fleetStatus) for (const c of interpretCheck(active, fleetStatus.body, { domain: ctx.domain })) checks.set(c.vin, c);

  for (const vin of active) {
    const until = blockedAt(client, now());
    if (until !== null && fleetStatus && 'error' in fleetStatus) {
      // fleet_status itself was answered 429: say so, with Tesla's Retry-After.
      byVin.set(vin, failedEntry(vin, fleetStatus.error, undefined, 'fleet_status'));
      continue;
    }
    if (until !== null) {
      byVin.set(vin, blockedDoctorEntry(vin, until, now()));
      continue;
    }
    const c = checks.get(vin);
    // fleet_status already decides these two: no billed per-VIN call would change the verdict.
    const decided = c !== undefined && (c.keyPaired === false || compareFirmware(c.firmware, MIN_FIRMWARE) < 0);
    const answers: Record<string, unknown> = {};
    response.vins[vin] = answers;
    let telemetryConfig: Read = undefined;
    let telemetryErrors: Read = undefined;
    let vehicle: Read<{ state: string | null }> = undefined;
    if (!decided) {
      telemetryConfig = await read(() => client.getTelemetryConfig(vin));
      telemetryErrors = await read(() => client.telemetryErrors(vin));
      vehicle = await read(async () => ({ state: (await client.getVehicle(vin)).state }));
      answers.fleet_telemetry_config = rawOf(telemetryConfig);
      answers.fleet_telemetry_errors = rawOf(telemetryErrors);
      answers.vehicle = rawOf(vehicle);
    }
    const entry = diagnose({
      vin,
      now: now(),
      fleetStatus,
      telemetryConfig,
      telemetryErrors,
      vehicle,
      stream: ctx.stream ?? null,
      ours,
      domain: ctx.domain,
    });
    // The config answer never came because Tesla asked to wait.
    const stop = blockedAt(client, now());
    if (!decided && telemetryConfig === undefined && stop !== null) byVin.set(vin, blockedDoctorEntry(vin, stop, now(), entry.evidence));
    else byVin.set(vin, entry);
  }
  return { entries: vins.map((v) => byVin.get(v) as DoctorEntry), response };
}

function rawOf(r: Read): unknown {
  if (r === undefined) return null;
  if ('body' in r) return r.body;
  return (r.error as { body?: unknown })?.body ?? null;
}

const SKIP_FIXES: Record<string, (domain: string | null | undefined) => string> = {
  missing_key: (d) => FIXES.keyNotPaired(d),
  unsupported_firmware: () => FIXES.unsupportedFirmware(null),
  unsupported_hardware: () => FIXES.unsupportedHardware(),
  max_configs: () => FIXES.limitReached(),
};

async function push(
  client: RegistrationClient,
  entries: DoctorEntry[],
  ours: FleetTelemetryConfig,
  cap: EnsureCap,
  ctx: RegistrationContext,
  now: () => number,
  budget: number,
): Promise<{ entries: DoctorEntry[]; response: unknown }> {
  const plan = planEnsure(entries, cap, now(), ours.exp ?? null);
  const overBudget = (vin: string): boolean => budget > 0 && (client.meter?.billedToday(vin) ?? 0) >= budget;
  const pushNow = plan.push.filter((v) => !overBudget(v));
  const results = new Map<string, ResultEntry>();
  let response: unknown = null;
  let answered = false;
  const until = blockedAt(client, now());
  if (pushNow.length && until === null) {
    try {
      const body = await client.createTelemetryConfig(buildRegisterBody(pushNow, ours) as Parameters<RegistrationClient['createTelemetryConfig']>[0]);
      response = body;
      answered = true;
      for (const r of interpretRegister(pushNow, 200, body, { domain: ctx.domain })) results.set(r.vin, r);
      await cap.record(pushNow, now());
    } catch (e) {
      const at = retryAtOf(e, now());
      if (at !== null) blockedUntil.set(client, at);
      response = (e as { body?: unknown })?.body ?? null;
      for (const v of pushNow) results.set(v, errorEntry(v, e));
    }
  }
  const out = entries.map((e): DoctorEntry => {
    const r = results.get(e.vin);
    if (r) {
      const register = { ok: r.ok, state: r.state, reason: r.reason, ...(r.skipped ? { skipped: r.skipped } : {}) };
      const fix = r.ok
        ? FIXES.pushed()
        : r.skipped
          ? (SKIP_FIXES[r.skipped]?.(ctx.domain) ?? FIXES.error(undefined))
          : r.state === 'rate-limited'
            ? FIXES.rateLimited(r.retryAfterSeconds ?? null)
            : FIXES.error(r.httpStatus);
      return {
        ...e,
        reason: r.ok ? REASONS.pushed(e.reason, r.reason) : REASONS.pushFailed(e.reason, r.reason),
        fix,
        pushed: answered,
        register,
      };
    }
    if (!PUSH_STATES.has(e.state)) return { ...e, pushed: false };
    const held = plan.held.get(e.vin);
    if (held !== undefined) {
      const at = cap.lastPush(e.vin) ?? held;
      return { ...e, reason: `${e.reason}; ${REASONS.heldByCap(at, held)}`, fix: FIXES.heldByCap(held), pushed: false, nextPushAt: held };
    }
    if (plan.futile.includes(e.vin)) {
      return { ...e, reason: `${e.reason}; ${REASONS.ownExpTooSoon(ours.exp as number)}`, fix: FIXES.ownExpTooSoon(), pushed: false };
    }
    if (overBudget(e.vin)) return { ...e, reason: `${e.reason}; ${REASONS.overBudget(budget)}`, fix: FIXES.overBudget(), pushed: false };
    if (until !== null) {
      const seconds = Math.ceil((until - now()) / 1000);
      return { ...e, reason: `${e.reason}; ${REASONS.blocked(seconds)}`, fix: FIXES.rateLimited(seconds), pushed: false };
    }
    return { ...e, pushed: false };
  });
  return { entries: out, response };
}

type Group = keyof typeof SUMMARY_LABELS;

function groupOf(e: DoctorEntry): Group {
  if (e.register)
    return e.register.ok ? 'pushed' : e.register.state === 'rate-limited' ? 'rateLimited' : e.register.state === 'error' ? 'error' : 'needsYou';
  switch (e.state) {
    case 'healthy':
      return 'healthy';
    case 'pending':
      return 'pending';
    case 'not configured':
    case 'drift':
    case 'expiring':
      return 'toPush';
    case 'rate-limited':
      return 'rateLimited';
    case 'error':
      return 'error';
    default:
      return 'needsYou';
  }
}

/** `3 healthy · 1 pending · 1 needs you` (groups with no VIN left out). */
export function summariseEntries(entries: readonly DoctorEntry[]): string {
  const counts = new Map<Group, number>();
  for (const e of entries) {
    const g = groupOf(e);
    counts.set(g, (counts.get(g) ?? 0) + 1);
  }
  const parts = (Object.keys(SUMMARY_LABELS) as Group[]).filter((g) => counts.has(g)).map((g) => `${counts.get(g)} ${SUMMARY_LABELS[g]}`);
  return parts.length ? parts.join(' · ') : 'no VIN';
}

/** The node status for a result: green when all is well, yellow while waiting, red when someone must act. */
export function registrationStatus(result: RegistrationResult): NodeStatus {
  if (result.action === 'usage') return { fill: 'green', shape: 'dot', text: result.summary };
  const groups = new Set((result.payload as DoctorEntry[]).map(groupOf));
  const fill = groups.has('error') || groups.has('needsYou') ? 'red' : [...groups].every((g) => g === 'healthy') ? 'green' : 'yellow';
  return { fill, shape: fill === 'green' ? 'dot' : 'ring', text: result.summary };
}
