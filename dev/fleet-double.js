'use strict';
/**
 * A local HTTPS double of Tesla's Fleet API, its OAuth token endpoint and the vehicle-command
 * HTTP proxy, for tests, benchmarks and demos. Behaves as docs/fleet-api.md says.
 *
 *   const { startFleetDouble } = require('./dev/fleet-double');
 *   const d = await startFleetDouble({ clientId: 'cid', vehicles: { VIN1: { state: 'online' } } });
 *   // trust d.ca; Fleet API at d.url, token endpoint at d.tokenUrl, proxy at d.proxyUrl
 *   ...
 *   await d.close();
 *
 * One server plays every role, told apart by the path prefix in front of the route:
 *   <url>/oauth2/v3/token            the token endpoint (refresh tokens rotate: each works once)
 *   <url>[/<prefix>]/api/1/...       the Fleet API (any prefix but the proxy's: a "region")
 *   <url>/proxy/api/1/...            the vehicle-command proxy (missing/malformed bearer: 403;
 *                                    signs fleet_telemetry_config and commands, forwards the rest)
 *   <url>[/proxy]/health             200 without auth
 *
 * Every request is recorded in `calls` as {method, path, route, prefix, via ('fleet'|'proxy'|
 * 'auth'), host, query, body, auth, status, at}: `auth` is 'valid' | 'expired' | 'unknown' |
 * 'missing' | 'malformed' (null for routes without auth); token values never appear in a record
 * (form fields named *token* or *secret* are replaced by '[redacted]'; `refreshToken` says
 * 'valid' | 'used' | 'unknown' | 'missing'). `status` is null until answered.
 *
 * Commands (`POST <proxy>/api/1/vehicles/{VIN}/command/{name}`) are carried out on the
 * vehicle's vehicle_data (charging_state, charge_limit_soc, locked, …) with the answers the
 * proxy gives: `{"result":true,"reason":""}`, or HTTP 200 `result:false` with "car could not
 * execute command: is_charging | not_charging | complete | already_set | disconnected", or
 * "missing|invalid <param> param"; 408 when the car is not online. `wake_up` brings the car
 * online (at once, or after `wakeAfterChecks` state checks, or never). Every command carried
 * out and every wake_up is told to `onCommand` listeners ({vin, name, body, at}), so a
 * simulator can reflect it in the car's stream.
 *
 * Not shipped: a dev/test tool.
 */
const https = require('node:https');
const crypto = require('node:crypto');
const path = require('node:path');
const fs = require('node:fs');
const { selfSigned } = require('../test/support/certs');

const SAMPLE_DATA = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'test', 'fixtures', 'vehicle-data-sample.json'), 'utf8')).response;

const ASLEEP_BODY = { response: null, error: 'vehicle unavailable: vehicle is offline or asleep', error_description: '' };

/** drive_state keys that only come with the location_data endpoint (firmware 2023.38+). */
const LOCATION_KEYS = [
  'latitude',
  'longitude',
  'native_latitude',
  'native_longitude',
  'corrected_latitude',
  'corrected_longitude',
  'active_route_latitude',
  'active_route_longitude',
];

const SKIP_REASONS = ['missing_key', 'unsupported_hardware', 'unsupported_firmware', 'max_configs'];

/**
 * Parameters the vehicle-command proxy reads per command (name -> type). This is the proxy's
 * side, kept apart from the package's own command table on purpose: a double that shared it
 * could not catch a wrong parameter name.
 */
const PROXY_PARAMS = {
  set_charging_amps: { charging_amps: 'number' },
  set_charge_limit: { percent: 'number' },
  set_sentry_mode: { on: 'boolean' },
  set_temps: { driver_temp: 'number', passenger_temp: 'number' },
  set_scheduled_charging: { enable: 'boolean', time: 'number' },
};
const PARAMLESS_COMMANDS = new Set([
  'charge_start',
  'charge_stop',
  'charge_port_door_open',
  'charge_port_door_close',
  'door_lock',
  'door_unlock',
  'auto_conditioning_start',
  'auto_conditioning_stop',
  'flash_lights',
  'honk_horn',
]);
const CAR_REFUSED = 'car could not execute command: ';

