'use strict';
const { FIXTURES } = require('../support/paths');
// telemetry-in in a real Node-RED runtime, fed through a real in-process MQTT broker (aedes).
const assert = require('node:assert/strict');
const { sameValue } = require('../support/values');
const fs = require('node:fs');
const path = require('node:path');
const { startBroker, publisher } = require('../support/broker');
const { helper, nodeModules, collector, connected, statusIs, warnings } = require('../support/red');

const golden = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'mqtt-golden.json'), 'utf8'));

function flow({ topicBase = 'telemetry', url, broker = {}, node = {} }) {
  return [
    { id: 'tab1', type: 'tab', label: 'test' },
    { id: 'b1', z: 'tab1', type: 'telemetry-broker', url, topicBase, reconnectPeriod: 0.2, ...broker },
    {
      id: 'in1',
      z: 'tab1',
      type: 'telemetry-in',
      broker: 'b1',
      vins: '',
      fields: '',
      mode: 'field',
      staleAfter: 60,
      retained: 'flag',
      wires: [['out1'], ['out2'], ['out3']],
      ...node,
    },
    { id: 'out1', z: 'tab1', type: 'helper' },
    { id: 'out2', z: 'tab1', type: 'helper' },
    { id: 'out3', z: 'tab1', type: 'helper' },
  ];
}

