'use strict';
const { lib } = require('../../support/paths');
/**
 * What the registration tests share: the HTTPS Fleet API / proxy double on a fake clock, the
 * real FleetApiClient talking to it, a real aedes broker with a BrokerConnection on the same
 * clock (the stream's evidence), and a telemetry-config node's settings.
 */
const { once } = require('node:events');
const { startFleetDouble } = require('../../../dev/fleet-double');
const { makeCA } = require('../../support/certs');
const { FleetApiClient } = lib('fleet-api');
const { BrokerConnection } = lib('stream/broker-connection');
const tc = lib('registration');
const { streamEvidenceOf } = lib('registration/actions');
const { startBroker, publisher } = require('../../support/broker');
const { fakeClock } = require('../../support/clock');

const CLIENT_ID = 'registration-test-client';
const DOMAIN = 'app.example.com';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const TELEMETRY_CA = makeCA({ commonName: 'Telemetry Test CA', days: 365 }).cert;

/** VINs, one per doctor state (valid VINs: 17 characters, no I, O, Q). */
const V = {
  nokey: '5YJ3E1EA7KF000001',
  fw: '5YJ3E1EA7KF000002',
  limit: '5YJ3E1EA7KF000003',
  nullcfg: '5YJ3E1EA7KF000004',
  none: '5YJ3E1EA7KF000005',
  pending: '5YJ3E1EA7KF000006',
  drift: '5YJ3E1EA7KF000007',
  expiring: '5YJ3E1EA7KF000008',
  silent: '5YJ3E1EA7KF000009',
  healthy: '5YJ3E1EA7KF000010',
  asleep: '5YJ3E1EA7KF000011',
};

/** The telemetry-config node's settings. */
function nodeProps(extra = {}) {
  return {
    hostname: 'telemetry.example.com',
    port: 4433,
    ca: TELEMETRY_CA,
    fields: tc.presetFields('seed'),
    alertTypes: '',
    preferTyped: true,
    vins: '',
    exp: '',
    ...extra,
  };
}

/** The config the node would send, as the car would hold it. */
function ours(extra = {}) {
  return JSON.parse(JSON.stringify(tc.buildConfig(nodeProps(extra))));
}

/** One car per state, as the double should answer for it (`now` in ms). */
function cars(now) {
  const adopted = { config: ours(), synced: true, limitReached: false };
  return {
    [V.nokey]: { keyPaired: false },
    [V.fw]: { firmware: '2024.20.1' },
    [V.limit]: { telemetry: { config: ours(), synced: true, limitReached: true } },
    [V.nullcfg]: { telemetry: { config: null, synced: true } },
    [V.none]: {},
    [V.pending]: { telemetry: { config: ours(), synced: false } },
    [V.drift]: { telemetry: { config: { ...ours(), port: 4443 }, synced: true } },
    [V.expiring]: { telemetry: { config: { ...ours(), exp: Math.floor(now / 1000) + 3 * 86400 }, synced: true } },
    [V.silent]: {
      telemetry: adopted,
      telemetryErrors: [
        {
          created_at: new Date(now - HOUR).toISOString(),
          error: 'x509: certificate signed by unknown authority',
          error_name: 'tls_handshake',
          name: 'dial_error',
          txID: 'tx1',
          vin: V.silent,
        },
      ],
    },
    [V.healthy]: { telemetry: adopted },
    [V.asleep]: { telemetry: adopted, state: 'asleep' },
  };
}

/**
 * Starts everything; `opts.broker` false skips the MQTT broker. Returns {clock, d, client,
 * conn, stream, connectivity, publish(topic, payload), ctx(extra), close()}.
 */
async function setup(opts = {}) {
  const clock = fakeClock();
  clock.t = Date.UTC(2026, 2, 10, 12);
  const d = await startFleetDouble({ clientId: CLIENT_ID, now: clock.now, vehicles: opts.vehicles ?? cars(clock.t) });
  const client = new FleetApiClient({
    region: 'na',
    fleetApiUrl: d.url,
    proxyUrl: d.proxyUrl,
    proxyCa: d.ca,
    tokenUrl: d.tokenUrl,
    clientId: CLIENT_ID,
    refreshToken: d.currentRefreshToken,
    now: clock.now,
    timeoutMs: 5000,
  });
  const f = { clock, d, client, conn: null, stream: null, connectivity: new Map(), broker: null, pub: null };
  if (opts.broker !== false) {
    f.broker = await startBroker();
    f.pub = await publisher(f.broker.url);
    f.conn = new BrokerConnection({ url: f.broker.url, topicBase: 'telemetry', reconnectPeriodMs: 200 }, clock);
    const waiters = [];
    // Test listener: keeps the last connectivity payload per VIN (the car state does this in the node).
    const listener = {
      onMessage(m) {
        if (m.kind === 'connectivity') f.connectivity.set(m.vin, m.payload);
        for (const w of [...waiters]) {
          if (!w.pred(m)) continue;
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      },
      onBadInput() {},
      onConnection() {},
    };
    const up = once(f.conn, 'state').then(function wait([state]) {
      return state === 'connected' ? undefined : once(f.conn, 'state').then(wait);
    });
    f.conn.register(listener);
    await up;
    f.stream = streamEvidenceOf(f.conn, (vin) => f.connectivity.get(vin) ?? null);
    /** Publish as the telemetry server and wait until the connection has it. */
    f.publish = async (topic, payload) => {
      const seen = new Promise((resolve) => waiters.push({ pred: (m) => `telemetry/${m.vin}` === topic.split('/').slice(0, 2).join('/'), resolve }));
      await f.pub.publish(topic, JSON.stringify(payload));
      return seen;
    };
  }
  f.ctx = (extra = {}) => ({ client, domain: DOMAIN, now: clock.now, stream: f.stream, usage: f.conn?.usage ?? null, ...extra });
  f.apiCalls = () => d.calls.filter((c) => c.route.startsWith('/api/1'));
  f.close = async () => {
    await client.close();
    await d.close();
    if (f.conn) await f.conn.close();
    if (f.pub) await f.pub.end();
    if (f.broker) await f.broker.close();
  };
  return f;
}

module.exports = { setup, V, nodeProps, ours, cars, DOMAIN, HOUR, DAY, TELEMETRY_CA };