const ROUTE_RE = /^(.*?)(\/api\/1(?:\/.*)?|\/oauth2\/v3\/token|\/health)$/;

const STATUS_TEXT = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  408: ASLEEP_BODY.error,
  412: 'precondition_failed',
  421: 'user out of region',
  429: 'Too Many Requests',
  500: 'internal_error',
  502: 'bad_gateway',
  503: 'service_unavailable',
  504: 'gateway_timeout',
};

const clone = (x) => (x === undefined ? undefined : JSON.parse(JSON.stringify(x)));
const isPlainObject = (x) => !!x && typeof x === 'object' && !Array.isArray(x);
const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
const normBase = (u) => {
  const url = new URL(u);
  return `${url.protocol}//${url.host.toLowerCase()}${url.pathname.replace(/\/+$/, '')}`;
};

function newVehicle(vin) {
  return {
    vin,
    state: 'online',
    /** vehicle_data response object; null = the sample with this VIN. */
    data: null,
    displayName: `Car ${vin.slice(-4)}`,
    /** Extra fields merged into GET /api/1/vehicles/{vin}. */
    summary: {},
    keyPaired: true,
    firmware: '2024.44.25',
    fleetTelemetryVersion: '1.0.0',
    totalNumberOfKeys: 2,
    vehicleCommandProtocolRequired: true,
    /** Extra fields merged into this VIN's fleet_status vehicle_info entry. */
    fleetStatus: {},
    /** Why a telemetry config POST skips this VIN (one of SKIP_REASONS); default: missing_key when !keyPaired. */
    skipReason: null,
    /** The car already has too many configs: a POST "updates" it, GET then says synced:true, config:null. */
    ignoreConfig: false,
    /** A POSTed config is adopted at once (synced:true) instead of at the next connection. */
    autoSync: false,
    /** What GET fleet_telemetry_config answers. */
    telemetry: { config: null, synced: false, limitReached: false },
    telemetryErrors: [],
    /**
     * wake_up: 0 = online at once (the answer says online); n = the answer still says the
     * state, the car is online from the n-th state check after it; null = never wakes.
     */
    wakeAfterChecks: 0,
    /** State checks left until a requested wake-up completes (internal). */
    wakePending: null,
  };
}

function mergeVehicle(v, partial) {
  for (const [k, val] of Object.entries(partial || {})) {
    if (k === 'telemetry' || k === 'summary' || k === 'fleetStatus') v[k] = { ...v[k], ...clone(val) };
    else if (k === 'vin') continue;
    else v[k] = clone(val);
  }
  return v;
}

let selfSignedOnce = null;
/**
 * The double's own certificate when none is given: self-signed for localhost, 127.0.0.1 and ::1,
 * made once per process by openssl (clients trust the certificate itself, like the proxy's).
 */
