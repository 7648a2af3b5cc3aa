/**
 * Fleet API errors typed by meaning. Every message is short, human, says what to do, and is
 * built only from non-secret parts (status, host, path, the server's short error text with the
 * client's own secrets scrubbed out). Nothing secret is attached: no request options, no
 * headers, no token-endpoint body, no `cause` object.
 */

export type FleetApiErrorKind =
  /** 408, or an answer whose error text says "offline or asleep": the car is not online. */
  | 'asleep'
  /** 429: see `retryAfterSeconds` / `retryAt`. */
  | 'rate-limited'
  /** 401 even after one token refresh and one retry. */
  | 'auth'
  /** 403: missing scope, or the proxy got no token. */
  | 'forbidden'
  /** 404: unknown vehicle or route. */
  | 'not-found'
  /** 412: precondition (partner account not registered, unsigned telemetry config, ...). */
  | 'precondition'
  /** 421: the account lives in another region; `baseUrl` says where. */
  | 'wrong-region'
  /** 400 and any other 4xx not listed above. */
  | 'bad-request'
  /** 5xx: server error or the car did not answer in time. */
  | 'server'
  /** No (complete) answer within the client's timeout. */
  | 'timeout'
  /** Connection refused/reset, DNS failure, socket closed. */
  | 'network'
  /** The server's TLS certificate was not trusted (never retried without verification). */
  | 'tls'
  /** The refresh token was refused: new credentials must be deployed. */
  | 'login-required'
  /** A 2xx answer that is not JSON (or not the expected shape). */
  | 'bad-response'
  /** Misconfiguration detected before any request (e.g. a telemetry config without a proxy). */
  | 'config'
  /** A request the client refuses to make (e.g. wake_up: reading must never wake a car). */
  | 'refused';

export interface FleetApiErrorDetails {
  status?: number | null;
  code?: string | null;
  method?: string;
  path?: string;
  vin?: string | null;
  retryAfterSeconds?: number | null;
  retryAt?: number | null;
  baseUrl?: string | null;
  /** The parsed JSON error body of a Fleet API answer (never of a token-endpoint answer). */
  body?: unknown;
}

export class FleetApiError extends Error {
  override readonly name = 'FleetApiError';
  readonly kind: FleetApiErrorKind;
  /** HTTP status, or null when there was no HTTP answer. */
  readonly status: number | null;
  /** Low-level error code (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT, CERT_HAS_EXPIRED, ...). */
  readonly code: string | null;
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly vin: string | null;
  /** For 'rate-limited': seconds to wait, from Retry-After or the body text; null if unknown. */
  readonly retryAfterSeconds: number | null;
  /** For 'rate-limited': when a retry is allowed (ms since the epoch, client clock); null if unknown. */
  readonly retryAt: number | null;
  /** For 'wrong-region': the base URL the server named. */
  readonly baseUrl: string | null;
  readonly body: unknown;

  constructor(kind: FleetApiErrorKind, message: string, details: FleetApiErrorDetails = {}) {
    super(message);
    this.kind = kind;
    this.status = details.status ?? null;
    this.code = details.code ?? null;
    this.method = details.method;
    this.path = details.path;
    this.vin = details.vin ?? null;
    this.retryAfterSeconds = details.retryAfterSeconds ?? null;
    this.retryAt = details.retryAt ?? null;
    this.baseUrl = details.baseUrl ?? null;
    this.body = details.body;
  }
}

export function isFleetApiError(e: unknown, kind?: FleetApiErrorKind): e is FleetApiError {
  return e instanceof FleetApiError && (kind === undefined || e.kind === kind);
}

const ASLEEP_RE = /offline or asleep/i;

/** True when an error text says the car is asleep or offline. */
export function saysAsleep(text: string): boolean {
  return ASLEEP_RE.test(text);
}

/**
 * Seconds from a Retry-After header (delta-seconds or HTTP-date), else from body text such as
 * "Retry in 37829 seconds". Null when neither says.
 */
export function parseRetryAfter(header: string | undefined, bodyText: string, nowMs: number): number | null {
  if (header !== undefined) {
    const h = header.trim();
    if (/^\d+$/.test(h)) return Number(h);
    const date = Date.parse(h);
    if (!Number.isNaN(date)) return Math.max(0, Math.ceil((date - nowMs) / 1000));
  }
  const m = /retry\s+(?:in|after)\s+(\d+)\s*(?:s\b|sec|seconds?)/i.exec(bodyText);
  if (m) return Number(m[1]);
  return null;
}

