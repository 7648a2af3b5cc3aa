/**
 * Tesla Fleet API client (no Node-RED import): regional base URL or the vehicle-command
 * proxy, tokens refreshed and rotated (tokens.ts), errors typed by meaning (errors.ts), every
 * answer recorded in a billing meter (billing.ts).
 *
 * Reading never wakes a car: request() refuses any wake_up path. Only wakeUp() calls it, for a
 * command the user allowed to wake the car.
 *
 * Events (EventEmitter), none carrying a secret:
 *   'tokens'         (state: TokenState)      after every successful refresh
 *   'login-required' (error: FleetApiError)   the refresh token was refused
 *   'region'         (baseUrl: string)        a 421 moved the client to another base URL
 *   'warning'        (message: string)        e.g. the token file could not be written
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { BillingMeter, type BillingCategory } from './billing';
import { clip, errorTextOf, FleetApiError, parseRegionBaseUrl, parseRetryAfter, saysAsleep } from './errors';
import { assertPemCertificate, Transport, type HttpAnswer } from './http';
import type { TokenStore } from './token-store';
import { TokenManager, type TokenState } from './tokens';

export type Region = 'na' | 'eu' | 'cn';

export const REGION_BASE_URLS: Readonly<Record<Region, string>> = {
  na: 'https://fleet-api.prd.na.vn.cloud.tesla.com',
  eu: 'https://fleet-api.prd.eu.vn.cloud.tesla.com',
  cn: 'https://fleet-api.prd.cn.vn.cloud.tesla.cn',
};

export const DEFAULT_TOKEN_URL = 'https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/token';
export const DEFAULT_TIMEOUT_MS = 15000;
export const DEFAULT_ENDPOINTS = ['charge_state', 'drive_state', 'location_data', 'vehicle_state'];

export interface FleetApiClientOptions {
  region: Region;
  /** Overrides the regional base URL (tests, demo). */
  fleetApiUrl?: string;
  /** The vehicle-command proxy; when set, every vehicle call goes through it. */
  proxyUrl?: string;
  /** PEM trusted for every HTTPS call of this account, in addition to the system roots. */
  proxyCa?: string;
  tokenUrl?: string;
  clientId: string;
  /** Not needed for a refresh; kept only to scrub it from texts. */
  clientSecret?: string;
  refreshToken?: string;
  accessToken?: string;
  tokenStore?: TokenStore;
  /** Timeout of every phase of every call (connect, headers, body) and of the call as a whole. */
  timeoutMs?: number;
  now?: () => number;
  /** A meter to record into (default: a new one, as `client.meter`). */
  meter?: BillingMeter;
}

export type HttpMethod = 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';

export interface FleetRequest {
  method: HttpMethod;
  /** Absolute path on the API host, e.g. `/api/1/vehicles/VIN`. Query goes in `query`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  category: BillingCategory;
  /** The VIN the call is about (billing per VIN, messages). */
  vin?: string | null;
  /** 'proxy' requires proxyUrl (calls only the proxy can make, e.g. signed config). Default 'auto'. */
  via?: 'auto' | 'proxy';
}

/** Tesla's answer envelope. */
export interface FleetResponse<T> {
  response: T;
  error?: string | null;
  error_description?: string;
  [key: string]: unknown;
}

export interface VehicleSummary {
  vin?: string;
  state?: string | null;
  display_name?: string;
  [key: string]: unknown;
}

export interface VehicleState {
  /** 'online' | 'asleep' | 'offline' (null when the answer did not say). */
  state: string | null;
  response: VehicleSummary;
}

export type VehicleData = Record<string, unknown>;

/** A command's answer (HTTP 200): `result` and Tesla's `reason` (`""` on success). */
export interface CommandAnswer {
  result: boolean;
  reason: string;
  /** The answer as it came: `{"response":{"result":…,"reason":…}}`. */
  body: FleetResponse<Record<string, unknown>>;
}

