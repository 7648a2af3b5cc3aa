/**
 * Every runtime text of the registration doctor, `ensure`, `usage`, the fields-from-flow
 * derivation and the telemetry-config node, in one place: reasons (what was found), fixes
 * (one sentence: what to do), errors (what was wrong with the input, by name), warnings, the
 * status summary and the node's status and log lines.
 */
import { MIN_FIRMWARE, pairingLink } from './index';

const MIN = 60_000;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** "3 min", "2 h 5 min", "4 days". */
export function ago(ms: number): string {
  const m = Math.max(0, Math.round(ms / MIN));
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  return `${Math.floor(h / 24)} days`;
}

function quoteErrors(errors: ReadonlyArray<{ name: string | null; errorName: string | null; error: string | null }>): string {
  if (errors.length === 0) return 'the car reported no telemetry errors';
  const shown = errors.slice(0, 3).map((e) => [e.name, e.errorName, e.error].filter(Boolean).join(' / ') || 'no details');
  const more = errors.length > 3 ? ` and ${errors.length - 3} more` : '';
  return `the car reported ${shown.map((s) => `"${s}"`).join(', ')}${more}`;
}

export const REASONS = {
  keyNotPaired: () => 'the virtual key is not paired with this car, so it cannot receive a signed config',
  firmwareOld: (firmware: string) =>
    `firmware ${firmware} is older than ${MIN_FIRMWARE}, the minimum for a telemetry config through the vehicle-command proxy`,
  expDiffers: (car: number | null, ours: number) => `exp: ${car === null ? 'not set' : car} on the car, ${ours} here`,
  drift: (differences: readonly string[]) => `the car runs a config that differs from this node's: ${differences.join('; ')}`,
  expiring: (exp: number, now: number) =>
    exp * 1000 <= now
      ? `the car's telemetry config expired at ${iso(exp * 1000)} (exp ${exp}): the car no longer streams`
      : `the car's telemetry config expires at ${iso(exp * 1000)} (exp ${exp}), in ${ago(exp * 1000 - now)}: then the car stops streaming`,
  silentNever: (connectivity: string) => `the car runs the config and is online, but no live message from it ever reached the broker${connectivity}`,
  silentFor: (silentMs: number, connectivity: string) =>
    `the car runs the config and is online, but no live message from it reached the broker for ${ago(silentMs)}${connectivity}`,
  connectivity: (c: { status?: unknown; createdAt?: unknown } | null) =>
    c && typeof c === 'object' && c.status
      ? `; last connectivity on the broker: ${String(c.status)}${c.createdAt ? ` at ${String(c.createdAt)}` : ''}`
      : '',
  healthyStreaming: (agoMs: number) => `the car runs this node's config and streams (last live message ${ago(agoMs)} ago)`,
  healthyAsleep: (state: string) => `the car runs this node's config and is ${state}: it streams again when it is online`,
  healthyNoBroker: () => "the car runs this node's config (no broker set, so the stream itself is not checked)",
  healthyBrokerDown: () => "the car runs this node's config; the broker is not connected, so the stream could not be checked",
  healthyStateUnknown: (why: string) => `the car runs this node's config; whether it streams could not be told (${why})`,
  notRead: (what: string, why: string) => `${what} could not be read (${why})`,
  blocked: (seconds: number) => `Tesla asked to wait: no call made; retry in ${seconds} s`,
  overBudget: (budget: number) => `daily budget of ${budget} billed calls for this VIN spent: no call made`,
  heldByCap: (pushedAt: number, until: number) =>
    `this node's config was pushed to this car at ${iso(pushedAt)}; ensure pushes at most once per 24 h, next after ${iso(until)}`,
  ownExpTooSoon: (exp: number) => `this node's own exp ${exp} (${iso(exp * 1000)}) is within 7 days, so pushing it again would not help`,
  pushed: (doctorReason: string, registerReason: string) => `${doctorReason} — pushed this node's config: ${registerReason}`,
  pushFailed: (doctorReason: string, registerReason: string) => `${doctorReason} — the push failed: ${registerReason}`,
};