/** The base URL named by a 421 body ("... use base URL: https://..."), or null. */
export function parseRegionBaseUrl(bodyText: string): string | null {
  const m = /use base URL:?\s*(https:\/\/[^\s,"'\\]+)/i.exec(bodyText);
  if (!m) return null;
  try {
    const u = new URL(m[1]);
    if (u.protocol !== 'https:') return null;
    return u.origin + u.pathname.replace(/\/+$/, '');
  } catch {
    return null;
  }
}

/** Node/OpenSSL codes of a server certificate that failed verification. */
export const TLS_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_CERT_ALTNAME_FORMAT',
]);

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT', 'ESOCKETTIMEDOUT']);

interface ErrorLike {
  code?: unknown;
  name?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** Codes and names along an error's cause chain (and AggregateError members). */
function codesOf(err: unknown, depth = 0): string[] {
  if (!err || typeof err !== 'object' || depth > 5) return [];
  const e = err as ErrorLike;
  const out: string[] = [];
  if (typeof e.code === 'string') out.push(e.code);
  if (typeof e.name === 'string') out.push(e.name);
  out.push(...codesOf(e.cause, depth + 1));
  if (Array.isArray(e.errors)) for (const x of e.errors) out.push(...codesOf(x, depth + 1));
  return out;
}

export interface TransportContext {
  host: string;
  method: string;
  path: string;
  vin: string | null;
  timeoutMs: number;
  /** True when the call went to the vehicle-command proxy (changes the advice). */
  viaProxy: boolean;
  /** True when the deadline fired (our own AbortSignal). */
  timedOut: boolean;
}

/** A FleetApiError for a failure without an HTTP answer: tls, timeout or network. */
export function transportError(err: unknown, ctx: TransportContext): FleetApiError {
  const codes = codesOf(err);
  const base = { method: ctx.method, path: ctx.path, vin: ctx.vin, status: null };
  const tlsCode = codes.find((c) => TLS_CODES.has(c) || /^ERR_SSL_|^ERR_TLS_/.test(c));
  if (tlsCode) {
    const what =
      tlsCode === 'CERT_HAS_EXPIRED'
        ? 'has expired'
        : tlsCode === 'CERT_NOT_YET_VALID'
          ? 'is not valid yet'
          : /ALTNAME|HOSTNAME/.test(tlsCode)
            ? 'does not name this host'
            : 'is not signed by a trusted CA';
    const advice = ctx.viaProxy
      ? "set the proxy CA of the tesla-account node to the proxy's certificate (PEM)"
      : 'check the proxy CA of the tesla-account node and the host name';
    return new FleetApiError(
      'tls',
      `The TLS certificate of ${ctx.host} is not trusted: it ${what} (${tlsCode}). ` +
        `Nothing was sent; ${advice}, or check that CA. Verification is never switched off.`,
      { ...base, code: tlsCode },
    );
  }
  const timeoutCode = codes.find((c) => TIMEOUT_CODES.has(c));
  if (ctx.timedOut || timeoutCode || codes.includes('TimeoutError')) {
    return new FleetApiError(
      'timeout',
      `No answer from ${ctx.host} within ${ctx.timeoutMs} ms (${ctx.method} ${ctx.path}). ` +
        `Check the network${ctx.viaProxy ? ' and that the vehicle-command proxy is running' : ''}; it will be tried again later.`,
      { ...base, code: timeoutCode ?? 'TIMEOUT' },
    );
  }
  const code = codes.find((c) => /^E[A-Z]+$/.test(c) || /^UND_ERR_/.test(c)) ?? codes[0] ?? 'UNKNOWN';
  return new FleetApiError(
    'network',
    `Cannot reach ${ctx.host} (${code}). Check the URL${ctx.viaProxy ? ' and that the vehicle-command proxy is running' : ' and the network'}.`,
    { ...base, code },
  );
}

/** Short error text of an answer body: JSON `error` + `error_description`, else the raw text. */
export function errorTextOf(parsed: unknown, rawText: string): string {
  if (parsed && typeof parsed === 'object') {
    const o = parsed as Record<string, unknown>;
    const parts = [o.error, o.error_description, o.message].filter((x): x is string => typeof x === 'string' && x.trim() !== '');
    if (parts.length) return parts.join(': ');
  }
  return rawText;
}

export function clip(text: string, max = 160): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
