/**
 * The vehicle-command table, once: each command's parameters (type and range), whether it
 * opens the car, the telemetry field and value that confirm it, and the answers that mean
 * "already so". `validateCommand` checks an input against it before any HTTP call, and
 * `commandBody` builds the Fleet API body (the table's parameters, nothing else).
 *
 * Confirmation values are compared after the catalogue's normalisation, so a typed enum
 * (`DetailedChargeStateCharging`) and a legacy short name (`Charging`) confirm alike.
 */
import { FIELDS } from '../catalogue/index';
import { normalise } from '../stream/normalise';
import { parseList } from '../common/util';
import { TEXTS } from './texts';

export type CommandName =
  | 'charge_start'
  | 'charge_stop'
  | 'set_charging_amps'
  | 'set_charge_limit'
  | 'charge_port_door_open'
  | 'charge_port_door_close'
  | 'door_lock'
  | 'door_unlock'
  | 'set_sentry_mode'
  | 'auto_conditioning_start'
  | 'auto_conditioning_stop'
  | 'flash_lights'
  | 'honk_horn';

export type ParamSpec =
  | { readonly name: string; readonly type: 'integer'; readonly min: number; readonly max: number }
  | { readonly name: string; readonly type: 'boolean' };

/** A value (after normalisation) that confirms, or that must not be seen. */
export type Expectation =
  | { readonly oneOf: readonly (string | number | boolean)[] }
  | { readonly noneOf: readonly (string | number | boolean)[] }
  /** Equals the value of this parameter. */
  | { readonly param: string }
  /** Depends on a boolean parameter. */
  | { readonly byParam: string; readonly ifTrue: Expectation; readonly ifFalse: Expectation };

export interface Confirmation {
  /** A telemetry field name of the catalogue. */
  readonly field: string;
  readonly expect: Expectation;
}

export interface CommandSpec {
  readonly name: CommandName;
  readonly params: readonly ParamSpec[];
  /** Opens the car to whoever stands next to it: runs only with allowUnlock. */
  readonly opensCar: boolean;
  /** What a live message must show; null: not confirmed. */
  readonly confirm: Confirmation | null;
  /** `result: false` reason words that mean the car already is as asked. */
  readonly already: readonly string[];
}

/** Reason words that mean "already so" for any command. */
const ALREADY_ANY = ['already_set', 'complete'];

/** Values that say nothing about the car (the enum's Unknown); never a confirmation. */
const UNKNOWN = 'Unknown';
const CHARGING = ['Starting', 'Charging'];

function spec(
  name: CommandName,
  params: ParamSpec[],
  confirm: Confirmation | null,
  opts: { opensCar?: boolean; already?: string[] } = {},
): CommandSpec {
  return { name, params, opensCar: !!opts.opensCar, confirm, already: [...ALREADY_ANY, ...(opts.already ?? [])] };
}

const is = (field: string, ...values: (string | number | boolean)[]): Confirmation => ({ field, expect: { oneOf: values } });

export const COMMANDS: readonly CommandSpec[] = [
  spec('charge_start', [], is('DetailedChargeState', ...CHARGING), { already: ['is_charging'] }),
  spec('charge_stop', [], { field: 'DetailedChargeState', expect: { noneOf: [...CHARGING, UNKNOWN] } }, { already: ['not_charging'] }),
  spec('set_charging_amps', [{ name: 'charging_amps', type: 'integer', min: 0, max: 48 }], {
    field: 'ChargeCurrentRequest',
    expect: { param: 'charging_amps' },
  }),
  spec('set_charge_limit', [{ name: 'percent', type: 'integer', min: 50, max: 100 }], {
    field: 'ChargeLimitSoc',
    expect: { param: 'percent' },
  }),
  spec('charge_port_door_open', [], is('ChargePortDoorOpen', true), { opensCar: true }),
  spec('charge_port_door_close', [], is('ChargePortDoorOpen', false)),
  spec('door_lock', [], is('Locked', true)),
  spec('door_unlock', [], is('Locked', false), { opensCar: true }),
  spec('set_sentry_mode', [{ name: 'on', type: 'boolean' }], {
    field: 'SentryMode',
    expect: { byParam: 'on', ifTrue: { noneOf: ['Off', UNKNOWN] }, ifFalse: { oneOf: ['Off'] } },
  }),
  spec('auto_conditioning_start', [], is('HvacPower', 'On')),
  spec('auto_conditioning_stop', [], is('HvacPower', 'Off')),
  spec('flash_lights', [], null),
  spec('honk_horn', [], null),
];

export const COMMAND_NAMES: readonly CommandName[] = COMMANDS.map((c) => c.name);

const BY_NAME: ReadonlyMap<string, CommandSpec> = new Map(COMMANDS.map((c) => [c.name, c]));

/** The table's entry for a command name, or undefined. */
export function commandSpec(name: string): CommandSpec | undefined {
  return BY_NAME.get(name);
}

