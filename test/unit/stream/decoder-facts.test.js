'use strict';
const { lib } = require('../../support/paths');
// The decoder facts of docs/wire-format.md "What the decoder does with the server's quirks":
// empty alert/error names, records cut short by a NaN, resends that look live.
const assert = require('node:assert/strict');
const { BrokerConnection } = lib('stream/broker-connection');
const { Coalescer } = lib('stream/coalesce');
const { decode, TopicParser } = lib('stream/decode');
const { startBroker, publisher } = require('../../support/broker');
const { fakeClock } = require('../../support/clock');

/** A broker listener that records what it gets; `until(n)` resolves after n messages. */
function recorder() {
  const r = {
    messages: [],
    bad: [],
    states: [],
    waiters: [],
    onMessage(d) {
      r.messages.push(d);
      r.waiters = r.waiters.filter((w) => !(r.messages.length >= w.n && (w.resolve(), true)));
    },
    onBadInput(b) {
      r.bad.push(b);
    },
    onConnection(state) {
      r.states.push(state);
      if (state === 'connected') r.connected?.();
    },
    until(n) {
      return r.messages.length >= n ? Promise.resolve() : new Promise((resolve) => r.waiters.push({ n, resolve }));
    },
  };
  r.ready = new Promise((resolve) => (r.connected = resolve));
  return r;
}

describe('decoder facts (docs/wire-format.md)', function () {
  describe('empty alert and error names', function () {
    let broker;
    let pub;
    let conn;

    afterEach(async function () {
      await pub?.end();
      await conn?.close();
      await broker?.close();
      pub = conn = broker = null;
    });

    it('are delivered by the subscriptions, counted as bad input, never emitted, and do not make the VIN known', async function () {
      broker = await startBroker();
      conn = new BrokerConnection({ url: broker.url, topicBase: 'telemetry' });
      const rec = recorder();
      conn.register(rec);
      await rec.ready;
      pub = await publisher(broker.url);
      const EMPTY = ['telemetry/EMPTYNAME/alerts//current', 'telemetry/EMPTYNAME/alerts//history', 'telemetry/EMPTYNAME/errors/'];
      await pub.publish(EMPTY[0], '{"Audiences":["Customer"],"StartedAt":"2025-01-02T03:04:05Z"}');
      await pub.publish(EMPTY[1], '[{"Audiences":null,"StartedAt":"2025-01-02T03:04:05Z"}]');
      await pub.publish(EMPTY[2], '{"Body":"b","CreatedAt":"2025-01-02T03:04:05Z","Tags":null}');
      // QoS 1 from one client keeps the order: once this arrives, the three above have too.
      await pub.publish('telemetry/OTHERVIN/v/BatteryLevel', '80');
      await rec.until(1);

      assert.deepEqual(
        rec.bad.map((b) => [b.topic, b.reason, b.info]),
        EMPTY.map((t) => [t, 'unknown topic shape', null]),
      );
      assert.deepEqual(
        rec.messages.map((d) => [d.vin, d.kind, d.name, d.payload]),
        [['OTHERVIN', 'data', 'BatteryLevel', 80]],
      );
      assert.equal(conn.stats.bad, 3);
      assert.equal(conn.tracker.has('EMPTYNAME'), false, 'a VIN seen only on empty-name topics is not known');
      assert.equal(conn.tracker.has('OTHERVIN'), true);
    });
  });

  describe('records cut short and resends', function () {
    const parser = new TopicParser('telemetry');
    const at = (clock, topic, payload) => decode(parser, topic, payload, false, clock.now());

    it('a record cut short (the server drops the fields after a NaN) still gives a whole snapshot: missing fields keep their last value', function () {
      const clock = fakeClock();
      const snapshots = [];
      const co = new Coalescer(250, (s) => snapshots.push(s), clock);
      const add = (field, payload) => {
        const d = at(clock, `telemetry/V1/v/${field}`, payload);
        co.add(d.vin, d.name, d.payload, d.raw, d.retain, d.receivedAt);
      };
      add('BatteryLevel', '80');
      add('Odometer', '"12000.5"');
      add('Gear', '"ShiftStateD"');
      clock.advance(250);
      // The next record had a NaN after BatteryLevel: only BatteryLevel was published.
      add('BatteryLevel', '79');
      clock.advance(250);
      assert.equal(snapshots.length, 2);
      assert.deepEqual(snapshots[1].payload, { BatteryLevel: 79, Odometer: 12000.5, Gear: 'D' });
      assert.deepEqual(snapshots[1].changed, ['BatteryLevel']);
      assert.deepEqual(snapshots[1].raw, { BatteryLevel: 79 }, 'raw holds only what arrived in this burst');
    });

    it('a resend (no is_resend on MQTT) counts as live, and a resent record gives a snapshot with nothing changed', function () {
      const clock = fakeClock();
      const snapshots = [];
      const co = new Coalescer(250, (s) => snapshots.push(s), clock);
      for (let i = 0; i < 2; i++) {
        const d = at(clock, 'telemetry/V1/v/BatteryLevel', '80');
        assert.equal(d.live, true, 'a non-retained message is live, resent or not');
        co.add(d.vin, d.name, d.payload, d.raw, d.retain, d.receivedAt);
        clock.advance(1000);
      }
      assert.deepEqual(
        snapshots.map((s) => s.changed),
        [['BatteryLevel'], []],
      );
    });
  });
});