describe('telemetry-in (Node-RED runtime, aedes broker)', function () {
  let broker;
  let pub;

  before(async function () {
    await new Promise((r) => helper.startServer(r));
  });
  after(async function () {
    await new Promise((r) => helper.stopServer(r));
  });
  beforeEach(async function () {
    broker = await startBroker();
    pub = await publisher(broker.url);
  });
  afterEach(async function () {
    await helper.unload();
    await pub.end();
    await broker.close();
  });

  /** Load a flow and resolve once its broker client subscribed to all five topic shapes. */
  async function load(opts) {
    const subscribed = broker.subscribed((t) => t.endsWith('/connectivity'));
    await helper.load(nodeModules('telemetry-broker', 'telemetry-in'), flow({ url: broker.url, ...opts }));
    await subscribed;
    return {
      node: helper.getNode('in1'),
      out: [collector(helper.getNode('out1')), collector(helper.getNode('out2')), collector(helper.getNode('out3'))],
    };
  }

  const bases = [...new Set(golden.vectors.map((v) => v.topicBase))];
  for (const base of bases) {
    it(`emits every golden vector published under topic base "${base}"`, async function () {
      const { out } = await load({ topicBase: base });
      const vectors = golden.vectors.filter((v) => v.topicBase === base);
      for (const v of vectors) {
        const o = out[v.expect.output - 1];
        const from = o.received.length;
        await pub.publish(v.topic, v.payload);
        const msg = await o.next(() => true, from);
        const e = v.expect;
        assert.equal(msg.event, e.event, v.topic);
        assert.equal(msg.topic, e.topic, v.topic);
        assert.equal(msg.vin, e.vin, v.topic);
        if ('field' in e) assert.equal(msg.field, e.field, v.topic);
        sameValue(msg.payload, e.payload, `${v.topic} payload`);
        sameValue(msg.raw, 'raw' in e ? e.raw : JSON.parse(v.payload), `${v.topic} raw`);
        assert.equal(msg.source, 'telemetry');
        assert.equal(msg.retain, false);
        assert.equal(typeof msg.receivedAt, 'number');
        assert.ok(Math.abs(msg.receivedAt - Date.now()) < 60_000);
      }
      // Nothing went to another output.
      const total = out.reduce((n, o) => n + o.received.length, 0);
      assert.equal(total, vectors.length);
    });
  }

  it('applies VIN and field filters', async function () {
    const { out } = await load({ node: { vins: 'VINA, VINB', fields: 'BatteryLevel,Gear' } });
    await pub.publish('telemetry/VINC/v/BatteryLevel', '50');
    await pub.publish('telemetry/VINA/v/VehicleSpeed', '10');
    await pub.publish('telemetry/VINC/alerts/X/current', '{"StartedAt":"2025-01-02T03:04:05Z"}');
    await pub.publish('telemetry/VINA/v/BatteryLevel', '"51.5"');
    await pub.publish('telemetry/VINB/v/Gear', '"ShiftStateP"');
    await pub.publish('telemetry/VINB/errors/E1', '{"Body":"b","CreatedAt":"2025-01-02T03:04:05Z","Tags":null}');
    const err = await out[1].next();
    assert.equal(out[0].received.length, 2);
    assert.deepEqual(
      out[0].received.map((m) => [m.vin, m.field, m.payload]),
      [
        ['VINA', 'BatteryLevel', 51.5],
        ['VINB', 'Gear', 'P'],
      ],
    );
    assert.equal(err.vin, 'VINB');
    assert.deepEqual(err.payload, { name: 'E1', body: 'b', createdAt: '2025-01-02T03:04:05Z', tags: {} });
    assert.equal(out[1].received.length, 1, 'the alert of an unlisted VIN is filtered out');
  });

  it('flags retained messages, never treats them as live, and reports the VIN stale with lastSeen null', async function () {
    await pub.publish('telemetry/RETVIN/v/BatteryLevel', '"61"', { retain: true });
    const { out } = await load({ node: { staleAfter: 0.005 } });
    const msg = await out[0].next();
    assert.equal(msg.retain, true);
    assert.equal(msg.payload, 61);
    const stale = await out[2].next((m) => m.event === 'stale');
    assert.equal(stale.vin, 'RETVIN');
    assert.equal(stale.topic, 'RETVIN/stale');
    assert.equal(stale.payload.lastSeen, null);
    assert.ok(stale.payload.silentFor >= 300);
    // A live message makes it fresh.
    await pub.publish('telemetry/RETVIN/v/BatteryLevel', '62');
    const fresh = await out[2].next((m) => m.event === 'fresh');
    assert.equal(fresh.vin, 'RETVIN');
    assert.equal(fresh.payload.lastSeen, null);
  });

  it('retained "ignore" drops retained messages on every output but still makes the VIN known', async function () {
    await pub.publish('telemetry/IGN/v/BatteryLevel', '70', { retain: true });
    await pub.publish('telemetry/IGN/connectivity', '{"ConnectionId":"c","CreatedAt":"2025-01-02T03:04:05Z","Status":"CONNECTED"}', {
      retain: true,
    });
    const { out } = await load({ node: { staleAfter: 0.005, retained: 'ignore' } });
    const stale = await out[2].next((m) => m.event === 'stale');
    assert.equal(stale.vin, 'IGN');
    assert.equal(out[0].received.length, 0);
    assert.equal(out[2].received.filter((m) => m.event === 'connectivity').length, 0);
  });

  it('sends stale after staleAfter of silence and fresh when the car streams again', async function () {
    const { out, node } = await load({ node: { staleAfter: 0.005 } });
    await pub.publish('telemetry/LIVE1/v/VehicleSpeed', '12');
    await out[0].next();
    const t0 = Date.now();
    const stale = await out[2].next((m) => m.event === 'stale');
    assert.equal(stale.vin, 'LIVE1');
    assert.equal(typeof stale.payload.lastSeen, 'number');
    assert.ok(stale.payload.silentFor >= 300, `silentFor ${stale.payload.silentFor}`);
    assert.ok(stale.payload.lastSeen <= t0);
    const yellow = statusIs(node, (s) => s.text && s.text.startsWith('0 live · 1 stale'));
    await yellow;
    // A DISCONNECTED connectivity message is not a sign of life.
    await pub.publish('telemetry/LIVE1/connectivity', '{"ConnectionId":"c","CreatedAt":"2025-01-02T03:04:05Z","Status":"DISCONNECTED"}');
    await out[2].next((m) => m.event === 'connectivity');
    assert.equal(out[2].received.filter((m) => m.event === 'fresh').length, 0);
    await pub.publish('telemetry/LIVE1/v/VehicleSpeed', '13');
    const fresh = await out[2].next((m) => m.event === 'fresh');
    assert.equal(fresh.payload.lastSeen, stale.payload.lastSeen);
    assert.ok(fresh.payload.silentFor >= stale.payload.silentFor);
    const green = await statusIs(node, (s) => s.text && s.text.startsWith('1 live · 0 stale'));
    assert.equal(green.fill, 'green');
    assert.equal(green.shape, 'dot');
    // fresh only after stale: a second live message sends nothing on output 3.
    await pub.publish('telemetry/LIVE1/v/VehicleSpeed', '14');
    await out[0].next((m) => m.payload === 14);
    assert.equal(out[2].received.filter((m) => m.event === 'fresh').length, 1);
  });

  it('staleAfter 0 turns freshness events off', async function () {
    const { out, node } = await load({ node: { staleAfter: 0 } });
    await pub.publish('telemetry/Q/v/VehicleSpeed', '1');
    await out[0].next();
    const st = await statusIs(node, (s) => s.text === '1 car');
    assert.equal(st.fill, 'green');
    assert.equal(out[2].received.length, 0);
  });

  it('a field published as its number comes out under its catalogue name with msg.fieldId; filters and normalising apply; an unknown number stays', async function () {
    const { out } = await load({ node: { fields: 'MilesSinceReset,261' } });
    await pub.publish('telemetry/NUM1/v/258', '"1234.5"'); // MilesSinceReset, from a server older than the car
    await pub.publish('telemetry/NUM1/v/8', '50'); // Soc: not in the filter
    await pub.publish('telemetry/NUM1/v/261', '3.25'); // in no catalogue yet
    await out[0].next((m) => m.field === '261');
    assert.deepEqual(
      out[0].received.map((m) => [m.topic, m.field, m.fieldId, m.payload, m.raw]),
      [
        ['NUM1/MilesSinceReset', 'MilesSinceReset', 258, 1234.5, '1234.5'],
        ['NUM1/261', '261', undefined, 3.25, 3.25],
      ],
    );
    assert.equal('fieldId' in out[0].received[1], false);
  });

  it('vehicle mode coalesces one record burst into one snapshot', async function () {
    const { out } = await load({ node: { mode: 'vehicle', quietTime: 100 } });
    await Promise.all([
      pub.publish('telemetry/CAR1/v/BatteryLevel', '"55.5"'),
      pub.publish('telemetry/CAR1/v/Gear', '"ShiftStateD"'),
      pub.publish('telemetry/CAR1/v/Location', '{"latitude":1.5,"longitude":2.5}'),
      pub.publish('telemetry/CAR1/alerts/A1/current', '{"Audiences":null,"StartedAt":"2025-01-02T03:04:05Z"}'),
    ]);
    const snap = await out[0].next();
    assert.equal(snap.event, 'vehicle');
    assert.equal(snap.topic, 'CAR1');
    assert.deepEqual(snap.payload, { BatteryLevel: 55.5, Gear: 'D', Location: { latitude: 1.5, longitude: 2.5 } });
    assert.deepEqual(snap.changed.sort(), ['BatteryLevel', 'Gear', 'Location']);
    assert.deepEqual(snap.raw, { BatteryLevel: '55.5', Gear: 'ShiftStateD', Location: { latitude: 1.5, longitude: 2.5 } });
    const alert = await out[1].next();
    assert.deepEqual(alert.payload.audiences, []);
    // The next burst: one field changed, one repeated.
    await Promise.all([pub.publish('telemetry/CAR1/v/BatteryLevel', '56'), pub.publish('telemetry/CAR1/v/Gear', '"D"')]);
    const snap2 = await out[0].next(() => true, 1);
    assert.deepEqual(snap2.payload, { BatteryLevel: 56, Gear: 'D', Location: { latitude: 1.5, longitude: 2.5 } });
    assert.deepEqual(snap2.changed, ['BatteryLevel']);
    assert.equal(out[0].received.length, 2);
  });

  it('reports malformed input rate-limited, counts it, and keeps decoding', async function () {
    const { out, node } = await load({});
    await pub.publish('telemetry/BAD/v/BatteryLevel', '{not json');
    await pub.publish('telemetry/BAD/v/BatteryLevel', Buffer.alloc(1024 * 1024, 0x7b)); // 1 MB of '{'
    await pub.publish('telemetry/BAD/alerts/A/current', '"not an object"');
    await pub.publish('telemetry/BAD/alerts/A/history', '{"not":"a list"}');
    await pub.publish('telemetry/BAD/errors/E', '[1,2]');
    await pub.publish('telemetry/BAD/connectivity', '42');
    await pub.publish('telemetry//v/BatteryLevel', '1'); // empty VIN: unknown topic shape
    await pub.publish('telemetry/BAD/v/', '1'); // empty field
    const big = 'x'.repeat(1024 * 1024);
    await pub.publish('telemetry/BAD/v/VehicleName', JSON.stringify(big));
    const msg = await out[0].next();
    assert.equal(msg.field, 'VehicleName');
    assert.equal(msg.payload.length, big.length);
    const st = await statusIs(node, (s) => / · 8 bad$/.test(s.text || ''));
    assert.equal(st.fill, 'green');
    const w = warnings('telemetry-in');
    assert.equal(w.length, 1, `one warning per 10 s, got ${w.length}`);
    assert.match(w[0], /bad input on telemetry\/BAD\/v\/BatteryLevel: payload is not JSON: \{not json/);
    assert.equal(out[1].received.length + out[2].received.length, 0);
  });

  it('reconnects after the broker restarts on the same port and resubscribes', async function () {
    const { out, node } = await load({});
    await pub.publish('telemetry/R1/v/BatteryLevel', '1');
    await out[0].next();
    const port = broker.port;
    const red = statusIs(node, (s) => s.fill === 'red');
    await pub.end();
    await broker.close();
    assert.match((await red).text, /^disconnected/);
    broker = await startBroker({ port });
    const resubscribed = broker.subscribed((t) => t === 'telemetry/+/v/+');
    const green = statusIs(node, (s) => s.fill === 'green');
    await resubscribed;
    await green;
    pub = await publisher(broker.url);
    await pub.publish('telemetry/R1/v/BatteryLevel', '2');
    const msg = await out[0].next((m) => m.payload === 2);
    assert.equal(msg.vin, 'R1');
  });

  it('subscribes only the five topic shapes at QoS 1, in a shared group when set', async function () {
    const seen = [];
    broker.aedes.on('subscribe', (subs) => seen.push(...subs));
    await load({ topicBase: 'a/b', broker: { sharedGroup: '' } });
    assert.deepEqual(seen.map((s) => [s.topic, s.qos]).sort(), [
      ['a/b/+/alerts/+/current', 1],
      ['a/b/+/alerts/+/history', 1],
      ['a/b/+/connectivity', 1],
      ['a/b/+/errors/+', 1],
      ['a/b/+/v/+', 1],
    ]);
  });

  /** Counts what our MQTT client (not the test publisher) does at the broker: connections, subscriptions, disconnections. */
  function brokerSide() {
    const ours = (client) => client && !client.id.startsWith('pub-');
    const seen = { connects: 0, subscriptions: 0, disconnects: [] };
    broker.aedes.on('client', (c) => ours(c) && seen.connects++);
    broker.aedes.on('subscribe', (subs, c) => ours(c) && (seen.subscriptions += subs.length));
    broker.aedes.on('clientDisconnect', (c) => ours(c) && seen.disconnects.push(c.id));
    /** Resolves when our client `id` has disconnected. */
    seen.disconnected = (id) =>
      new Promise((resolve) => {
        if (seen.disconnects.includes(id)) return resolve();
        broker.aedes.on('clientDisconnect', (c) => c.id === id && resolve());
      });
    return seen;
  }

  /** Resolves once a broker connection is back to idle (its client ended). */
  function idle(conn) {
    return new Promise((resolve) => {
      if (conn.state === 'idle') return resolve();
      conn.on('state', (state) => state === 'idle' && resolve());
    });
  }

  it("a 'modified nodes' deploy that changes only telemetry-in keeps the MQTT session: no new CONNECT, no resubscription, no retained replay", async function () {
    await pub.publish('telemetry/RET1/v/BatteryLevel', '"61"', { retain: true });
    const seen = brokerSide();
    const { out } = await load({});
    const first = await out[0].next((m) => m.vin === 'RET1');
    assert.equal(first.retain, true);
    const conn = await connected('b1');
    assert.deepEqual([seen.connects, seen.subscriptions], [1, 5]);
    const before = helper.getNode('in1');
    const from = out.map((o) => o.received.length);

    await helper.setFlows(flow({ url: broker.url, node: { name: 'renamed', fields: 'BatteryLevel' } }), 'nodes');
    const after = helper.getNode('in1');
    assert.notEqual(after, before, 'telemetry-in was re-created');
    assert.equal(after.name, 'renamed');
    assert.equal(helper.getNode('b1').connection, conn, 'the broker config node was not');
    // The new node is on the live session at once (a reconnect would pass through connecting).
    assert.equal(conn.state, 'connected');
    await pub.publish('telemetry/RET1/v/BatteryLevel', '62');
    await out[0].next((m) => m.payload === 62, from[0]);
    assert.deepEqual(
      out[0].received.slice(from[0]).map((m) => [m.payload, m.retain]),
      [[62, false]],
      'the retained value was not delivered again',
    );
    assert.deepEqual([seen.connects, seen.subscriptions, conn.stats.connects, seen.disconnects.length], [1, 5, 1, 0]);
  });

  it("removing the broker's last telemetry-in in a 'modified nodes' deploy ends its MQTT session", async function () {
    const seen = brokerSide();
    await load({ broker: { clientId: 'nr-last-user' } });
    const conn = await connected('b1');
    const gone = seen.disconnected('nr-last-user');
    await helper.setFlows(
      flow({ url: broker.url, broker: { clientId: 'nr-last-user' } }).filter((n) => n.id !== 'in1'),
      'nodes',
    );
    await Promise.all([gone, idle(conn)]);
    assert.equal(helper.getNode('b1').connection, conn);
  });

  it('a telemetry-in moved to another broker: the first broker ends its session once the deploy has started every node', async function () {
    const seen = brokerSide();
    const two = (broker2) => [
      ...flow({ url: broker.url, broker: { clientId: 'nr-first' }, node: broker2 ? { broker: 'b2' } : {} }),
      { id: 'b2', z: 'tab1', type: 'telemetry-broker', url: broker.url, topicBase: 'telemetry', clientId: 'nr-second', reconnectPeriod: 0.2 },
    ];
    const subscribed = broker.subscribed((t, c) => c.id === 'nr-first' && t.endsWith('/connectivity'));
    await helper.load(nodeModules('telemetry-broker', 'telemetry-in'), two(false));
    await subscribed;
    const first = helper.getNode('b1').connection;
    const gone = seen.disconnected('nr-first');
    await helper.setFlows(two(true), 'nodes');
    await Promise.all([gone, idle(first)]);
    const second = await connected('b2');
    assert.equal(second.userCount, 1);
    assert.equal(seen.connects, 2);
  });

  it('closing the flow leaves no MQTT client, socket or timer behind', async function () {
    const before = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    const { out } = await load({ node: { staleAfter: 0.01, mode: 'vehicle' } });
    await pub.publish('telemetry/C1/v/BatteryLevel', '1');
    await out[0].next();
    const clients = () => Object.keys(broker.aedes.clients).filter((id) => !id.startsWith('pub-'));
    assert.equal(clients().length, 1);
    await helper.unload();
    await new Promise((r) => setImmediate(r));
    assert.equal(clients().length, 0, 'the broker still sees our client');
    const after = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    const count = (list, kind) => list.filter((r) => r === kind).length;
    assert.ok(count(after, 'Timeout') <= count(before, 'Timeout'), `timers left: ${after}`);
    assert.ok(count(after, 'TCPSocketWrap') <= count(before, 'TCPSocketWrap'), `sockets left: ${after}`);
  });
});
