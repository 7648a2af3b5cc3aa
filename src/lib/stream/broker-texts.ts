/**
 * Every text the broker connection shows or logs (status details, warnings), and the one
 * place that turns a connection failure (socket, TLS or MQTT CONNACK error) into a cause a
 * user can act on. Nothing here ever contains the password: texts are built from error codes,
 * host names and fixed sentences, and `redact` scrubs what comes from elsewhere.
 */
import { TLS_CODES } from '../fleet-api/errors';

/** What went wrong, as one stable key per cause: one warning per key, again when it changes. */
export type FailureKind =
  | 'untrusted'
  | 'expired'
  | 'not-yet-valid'
  | 'wrong-host'
  | 'client-certificate'
  | 'not-authorised'
  | 'refused-login'
  | 'connection-refused'
  | 'host-not-found'
  | 'no-answer'
  | 'reset'
  | 'not-tls'
  | 'tls'
  | 'other';

export interface Failure {
  kind: FailureKind;
  /** Short, for the node status ("disconnected: <short>"). */
  short: string;
  /** One sentence for the log: the cause, the code, what to do. */
  message: string;
  /** The error or CONNACK code, when there is one. */
  code: string | null;
}

export interface FailureContext {
  /** The broker URL (credentials in it are never shown). */
  url: string;
  reconnectPeriodMs: number;
  /** A client certificate was configured. */
  clientCertificate: boolean;
  /** Strings that must never appear in a text (the password, the key passphrase). */
  secrets: readonly string[];
}

export const TEXT = {
  tlsNotVerified: 'TLS not verified',
  tlsNotVerifiedWarning: (url: string) =>
    `${safeUrl(url)}: TLS not verified: "Verify server certificate" is unticked in the TLS configuration, so any ` +
    'server can pretend to be this broker and read the stream. Tick it and give the CA instead.',
  tlsNeedsSecureUrl: (scheme: string) => `a TLS configuration is set but the url is ${scheme}//, which is not encrypted: use mqtts:// or wss://`,
  tlsConfigUnusable: (name: string) => `the TLS configuration "${name}" is not usable: see its error in the log`,
  tlsConfigMissing: 'the TLS configuration chosen for this broker does not exist (deleted?): choose another or none',
  clientKeyUnusable: (reason: string) =>
    `the client certificate or key of the TLS configuration cannot be used (${reason}): check both files and the passphrase`,
  certKeyPair: 'the TLS configuration has a client certificate without its key, or a key without its certificate: give both',
  caNotPem: (reason: string) => `ca: ${reason}`,
  notUrl: (url: string) => `url "${safeUrl(url)}" is not a URL (use mqtt://host:1883, mqtts://, ws:// or wss://)`,
  badScheme: (scheme: string) => `url scheme ${scheme} is not mqtt:, mqtts:, ws: or wss:`,
  connectedAgain: (url: string, after: string) => `${safeUrl(url)}: connected (after: ${after})`,
  retry: (ms: number) => `Retrying every ${formatSeconds(ms)}.`,
};

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

/** The URL without user name or password. */
export function safeUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1');
}

/** `text` with every secret replaced by ***. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 1) out = out.split(s).join('***');
  return out;
}

/** MQTT CONNACK codes (3.1.1 and 5) that refuse the login itself. */
const AUTH_CODES = new Set([4, 5, 134, 135]);

/** TLS alerts a broker sends when it refuses the client certificate (or its absence). */
const CLIENT_CERT_ALERTS = new Set([
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
  'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
]);

function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return u.port ? `${u.hostname}:${u.port}` : u.hostname;
  } catch {
    return safeUrl(url);
  }
}

interface ErrorLike {
  code?: unknown;
  message?: unknown;
}

/** A connection failure as a cause: status text, log sentence and code. */
export function describeFailure(err: unknown, ctx: FailureContext): Failure {
  const e = (err && typeof err === 'object' ? err : { message: String(err) }) as ErrorLike;
  const rawCode = e.code;
  const message = redact(String(e.message ?? err), ctx.secrets);
  const host = hostOf(ctx.url);
  const where = safeUrl(ctx.url);
  const retry = TEXT.retry(ctx.reconnectPeriodMs);
  const make = (kind: FailureKind, short: string, why: string, code: string | null): Failure => ({
    kind,
    short,
    code,
    message: `${where}: ${short}: ${why}${code ? ` (${code})` : ''}. ${retry}`,
  });

  if (typeof rawCode === 'number') {
    const rc = rawCode;
    const said = message.replace(/^Connection refused:\s*/i, '');
    if (AUTH_CODES.has(rc)) {
      return make(
        'not-authorised',
        'not authorised',
        `the broker refused the login (${said}): check the user name and password of the telemetry-broker node ` +
          "and the broker's users; a password fixed on the broker is picked up at the next retry, without a redeploy",
        `CONNACK ${rc}`,
      );
    }
    return make('refused-login', `refused by the broker: ${said}`, 'the broker answered the connection with an error', `CONNACK ${rc}`);
  }

  const code = typeof rawCode === 'string' ? rawCode : null;
  if (code === 'CERT_HAS_EXPIRED') {
    return make('expired', 'certificate expired', `the certificate of ${host} has expired: renew it on the broker`, code);
  }
  if (code === 'CERT_NOT_YET_VALID') {
    return make('not-yet-valid', 'certificate not yet valid', `the certificate of ${host} is not valid yet: check the clocks`, code);
  }
  if (code && /ALTNAME|HOSTNAME/.test(code)) {
    return make(
      'wrong-host',
      'certificate not for this host',
      `the certificate of ${host} does not name this host: connect by a name the certificate has, or set the server name in the TLS configuration`,
      code,
    );
  }
  if (code && TLS_CODES.has(code)) {
    return make(
      'untrusted',
      'certificate not trusted',
      `the certificate of ${host} is not signed by a CA this node trusts: put the CA that signed it in the TLS configuration or the ca field (verification stays on)`,
      code,
    );
  }
  if (code && CLIENT_CERT_ALERTS.has(code)) {
    return make(
      'client-certificate',
      'client certificate refused',
      ctx.clientCertificate
        ? `${host} does not accept this client certificate: it must be signed by a CA the broker trusts (its cafile) and be valid`
        : `${host} requires a client certificate: set one (with its key) in the TLS configuration`,
      code,
    );
  }
  if (code === 'ECONNREFUSED') {
    return make(
      'connection-refused',
      'connection refused',
      `nothing accepts connections on ${host}: is the broker running, and is the port right?`,
      code,
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL') {
    const name = hostOf(ctx.url).replace(/:\d+$/, '');
    return make('host-not-found', 'host not found', `the name ${name} does not resolve: check the url`, code);
  }
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || /connack timeout/i.test(message)) {
    return make('no-answer', 'no answer', `${host} did not answer in time: check the network, the host and the port`, code);
  }
  if (code === 'EPROTO' && /wrong version number|packet length too long|http request/i.test(message)) {
    return make(
      'not-tls',
      'no TLS on this port',
      `${host} did not answer with TLS: use mqtt:// (or ws://) for a plain port, or the broker's TLS port`,
      code,
    );
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return make('reset', 'connection reset', `${host} closed the connection at once: if that port expects TLS, use mqtts:// (or wss://)`, code);
  }
  if (code && /^ERR_SSL_|^ERR_TLS_|^EPROTO$/.test(code)) {
    return make('tls', 'TLS handshake failed', `the TLS handshake with ${host} failed: ${message}`, code);
  }
  const short = message.length > 40 ? `${message.slice(0, 39)}…` : message;
  return make('other', short || 'connection failed', message || 'the connection failed', code);
}