export interface TelemetryFieldConfig {
  interval_seconds: number;
  minimum_delta?: number;
  resend_interval_seconds?: number;
  [key: string]: unknown;
}

export interface TelemetryConfig {
  hostname: string;
  port: number;
  ca?: string;
  fields: Record<string, TelemetryFieldConfig>;
  alert_types?: string[];
  prefer_typed?: boolean;
  exp?: number;
  delivery_policy?: string;
  [key: string]: unknown;
}

export interface TelemetryConfigRequest {
  vins: string[];
  config: TelemetryConfig;
}

export interface SkippedVehicles {
  missing_key?: string[];
  unsupported_hardware?: string[];
  unsupported_firmware?: string[];
  max_configs?: string[];
  [reason: string]: string[] | undefined;
}

export interface TelemetryConfigCreateResult {
  updated_vehicles: number;
  /** May be absent. */
  skipped_vehicles?: SkippedVehicles;
}

export interface TelemetryConfigStatus {
  synced: boolean;
  config: TelemetryConfig | null;
  limit_reached: boolean;
  key_paired: boolean;
  [key: string]: unknown;
}

export interface TelemetryError {
  created_at?: string;
  error?: string;
  error_name?: string;
  name?: string;
  txID?: string;
  vin?: string;
  [key: string]: unknown;
}

export interface FleetStatusVehicleInfo {
  firmware_version?: string;
  vehicle_command_protocol_required?: boolean;
  fleet_telemetry_version?: string;
  total_number_of_keys?: number;
  [key: string]: unknown;
}

export interface FleetStatus {
  key_paired_vins: string[];
  unpaired_vins: string[];
  vehicle_info: Record<string, FleetStatusVehicleInfo>;
  [key: string]: unknown;
}

const TESLA_HOST_RE = /(^|\.)tesla\.(com|cn)$/i;

/**
 * The clients whose serialized() call the current async context runs in. One storage for all
 * clients: an AsyncLocalStorage per client stayed registered with async_hooks after its client
 * was closed (and left a property on `process`), so every redeploy of an account leaked one.
 */
const serialContext = new AsyncLocalStorage<ReadonlySet<FleetApiClient>>();

function httpsUrl(value: string, what: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new FleetApiError('config', `${what} is not a URL.`);
  }
  if (u.protocol !== 'https:') throw new FleetApiError('config', `${what} must be an https:// URL (tokens are never sent in clear).`);
  if (u.username || u.password) throw new FleetApiError('config', `${what} must not contain a user name or password.`);
  return u.origin + u.pathname.replace(/\/+$/, '');
}

function isObject(x: unknown): x is Record<string, unknown> {
  return !!x && typeof x === 'object' && !Array.isArray(x);
}

