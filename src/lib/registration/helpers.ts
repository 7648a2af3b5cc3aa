/**
 * Small helpers shared by validation, the body builder and the interpreters.
 */
import { parseList } from '../common/util';
import { FieldRowInput, FieldSettingInput, PAIRING_BASE, TelemetryConfigProps } from './types';

export { parseList };

/** VINs from an array or a comma list: trimmed, empty items dropped, de-duplicated. */
export function parseVins(input: unknown): string[] {
  return parseList(input);
}

export function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && !(typeof v === 'string' && v.trim() === '');
}

const NUMERIC = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** A number, or a numeric string converted; `NaN` for anything else. */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && NUMERIC.test(v.trim())) return Number(v.trim());
  return NaN;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse a string body as JSON when it is one; otherwise hand it back unchanged. */
export function asJson(body: unknown): unknown {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body);
    } catch {
      return body;
    }
  }
  return body;
}

/** `body.response` when body is an object that has it; otherwise undefined. */
export function responseOf(body: unknown): unknown {
  const b = asJson(body);
  return isObject(b) ? b.response : undefined;
}

export function bodyErrorText(body: unknown): string | null {
  const b = asJson(body);
  if (isObject(b)) {
    const parts = [b.error, b.error_description].filter((x) => typeof x === 'string' && x !== '');
    if (parts.length > 0) return parts.join(': ');
  } else if (typeof b === 'string' && b.trim() !== '') {
    return b.trim().slice(0, 300);
  }
  return null;
}

/** The pairing link for a partner domain, or null without one. */
export function pairingLink(domain: string | null | undefined): string | null {
  if (typeof domain !== 'string') return null;
  const d = domain
    .trim()
    .replace(/^https?:\/\//i, '')
    .replace(/\/.*$/, '');
  return d === '' ? null : PAIRING_BASE + d;
}

export function pairingAdvice(domain: string | null | undefined): string {
  const link = pairingLink(domain);
  return link
    ? `pair it by opening ${link} on the phone with the Tesla app and approving the key, then try again`
    : 'pair it at https://tesla.com/_ak/<domain> (set the domain on the tesla-account node to get the exact link), then try again';
}

/** Field rows in order, from the object or the array form. */
export function fieldRows(fields: TelemetryConfigProps['fields']): Array<{ name: string; setting: FieldSettingInput }> {
  if (Array.isArray(fields)) {
    return fields.map((row) => {
      const r = isObject(row) ? (row as FieldRowInput) : ({ name: String(row) } as FieldRowInput);
      const { name, ...setting } = r;
      return { name: typeof name === 'string' ? name.trim() : String(name ?? ''), setting };
    });
  }
  if (isObject(fields)) {
    return Object.entries(fields).map(([name, setting]) => ({
      name: name.trim(),
      setting: isObject(setting) ? (setting as FieldSettingInput) : ({ interval_seconds: setting } as FieldSettingInput),
    }));
  }
  return [];
}

export const FIELD_KEYS = ['interval_seconds', 'minimum_delta', 'resend_interval_seconds'] as const;
