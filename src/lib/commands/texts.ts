/**
 * Every runtime text of the vehicle-command capability: input errors, the `reason` of each
 * answer state, warnings and status texts. Plain English, one place; nothing here ever
 * contains a token (the texts are built from VINs, command names, numbers and Tesla's short
 * reason, which the Fleet API client has already scrubbed).
 */

const MAX_REASON = 160;

/** A value as the user sent it, for an error text (short, one line). */
export function shown(value: unknown): string {
  let s: string;
  if (value === undefined) s = 'nothing';
  else if (typeof value === 'string') s = `the string ${JSON.stringify(value)}`;
  else {
    try {
      s = JSON.stringify(value) ?? String(value);
    } catch {
      s = String(value);
    }
  }
  const one = s.replace(/\s+/g, ' ');
  return one.length > 60 ? `${one.slice(0, 59)}…` : one;
}

/** Local wall-clock time of a ms timestamp, HH:MM:SS. */
export function timeOf(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function seconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

function clipReason(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > MAX_REASON ? `${one.slice(0, MAX_REASON - 1)}…` : one;
}

export const TEXTS = {
  // --- input errors (done(err), no call) -------------------------------------------------
  noCommand: (): string => "vehicle-command: no command: set the node's command or msg.command.",
  unknownCommand: (value: unknown, known: readonly string[]): string =>
    `vehicle-command: unknown command ${shown(value)}: use one of ${known.join(', ')}.`,
  unlockNotAllowed: (command: string): string =>
    `vehicle-command: ${command} opens the car to whoever stands next to it: tick "allow unlock" in the node to send it. Nothing was sent.`,
  paramsNotObject: (command: string, value: unknown): string =>
    `vehicle-command: ${command} takes its parameters in msg.payload as an object; got ${shown(value)}.`,
  paramMissing: (command: string, param: string, expected: string): string => `vehicle-command: ${command} needs msg.payload.${param} (${expected}).`,
  paramWrong: (command: string, param: string, expected: string, value: unknown): string =>
    `vehicle-command: ${command}: msg.payload.${param} must be ${expected}; got ${shown(value)}.`,
  noVin: (): string => "vehicle-command: no VIN: set msg.vin (or msg.vins) or the node's VINs.",
  badVin: (vin: unknown): string => `vehicle-command: VIN ${shown(vin)} is not 17 letters and digits.`,
  integerRange: (min: number, max: number): string => `an integer from ${min} to ${max}`,
  booleanValue: (): string => 'true or false',

  // --- node settings and account (the node sends nothing) ---------------------------------
  settingVins: (bad: string[]): string =>
    `vehicle-command: VINs: ${bad.map((v) => shown(v)).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not 17 letters and digits.`,
  settingCommand: (value: string, known: readonly string[]): string =>
    `vehicle-command: command ${shown(value)} is not one of ${known.join(', ')} (empty: take msg.command).`,
  settingParams: (value: unknown): string => `vehicle-command: params must be an object of the command's parameters; got ${shown(value)}.`,
  settingParam: (command: string, param: string, expected: string, value: unknown): string =>
    `vehicle-command: the node's ${param} for ${command} must be ${expected}; got ${shown(value)}.`,
  settingWake: (value: unknown): string => `vehicle-command: wake must be "never" or "allow"; got ${shown(value)}.`,
  settingSeconds: (name: string, value: unknown): string => `vehicle-command: ${name} must be a number of seconds, 0 or more; got ${shown(value)}.`,
  settingBudget: (value: unknown): string =>
    `vehicle-command: dailyBudget must be a whole number of billed calls, 0 for no limit; got ${shown(value)}.`,
  notSending: (problem: string): string => `${problem} Nothing is sent until the node is fixed.`,
  accountUnusable: (why: string): string => `vehicle-command: ${why}`,
  noAccount: (): string => 'choose a tesla-account configuration',
  statusSettings: (): string => 'settings: see the debug sidebar',
  statusAccount: (): string => 'account not usable',

  // --- reasons of the answer states -------------------------------------------------------
  reasonAsleep: (state: string): string => `The car is ${state}; it was not woken (wake is set to never), so nothing was sent.`,
  reasonAsleep408: (): string => 'The car answered that it is asleep or offline (408); the command did not reach it.',
  reasonDidNotWake: (ms: number): string => `The car was asked to wake up once but was not online within ${seconds(ms)}; nothing was sent.`,
  reasonRejected: (command: string, tesla: string): string => clipReason(`The car refused ${command}: ${tesla || '(no reason given)'}`),
  reasonAlready: (command: string, tesla: string): string => clipReason(`Already so, nothing to change (${command}: ${tesla})`),
  reasonSuperseded: (command: string, minIntervalMs: number): string =>
    `A newer ${command} for this car came within the minimum interval of ${seconds(minIntervalMs)}; this one was not sent.`,
  reasonUnchanged: (command: string, agoMs: number, minIntervalMs: number): string =>
    `The same ${command} succeeded ${seconds(agoMs)} ago (minimum interval ${seconds(minIntervalMs)}); not sent again.`,
  reasonRateLimited: (until: number): string => `Tesla rate-limited commands to this car: no call before ${timeOf(until)}.`,
  reasonOverBudget: (budget: number): string =>
    `The daily budget of ${budget} billed command${budget === 1 ? '' : 's'} for this car is spent; nothing was sent.`,
  reasonWakeOverBudget: (budget: number): string =>
    `The car is asleep and the daily budget of ${budget} billed commands has no room for a wake-up and the command; nothing was sent.`,
  reasonError: (message: string): string => clipReason(message),

  // --- warnings ---------------------------------------------------------------------------
  warnBudget: (vin: string, budget: number): string => `${vin}: daily budget of ${budget} billed commands spent; no more commands to this car today.`,
  warnSendFailed: (message: string): string => `vehicle-command: an answer could not be sent: ${message}`,

  // --- status -----------------------------------------------------------------------------
  statusCost: (commands: number, wakes: number, usd: number): string =>
    `today ${commands} command${commands === 1 ? '' : 's'}${wakes ? `, ${wakes} wake${wakes === 1 ? '' : 's'}` : ''} ≈ $${usd.toFixed(usd === 0 ? 2 : 3)}`,
  statusIdle: (): string => 'ready',
  statusLast: (vin: string, command: string, state: string): string => `${command} ${state} (…${vin.slice(-4)})`,
};