export class FleetApiClient extends EventEmitter {
  readonly region: Region;
  /** Where direct (non-proxy) vehicle calls go; changed by a 421 answer. */
  baseUrl: string;
  readonly proxyUrl: string | null;
  readonly tokenUrl: string;
  readonly timeoutMs: number;
  readonly meter: BillingMeter;
  private readonly now: () => number;
  private readonly transport: Transport;
  private readonly tokens: TokenManager;
  private readonly staticSecrets: string[];
  private readonly customBaseHost: string | null;
  private serialChain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(opts: FleetApiClientOptions) {
    super();
    if (!opts || typeof opts.clientId !== 'string' || opts.clientId.trim() === '') {
      throw new FleetApiError('config', 'The tesla-account node needs a client id.');
    }
    if (!opts.fleetApiUrl && !(opts.region in REGION_BASE_URLS)) {
      throw new FleetApiError('config', `Unknown region ${JSON.stringify(String(opts.region))}: use na, eu or cn.`);
    }
    this.region = opts.region;
    this.baseUrl = opts.fleetApiUrl ? httpsUrl(opts.fleetApiUrl, 'The Fleet API URL') : REGION_BASE_URLS[opts.region];
    this.customBaseHost = opts.fleetApiUrl ? new URL(this.baseUrl).hostname : null;
    this.proxyUrl = opts.proxyUrl ? httpsUrl(opts.proxyUrl, 'The proxy URL') : null;
    this.tokenUrl = httpsUrl(opts.tokenUrl || DEFAULT_TOKEN_URL, 'The token URL');
    if (opts.proxyCa) assertPemCertificate(opts.proxyCa, 'The proxy CA');
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new FleetApiError('config', 'timeoutMs must be a positive number.');
    this.timeoutMs = timeoutMs;
    this.now = opts.now ?? Date.now;
    this.meter = opts.meter ?? new BillingMeter({ now: this.now });
    this.transport = new Transport({ ca: opts.proxyCa || null, timeoutMs });
    this.staticSecrets = [opts.clientSecret, opts.refreshToken, opts.accessToken].filter((s): s is string => typeof s === 'string' && s.length > 0);
    this.tokens = new TokenManager({
      tokenUrl: this.tokenUrl,
      clientId: opts.clientId,
      refreshToken: opts.refreshToken,
      accessToken: opts.accessToken,
      store: opts.tokenStore,
      now: this.now,
      post: (url, form) =>
        this.transport.send({
          method: 'POST',
          url,
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: form,
        }),
      record: (status) => this.meter.record('free', null, status),
      scrub: (t) => this.scrub(t),
      onWarning: (m) => this.safeEmit('warning', this.scrub(m)),
      onRefreshed: (s) => this.safeEmit('tokens', s),
      onLoginRequired: (e) => this.safeEmit('login-required', e),
    });
  }

  /** Token facts without secrets. */
  tokenState(): TokenState {
    return this.tokens.state();
  }

  /** GET /api/1/vehicles/{vin}: the car's state without waking it (category 'free'). */
  async getVehicle(vin: string): Promise<VehicleState> {
    const body = await this.request<FleetResponse<VehicleSummary>>({
      method: 'GET',
      path: `/api/1/vehicles/${this.vinSegment(vin)}`,
      category: 'free',
      vin,
    });
    const response = this.expectObject(body, vin, 'GET /api/1/vehicles/{vin}');
    return { state: typeof response.state === 'string' ? response.state : null, response };
  }

  /** GET /api/1/vehicles/{vin}/vehicle_data?endpoints=a%3Bb (category 'data'; 408 when asleep). */
  async vehicleData(vin: string, endpoints: string[] = DEFAULT_ENDPOINTS): Promise<FleetResponse<VehicleData>> {
    const list = endpoints.map((e) => String(e).trim()).filter((e) => e !== '');
    const body = await this.request<FleetResponse<VehicleData>>({
      method: 'GET',
      path: `/api/1/vehicles/${this.vinSegment(vin)}/vehicle_data`,
      query: list.length ? { endpoints: list.join(';') } : undefined,
      category: 'data',
      vin,
    });
    this.expectObject(body, vin, 'vehicle_data');
    return body;
  }