// A confirmation field the catalogue lacks would never confirm: fail at load, not at run time.
for (const c of COMMANDS) {
  if (c.confirm && !FIELDS.has(c.confirm.field)) {
    throw new Error(`vehicle-command table: ${c.name} confirms on ${c.confirm.field}, which is not in the field catalogue`);
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

/** Which input was at fault. */
export type InputAtFault = 'command' | 'params' | 'vins' | 'allowUnlock';

export class CommandInputError extends Error {
  override readonly name = 'CommandInputError';
  constructor(
    readonly input: InputAtFault,
    message: string,
  ) {
    super(message);
  }
}

export type CommandParams = Readonly<Record<string, number | boolean>>;

export interface ValidCommand {
  spec: CommandSpec;
  /** The Fleet API body: exactly the table's parameters. */
  params: CommandParams;
  vins: string[];
}

const VIN_RE = /^[A-Za-z0-9]{17}$/;

export function isVin(value: unknown): value is string {
  return typeof value === 'string' && VIN_RE.test(value);
}

/** What a parameter takes, in words (for error texts and the editor). */
export function expectedOf(p: ParamSpec): string {
  return p.type === 'integer' ? TEXTS.integerRange(p.min, p.max) : TEXTS.booleanValue();
}

/** Whether a value is one the parameter takes (no conversion: "16" is not 16). */
export function paramAccepts(p: ParamSpec, value: unknown): value is number | boolean {
  if (p.type === 'boolean') return typeof value === 'boolean';
  return typeof value === 'number' && Number.isInteger(value) && value >= p.min && value <= p.max;
}

function checkParam(command: string, p: ParamSpec, value: unknown): number | boolean {
  if (value === undefined || value === null) throw new CommandInputError('params', TEXTS.paramMissing(command, p.name, expectedOf(p)));
  if (!paramAccepts(p, value)) throw new CommandInputError('params', TEXTS.paramWrong(command, p.name, expectedOf(p), value));
  return value;
}

/**
 * The parameters of a command from msg.payload: an object with the table's names (other keys
 * are ignored and never sent), or — for a command with exactly one parameter — the bare value
 * (`16` for set_charging_amps, `true` for set_sentry_mode). Numbers in strings are refused. Commands without parameters
 * ignore the payload (an inject node's timestamp, say). A parameter in `fixed` (set in the
 * node) is taken from there, and the payload is not read for it; when every parameter is
 * fixed, the payload is ignored.
 */
export function commandParams(c: CommandSpec, payload: unknown, fixed: CommandParams = {}): CommandParams {
  const out: Record<string, number | boolean> = {};
  const open: ParamSpec[] = [];
  for (const p of c.params) {
    if (fixed[p.name] === undefined) open.push(p);
    else out[p.name] = checkParam(c.name, p, fixed[p.name]);
  }
  if (open.length === 0) return out;
  const isObject = !!payload && typeof payload === 'object' && !Array.isArray(payload);
  if (!isObject) {
    if (c.params.length === 1) {
      out[c.params[0].name] = checkParam(c.name, c.params[0], payload);
      return out;
    }
    throw new CommandInputError('params', TEXTS.paramsNotObject(c.name, payload));
  }
  const given = payload as Record<string, unknown>;
  for (const p of open) out[p.name] = checkParam(c.name, p, given[p.name]);
  return out;
}

/**
 * Checks an input against the table, before anything is sent. Throws a CommandInputError
 * naming the input at fault: an unknown command; a command that opens the car without
 * allowUnlock; a missing, mistyped or out-of-range parameter; no VIN, or a VIN that is not
 * 17 letters and digits. `vins`: an array or comma list. `fixedParams`: parameters set in
 * the node, taken before the payload (see commandParams).
 */
export function validateCommand(
  command: unknown,
  params: unknown,
  vins: unknown,
  opts: { allowUnlock: boolean; fixedParams?: CommandParams },
): ValidCommand {
  if (command === undefined || command === null || command === '') throw new CommandInputError('command', TEXTS.noCommand());
  const c = typeof command === 'string' ? commandSpec(command.trim()) : undefined;
  if (!c) throw new CommandInputError('command', TEXTS.unknownCommand(command, COMMAND_NAMES));
  if (c.opensCar && opts.allowUnlock !== true) throw new CommandInputError('allowUnlock', TEXTS.unlockNotAllowed(c.name));
  const body = commandParams(c, params, opts.fixedParams);
  const list = Array.isArray(vins) ? vins : parseList(vins);
  const targets: string[] = [];
  for (const v of list) {
    const vin = typeof v === 'string' ? v.trim() : v;
    if (!isVin(vin)) throw new CommandInputError('vins', TEXTS.badVin(v));
    if (!targets.includes(vin)) targets.push(vin);
  }
  if (!targets.length) throw new CommandInputError('vins', TEXTS.noVin());
  return { spec: c, params: body, vins: targets };
}

/** The JSON body for the Fleet API: the table's parameters, in the table's order, nothing else. */
export function commandBody(c: CommandSpec, params: CommandParams): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = {};
  for (const p of c.params) if (params[p.name] !== undefined) out[p.name] = params[p.name];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Answers and confirmation

/** True when a `result: false` reason means the car already is as asked (word match, `_` joins words). */
export function meansAlready(c: CommandSpec, reason: string): boolean {
  const text = reason.toLowerCase();
  return c.already.some((word) => new RegExp(`(^|[^a-z0-9_])${word}($|[^a-z0-9_])`).test(text));
}

function resolve(e: Expectation, params: CommandParams): Exclude<Expectation, { param: string } | { byParam: string }> {
  if ('param' in e) return { oneOf: [params[e.param]] };
  if ('byParam' in e) return resolve(params[e.byParam] ? e.ifTrue : e.ifFalse, params);
  return e;
}

/**
 * A test for live values of the command's confirmation field, or null when the command is not
 * confirmed. Values may be raw (as published) or normalised: they are normalised first; null
 * and the enum's Unknown never confirm.
 */
export function confirmationTest(c: CommandSpec, params: CommandParams): { field: string; test: (value: unknown) => boolean } | null {
  if (!c.confirm) return null;
  const field = c.confirm.field;
  const e = resolve(c.confirm.expect, params);
  return {
    field,
    test: (value: unknown): boolean => {
      const v = normalise(field, value);
      if (v === null || v === undefined || v === UNKNOWN || typeof v === 'object') return false;
      if ('oneOf' in e) return e.oneOf.some((x) => v === x);
      return typeof v === typeof e.noneOf[0] && !e.noneOf.includes(v as string | number | boolean);
    },
  };
}
