'use strict';
/**
 * Reliability, broker loss, against a real Mosquitto on 127.0.0.1: killed (SIGKILL) mid-stream
 * and restarted on the same port; persistent sessions (fixed client id, clean: false) across a
 * network cut, a redeploy and a broker restart (SIGTERM, and SIGKILL after Mosquitto's autosave).
 *
 * Anything that escapes the package (an unhandled rejection, an uncaught exception, the package's
 * own "last line of defence" process warning) fails the test it escaped in (test/support/escapes.js).
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const { lib } = require('../support/paths');
const { publisher } = require('../support/broker');
const { startMosquitto, mosquittoPath } = require('../support/mosquitto');
const { helper, nodeModules, collector, connected, statusIs, total } = require('../support/red');
const { escapeWatch } = require('../support/escapes');
const { BrokerConnection } = lib('stream/broker-connection');

const MIN = 60_000;
const delay = (ms) => new Promise((r) => setTimeout(r, ms));
const range = (n) => Array.from({ length: n }, (_, i) => i);
// The publisher reconnects quickly once a killed broker is back.
const FAST_RECONNECT = { reconnectPeriod: 100 };

/** Records connack.sessionPresent of every MQTT connection a BrokerConnection makes (a test spy). */
function watchConnacks() {
  const seen = [];
  const original = BrokerConnection.prototype.connect;
  BrokerConnection.prototype.connect = function () {
    original.call(this);
    const clientId = this.settings.clientId;
    this.client?.on('connect', (ack) => seen.push({ clientId, sessionPresent: ack.sessionPresent }));
  };
  return {
    seen,
    restore() {
      BrokerConnection.prototype.connect = original;
    },
  };
}

/** Resolves with Date.now() when the connection next reaches `state`. */
function nextState(conn, state) {
  return new Promise((resolve) => {
    const on = (s) => {
      if (s !== state) return;
      conn.off('state', on);
      resolve(Date.now());
    };
    conn.on('state', on);
  });
}