  /**
   * POST <proxy or base>/api/1/vehicles/{vin}/command/{name} with `body` as JSON (category
   * 'command'; the proxy signs it). Resolves with the answer of an HTTP 200, whether the car
   * carried it out (`result: true`) or refused (`result: false` and Tesla's reason). Other
   * answers throw as every call does: 408 `asleep`, 429 `rate-limited` (with Retry-After),
   * 5xx `server`, no answer `network` / `timeout`.
   */
  async command(vin: string, name: string, body: Record<string, unknown> = {}): Promise<CommandAnswer> {
    if (typeof name !== 'string' || !/^[a-z][a-z0-9_]*$/.test(name)) {
      throw new FleetApiError('config', `A command name is lower-case letters, digits and _ (got ${JSON.stringify(String(name))}).`);
    }
    if (!isObject(body)) throw new FleetApiError('config', `The parameters of ${name} must be a JSON object.`);
    const answer = await this.request<FleetResponse<Record<string, unknown>>>({
      method: 'POST',
      path: `/api/1/vehicles/${this.vinSegment(vin)}/command/${name}`,
      body,
      category: 'command',
      vin,
    });
    const response = this.expectObject(answer, vin, `command ${name}`) as Record<string, unknown>;
    if (typeof response.result !== 'boolean') {
      throw new FleetApiError('bad-response', `The answer to command ${name} for ${vin} has no result (true or false).`, {
        vin,
        body: this.scrubDeep(answer),
      });
    }
    // Some answers carry the reason as `string` instead of `reason`.
    const reason = typeof response.reason === 'string' ? response.reason : typeof response.string === 'string' ? response.string : '';
    return { result: response.result, reason: this.scrub(reason), body: this.scrubDeep(answer) as FleetResponse<Record<string, unknown>> };
  }

  /**
   * POST /api/1/vehicles/{vin}/wake_up (category 'wake', the most expensive call). The only
   * way this client ever wakes a car: for a command whose user allowed it. Reading never calls it.
   */
  async wakeUp(vin: string): Promise<VehicleState> {
    const body = await this.send<FleetResponse<VehicleSummary>>(
      { method: 'POST', path: `/api/1/vehicles/${this.vinSegment(vin)}/wake_up`, category: 'wake', vin },
      true,
    );
    const response = this.expectObject(body, vin, 'wake_up');
    return { state: typeof response.state === 'string' ? response.state : null, response };
  }

  /** POST /api/1/vehicles/fleet_status {vins}: key pairing, firmware, telemetry version (category 'data'). */
  async fleetStatus(vins: string[]): Promise<FleetResponse<FleetStatus>> {
    const body = await this.request<FleetResponse<FleetStatus>>({
      method: 'POST',
      path: '/api/1/vehicles/fleet_status',
      body: { vins },
      category: 'data',
      vin: vins.length === 1 ? vins[0] : null,
    });
    this.expectObject(body, null, 'fleet_status');
    return body;
  }

  /**
   * POST <proxy>/api/1/vehicles/fleet_telemetry_config (category 'command'). Only the proxy can
   * sign the config, so this needs proxyUrl. Runs serialized (one config call at a time).
   */
  async createTelemetryConfig(req: TelemetryConfigRequest): Promise<FleetResponse<TelemetryConfigCreateResult>> {
    if (!this.proxyUrl) {
      throw new FleetApiError(
        'config',
        'Registering a telemetry config needs the vehicle-command proxy: set the proxy URL (and its CA) in the tesla-account node.',
        { method: 'POST', path: '/api/1/vehicles/fleet_telemetry_config' },
      );
    }
    if (!isObject(req) || !Array.isArray(req.vins) || req.vins.length === 0 || !req.vins.every((v) => typeof v === 'string' && v)) {
      throw new FleetApiError('config', 'A telemetry config needs a non-empty list of VINs.');
    }
    if (!isObject(req.config) || typeof req.config.hostname !== 'string' || !req.config.hostname) {
      throw new FleetApiError('config', 'A telemetry config needs a hostname.');
    }
    if (!Number.isInteger(req.config.port) || req.config.port < 1 || req.config.port > 65535) {
      throw new FleetApiError('config', 'The telemetry config port must be a number from 1 to 65535 (not a string).');
    }
    if (!isObject(req.config.fields)) {
      throw new FleetApiError('config', 'A telemetry config needs fields: {Name: {interval_seconds}}.');
    }
    return this.serialized(async () => {
      const body = await this.request<FleetResponse<TelemetryConfigCreateResult>>({
        method: 'POST',
        path: '/api/1/vehicles/fleet_telemetry_config',
        body: req,
        category: 'command',
        vin: req.vins.length === 1 ? req.vins[0] : null,
        via: 'proxy',
      });
      this.expectObject(body, null, 'fleet_telemetry_config');
      return body;
    });
  }