export const FIXES = {
  keyNotPaired: (domain: string | null | undefined) => {
    const link = pairingLink(domain);
    return link
      ? `Open ${link} on the phone with the Tesla app, approve the key for this car, then run doctor again.`
      : 'Set the partner domain on the tesla-account node, open https://tesla.com/_ak/<that domain> on the phone with the Tesla app and approve the key for this car, then run doctor again.';
  },
  unsupportedFirmware: (firmware: string | null) =>
    `Update the car's software to firmware ${MIN_FIRMWARE} or later${firmware ? ` (it runs ${firmware})` : ''}, then run ensure again.`,
  limitReached: () => "Remove another app's telemetry config from the car (it has reached its limit of configs), then run ensure again.",
  configNull: () =>
    "Remove another app's telemetry config from the car (it ignored this one: synced with no config, usually too many configs), then run ensure again.",
  notConfigured: () => "Run ensure (or register) to send this node's telemetry config to the car.",
  pending: () =>
    'Wait for the car to connect to Tesla (minutes to a day; a sleeping car waits until it wakes): it then adopts the pending config by itself.',
  pendingDiffers: () =>
    "Run register to replace the pending config with this node's, or wait for the car to adopt the pending one at its next connection.",
  drift: () => "Run ensure (or register) to send this node's config again, or change this node's settings to match the car's.",
  expiring: (exp: number) =>
    `Run ensure (or register) with a later exp, or none, on this node before ${new Date(exp * 1000).toISOString()} to renew the config.`,
  silent: (hostname: string, port: number | string, ca: string, errors: Parameters<typeof quoteErrors>[0]) =>
    `Check that ${hostname}:${port} is reachable from the internet and serves a certificate signed by the CA given (${ca}); ${quoteErrors(errors)}.`,
  healthy: () => 'Nothing to do.',
  unsupportedHardware: () => "Remove this VIN from the node's VINs: the car's hardware cannot stream Fleet Telemetry.",
  rateLimited: (seconds: number | null) =>
    seconds !== null
      ? `Wait ${ago(seconds * 1000)} (Tesla's Retry-After), then run doctor again.`
      : 'Wait a while (Tesla gave no Retry-After), then run doctor again.',
  error: (httpStatus: number | undefined) => {
    switch (httpStatus) {
      case 401:
        return 'Deploy a fresh refresh token on the tesla-account node, then run doctor again.';
      case 403:
        return 'Give the app the vehicle_device_data scope and check the proxy settings of the tesla-account node, then run doctor again.';
      case 404:
        return 'Check the VIN: it is not a car of this Tesla account.';
      case 412:
        return "Register the app's partner account with Tesla for this region, then run doctor again.";
      case 421:
        return 'Choose the region of the Tesla account on the tesla-account node, then run doctor again.';
      default:
        return 'Check that the vehicle-command proxy and the Fleet API are reachable from Node-RED, then run doctor again.';
    }
  },
  overBudget: () => "Raise this node's daily budget, or run doctor again tomorrow.",
  heldByCap: (until: number) => `Run register to push at once, or let ensure push again after ${iso(until)}.`,
  ownExpTooSoon: () => 'Set a later exp (or none) on this node, then run ensure again.',
  pushed: () => 'Wait for the car to connect to Tesla: it adopts the config by itself (check with doctor).',
};

/** The CA as the fix names it: its subject, or "the PEM given" when it does not parse. */
export function caName(subject: string | null): string {
  return subject ? `"${subject}"` : 'the PEM given';
}

