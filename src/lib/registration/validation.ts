/**
 * Validation of a telemetry-config before any call, naming the input at fault.
 */
import { X509Certificate } from 'node:crypto';
import { FIELDS } from '../catalogue/index';
import { certInfo, describeCa, pemBlocks } from './ca';
import { FIELD_KEYS, fieldRows, isObject, isSet, parseVins, toNumber } from './helpers';
import { CaInfo, MAX_FIELDS_PER_SECOND, Problem, TelemetryConfigProps, ValidationResult } from './types';

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const VIN = /^[A-HJ-NPR-Z0-9]{17}$/;

function validateHostname(raw: unknown, errors: Problem[], warnings: Problem[]): void {
  const add = (message: string): void => {
    errors.push({ input: 'hostname', message });
  };
  if (!isSet(raw)) return add('hostname is required: the name the car connects to, e.g. telemetry.example.com');
  if (typeof raw !== 'string') return add('hostname must be a string');
  const h = raw.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(h)) {
    return add(`hostname "${h}" has a scheme: give only the name, e.g. ${h.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/[:/].*$/, '')}`);
  }
  if (h.includes('/')) return add(`hostname "${h}" has a path: give only the name, e.g. ${h.replace(/[:/].*$/, '')}`);
  if (/:\d*$/.test(h) && h.split(':').length === 2) {
    return add(`hostname "${h}" has a port: give the name alone and the port in "port"`);
  }
  if (/\s/.test(h)) return add(`hostname "${h}" contains spaces`);
  const name = h.endsWith('.') ? h.slice(0, -1) : h;
  if (!IPV4.test(name)) {
    const labels = name.split('.');
    if (name.length > 253 || labels.some((l) => !LABEL.test(l)) || /^\d+$/.test(labels[labels.length - 1])) {
      return add(`hostname "${h}" is not a valid host name (letters, digits, hyphens and dots; no scheme, port or path)`);
    }
  }
  if (/^(localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0)$/i.test(name)) {
    warnings.push({
      input: 'hostname',
      message: `hostname "${h}" is this machine's own name: the car connects to the hostname itself, so it must reach your server under it`,
    });
  }
}

/** Port as a number when it is a valid one (an integer 1-65535, or such a numeric string). */
export function parsePort(raw: unknown): number | null {
  if (typeof raw === 'number') return Number.isInteger(raw) && raw >= 1 && raw <= 65535 ? raw : null;
  if (typeof raw === 'string' && /^\s*\d+\s*$/.test(raw)) {
    const n = Number(raw.trim());
    return n >= 1 && n <= 65535 ? n : null;
  }
  return null;
}

function validatePort(raw: unknown, errors: Problem[]): void {
  if (!isSet(raw)) {
    errors.push({ input: 'port', message: 'port is required: the telemetry server port, e.g. 4433' });
  } else if (parsePort(raw) === null) {
    errors.push({ input: 'port', message: `port must be an integer from 1 to 65535 (got ${JSON.stringify(raw)})` });
  }
}

function validateCa(raw: unknown, hostname: unknown, now: number, errors: Problem[], warnings: Problem[]): void {
  if (!isSet(raw)) {
    errors.push({ input: 'ca', message: "ca is required: the PEM of the CA that signed the telemetry server's certificate" });
    return;
  }
  let info: CaInfo;
  try {
    info = describeCa(raw, now);
  } catch (err) {
    errors.push({ input: 'ca', message: `ca: ${(err as Error).message}` });
    return;
  }
  const blocks = pemBlocks(raw as string);
  blocks.forEach((block, i) => {
    const x = new X509Certificate(block);
    const c = certInfo(x, now, blocks.length);
    const which = blocks.length > 1 ? `certificate ${i + 1} of ${blocks.length} ` : '';
    if (c.expired) {
      errors.push({ input: 'ca', message: `ca: ${which}"${c.subject}" expired on ${c.validTo}` });
    } else if (c.notYetValid) {
      warnings.push({ input: 'ca', message: `ca: ${which}"${c.subject}" is not valid before ${c.validFrom}` });
    }
  });
  // A leaf certificate pasted as "CA": the car trusts it only if it is the server's own one.
  if (!info.isCa && typeof hostname === 'string' && hostname.trim() !== '') {
    const x = new X509Certificate(blocks[0]);
    if (x.checkHost(hostname.trim()) === undefined) {
      warnings.push({
        input: 'ca',
        message: `ca: "${info.subject}" is not a CA certificate and does not name ${hostname.trim()}: give the CA that signed the telemetry server's certificate`,
      });
    }
  }
}

function suggestField(name: string): string {
  const lower = name.toLowerCase();
  for (const known of FIELDS.keys()) if (known.toLowerCase() === lower) return ` (did you mean ${known}?)`;
  return '';
}