  /** GET /api/1/vehicles/{vin}/fleet_telemetry_config: {synced, config, limit_reached, key_paired} (category 'data'). */
  async getTelemetryConfig(vin: string): Promise<FleetResponse<TelemetryConfigStatus>> {
    const body = await this.request<FleetResponse<TelemetryConfigStatus>>({
      method: 'GET',
      path: `/api/1/vehicles/${this.vinSegment(vin)}/fleet_telemetry_config`,
      category: 'data',
      vin,
    });
    this.expectObject(body, vin, 'fleet_telemetry_config');
    return body;
  }

  /** DELETE /api/1/vehicles/{vin}/fleet_telemetry_config (category 'command', serialized). */
  async deleteTelemetryConfig(vin: string): Promise<FleetResponse<Record<string, unknown>>> {
    return this.serialized(async () => {
      const body = await this.request<FleetResponse<Record<string, unknown>>>({
        method: 'DELETE',
        path: `/api/1/vehicles/${this.vinSegment(vin)}/fleet_telemetry_config`,
        category: 'command',
        vin,
      });
      this.expectObject(body, vin, 'fleet_telemetry_config');
      return body;
    });
  }

  /** GET /api/1/vehicles/{vin}/fleet_telemetry_errors (category 'data'). */
  async telemetryErrors(vin: string): Promise<FleetResponse<{ fleet_telemetry_errors?: TelemetryError[] }>> {
    const body = await this.request<FleetResponse<{ fleet_telemetry_errors?: TelemetryError[] }>>({
      method: 'GET',
      path: `/api/1/vehicles/${this.vinSegment(vin)}/fleet_telemetry_errors`,
      category: 'data',
      vin,
    });
    this.expectObject(body, vin, 'fleet_telemetry_errors');
    return body;
  }

  /**
   * Runs `fn` after every earlier serialized call of this client has settled (Tesla allows
   * one telemetry-config call at a time per account). Nested calls run directly.
   */
  serialized<T>(fn: () => Promise<T>): Promise<T> {
    const outer = serialContext.getStore();
    if (outer?.has(this)) return fn();
    const inside = new Set(outer ?? []).add(this);
    const run = this.serialChain.then(() => serialContext.run(inside, fn));
    this.serialChain = run.catch(() => undefined);
    return run;
  }

  /**
   * The one path every call takes. Refuses wake_up. Retries once after a 401 (with a
   * refreshed token) and once after a 421 (with the base URL the answer named).
   */
  async request<T = unknown>(req: FleetRequest): Promise<T> {
    return this.send<T>(req, false);
  }

  /** request(), with wake_up allowed only for wakeUp(). */
  private async send<T>(req: FleetRequest, mayWake: boolean): Promise<T> {
    const path = this.checkPath(req.path, mayWake);
    if (this.closed) {
      throw new FleetApiError('network', 'The Fleet API client was closed (the node was redeployed or stopped).', {
        method: req.method,
        path,
        code: 'CLOSED',
      });
    }
    const viaProxy = req.via === 'proxy' || this.proxyUrl !== null;
    if (viaProxy && !this.proxyUrl) {
      throw new FleetApiError('config', `${req.method} ${path} must go through the vehicle-command proxy: set the proxy URL.`, {
        method: req.method,
        path,
      });
    }
    let retried401 = false;
    let retried421 = false;
    let token = await this.tokens.accessToken();
    for (;;) {
      const url = this.buildUrl(viaProxy ? (this.proxyUrl as string) : this.baseUrl, path, req.query);
      const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
      let payload: string | undefined;
      if (req.body !== undefined) {
        headers['content-type'] = 'application/json';
        payload = JSON.stringify(req.body);
      }
      let answer: HttpAnswer;
      try {
        answer = await this.transport.send({ method: req.method, url, headers, body: payload, vin: req.vin, viaProxy });
      } catch (e) {
        this.meter.record(req.category, req.vin, null);
        throw this.scrubError(e);
      }
      this.meter.record(req.category, req.vin, answer.status);

      if (answer.status === 401 && !retried401) {
        retried401 = true;
        token = await this.tokens.afterUnauthorized(token);
        continue;
      }
      if (answer.status === 421 && !retried421 && !viaProxy) {
        const next = parseRegionBaseUrl(answer.text);
        if (next && next !== this.baseUrl && this.mayMoveTo(next)) {
          retried421 = true;
          this.baseUrl = next;
          this.safeEmit('region', next);
          continue;
        }
      }
      return this.interpret<T>(answer, req, url, viaProxy);
    }
  }