export const ERRORS = {
  notRegistrationAction: (action: string, these: readonly string[]) =>
    `action "${action}" is not one of ${these.join(', ')} (the config actions are run by runAction)`,
  notConfigAction: (action: string) => `telemetry-config ${action}: not a config action (runRegistrationAction runs it)`,
  vinsType: (v: unknown) =>
    `msg.vins must be an array of VINs or a comma list (got ${Array.isArray(v) ? 'an array with a non-string item' : typeof v})`,
  vinMalformed: (vin: string) =>
    `VIN "${vin}" is malformed: a VIN is 17 characters, A-Z without I, O, Q, and 0-9 (no call made, each would be billed)`,
  noVins: () => 'at least one VIN is needed (the node setting, or msg.vins)',
  noBroker: (action: string) => `telemetry-config ${action}: needs a broker — choose a telemetry-broker in the node's "broker" property`,
  noClient: (action: string) => `telemetry-config ${action}: needs a usable tesla-account`,
  ensureInvalid: (problems: string) => `telemetry-config ensure: ${problems}`,
  doctorInvalid: (problems: string) => `telemetry-config doctor: ${problems}`,
  fieldsFromBad: (v: unknown) => `fieldsFrom must be "node" or "flow" (got ${JSON.stringify(v)})`,
  flowNeedsBroker: () => `fieldsFrom "flow" needs a broker — choose a telemetry-broker in the node's "broker" property`,
  defaultIntervalBad: (v: unknown) => `defaultInterval must be an integer number of seconds >= 1 (got ${JSON.stringify(v)})`,
  noTelemetryIn: (broker: string) => `fieldsFrom "flow": no deployed telemetry-in node uses broker ${broker}, so there are no fields to ask for`,
  telemetryInAllFields: (node: string) =>
    `fieldsFrom "flow": telemetry-in ${node} has no field filter, so it would ask the car for every field — list its fields, or use fieldsFrom "node"`,
  dailyBudgetBad: (v: unknown) => `dailyBudget must be a whole number of billed calls >= 0 (got ${JSON.stringify(v)})`,
  ensureEveryBad: (v: unknown, max: number) =>
    `ensureEvery must be a number of hours from 0 (off) to ${max} (got ${JSON.stringify(v)}): ensure does not run by itself`,
};

export const WARNINGS = {
  capCorrupt: (file: string, aside: string, why: string) =>
    `ensure cap file ${file} is unreadable (${why}): set aside as ${aside}; the 24 h push limit starts afresh`,
  capUnreadable: (file: string, code: string) => `ensure cap file ${file} cannot be read (${code}): the 24 h push limit is kept in memory only`,
  capUnwritable: (file: string, code: string) =>
    `ensure cap file ${file} cannot be written (${code}): the 24 h push limit is kept in memory only until it can`,
};

/** Status groups, in the order the summary lists them. */
export const SUMMARY_LABELS = {
  healthy: 'healthy',
  pushed: 'pushed',
  pending: 'pending',
  toPush: 'to push',
  needsYou: 'needs you',
  rateLimited: 'rate-limited',
  error: 'error',
} as const;

/** What the telemetry-config node says in its status and its log. */
export const NODE_TEXTS = {
  idle: 'idle',
  working: 'working',
  error: 'error',
  accountNotUsable: 'account not usable',
  /** A refused input: the first says so, later ones count. */
  invalid: (refused: number) => (refused > 1 ? `invalid settings · ${refused} refused` : 'invalid settings'),
  chooseAccount: 'choose a tesla-account configuration',
  noAccount: (why: string) => `telemetry-config: ${why}`,
  brokerMissing: (id: string) =>
    `telemetry-config: broker ${id} is not a deployed telemetry-broker: the doctor cannot see the stream, and usage and fieldsFrom "flow" cannot run`,
  /** One error for an action's failed VINs, each with its reason. */
  failed: (action: string, failures: ReadonlyArray<{ vin: string; reason: string }>) =>
    `telemetry-config ${action}: ${failures.map((f) => `${f.vin}: ${f.reason}`).join('; ')}`,
  ensureEveryNoVins: 'telemetry-config: ensureEvery is set but the node has no VINs, so each run will be refused — list the VINs on the node',
  ensureOften: (hours: number) =>
    `telemetry-config: ensureEvery ${hours} h runs the doctor ${Math.round(24 / hours)} times a day, each run billed Fleet API calls per VIN — consider a daily budget or a longer period`,
};

export function usageSummary(signals: number, usd: number, vins: number): string {
  return `${signals} signals today ≈ $${usd.toFixed(usd < 0.1 ? 4 : 2)} (${vins} VIN${vins === 1 ? '' : 's'})`;
}
