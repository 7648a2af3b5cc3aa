/**
 * A `vehicle-command` node's properties (as the editor or an imported flow wrote them) → the
 * controller's options, or the problems: one sentence per property, naming it. A node with a
 * problem sends nothing (its inputs fail with the problem), rather than guess: a flow written
 * by hand never makes the node wake a car, unlock it, or spend beyond what the user set.
 * Empty or missing properties take the defaults (wake never, no unlock, minInterval 0,
 * verify 60 s, no budget).
 */
import { parseList } from '../common/util';
import type { VehicleCommandOptions } from './controller';
import { COMMAND_NAMES, commandSpec, expectedOf, isVin, paramAccepts } from './table';
import { TEXTS } from './texts';

/** The node's properties in the flow JSON. */
export interface VehicleCommandConfig {
  vins?: unknown;
  command?: unknown;
  /** Parameters of `command` set in the node: {name: value}; the others come from msg.payload. */
  params?: unknown;
  wake?: unknown;
  allowUnlock?: unknown;
  /** Seconds per VIN and command; default 0. */
  minInterval?: unknown;
  /** Seconds to wait for the stream; default 60, 0 = off. */
  verify?: unknown;
  /** Billed commands and wakes per VIN per day; default 0 = no limit. */
  dailyBudget?: unknown;
}

export const DEFAULT_VERIFY_S = 60;

/** A number ≥ 0 from a property ('' and undefined: the default); null when it is not one. */
function nonNegative(value: unknown, fallback: number): number | null {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : null;
}

export function commandSettings(config: VehicleCommandConfig): { options: VehicleCommandOptions; problems: string[] } {
  const problems: string[] = [];

  const vins = parseList(typeof config.vins === 'string' || Array.isArray(config.vins) ? config.vins : '');
  const badVins = vins.filter((v) => !isVin(v));
  if (badVins.length) problems.push(TEXTS.settingVins(badVins));

  const command = typeof config.command === 'string' ? config.command.trim() : '';
  const spec = command ? commandSpec(command) : undefined;
  if (command && !spec) problems.push(TEXTS.settingCommand(command, COMMAND_NAMES));

  // Only the command's own parameters count; keys of another command (left from an edit) are ignored.
  const params: Record<string, number | boolean> = {};
  const given = config.params && typeof config.params === 'object' && !Array.isArray(config.params) ? (config.params as Record<string, unknown>) : {};
  if (config.params !== undefined && config.params !== null && config.params !== '' && given !== config.params) {
    problems.push(TEXTS.settingParams(config.params));
  }
  for (const p of spec?.params ?? []) {
    const v = given[p.name];
    if (v === undefined || v === null || v === '') continue;
    if (paramAccepts(p, v)) params[p.name] = v;
    else problems.push(TEXTS.settingParam(command, p.name, expectedOf(p), v));
  }

  const wake = config.wake === undefined || config.wake === '' ? 'never' : config.wake;
  if (wake !== 'allow' && wake !== 'never') problems.push(TEXTS.settingWake(config.wake));

  const allowUnlock = config.allowUnlock === true || config.allowUnlock === 'true';
  if (spec?.opensCar && !allowUnlock) problems.push(TEXTS.unlockNotAllowed(spec.name));

  const seconds = (name: 'minInterval' | 'verify', value: unknown, fallback: number): number => {
    const n = nonNegative(value, fallback);
    if (n === null) problems.push(TEXTS.settingSeconds(name, value));
    return Math.round((n ?? fallback) * 1000);
  };
  const minIntervalMs = seconds('minInterval', config.minInterval, 0);
  const verifyMs = seconds('verify', config.verify, DEFAULT_VERIFY_S);

  const budget = nonNegative(config.dailyBudget, 0);
  if (budget === null || !Number.isInteger(budget)) problems.push(TEXTS.settingBudget(config.dailyBudget));

  return {
    options: {
      vins,
      command,
      params,
      wake: wake === 'allow' ? 'allow' : 'never',
      allowUnlock,
      minIntervalMs,
      verifyMs,
      dailyBudget: budget !== null && Number.isInteger(budget) ? budget : 0,
    },
    problems,
  };
}
