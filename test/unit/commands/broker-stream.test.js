'use strict';
const { lib } = require('../../support/paths');
// BrokerCommandStream: a real BrokerConnection on aedes, messages published by a real MQTT
// client as the fleet-telemetry server does (QoS 1, retained or not).
const assert = require('node:assert/strict');
const { BrokerConnection } = lib('stream/broker-connection');
const { BrokerCommandStream } = lib('commands/broker-stream');
const { startBroker, publisher } = require('../../support/broker');
const { until } = require('./support');

const VIN = '5YJ3E1EA1SF000001';
const VIN2 = '5YJSA1E2XHF000002';

describe('vehicle-command: BrokerCommandStream (BrokerConnection → CommandStream)', function () {
  let broker;
  let pub;
  let conn;
  let stream;

  beforeEach(async function () {
    broker = await startBroker();
    pub = await publisher(broker.url);
    conn = new BrokerConnection({ url: broker.url, topicBase: 'telemetry', reconnectPeriodMs: 200 });
  });
  afterEach(async function () {
    if (stream) await stream.close();
    stream = null;
    await conn.close();
    await pub.end();
    await broker.close();
  });

  /** The adapter, with `listeners` on it before the broker delivers anything. */
  async function connect(...listeners) {
    const up = new Promise((resolve) => {
      const on = (s) => {
        if (s !== 'connected') return;
        conn.off('state', on);
        resolve();
      };
      conn.on('state', on);
    });
    stream = new BrokerCommandStream(conn);
    const off = listeners.map((l) => stream.onLive(l));
    await up;
    return off;
  }

  it('registers with the broker (which connects for it) and deregisters on close (the last user: it disconnects)', async function () {
    assert.equal(conn.userCount, 0);
    await connect();
    assert.equal(conn.userCount, 1);
    assert.equal(conn.state, 'connected');
    await stream.close();
    assert.equal(conn.userCount, 0);
    assert.equal(conn.state, 'idle');
    await stream.close(); // twice is fine
  });

  it('live values reach every listener normalised, with VIN, field and receivedAt; retained ones only the car state', async function () {
    // Retained before we subscribe: delivered flagged retained on subscription.
    await pub.publish(`telemetry/${VIN}/v/DetailedChargeState`, '"DetailedChargeStateCharging"', { retain: true });
    const a = [];
    const b = [];
    const [, stopB] = await connect(
      (...args) => a.push(args),
      (...args) => b.push(args),
    );
    await until(() => stream.current(VIN, 'DetailedChargeState') === 'Charging', 'the retained value in the car state');
    await pub.publish(`telemetry/${VIN}/v/ChargeLimitSoc`, '80');
    await until(() => a.length === 1, 'the live value');
    assert.deepEqual(a[0].slice(0, 3), [VIN, 'ChargeLimitSoc', 80]);
    assert.ok(Math.abs(a[0][3] - Date.now()) < 5000, 'receivedAt is the arrival time');
    assert.deepEqual(b, a);
    assert.equal(stream.current(VIN, 'ChargeLimitSoc'), 80);
    assert.equal(stream.current(VIN2, 'ChargeLimitSoc'), undefined, 'per VIN');
    // One listener off: the other still hears; the car state follows the latest value.
    stopB();
    await pub.publish(`telemetry/${VIN}/v/ChargeLimitSoc`, '"70"');
    await until(() => a.length === 2, 'the second live value');
    assert.equal(b.length, 1);
    assert.equal(stream.current(VIN, 'ChargeLimitSoc'), 70);
  });

  it('hears every live field value; alerts, errors and connectivity are not field values; current() is the car state', async function () {
    await connect();
    const heard = [];
    stream.onLive((vin, field) => heard.push(field));
    await pub.publish(`telemetry/${VIN}/v/BatteryLevel`, '55');
    await pub.publish(`telemetry/${VIN}/connectivity`, JSON.stringify({ Status: 'CONNECTED', ConnectionId: 'x', CreatedAt: '2025-01-01T00:00:00Z' }));
    await pub.publish(`telemetry/${VIN}/v/Locked`, 'true');
    await until(() => heard.includes('Locked'), 'Locked');
    assert.deepEqual(heard, ['BatteryLevel', 'Locked'], 'every live field value is heard');
    assert.equal(stream.current(VIN, 'BatteryLevel'), 55, "the broker's car state holds every field");
    assert.equal(stream.current(VIN, 'Locked'), true);
    assert.equal(stream.current(VIN, 'Locked'), conn.carState.value(VIN, 'Locked'));
  });

  it('a listener that throws does not stop the others, the connection, or later messages; bad payloads are not values', async function () {
    await connect();
    const heard = [];
    stream.onLive(() => {
      throw new Error('listener failed');
    });
    stream.onLive((vin, field, value) => heard.push(value));
    await pub.publish(`telemetry/${VIN}/v/ChargeLimitSoc`, '{not json');
    await pub.publish(`telemetry/${VIN}/v/ChargeLimitSoc`, '81');
    await pub.publish(`telemetry/${VIN}/v/ChargeLimitSoc`, '82');
    await until(() => heard.length === 2, 'both values');
    assert.deepEqual(heard, [81, 82]);
    assert.equal(conn.stats.bad, 1, 'the malformed payload was counted by the connection');
    assert.equal(conn.state, 'connected');
  });

  it("reads the connection's car state: a value seen before the stream was created (retained) is current", async function () {
    await pub.publish(`telemetry/${VIN}/v/ChargePortDoorOpen`, 'true', { retain: true });
    await connect();
    const late = new BrokerCommandStream(conn);
    try {
      await until(() => late.current(VIN, 'ChargePortDoorOpen') === true, 'the retained value from the car state');
      assert.equal(late.current(VIN2, 'HvacPower'), undefined);
    } finally {
      await late.close();
    }
  });
});