/** A TCP relay to a broker that can cut the network (every connection dropped, new ones refused). */
async function tcpRelay(targetPort) {
  const pairs = new Set();
  let blocked = false;
  const server = net.createServer((inbound) => {
    if (blocked) return inbound.destroy();
    const outbound = net.connect(targetPort, '127.0.0.1');
    const pair = [inbound, outbound];
    pairs.add(pair);
    const end = () => {
      inbound.destroy();
      outbound.destroy();
      pairs.delete(pair);
    };
    for (const s of pair) {
      s.on('error', end);
      s.on('close', end);
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const cut = () => {
    blocked = true;
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  return {
    url: `mqtt://127.0.0.1:${server.address().port}`,
    cut,
    restore() {
      blocked = false;
    },
    close() {
      cut();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe('reliability: broker loss (real Mosquitto)', function () {
  const escapes = escapeWatch();
  const assertNothingEscaped = escapes.assertNothingEscaped;
  before(async function () {
    escapes.install();
    await new Promise((r) => helper.startServer(r));
  });
  after(async function () {
    await new Promise((r) => helper.stopServer(r));
    escapes.uninstall();
  });

  let mosq;
  let pub;
  let relay;
  let spy;
  let stream;
  const dirs = [];

  before(function () {
    if (!mosquittoPath()) {
      if (process.env.CI) throw new Error('mosquitto is not installed: .ci/run must install it');
      this.skip();
    }
  });
  afterEach(async function () {
    clearInterval(stream);
    spy?.restore();
    await helper.unload();
    await pub?.end(true);
    pub = null;
    await relay?.close();
    relay = null;
    await mosq?.stop('SIGKILL');
    mosq = null;
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  // After the clean-up above: whatever escaped during it fails the test too.
  afterEach(function () {
    assertNothingEscaped();
  });

  async function mosquitto(opts = {}) {
    const m = await startMosquitto(opts);
    if (!dirs.includes(m.dir)) dirs.push(m.dir);
    return m;
  }

  function flow(url, { clientId, clean, staleAfterMs = 60 * MIN }) {
    const staleAfter = staleAfterMs / MIN;
    return [
      { id: 'tab1', type: 'tab', label: 'broker loss' },
      { id: 'b1', z: 'tab1', type: 'telemetry-broker', url, topicBase: 'telemetry', clientId, clean, reconnectPeriod: 0.2 },
      {
        id: 'in1',
        z: 'tab1',
        type: 'telemetry-in',
        broker: 'b1',
        vins: '',
        fields: '',
        mode: 'field',
        staleAfter,
        retained: 'flag',
        wires: [['o1'], ['o2'], ['o3']],
      },
      {
        id: 'in2',
        z: 'tab1',
        type: 'telemetry-in',
        broker: 'b1',
        vins: 'STREAM1',
        fields: '',
        mode: 'field',
        staleAfter,
        retained: 'flag',
        wires: [['p1'], [], ['p3']],
      },
      ...['o1', 'o2', 'o3', 'p1', 'p3'].map((id) => ({ id, z: 'tab1', type: 'helper' })),
    ];
  }

  async function load(url, opts) {
    await helper.load(nodeModules('telemetry-broker', 'telemetry-in'), flow(url, opts));
    const col = (id) => collector(helper.getNode(id));
    return {
      in1: helper.getNode('in1'),
      in2: helper.getNode('in2'),
      o1: col('o1'),
      o3: col('o3'),
      p1: col('p1'),
      p3: col('p3'),
    };
  }

  const events = (c) => c.received.filter((m) => m.event === 'stale' || m.event === 'fresh').map((m) => [m.event, m.vin]);

  it('SIGKILL mid-stream, restart on the same port: reconnects and resubscribes without a redeploy; red then green; freshness survives, no false stale/fresh', async function () {
    const STALE_MS = 900;
    mosq = await mosquitto({ persistence: false }); // the restarted broker has forgotten every session
    spy = watchConnacks();
    const n = await load(mosq.url, { clientId: 'nr-reliability-kill', clean: false, staleAfterMs: STALE_MS });
    const conn = await connected('b1');
    pub = await publisher(mosq.url, FAST_RECONNECT);

    await pub.publish('telemetry/ONCE1/v/BatteryLevel', '40'); // heard once, before the crash
    const once = await n.o1.next((m) => m.vin === 'ONCE1');
    let seq = 0;
    stream = setInterval(() => pub.client.publish('telemetry/STREAM1/v/VehicleSpeed', String(seq++), { qos: 1 }, () => {}), 50);
    const streamed = (c) => c.received.filter((m) => m.vin === 'STREAM1').length;
    await n.o1.next(() => streamed(n.o1) >= 5);
    await n.p1.next(() => streamed(n.p1) >= 5);

    const red1 = statusIs(n.in1, (s) => s.fill === 'red');
    const red2 = statusIs(n.in2, (s) => s.fill === 'red');
    const downAt = Date.now();
    await mosq.stop('SIGKILL');
    assert.match((await red1).text, /^disconnected/);
    assert.match((await red2).text, /^disconnected/);

    // The outage lasts more than twice staleAfter: no VIN may turn stale because of it.
    await delay(2 * STALE_MS + 300);
    assert.deepEqual(events(n.o3), [], 'a stale event came out of the outage');

    const green1 = statusIs(n.in1, (s) => s.fill === 'green' && /live/.test(s.text));
    const green2 = statusIs(n.in2, (s) => s.fill === 'green' && /live/.test(s.text));
    const up = nextState(conn, 'connected');
    mosq = await mosquitto({ port: mosq.port, persistence: false, dir: mosq.dir });
    const upAt = await up;
    assert.equal((await green1).text, '2 live · 0 stale', 'both VINs still known, neither stale');
    assert.equal((await green2).text, '1 live · 0 stale');
    // The broker lost the session, so only a new SUBSCRIBE brings messages back.
    await n.o1.next((m) => m.vin === 'STREAM1' && m.receivedAt >= upAt);
    await n.p1.next((m) => m.vin === 'STREAM1' && m.receivedAt >= upAt);
    assert.deepEqual(
      spy.seen.map((s) => s.sessionPresent),
      [false, false],
      'the second connection found no session: the nodes had to resubscribe',
    );
    assert.equal(conn.stats.connects, 2);
    assert.ok(conn.tracker.has('ONCE1') && conn.tracker.has('STREAM1'), 'the VINs known before are still known');

    // ONCE1 turns stale from its own silence, the outage not counted.
    const stale = await n.o3.next((m) => m.event === 'stale' && m.vin === 'ONCE1');
    const outage = upAt - downAt;
    const wall = stale.receivedAt - once.receivedAt;
    assert.ok(stale.receivedAt >= upAt, 'stale only after the broker was back');
    assert.ok(stale.payload.silentFor >= STALE_MS);
    assert.ok(
      stale.payload.silentFor <= wall - outage + 400,
      `silentFor ${stale.payload.silentFor} ms should exclude the ${outage} ms outage (wall ${wall} ms)`,
    );
    assert.deepEqual(events(n.o3), [['stale', 'ONCE1']], 'STREAM1 was never stale, and nothing went fresh');
    assert.deepEqual(events(n.p3), []);

    // Freshness still works after the reconnect: the stream stops, then one message comes.
    clearInterval(stream);
    await n.o3.next((m) => m.event === 'stale' && m.vin === 'STREAM1');
    await pub.publish('telemetry/STREAM1/v/VehicleSpeed', '0');
    await n.o3.next((m) => m.event === 'fresh' && m.vin === 'STREAM1');
    await n.p3.next((m) => m.event === 'fresh');
    assert.deepEqual(events(n.o3), [
      ['stale', 'ONCE1'],
      ['stale', 'STREAM1'],
      ['fresh', 'STREAM1'],
    ]);
    assert.deepEqual(events(n.p3), [
      ['stale', 'STREAM1'],
      ['fresh', 'STREAM1'],
    ]);
    assertNothingEscaped();
  });

  it('persistent session across a network cut: QoS 1 messages published while Node-RED was cut off all arrive after it reconnects', async function () {
    mosq = await mosquitto();
    relay = await tcpRelay(mosq.port);
    spy = watchConnacks();
    const n = await load(relay.url, { clientId: 'nr-reliability-cut', clean: false });
    const conn = await connected('b1');
    pub = await publisher(mosq.url, FAST_RECONNECT);
    await pub.publish('telemetry/QVIN/v/Seq', '-1');
    await n.o1.next((m) => m.payload === -1);

    const red = statusIs(n.in1, (s) => s.fill === 'red');
    relay.cut();
    await red;
    const N = 300;
    for (let i = 0; i < N; i++) await pub.publish('telemetry/QVIN/v/Seq', String(i)); // each acknowledged by Mosquitto
    const green = statusIs(n.in1, (s) => s.fill === 'green');
    relay.restore();
    const queued = () => n.o1.received.filter((m) => m.payload >= 0);
    await n.o1.next(() => new Set(queued().map((m) => m.payload)).size === N);
    await green;
    assert.deepEqual(
      queued()
        .map((m) => m.payload)
        .sort((a, b) => a - b),
      range(N),
      'every message published during the cut arrived once, none lost',
    );
    // QoS 1 is "at least once": the message just before the cut may come again if its PUBACK
    // was lost in the cut, never anything else.
    assert.ok(n.o1.received.filter((m) => m.payload < 0).every((m) => m.payload === -1));
    assert.deepEqual(
      spy.seen.map((s) => s.sessionPresent),
      [false, true],
      'the reconnect resumed the session',
    );
    assert.equal(conn.stats.bad, 0);
    assertNothingEscaped();
  });

  it('persistent session across a redeploy: messages published while the flow was stopped arrive when it starts; clean: true drops them', async function () {
    mosq = await mosquitto();
    spy = watchConnacks();
    const opts = { clientId: 'nr-reliability-redeploy', clean: false };
    let n = await load(mosq.url, opts);
    await connected('b1');
    pub = await publisher(mosq.url, FAST_RECONNECT);
    await pub.publish('telemetry/RVIN/v/Seq', '-1');
    await n.o1.next((m) => m.payload === -1);

    await helper.unload(); // the flow stops: its MQTT client disconnects, the session stays
    const N = 200;
    for (let i = 0; i < N; i++) await pub.publish('telemetry/RVIN/v/Seq', String(i));
    n = await load(mosq.url, opts);
    await total([n.o1], N);
    assert.deepEqual(
      n.o1.received.map((m) => m.payload).sort((a, b) => a - b),
      range(N),
      'all N, none lost, none twice',
    );
    assert.deepEqual(
      spy.seen.map((s) => s.sessionPresent),
      [false, true],
    );

    // The same with clean: true: the broker drops the old session and what was queued in it.
    await helper.unload();
    for (let i = 0; i < 20; i++) await pub.publish('telemetry/RVIN/v/Seq', String(1000 + i));
    n = await load(mosq.url, { ...opts, clean: true });
    await connected('b1');
    await pub.publish('telemetry/RVIN/v/Seq', '"after"');
    await n.o1.next((m) => m.payload === 'after'); // in order after anything queued
    assert.deepEqual(
      n.o1.received.map((m) => m.payload),
      ['after'],
      'with a clean session nothing queued is delivered',
    );
    assertNothingEscaped();
  });

  it('persistent session across a broker restart: SIGTERM (Mosquitto saves) and SIGKILL after its autosave both deliver every queued message', async function () {
    mosq = await mosquitto({ persistence: true });
    spy = watchConnacks();
    const opts = { clientId: 'nr-reliability-persist', clean: false };
    let n = await load(mosq.url, opts);
    await connected('b1');
    pub = await publisher(mosq.url, FAST_RECONNECT);

    async function stopFlowPublishRestart(label, N, stopBroker) {
      await helper.unload();
      for (let i = 0; i < N; i++) await pub.publish(`telemetry/${label}/v/Seq`, String(i));
      await stopBroker();
      mosq = await mosquitto({ port: mosq.port, persistence: true, dir: mosq.dir });
      n = await load(mosq.url, opts);
      await total([n.o1], N);
      assert.deepEqual(
        n.o1.received.map((m) => [m.vin, m.payload]).sort((a, b) => a[1] - b[1]),
        range(N).map((i) => [label, i]),
        `${label}: all N after the restart`,
      );
    }

    // A clean stop: Mosquitto writes its database on SIGTERM.
    await stopFlowPublishRestart('TERMVIN', 150, () => mosq.stop('SIGTERM'));
    // A crash: only what Mosquitto autosaved survives, so kill it after its next save.
    await stopFlowPublishRestart('KILLVIN', 150, async () => {
      const saved = new Promise((resolve) => {
        const w = fs.watch(mosq.dir, (_event, file) => {
          if (file === 'mosquitto.db') {
            w.close();
            resolve();
          }
        });
      });
      await saved;
      await mosq.stop('SIGKILL');
    });
    assert.deepEqual(
      spy.seen.map((s) => s.sessionPresent),
      [false, true, true],
      'both restarts kept the session (no resubscription was needed)',
    );
    assertNothingEscaped();
  });
});
