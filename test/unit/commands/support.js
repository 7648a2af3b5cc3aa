'use strict';
const { lib } = require('../../support/paths');
// Shared set-up of the vehicle-command tests: the HTTPS Fleet API double, a real FleetApiClient
// through the proxy path, the controller on a fake clock, and a stream driven by the test for
// timing cases (the stream from a real BrokerConnection is the core's BrokerCommandStream).
const { FleetApiClient } = lib('fleet-api');
const { VehicleCommandController } = lib('commands/controller');
const { startFleetDouble, SAMPLE_DATA } = require('../../../dev/fleet-double');
const { fakeClock } = require('../../support/clock');
const { recordingSink } = require('../../support/sink');

const CLIENT_ID = 'cmd-test-client';
const CLIENT_SECRET = 'cs-SECRET-commands-0123456789';
const REFRESH_TOKEN = 'rt-SECRET-commands-0001';
const VIN = '5YJ3E1EA1SF000001';
const VIN2 = '5YJSA1E2XHF000002';
const VIN3 = '7SAYGDEE5RF000003';

/** vehicle_data of a car: the sample with charge_state / vehicle_state changes. */
function carData({ charge = {}, vehicle = {} } = {}) {
  const data = JSON.parse(JSON.stringify(SAMPLE_DATA));
  Object.assign(data.charge_state, charge);
  Object.assign(data.vehicle_state, vehicle);
  return data;
}

const defaults = (o = {}) => ({
  vins: [],
  command: '',
  wake: 'never',
  allowUnlock: false,
  minIntervalMs: 0,
  verifyMs: 0,
  dailyBudget: 0,
  ...o,
});

/**
 * A double, a client (through the proxy, on the fake clock) and a controller. `close()` stops
 * all three. `out.sent` holds the answer messages.
 */
async function setup({ vehicles, options, stream = null, clock = fakeClock(), clientOptions = {} } = {}) {
  const d = await startFleetDouble({
    clientId: CLIENT_ID,
    refreshToken: REFRESH_TOKEN,
    now: clock.now,
    vehicles: vehicles || { [VIN]: { state: 'online' } },
  });
  const client = new FleetApiClient({
    region: 'na',
    fleetApiUrl: d.url,
    proxyUrl: d.proxyUrl,
    proxyCa: d.ca,
    tokenUrl: d.tokenUrl,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    refreshToken: d.currentRefreshToken,
    now: clock.now,
    timeoutMs: 5000,
    ...clientOptions,
  });
  const out = recordingSink();
  out.send = (msg) => out.sent.push(msg);
  const ctl = new VehicleCommandController(client, defaults(options), out, { clock, stream });
  ctl.start();
  return {
    d,
    client,
    out,
    ctl,
    clock,
    commandCalls: () => d.calls.filter((c) => /\/command\//.test(c.path)),
    async close() {
      await ctl.stop();
      await client.close();
      await d.close();
    },
  };
}

/**
 * Resolves once `pred()` holds, checking after every turn of the event loop (the HTTP
 * answers are real I/O); fails after `ms` of real time with `what`.
 */
async function until(pred, what = 'condition', ms = 5000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** A stream driven by the test: emit(vin, field, value, at) sends a live value; set() the car state. */
function manualStream() {
  const listeners = new Set();
  const state = new Map();
  return {
    listeners,
    onLive(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    current: (vin, field) => state.get(`${vin}/${field}`),
    set(vin, field, value) {
      state.set(`${vin}/${field}`, value);
    },
    emit(vin, field, value, at) {
      state.set(`${vin}/${field}`, value);
      for (const l of [...listeners]) l(vin, field, value, at);
    },
  };
}

module.exports = {
  CLIENT_ID,
  CLIENT_SECRET,
  REFRESH_TOKEN,
  VIN,
  VIN2,
  VIN3,
  carData,
  defaults,
  setup,
  until,
  manualStream,
};