  /** Closes the HTTP connections of this client; calls in flight fail, later calls fail at once. */
  async close(): Promise<void> {
    this.closed = true;
    await this.transport.close();
  }

  // -------------------------------------------------------------------------------------

  private interpret<T>(answer: HttpAnswer, req: FleetRequest, url: URL, viaProxy: boolean): T {
    const { status, text } = answer;
    let parsed: unknown;
    let isJson = false;
    try {
      parsed = JSON.parse(text);
      isJson = true;
    } catch {
      parsed = undefined;
    }
    const errText = clip(this.scrub(errorTextOf(parsed, text)));
    const details = {
      status,
      method: req.method,
      path: url.pathname,
      vin: req.vin ?? null,
      body: isJson ? this.scrubDeep(parsed) : undefined,
    };
    const about = req.vin ? ` for ${req.vin}` : '';
    const car = req.vin ? `Car ${req.vin}` : 'The car';
    const what = `${req.method} ${url.pathname}`;
    const host = url.host;

    if (status >= 200 && status < 300) {
      if (!isJson || !isObject(parsed)) {
        throw new FleetApiError('bad-response', `${host} answered ${what} with something that is not a JSON object.`, details);
      }
      if (parsed.response === null && typeof parsed.error === 'string' && saysAsleep(parsed.error)) {
        throw new FleetApiError('asleep', `${car} is asleep or offline: no data until it wakes (it is never woken).`, details);
      }
      return parsed as T;
    }
    if (status === 408 || saysAsleep(errText)) {
      throw new FleetApiError('asleep', `${car} is asleep or offline (${status}): no data until it wakes (it is never woken).`, details);
    }
    const said = errText ? `: ${errText}` : '';
    switch (status) {
      case 401:
        throw new FleetApiError(
          'auth',
          `The Fleet API refused the access token (401) even after a refresh${said}. Check the app's scopes and the client id in the tesla-account node.`,
          details,
        );
      case 403:
        throw new FleetApiError(
          'forbidden',
          `Access denied (403) to ${what}${said}. The token may lack a scope (vehicle_device_data, vehicle_location, vehicle_cmds)${viaProxy ? ', or the proxy got no token' : ''}.`,
          details,
        );
      case 404:
        throw new FleetApiError(
          'not-found',
          req.vin ? `Vehicle ${req.vin} was not found on this account (404). Check the VIN.` : `${what} was not found (404)${said}.`,
          details,
        );
      case 412:
        throw new FleetApiError(
          'precondition',
          `Precondition failed (412) for ${what}${said}. Register the partner account in this region, and send telemetry configs through the vehicle-command proxy.`,
          details,
        );
      case 421: {
        const named = parseRegionBaseUrl(text);
        throw new FleetApiError(
          'wrong-region',
          `Wrong region (421)${named ? `: the account is served by ${named}` : ''}. Set the region of the tesla-account node${viaProxy ? ' (the proxy picks it from the token)' : ''}.`,
          { ...details, baseUrl: named },
        );
      }
      case 429: {
        const seconds = parseRetryAfter(answer.headers['retry-after'], text, this.now());
        const retryAt = seconds === null ? null : this.now() + seconds * 1000;
        throw new FleetApiError(
          'rate-limited',
          `Rate limited by the Fleet API (429)${about}: ${seconds === null ? 'wait before trying again' : `retry after ${seconds} s (${new Date(retryAt as number).toISOString()})`}.`,
          { ...details, retryAfterSeconds: seconds, retryAt },
        );
      }
      default:
        break;
    }
    if (status >= 500) {
      throw new FleetApiError(
        'server',
        `${viaProxy ? 'The proxy or Fleet API' : 'The Fleet API'} failed (${status}) on ${what}${said}. Not billed; try again later.`,
        details,
      );
    }
    if (status >= 400) {
      throw new FleetApiError('bad-request', `The Fleet API rejected ${what} (${status})${said}.`, details);
    }
    throw new FleetApiError('bad-response', `Unexpected answer ${status} from ${host} to ${what}.`, details);
  }