function validateFields(raw: TelemetryConfigProps['fields'], errors: Problem[], warnings: Problem[]): void {
  if (raw !== undefined && raw !== null && !Array.isArray(raw) && !isObject(raw)) {
    errors.push({ input: 'fields', message: 'fields must be an object {Name: {interval_seconds}}' });
    return;
  }
  const rows = fieldRows(raw);
  if (rows.length === 0) {
    errors.push({ input: 'fields', message: 'at least one field is needed (pick a preset or add fields from the catalogue)' });
    return;
  }
  const seen = new Set<string>();
  let perSecond = 0;
  rows.forEach(({ name, setting }, i) => {
    const input = name ? `fields.${name}` : `fields[${i}]`;
    const add = (message: string): void => {
      errors.push({ input, message });
    };
    if (!name) return add(`field ${i + 1} has no name`);
    if (seen.has(name)) return add(`${name} is listed twice`);
    seen.add(name);
    const info = FIELDS.get(name);
    if (!info) add(`${name} is not a field of the catalogue${suggestField(name)}`);
    else if (info.id === 0 || /^(Deprecated|Experimental)_\d+$/.test(name)) {
      warnings.push({ input, message: `${name} is a placeholder in Tesla's list, not a real signal` });
    }
    const iv = toNumber(setting.interval_seconds);
    if (!isSet(setting.interval_seconds)) add(`${name}: interval_seconds is required (an integer >= 1)`);
    else if (!Number.isInteger(iv) || iv < 1) {
      add(`${name}: interval_seconds must be an integer >= 1 (got ${JSON.stringify(setting.interval_seconds)})`);
    } else perSecond += 1 / iv;
    if (isSet(setting.minimum_delta)) {
      const d = toNumber(setting.minimum_delta);
      if (!Number.isFinite(d) || d < 0) {
        add(`${name}: minimum_delta must be a number >= 0 (got ${JSON.stringify(setting.minimum_delta)})`);
      } else if (info && !['number', 'integer', 'location'].includes(info.kind)) {
        warnings.push({ input, message: `${name}: minimum_delta is meant for numeric fields; ${name} is of kind ${info.kind}` });
      }
    }
    if (isSet(setting.resend_interval_seconds)) {
      const r = toNumber(setting.resend_interval_seconds);
      if (!Number.isInteger(r) || r < 1) {
        add(`${name}: resend_interval_seconds must be an integer >= 1 (got ${JSON.stringify(setting.resend_interval_seconds)})`);
      }
    }
    const unknownKeys = Object.keys(setting).filter((k) => !(FIELD_KEYS as readonly string[]).includes(k));
    if (unknownKeys.length > 0) {
      warnings.push({ input, message: `${name}: ${unknownKeys.join(', ')} not sent (only ${FIELD_KEYS.join(', ')})` });
    }
  });
  if (perSecond > MAX_FIELDS_PER_SECOND) {
    warnings.push({
      input: 'fields',
      message: `these intervals allow up to ${perSecond.toFixed(1)} fields per second; Tesla advises at most about ${MAX_FIELDS_PER_SECOND}`,
    });
  }
}

/** `exp` as epoch seconds, or null when not set. NaN when set but not a number. */
export function parseExp(raw: unknown): number | null {
  if (!isSet(raw) || raw === 0 || raw === '0') return null;
  return toNumber(raw);
}

function validateExp(raw: unknown, now: number, errors: Problem[]): void {
  const exp = parseExp(raw);
  if (exp === null) return;
  const add = (message: string): void => {
    errors.push({ input: 'exp', message });
  };
  if (!Number.isInteger(exp) || exp < 0) return add(`exp must be a whole number of seconds since the epoch (got ${JSON.stringify(raw)})`);
  if (exp > 1e11) return add(`exp ${exp} looks like milliseconds: give seconds since the epoch (${Math.floor(exp / 1000)})`);
  if (exp * 1000 <= now) return add(`exp ${exp} (${new Date(exp * 1000).toISOString()}) is not in the future`);
}

function validateVins(raw: unknown, errors: Problem[], warnings: Problem[]): void {
  const vins = parseVins(raw);
  if (vins.length === 0) {
    errors.push({ input: 'vins', message: 'at least one VIN is needed (the node setting, or msg.vins)' });
    return;
  }
  for (const vin of vins) {
    if (vin.length !== 17) {
      warnings.push({ input: 'vins', message: `VIN "${vin}" has ${vin.length} characters, not 17` });
    } else if (!VIN.test(vin)) {
      warnings.push({ input: 'vins', message: `VIN "${vin}" has characters a VIN does not use (only A-Z without I, O, Q, and 0-9)` });
    }
  }
}

export interface ValidateOptions {
  /** Milliseconds since the epoch to judge expiry against (tests). Default now. */
  now?: number;
  /**
   * `all` (default): everything a `register` call needs. `vins`: only the VIN list (for
   * `check`, `status`, `errors`, `delete`, which send no config).
   */
  scope?: 'all' | 'vins';
}

/**
 * Check the node's settings before any HTTP call. Errors block the call; warnings do not.
 * Every problem names the input at fault.
 */
export function validate(props: TelemetryConfigProps, options: ValidateOptions = {}): ValidationResult {
  const now = options.now ?? Date.now();
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  const p: TelemetryConfigProps = isObject(props) ? props : {};
  if (options.scope !== 'vins') {
    validateHostname(p.hostname, errors, warnings);
    validatePort(p.port, errors);
    validateCa(p.ca, p.hostname, now, errors, warnings);
    validateFields(p.fields, errors, warnings);
    validateExp(p.exp, now, errors);
    if (p.alertTypes !== undefined && p.alertTypes !== null && typeof p.alertTypes !== 'string' && !Array.isArray(p.alertTypes)) {
      errors.push({ input: 'alertTypes', message: 'alertTypes must be a comma list or an array' });
    }
  }
  validateVins(p.vins, errors, warnings);
  return { errors, warnings };
}

/** Problems as one line: `hostname: …; port: …`. */
export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => (p.message.startsWith(p.input) ? p.message : `${p.input}: ${p.message}`)).join('; ');
}
