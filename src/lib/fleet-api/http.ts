/**
 * The one HTTP path of a Fleet API client: undici with a dispatcher that trusts the system
 * roots plus (optionally) the account's proxy CA, and a timeout on every phase (connect,
 * headers, body) and on the call as a whole. Failures without an HTTP answer become typed
 * FleetApiErrors (tls, timeout, network). TLS verification is never switched off.
 */
import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import { FleetApiError, transportError } from './errors';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | undefined>;
  text: string;
}

export interface SendOptions {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** For error messages only. */
  vin?: string | null;
  viaProxy?: boolean;
}

/** Largest answer body accepted (vehicle_data is a few kB). */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export class Transport {
  readonly timeoutMs: number;
  private readonly agent: Agent;

  constructor(opts: { ca?: string | null; timeoutMs: number }) {
    this.timeoutMs = opts.timeoutMs;
    const connect: { timeout: number; ca?: string[] } = { timeout: opts.timeoutMs };
    if (opts.ca) connect.ca = [...rootCertificates, opts.ca];
    this.agent = new Agent({
      connect,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
  }

  async send(opts: SendOptions): Promise<HttpAnswer> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    const path = opts.url.pathname;
    try {
      const res = await request(opts.url, {
        method: opts.method as Dispatcher.HttpMethod,
        headers: opts.headers,
        body: opts.body,
        dispatcher: this.agent,
        signal: controller.signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        size += buf.length;
        if (size > MAX_BODY_BYTES) {
          res.body.destroy();
          throw new FleetApiError(
            'bad-response',
            `The answer from ${opts.url.host} to ${opts.method} ${path} is larger than ${MAX_BODY_BYTES} bytes.`,
            { status: res.statusCode, method: opts.method, path, vin: opts.vin ?? null },
          );
        }
        chunks.push(buf);
      }
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(res.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      return { status: res.statusCode, headers, text: Buffer.concat(chunks).toString('utf8') };
    } catch (e) {
      if (e instanceof FleetApiError) throw e;
      throw transportError(e, {
        host: opts.url.host,
        method: opts.method,
        path,
        vin: opts.vin ?? null,
        timeoutMs: this.timeoutMs,
        viaProxy: opts.viaProxy ?? false,
        timedOut,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Drops every connection at once (calls in flight fail); used on redeploy. */
  async close(): Promise<void> {
    await this.agent.destroy();
  }
}

/** Throws a 'config' error unless `pem` holds at least one parsable X.509 certificate. */
export function assertPemCertificate(pem: string, what: string): void {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) throw new FleetApiError('config', `${what} is not a PEM certificate (-----BEGIN CERTIFICATE----- …).`);
  for (const b of blocks) {
    try {
      new X509Certificate(b);
    } catch {
      throw new FleetApiError('config', `${what} contains a certificate that cannot be parsed.`);
    }
  }
}