function defaultCertificate() {
  if (!selfSignedOnce) {
    const self = selfSigned({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1', '::1'] });
    selfSignedOnce = { cert: self.cert, key: self.key, ca: self.cert };
  }
  return selfSignedOnce;
}

/**
 * @param {object} [opts]
 * @param {number} [opts.port=0]
 * @param {string} [opts.host='127.0.0.1']
 * @param {string} [opts.clientId] when set, the token endpoint requires it
 * @param {string} [opts.refreshToken] the refresh token valid at start (random when absent)
 * @param {number} [opts.accessTokenTtlSeconds=3600]
 * @param {Record<string, object>} [opts.vehicles] VIN -> partial vehicle record (see newVehicle)
 * @param {() => number} [opts.now=Date.now]
 * @param {{cert: string, key: string, ca: string}} [opts.tls] certificate to serve (a self-signed one made by openssl when absent)
 * @param {string} [opts.proxyPrefix='/proxy']
 * @param {string|null} [opts.region] base URL (or prefix name) that /api/1 calls must use; others answer 421
 * @param {boolean} [opts.omitSkippedVehicles=false] telemetry config POST answers without skipped_vehicles
 * @param {(event: {vin: string, name: string, body: object, at: number}) => void} [opts.onCommand]
 *   told every command carried out and every wake_up (as double.onCommand)
 */
async function startFleetDouble(opts = {}) {
  const { port = 0, host = '127.0.0.1', clientId = null, accessTokenTtlSeconds = 3600, now = Date.now, proxyPrefix = '/proxy' } = opts;

  const tlsMaterial = opts.tls || defaultCertificate();

  const settings = {
    regionBaseUrl: null,
    omitSkippedVehicles: !!opts.omitSkippedVehicles,
  };
  let validRefresh = opts.refreshToken || `rt_${crypto.randomBytes(12).toString('hex')}`;
  const usedRefresh = new Set();
  const accessTokens = new Map(); // token -> expiresAt (ms)
  const issued = []; // every access token ever issued (for leak checks)
  const vehicles = new Map();
  for (const [vin, partial] of Object.entries(opts.vehicles || {})) vehicles.set(vin, mergeVehicle(newVehicle(vin), partial));
  const calls = [];
  const callWaiters = new Set();
  const commandListeners = new Set();
  if (typeof opts.onCommand === 'function') commandListeners.add(opts.onCommand);
  const failures = [];
  const timers = new Set();
  const gates = new Set();
  const sockets = new Set();
  let configInFlight = 0;
  let maxConfigInFlight = 0;
  let connections = 0;
  let closed = false;

  function grant(ttlSeconds = accessTokenTtlSeconds) {
    const iat = Math.floor(now() / 1000);
    const expiresAt = now() + ttlSeconds * 1000;
    const token = [
      b64url({ alg: 'none', typ: 'JWT' }),
      b64url({ iss: 'fleet-double', iat, exp: Math.floor(expiresAt / 1000), jti: crypto.randomBytes(8).toString('hex') }),
      crypto.randomBytes(16).toString('base64url'),
    ].join('.');
    accessTokens.set(token, expiresAt);
    issued.push(token);
    return { accessToken: token, expiresAt, expiresIn: ttlSeconds };
  }

  function delay(ms) {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });
  }

  function send(res, call, status, body, headers = {}) {
    if (call) call.status = status;
    if (res.destroyed || res.writableEnded) return;
    const isText = typeof body === 'string';
    const payload = body === undefined ? '' : isText ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(payload),
      ...headers,
    });
    res.end(payload);
  }

  const errorBody = (status, error, description = '') => ({
    response: null,
    error: error ?? STATUS_TEXT[status] ?? 'error',
    error_description: description,
  });

  function takeFailure(method, pathname) {
    for (let i = 0; i < failures.length; i++) {
      const f = failures[i];
      if (f.method && f.method.toUpperCase() !== method) continue;
      if (!(f.re instanceof RegExp ? f.re.test(pathname) : pathname.includes(f.re))) continue;
      f.times--;
      if (f.times <= 0) failures.splice(i, 1);
      return f;
    }
    return null;
  }

  function authOf(req) {
    const h = req.headers.authorization;
    if (h === undefined) return { auth: 'missing', token: null };
    const m = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(h);
    if (!m) return { auth: 'malformed', token: null };
    const exp = accessTokens.get(m[1]);
    if (exp === undefined) return { auth: 'unknown', token: m[1] };
    if (exp <= now()) return { auth: 'expired', token: m[1] };
    return { auth: 'valid', token: m[1] };
  }

  function readBody(req) {
    return new Promise((resolve, reject) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  function parseBody(req, text) {
    if (!text) return { parsed: undefined, ok: true };
    const type = String(req.headers['content-type'] || '');
    if (type.includes('application/x-www-form-urlencoded')) {
      return { parsed: Object.fromEntries(new URLSearchParams(text)), ok: true, form: true };
    }
    try {
      return { parsed: JSON.parse(text), ok: true };
    } catch {
      return { parsed: text, ok: false };
    }
  }

  function redactForm(form) {
    const out = {};
    for (const [k, v] of Object.entries(form)) out[k] = /token|secret|password/i.test(k) ? '[redacted]' : v;
    return out;
  }

  function vehicleSummary(v) {
    const base = clone(SAMPLE_DATA);
    const summary = {};
    for (const k of [
      'id',
      'vehicle_id',
      'vin',
      'color',
      'access_type',
      'granular_access',
      'tokens',
      'in_service',
      'id_s',
      'calendar_enabled',
      'api_version',
      'backseat_token',
      'backseat_token_updated_at',
    ]) {
      summary[k] = base[k];
    }
    return { ...summary, vin: v.vin, display_name: v.displayName, state: v.state, ...clone(v.summary) };
  }

  function vehicleDataOf(v, endpointsParam) {
    const data = clone(v.data || SAMPLE_DATA);
    data.vin = v.vin;
    data.state = 'online';
    const all = endpointsParam === undefined;
    const wanted = new Set(
      all
        ? []
        : String(endpointsParam)
            .split(';')
            .map((s) => s.trim())
            .filter(Boolean),
    );
    const out = {};
    for (const [k, val] of Object.entries(data)) {
      if (!isPlainObject(val) || k === 'granular_access') out[k] = val;
      else if (all || wanted.has(k)) out[k] = val;
    }
    const withLocation = wanted.has('location_data');
    if (isPlainObject(out.drive_state) && !withLocation) {
      for (const k of LOCATION_KEYS) delete out.drive_state[k];
    }
    if (withLocation && isPlainObject(data.drive_state) && !out.drive_state) {
      out.drive_state = {};
      for (const k of [...LOCATION_KEYS, 'heading', 'gps_as_of', 'native_location_supported', 'native_type', 'timestamp']) {
        if (k in data.drive_state) out.drive_state[k] = data.drive_state[k];
      }
    }
    return out;
  }

  function telemetryStatus(v) {
    return {
      synced: !!v.telemetry.synced,
      config: v.telemetry.config === undefined ? null : clone(v.telemetry.config),
      limit_reached: !!v.telemetry.limitReached,
      key_paired: !!v.keyPaired,
    };
  }

  /** The vehicle_data a command changes (the sample, made this car's own on first use). */
  function carData(v) {
    if (!v.data) v.data = { ...clone(SAMPLE_DATA), vin: v.vin };
    for (const k of ['charge_state', 'vehicle_state', 'climate_state']) if (!isPlainObject(v.data[k])) v.data[k] = {};
    return v.data;
  }

  /** Carries out a command as the proxy and the car would: {result, reason} or null for an unknown command. */
  function executeCommand(v, name, body) {
    const params = PROXY_PARAMS[name];
    if (!params && !PARAMLESS_COMMANDS.has(name)) return null;
    const b = isPlainObject(body) ? body : {};
    for (const [p, type] of Object.entries(params || {})) {
      if (b[p] === undefined || b[p] === null) return { result: false, reason: `missing ${p} param` };
      if (typeof b[p] !== type) return { result: false, reason: `invalid ${p} param` };
    }
    const refuse = (text) => ({ result: false, reason: CAR_REFUSED + text });
    const data = carData(v);
    const cs = data.charge_state;
    const vs = data.vehicle_state;
    const cl = data.climate_state;
    const charging = cs.charging_state === 'Charging' || cs.charging_state === 'Starting';
    switch (name) {
      case 'charge_start':
        if (charging) return refuse('is_charging');
        if (cs.charging_state === 'Complete') return refuse('complete');
        if (cs.charging_state === 'Disconnected') return refuse('disconnected');
        cs.charging_state = 'Charging';
        break;
      case 'charge_stop':
        if (!charging) return refuse('not_charging');
        cs.charging_state = 'Stopped';
        break;
      case 'set_charging_amps':
        cs.charge_current_request = Math.max(0, Math.min(b.charging_amps, cs.charge_current_request_max || 48));
        break;
      case 'set_charge_limit':
        if (b.percent === cs.charge_limit_soc) return refuse('already_set');
        cs.charge_limit_soc = b.percent;
        break;
      case 'charge_port_door_open':
      case 'charge_port_door_close':
        cs.charge_port_door_open = name === 'charge_port_door_open';
        break;
      case 'door_lock':
      case 'door_unlock':
        vs.locked = name === 'door_lock';
        break;
      case 'set_sentry_mode':
        vs.sentry_mode = b.on;
        break;
      case 'auto_conditioning_start':
      case 'auto_conditioning_stop':
        cl.is_climate_on = name === 'auto_conditioning_start';
        break;
      default:
        break; // flash_lights, honk_horn, set_temps, set_scheduled_charging: nothing to keep
    }
    return { result: true, reason: '' };
  }

  function tellCommand(event) {
    for (const cb of [...commandListeners]) {
      try {
        cb(event);
      } catch {
        // a listener's failure does not change the answer
      }
    }
  }

  function handleToken(req, res, call, body) {
    const form = isPlainObject(body) ? body : {};
    if (req.method !== 'POST') return send(res, call, 405, { error: 'invalid_request', error_description: 'POST required' });
    if (!String(req.headers['content-type'] || '').includes('application/x-www-form-urlencoded')) {
      return send(res, call, 400, { error: 'invalid_request', error_description: 'form-encoded body required' });
    }
    if (form.grant_type !== 'refresh_token') {
      return send(res, call, 400, { error: 'unsupported_grant_type', error_description: 'only refresh_token is supported' });
    }
    if (clientId !== null && form.client_id !== clientId) {
      return send(res, call, 401, { error: 'invalid_client', error_description: 'unknown client' });
    }
    if (form.refresh_token !== validRefresh) {
      return send(res, call, 401, { error: 'login_required', error_description: 'The refresh_token is invalid' });
    }
    usedRefresh.add(validRefresh);
    validRefresh = `rt_${crypto.randomBytes(12).toString('hex')}`;
    const g = grant();
    return send(res, call, 200, {
      access_token: g.accessToken,
      refresh_token: validRefresh,
      id_token: 'id_' + crypto.randomBytes(8).toString('hex'),
      expires_in: accessTokenTtlSeconds,
      token_type: 'Bearer',
    });
  }

  function handleApi(req, res, call, ctx) {
    const { route, via, prefix } = ctx;
    const { auth } = call;
    if (auth === 'missing' || auth === 'malformed') {
      if (via === 'proxy') return send(res, call, 403, errorBody(403, 'missing or malformed Authorization: Bearer header'));
      return send(res, call, 401, errorBody(401, 'unauthorized', 'missing bearer token'));
    }
    if (auth === 'expired') return send(res, call, 401, errorBody(401, 'token expired (401)'));
    if (auth !== 'valid') return send(res, call, 401, errorBody(401, 'invalid bearer token'));

    if (via === 'fleet' && settings.regionBaseUrl) {
      const here = normBase(`https://${req.headers.host}${prefix}`);
      if (here !== settings.regionBaseUrl) {
        return send(
          res,
          call,
          421,
          errorBody(
            421,
            `user out of region, use base URL: ${settings.regionBaseUrl}, or consult developer.tesla.com/docs/fleet-api#regional-requirements`,
          ),
        );
      }
    }

    const { method } = req;
    const body = ctx.body;
    const segs = route.split('/').slice(3).map(decodeURIComponent); // after /api/1
    // /api/1/vehicles
    if (segs[0] === 'vehicles' && segs.length === 1 && method === 'GET') {
      const list = [...vehicles.values()].map(vehicleSummary);
      return send(res, call, 200, { response: list, count: list.length });
    }
    if (segs[0] === 'users' && segs[1] === 'region' && segs.length === 2 && method === 'GET') {
      const base = settings.regionBaseUrl || normBase(`https://${req.headers.host}${via === 'proxy' ? '' : prefix}`);
      return send(res, call, 200, { response: { region: 'na', fleet_api_base_url: base } });
    }
    if (segs[0] !== 'vehicles') return send(res, call, 404, errorBody(404, 'not_found', `no route ${method} ${route}`));

    if (segs.length === 2 && segs[1] === 'fleet_status' && method === 'POST') {
      const vins = isPlainObject(body) && Array.isArray(body.vins) ? body.vins : null;
      if (!vins) return send(res, call, 400, errorBody(400, 'invalid body: {"vins": [...]} expected'));
      const out = { key_paired_vins: [], unpaired_vins: [], vehicle_info: {} };
      for (const vin of vins) {
        const v = vehicles.get(vin);
        if (!v) continue;
        (v.keyPaired ? out.key_paired_vins : out.unpaired_vins).push(vin);
        out.vehicle_info[vin] = {
          firmware_version: v.firmware,
          vehicle_command_protocol_required: v.vehicleCommandProtocolRequired,
          discounted_device_data: false,
          fleet_telemetry_version: v.fleetTelemetryVersion,
          total_number_of_keys: v.totalNumberOfKeys,
          ...clone(v.fleetStatus),
        };
      }
      return send(res, call, 200, { response: out });
    }

    if (segs.length === 2 && segs[1] === 'fleet_telemetry_config') {
      // The proxy handles exactly this path itself, signing the config (it does not check the method).
      if (via !== 'proxy') {
        return send(res, call, 412, errorBody(412, 'fleet_telemetry_config requires a signed config: send it through the vehicle-command proxy'));
      }
      if (ctx.configConflict) {
        return send(res, call, 429, errorBody(429, 'only one fleet_telemetry_config request at a time per account'), { 'retry-after': '1' });
      }
      const vins = isPlainObject(body) && Array.isArray(body.vins) ? body.vins : null;
      const config = isPlainObject(body) ? body.config : null;
      if (!vins || !vins.length || !isPlainObject(config)) {
        return send(res, call, 400, errorBody(400, 'invalid body: {"vins": [...], "config": {...}} expected'));
      }
      if (!Number.isInteger(config.port)) return send(res, call, 400, errorBody(400, 'invalid config: port must be an integer'));
      if (typeof config.hostname !== 'string' || !config.hostname) {
        return send(res, call, 400, errorBody(400, 'invalid config: hostname required'));
      }
      const skipped = Object.fromEntries(SKIP_REASONS.map((r) => [r, []]));
      let updated = 0;
      for (const vin of vins) {
        const v = vehicles.get(vin);
        const reason = !v ? 'missing_key' : v.skipReason || (v.keyPaired ? null : 'missing_key');
        if (reason) {
          (skipped[reason] || (skipped[reason] = [])).push(vin);
          continue;
        }
        updated++;
        if (v.ignoreConfig) v.telemetry = { ...v.telemetry, config: null, synced: true };
        else v.telemetry = { ...v.telemetry, config: clone(config), synced: !!v.autoSync };
      }
      const response = { updated_vehicles: updated };
      if (!settings.omitSkippedVehicles) response.skipped_vehicles = skipped;
      return send(res, call, 200, { response });
    }

    const vin = segs[1];
    const v = vehicles.get(vin);
    const rest = segs.slice(2).join('/');
    const known = ['', 'vehicle_data', 'wake_up', 'fleet_telemetry_config', 'fleet_telemetry_errors'];
    if (!known.includes(rest) && !rest.startsWith('command/')) {
      return send(res, call, 404, errorBody(404, 'not_found', `no route ${method} ${route}`));
    }
    if (!v) return send(res, call, 404, errorBody(404, 'not_found', 'vehicle not found'));

    if (rest === '' && method === 'GET') {
      if (v.state === 'online') v.wakePending = null;
      else if (v.wakePending !== null && --v.wakePending <= 0) {
        v.wakePending = null;
        v.state = 'online';
      }
      return send(res, call, 200, { response: vehicleSummary(v) });
    }
    if (rest === 'vehicle_data' && method === 'GET') {
      if (v.state !== 'online') return send(res, call, 408, clone(ASLEEP_BODY));
      return send(res, call, 200, { response: vehicleDataOf(v, ctx.query.endpoints) });
    }
    if (rest === 'wake_up' && method === 'POST') {
      if (v.state !== 'online') {
        if (v.wakeAfterChecks === 0) v.state = 'online';
        else if (v.wakeAfterChecks !== null && v.wakePending === null) v.wakePending = v.wakeAfterChecks;
      }
      tellCommand({ vin, name: 'wake_up', body: body === undefined ? {} : clone(body), at: now() });
      return send(res, call, 200, { response: vehicleSummary(v) });
    }
    if (rest.startsWith('command/') && method === 'POST') {
      if (via !== 'proxy') return send(res, call, 412, errorBody(412, 'vehicle requires signed commands: use the vehicle-command proxy'));
      const name = rest.slice('command/'.length);
      if (v.state !== 'online') return send(res, call, 408, clone(ASLEEP_BODY));
      const answer = executeCommand(v, name, body);
      if (!answer) return send(res, call, 404, errorBody(404, 'not_found', `unknown command ${name}`));
      if (answer.result) tellCommand({ vin, name, body: isPlainObject(body) ? clone(body) : {}, at: now() });
      return send(res, call, 200, { response: answer });
    }
    if (rest === 'fleet_telemetry_config' && method === 'GET') return send(res, call, 200, { response: telemetryStatus(v) });
    if (rest === 'fleet_telemetry_config' && method === 'DELETE') {
      const had = v.telemetry.config !== null || v.telemetry.synced;
      v.telemetry = { ...v.telemetry, config: null, synced: false };
      return send(res, call, 200, { response: { updated_vehicles: had ? 1 : 0 } });
    }
    if (rest === 'fleet_telemetry_errors' && method === 'GET') {
      return send(res, call, 200, { response: { fleet_telemetry_errors: clone(v.telemetryErrors) } });
    }
    return send(res, call, 404, errorBody(404, 'not_found', `no route ${method} ${route}`));
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'https://double.invalid');
    const m = ROUTE_RE.exec(url.pathname);
    const prefix = m ? m[1] : '';
    const route = m ? m[2] : url.pathname;
    const via = prefix === proxyPrefix ? 'proxy' : 'fleet';
    const call = {
      method: req.method,
      path: url.pathname,
      route,
      prefix,
      via,
      host: req.headers.host,
      query: Object.fromEntries(url.searchParams),
      rawQuery: url.search,
      body: undefined,
      auth: null,
      status: null,
      at: now(),
    };
    // Concurrency 1 for the proxy's telemetry-config POST, counted from arrival to answer.
    let configConflict = false;
    if (via === 'proxy' && route === '/api/1/vehicles/fleet_telemetry_config') {
      if (configInFlight > 0) configConflict = true;
      else {
        configInFlight++;
        maxConfigInFlight = Math.max(maxConfigInFlight, configInFlight);
        res.on('close', () => configInFlight--);
      }
    }
    let text;
    try {
      text = await readBody(req);
    } catch {
      return;
    }
    const { parsed } = parseBody(req, text);
    if (route === '/oauth2/v3/token') {
      const form = isPlainObject(parsed) ? parsed : {};
      const rt = form.refresh_token;
      call.via = 'auth';
      call.body = redactForm(form);
      call.fields = Object.keys(form);
      call.refreshToken = rt === undefined ? 'missing' : rt === validRefresh ? 'valid' : usedRefresh.has(rt) ? 'used' : 'unknown';
    } else {
      call.body = parsed;
      if (route.startsWith('/api/1')) call.auth = authOf(req).auth;
    }
    calls.push(call);
    for (const w of [...callWaiters]) {
      if (w.pred(call)) {
        callWaiters.delete(w);
        w.resolve(call);
      }
    }

    const f = takeFailure(req.method, url.pathname);
    if (f) {
      f.arrived(call);
      if (f.gate) await f.gate;
      if (f.delayMs) await delay(f.delayMs);
      if (closed) return;
      if (f.status !== undefined) {
        const body = f.body !== undefined ? f.body : f.status === 408 ? clone(ASLEEP_BODY) : errorBody(f.status);
        return send(res, call, f.status, body, f.headers || {});
      }
    }

    if (route === '/health') {
      return send(res, call, 200, 'OK');
    }
    if (route === '/oauth2/v3/token') return handleToken(req, res, call, parsed);
    if (route.startsWith('/api/1')) {
      return handleApi(req, res, call, { route, via, prefix, body: parsed, query: call.query, configConflict });
    }
    return send(res, call, 404, errorBody(404, 'not_found', `no route ${req.method} ${url.pathname}`));
  }

  const server = https.createServer({ cert: tlsMaterial.cert, key: tlsMaterial.key }, (req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) send(res, null, 500, errorBody(500, 'double failed: ' + e.message));
    });
  });
  server.on('connection', (s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const url = `https://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;

  const double = {
    url,
    port: addr.port,
    /** PEM to trust: the CA that signed the server certificate (the certificate itself when self-signed). */
    ca: tlsMaterial.ca,
    cert: tlsMaterial.cert,
    tokenUrl: `${url}/oauth2/v3/token`,
    proxyUrl: `${url}${proxyPrefix}`,
    calls,
    settings,
    /** The refresh token the token endpoint accepts now (tests only). */
    get currentRefreshToken() {
      return validRefresh;
    },
    /** Makes `token` the one valid refresh token (the previous one stops working). */
    setRefreshToken(token) {
      usedRefresh.add(validRefresh);
      validRefresh = token;
    },
    /** Every refresh and access token this double ever accepted or issued (for leak checks in tests). */
    secrets() {
      return [validRefresh, ...usedRefresh, ...issued];
    },
    /** Issues an access token directly (e.g. to deploy one): {accessToken, expiresAt, expiresIn}. */
    grant,
    /** Makes every access token issued so far invalid (a 401 on its next use). */
    revokeAccessTokens() {
      accessTokens.clear();
    },
    /** Number of TCP connections accepted (a failed TLS handshake counts too). */
    get connections() {
      return connections;
    },
    /** Highest number of telemetry-config POSTs in flight at once. */
    get maxConfigInFlight() {
      return maxConfigInFlight;
    },
    /** `<url>/<name>`: a base URL for a "region" served under a path prefix. */
    baseUrlFor(name) {
      return `${url}/${String(name).replace(/^\/+|\/+$/g, '')}`;
    },
    /**
     * Direct /api/1 calls must come to `base` (a full base URL, or a prefix name for
     * baseUrlFor); others answer 421 "user out of region, use base URL: <base>". null: off.
     */
    setRegion(base) {
      settings.regionBaseUrl = base ? normBase(/^https:/.test(base) ? base : double.baseUrlFor(base)) : null;
    },
    setVehicle(vin, partial) {
      const v = vehicles.get(vin) || newVehicle(vin);
      vehicles.set(vin, mergeVehicle(v, partial));
      return clone(vehicles.get(vin));
    },
    vehicle(vin) {
      return clone(vehicles.get(vin));
    },
    /**
     * The next `times` (default 1) requests whose path matches `pathRegex` (RegExp, or a
     * substring) and `method` (optional) are answered with `status` / `body` (JSON or raw
     * string) / `headers`, after `delayMs`, or held (`hang: true`) until `release()` or close().
     * Without `status` the request is then handled normally. Returns {arrived: Promise<call>,
     * release()}.
     */
    failNext(pathRegex, spec = {}) {
      let release = () => {};
      const gate = spec.hang ? new Promise((r) => (release = r)) : null;
      if (gate) gates.add(release);
      let arrived;
      const arrivedP = new Promise((r) => (arrived = r));
      failures.push({
        re: pathRegex,
        method: spec.method,
        status: spec.status,
        body: spec.body,
        headers: spec.headers,
        times: spec.times === undefined ? 1 : spec.times,
        delayMs: spec.delayMs || 0,
        gate,
        arrived,
      });
      return {
        arrived: arrivedP,
        release: () => {
          gates.delete(release);
          release();
        },
      };
    },
    /**
     * Calls `cb({vin, name, body, at})` for every command the double carried out (result
     * true) and every wake_up; returns a function that stops it.
     */
    onCommand(cb) {
      commandListeners.add(cb);
      return () => commandListeners.delete(cb);
    },
    /** Drops every pending failNext. */
    clearFailures() {
      failures.length = 0;
    },
    /** Resolves with the first recorded call (past or future) that satisfies `pred`. */
    waitForCall(pred = () => true) {
      const found = calls.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => callWaiters.add({ pred, resolve }));
    },
    /** Recorded calls matching a route RegExp (against `path`) and optional method. */
    callsTo(re, method) {
      return calls.filter((c) => (re instanceof RegExp ? re.test(c.path) : c.path.includes(re)) && (!method || c.method === method));
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      gates.clear();
      await new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
      });
    },
  };
  if (opts.region) double.setRegion(opts.region);
  return double;
}

module.exports = { startFleetDouble, SAMPLE_DATA, ASLEEP_BODY, SKIP_REASONS };