  private expectObject(body: unknown, vin: string | null, what: string): VehicleSummary {
    const response = isObject(body) ? body.response : undefined;
    if (!isObject(response)) {
      throw new FleetApiError('bad-response', `The answer to ${what}${vin ? ` for ${vin}` : ''} has no response object.`, {
        vin,
        body,
      });
    }
    return response as VehicleSummary;
  }

  private checkPath(path: string, mayWake = false): string {
    if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//') || /[?#\\]/.test(path)) {
      throw new FleetApiError('config', 'A Fleet API path must start with / and carry no query (use `query`).');
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      throw new FleetApiError('config', 'A Fleet API path must be valid URL encoding.');
    }
    const segments = decoded.split('/');
    if (segments.some((s) => s === '..' || s === '.')) {
      throw new FleetApiError('config', 'A Fleet API path must not contain . or .. segments.');
    }
    if (!mayWake && segments.some((s) => s.trim().toLowerCase() === 'wake_up')) {
      throw new FleetApiError('refused', 'Refused to call wake_up: reading a car must never wake it (a wake is also the most expensive call).', {
        path,
      });
    }
    return path;
  }

  private vinSegment(vin: string): string {
    if (typeof vin !== 'string' || vin.trim() === '') throw new FleetApiError('config', 'A VIN is required.');
    return encodeURIComponent(vin.trim());
  }

  private buildUrl(base: string, path: string, query: FleetRequest['query']): URL {
    const url = new URL(base + path);
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined) params.append(k, String(v));
      const qs = params.toString();
      if (qs) url.search = qs;
    }
    return url;
  }

  /** A 421 may move the client to a Tesla host, or within a custom base URL's host (tests). */
  private mayMoveTo(next: string): boolean {
    const host = new URL(next).hostname;
    return TESLA_HOST_RE.test(host) || (this.customBaseHost !== null && host === this.customBaseHost);
  }

  private scrub(text: string): string {
    let out = text;
    for (const s of [...this.staticSecrets, ...this.tokens.secrets()]) {
      if (s.length >= 4) out = out.split(s).join('[redacted]');
    }
    return out;
  }

  /** A copy of a (small, error) JSON body with every secret string replaced. */
  private scrubDeep(value: unknown, depth = 0): unknown {
    if (typeof value === 'string') return this.scrub(value);
    if (depth > 20 || !value || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => this.scrubDeep(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[this.scrub(k)] = this.scrubDeep(v, depth + 1);
    return out;
  }

  private scrubError(e: unknown): unknown {
    if (e instanceof FleetApiError) {
      const clean = this.scrub(e.message);
      if (clean !== e.message) {
        if (e.stack) e.stack = this.scrub(e.stack);
        e.message = clean;
      }
    }
    return e;
  }

  private safeEmit(event: string, arg: unknown): void {
    try {
      this.emit(event, arg);
    } catch {
      // A listener's failure must not break a Fleet API call.
    }
  }
}
