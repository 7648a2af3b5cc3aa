'use strict';
const { lib, FIXTURES } = require('../support/paths');
/**
 * Reliability and security, each part against real peers on 127.0.0.1:
 *
 *   1. Broker loss: a real Mosquitto killed (SIGKILL) mid-stream and restarted on the same port;
 *      persistent sessions (fixed client id, clean: false) across a network cut, a redeploy and
 *      a broker restart (SIGTERM, and SIGKILL after Mosquitto's autosave).
 *   2. Fuzzing: 10,000 generated MQTT messages through aedes into three telemetry-in nodes.
 *   3. Fleet API faults: the real FleetApiClient against the HTTPS double, driven by the
 *      vehicle-data fallback controller on a fake clock.
 *   4. Secrets: flows with known passwords and tokens; nothing leaks anywhere.
 *
 * A process-level unhandledRejection / uncaughtException hook (and the package's own
 * "last line of defence" process warnings) fails the test during which anything escapes.
 */
const assert = require('node:assert/strict');
const { sameValue } = require('../support/values');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');
const mqtt = require('mqtt');
const { startBroker } = require('../support/broker');
const { startMosquitto, mosquittoPath } = require('../support/mosquitto');
const { helper, nodeModules, collector, connected, statusIs, warnings, total } = require('../support/red');
const { fakeClock } = require('../support/clock');
const { recordingSink: sink } = require('../support/sink');
const { startFleetDouble } = require('../../dev/fleet-double');
const { makeCA } = require('../../dev/selfsigned');
const { BrokerConnection } = lib('stream/broker-connection');
const { FIELDS } = lib('catalogue');
const { FleetApiClient } = lib('fleet-api');
const { VehicleDataController } = lib('fallback/controller');

const MIN = 60_000;
const delay = (ms) => new Promise((r) => setTimeout(r, ms));
const tick = () => new Promise((r) => setImmediate(r));
const range = (n) => Array.from({ length: n }, (_, i) => i);

/** A seeded PRNG (mulberry32): a failing fuzz run is reproduced with its seed. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

/** An MQTT.js publisher (QoS 1) that reconnects quickly; `publish` resolves on PUBACK. */
async function mqttPublisher(url, opts = {}) {
  const client = mqtt.connect(url, {
    clientId: `pub-${process.pid}-${crypto.randomBytes(4).toString('hex')}`,
    reconnectPeriod: 100,
    ...opts,
  });
  await new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  client.on('error', () => {}); // reconnects by itself; a refused reconnect is not a test failure
  return {
    client,
    publish: (topic, payload, o = {}) => client.publishAsync(topic, payload, { qos: 1, retain: false, ...o }),
    end: () => client.endAsync(true),
  };
}

describe('reliability and security', function () {
  // ---------------------------------------------------------------------------------------
  // Anything that escapes the package fails the test it escaped in.
  const escaped = [];
  const onRejection = (reason) => escaped.push(`unhandledRejection: ${reason?.stack ?? reason}`);
  const onException = (err) => escaped.push(`uncaughtException: ${err?.stack ?? err}`);
  const onWarning = (w) => {
    // freshness.ts and coalesce.ts report a callback that threw as a process warning.
    if (/tesla-fleet-telemetry/.test(String(w?.message))) escaped.push(`process warning: ${w.message}`);
  };
  function assertNothingEscaped() {
    const list = escaped.splice(0);
    assert.deepEqual(list, [], `escaped the package:\n${list.join('\n')}`);
  }

  before(async function () {
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
    process.on('warning', onWarning);
    await new Promise((r) => helper.startServer(r));
  });
  after(async function () {
    await new Promise((r) => helper.stopServer(r));
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
    process.off('warning', onWarning);
  });
  afterEach(function () {
    assertNothingEscaped();
  });

  // =======================================================================================
  describe('1. broker loss (real Mosquitto)', function () {
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
      await pub?.end();
      pub = null;
      await relay?.close();
      relay = null;
      await mosq?.stop('SIGKILL');
      mosq = null;
      for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
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
        { id: 'in1', z: 'tab1', type: 'telemetry-in', broker: 'b1', vins: '', fields: '', mode: 'field', staleAfter, retained: 'flag', wires: [['o1'], ['o2'], ['o3']] },
        { id: 'in2', z: 'tab1', type: 'telemetry-in', broker: 'b1', vins: 'STREAM1', fields: '', mode: 'field', staleAfter, retained: 'flag', wires: [['p1'], [], ['p3']] },
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
      pub = await mqttPublisher(mosq.url);

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
      pub = await mqttPublisher(mosq.url);
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
        queued().map((m) => m.payload).sort((a, b) => a - b),
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
      pub = await mqttPublisher(mosq.url);
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
      pub = await mqttPublisher(mosq.url);

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

  // =======================================================================================
  describe('2. fuzzing: 10,000 generated MQTT messages through aedes', function () {
    let broker;
    let pub;

    afterEach(async function () {
      await helper.unload();
      await pub?.end();
      await broker?.close();
    });

    // --- what docs/wire-format.md says happens to a topic (independent of src/lib/stream/decode.ts)
    const FILTERS = ['+/v/+', '+/alerts/+/current', '+/alerts/+/history', '+/errors/+', '+/connectivity'].map((f) =>
      `telemetry/${f}`.split('/'),
    );
    /** null: no subscription matches, the broker never delivers it; {bad}: delivered, unusable topic. */
    function route(topic) {
      const t = topic.split('/');
      if (t[0].startsWith('$') || !FILTERS.some((f) => f.length === t.length && f.every((x, i) => x === '+' || x === t[i]))) return null;
      const [, vin, a, name, last] = t;
      if (!vin) return { bad: true };
      if (a === 'connectivity') return { vin, kind: 'connectivity', name: '' };
      if (!name) return { bad: true };
      if (a === 'v') return { vin, kind: 'data', name };
      if (a === 'errors') return { vin, kind: 'error', name };
      return { vin, kind: last === 'current' ? 'alert' : 'alert-history', name };
    }
    const OUTPUT = { data: 0, alert: 1, 'alert-history': 1, error: 1, connectivity: 2 };
    /** The topic as the subscriber receives it (MQTT carries UTF-8: a lone surrogate becomes U+FFFD). */
    const onTheWire = (topic) => Buffer.from(topic, 'utf8').toString('utf8');
    /** What the subscriber parses: the payload's bytes as UTF-8 (a JS string is sent UTF-8 encoded). */
    const parseJson = (payload) => JSON.parse(Buffer.from(payload).toString('utf8'));
    const isEmptyObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0;
    /** Depth of a JSON value without recursion (10,000 levels must not overflow the test either). */
    function depthOf(v) {
      let max = 0;
      const stack = [[v, 1]];
      while (stack.length) {
        const [x, d] = stack.pop();
        if (x === null || typeof x !== 'object') continue;
        max = Math.max(max, d);
        for (const k in x) stack.push([x[k], d + 1]);
      }
      return max;
    }

    /**
     * The 10,000 messages. Each: {topic, payload, expect} with expect one of
     *   {drop: true}       no subscription matches: the broker never delivers it
     *   {bad: true}        delivered, must be counted as bad input and never emitted
     *   {out, check(msg)}  delivered and decoded: one message on output `out`, checked
     */
    function generate(seed, count) {
      const rnd = mulberry32(seed);
      const int = (n) => Math.floor(rnd() * n);
      const pick = (list) => list[int(list.length)];
      const bytes = (n) => {
        const b = Buffer.alloc(n);
        for (let i = 0; i < n; i++) b[i] = int(256);
        return b;
      };
      const vinFor = (prefix) => `${prefix}${String(int(40)).padStart(3, '0')}`;
      const plan = [];

      /** Expectation for a payload on a topic, from the docs' rules; `value` computes a data payload from raw. */
      function expectFor(topic, payload, { value = (raw) => raw, shape = null } = {}) {
        const r = route(topic);
        if (!r) return { drop: true };
        if (r.bad) return { bad: true };
        let raw;
        try {
          raw = parseJson(payload);
        } catch {
          return { bad: true };
        }
        if (depthOf(raw) > 64) return { bad: true }; // deeper than any telemetry record: bad input
        if (r.kind !== 'data') {
          if (!shape) throw new Error(`generator: no shape expectation for ${topic}`);
          return shape.bad ? { bad: true } : { out: OUTPUT[r.kind], check: checkRecord(r, shape.payload) };
        }
        const expected = value(raw);
        return {
          out: 0,
          check(msg) {
            assert.equal(msg.event, 'data');
            assert.equal(msg.vin, r.vin);
            assert.equal(msg.field, r.name);
            assert.equal(msg.topic, `${r.vin}/${r.name}`);
            assert.equal(msg.source, 'telemetry');
            assert.deepStrictEqual(msg.payload, expected, `payload of ${topic}`);
            assert.deepStrictEqual(msg.raw, raw, `raw of ${topic}`);
          },
        };
      }
      function checkRecord(r, payload) {
        return (msg) => {
          assert.equal(msg.event, r.kind);
          assert.equal(msg.vin, r.vin);
          assert.deepStrictEqual(msg.payload, payload);
        };
      }
      const add = (topic, payload, opts) => plan.push({ topic, payload, expect: expectFor(onTheWire(topic), payload, opts) });

      // (a) Every field of the catalogue given every wrong type. By the normalising rules only
      // null and {} change (rules 1–2); a value of the wrong type passes through unchanged.
      const WRONG = [true, false, 0, -4.5, 1e300, 'abc', '', ' 12', '١٢٣', '0x10', '1e', 'yes', [], [1, 'x', null], { a: { b: [1] } }, {}, null];
      for (const f of FIELDS.values()) {
        for (const v of WRONG) {
          if (f.kind === 'enum' && typeof v === 'string' && f.enumPrefix && v.startsWith(f.enumPrefix)) continue;
          const expected = v === null ? null : isEmptyObject(v) ? (f.kind === 'tireLocation' || f.kind === 'unknown' ? {} : null) : v;
          add(`telemetry/${vinFor('WRONG')}/v/${f.name}`, JSON.stringify(v), { value: () => expected });
        }
      }

      // (b) Wrong shapes (bad) and right shapes for alerts, alert history, errors, connectivity.
      const alert = (name, o = {}) => ({ name, active: !o.endedAt, startedAt: o.startedAt ?? null, endedAt: o.endedAt ?? null, audiences: o.audiences ?? [] });
      const SHAPES = {
        current: {
          bad: ['5', '"x"', '[]', 'null', 'true', '{"StartedAt":5}', '{"EndedAt":[]}', '{"Audiences":"all"}', '{"Audiences":{}}'],
          good: [
            ['{}', (n) => alert(n)],
            ['{"StartedAt":"s","EndedAt":"e","Audiences":["x"]}', (n) => alert(n, { startedAt: 's', endedAt: 'e', audiences: ['x'] })],
          ],
        },
        history: {
          bad: ['{}', '5', '"x"', '[1]', '[null]', '[{"StartedAt":1}]', 'true'],
          good: [
            ['null', () => []],
            ['[]', () => []],
            ['[{}]', (n) => [alert(n)]],
          ],
        },
        errors: {
          bad: ['5', '[]', 'null', '{"Body":5}', '{"Tags":[1]}', '{"Tags":"x"}', '{"CreatedAt":{}}'],
          good: [
            ['{}', (n) => ({ name: n, body: null, createdAt: null, tags: {} })],
            ['{"Body":"b","Tags":{"k":"v"}}', (n) => ({ name: n, body: 'b', createdAt: null, tags: { k: 'v' } })],
          ],
        },
        connectivity: {
          bad: ['5', '[]', 'null', '"CONNECTED"', '{"Status":5}', '{"ConnectionId":[]}'],
          good: [
            ['{}', () => ({ status: null, connectionId: null, createdAt: null })],
            ['{"Status":"CONNECTED"}', () => ({ status: 'CONNECTED', connectionId: null, createdAt: null })],
          ],
        },
      };
      const topicOf = (kind, vin, name) =>
        kind === 'current' || kind === 'history' ? `telemetry/${vin}/alerts/${name}/${kind}` : kind === 'errors' ? `telemetry/${vin}/errors/${name}` : `telemetry/${vin}/connectivity`;
      for (let rep = 0; rep < 12; rep++) {
        for (const [kind, { bad, good }] of Object.entries(SHAPES)) {
          const name = pick(['A1', 'BMS_w035', 'Ünï', '🚨']);
          for (const p of bad) add(topicOf(kind, vinFor('SHAPE'), name), p, { shape: { bad: true } });
          for (const [p, payload] of good) add(topicOf(kind, vinFor('SHAPE'), name), p, { shape: { payload: payload(name) } });
        }
      }

      // (c) Topics with extra or missing levels, empty segments, odd names.
      const TOPICS = [
        'telemetry/V/v',
        'telemetry/V/v/BatteryLevel/extra',
        'telemetry/V',
        'telemetry',
        'telemetry/',
        'telemetry/V/alerts/A',
        'telemetry/V/alerts/A/current/x',
        'telemetry/V/alerts/A/other',
        'telemetry/V/errors',
        'telemetry/V/connectivity/x',
        'telemetry/V/x/BatteryLevel',
        'other/V/v/BatteryLevel',
        'telemetryX/V/v/BatteryLevel',
        'Telemetry/V/v/BatteryLevel',
        '/telemetry/V/v/BatteryLevel',
        'telemetry///v/',
        'telemetry//v/BatteryLevel',
        'telemetry/V/v/',
        'telemetry//v/',
        'telemetry//connectivity',
        'telemetry/V/errors/',
        'telemetry/V/alerts//current',
        'telemetry/V/alerts//history',
        'telemetry//alerts/A/current',
        'telemetry/v/v/v',
        'telemetry/V/v/__proto__',
        'telemetry/V/v/constructor',
        'telemetry/__proto__/v/hasOwnProperty',
        'telemetry/V/v/ BatteryLevel',
      ];
      for (let rep = 0; rep < 20; rep++) {
        for (const t of TOPICS) add(t, '1', { shape: { payload: null } });
      }

      // (d) Odd Unicode, in payloads and topics.
      const UNICODE = [
        '"\\ud800"',
        '"x\\udfffy"',
        '"\u202eRTL override\u202c"',
        '"مرحبا بالعالم"',
        '"🚗🔋⚡️👨‍👩‍👧"',
        '"\\u0000"',
        '"a\u0000b"', // a raw NUL inside a JSON string: not JSON
        '"e\u0301\u0301\u0301"',
        '\ufeff"bom"', // a byte-order mark before the value: not JSON
        '"\ufffd\ufffe\uffff"',
        Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), // a UTF-8 encoded lone surrogate
        Buffer.from([0x22, 0xc0, 0xaf, 0x22]), // an overlong encoding
        Buffer.from([0xc0, 0xaf]),
        Buffer.from([0xff, 0xfe, 0x31, 0x00]),
        '"\u2028\u2029"',
        '["\ud83d"]',
      ];
      const UNICODE_TOPICS = ['telemetry/🚗VIN/v/VehicleName', 'telemetry/مرحبا/v/FuzzUnicode', 'telemetry/ВИН/v/Ünïcödé', 'telemetry/\u202eNIV/v/VehicleName', 'telemetry/VIN\ud800/v/FuzzUnicode'];
      for (let rep = 0; rep < 12; rep++) {
        for (const p of UNICODE) {
          const t = pick(UNICODE_TOPICS);
          const vehicleName = t.endsWith('/VehicleName');
          add(t, p, { value: (raw) => (vehicleName && isEmptyObject(raw) ? null : raw) });
        }
      }

      // (e) Deep nesting: 10,000 levels, balanced (valid JSON, but no telemetry record is that
      // deep) and unbalanced; and a moderate 20 levels that must still be decoded.
      const deep = (n, open = '[', close = ']') => open.repeat(n) + close.repeat(n);
      for (let i = 0; i < 4; i++) {
        add(`telemetry/${vinFor('DEEP')}/v/FuzzDeep`, deep(10_000));
        add(`telemetry/${vinFor('DEEP')}/v/FuzzDeep`, '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000));
        add(`telemetry/${vinFor('DEEP')}/v/FuzzDeep`, '['.repeat(10_000));
        add(`telemetry/${vinFor('DEEP')}/v/FuzzDeep`, '{"a":'.repeat(10_000));
        add(`telemetry/${vinFor('DEEP')}/alerts/A/history`, deep(10_000), { shape: { bad: true } });
        add(`telemetry/${vinFor('DEEP')}/v/FuzzDeep`, deep(20));
        add(`telemetry/${vinFor('DEEP')}/v/Location`, '{"a":'.repeat(20) + '1' + '}'.repeat(20));
      }

      // (f) 1 MB payloads.
      const MB = 1024 * 1024;
      add('telemetry/BIG1/v/FuzzBig', bytes(MB));
      add('telemetry/BIG1/v/VehicleName', JSON.stringify('ß🚗'.repeat(MB / 6)));
      add('telemetry/BIG1/v/FuzzBig', Buffer.alloc(MB, '['));
      add('telemetry/BIG1/v/FuzzBig', deep(MB / 2));
      add('telemetry/BIG1/v/FuzzBig', `[${Array(MB / 2).fill(7).join(',')}]`);
      add('telemetry/BIG1/connectivity', bytes(MB), { shape: { bad: true } });

      // (g) Random bytes up to the count (a field of unknown kind: a value that happens to be
      // JSON is emitted unchanged).
      const GOLDEN_EVERY = 10;
      const goldenSlots = Math.floor(count / GOLDEN_EVERY);
      while (plan.length < count - goldenSlots) add(`telemetry/${vinFor('RND')}/v/FuzzBytes`, bytes(int(97)));
      if (plan.length > count - goldenSlots) throw new Error(`generator: ${plan.length} messages before the golden vectors`);

      // Shuffle, then interleave valid messages with known expected outputs (the golden
      // vectors of test/fixtures, moved under the topic base "telemetry").
      for (let i = plan.length - 1; i > 0; i--) {
        const j = int(i + 1);
        [plan[i], plan[j]] = [plan[j], plan[i]];
      }
      const golden = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'mqtt-golden.json'), 'utf8')).vectors;
      const out = [];
      let g = 0;
      let next = 0;
      while (out.length < count) {
        if (out.length % GOLDEN_EVERY !== GOLDEN_EVERY - 1) {
          out.push(plan[next++]);
        } else {
          const v = golden[g++ % golden.length];
          const topic = `telemetry${v.topic.slice(v.topicBase.length)}`;
          const e = v.expect;
          out.push({
            topic,
            payload: v.payload,
            golden: true,
            expect: {
              out: e.output - 1,
              check(msg) {
                assert.equal(msg.event, e.event);
                assert.equal(msg.topic, e.topic);
                assert.equal(msg.vin, e.vin);
                if ('field' in e) assert.equal(msg.field, e.field);
                sameValue(msg.payload, e.payload, `${topic} payload`);
                sameValue(msg.raw, 'raw' in e ? e.raw : JSON.parse(v.payload), `${topic} raw`);
              },
            },
          });
        }
      }
      assert.equal(next, plan.length, 'generator: every message placed once');
      return out;
    }

    it('zero crashes and escapes; every valid message decoded in order; every invalid one counted; the warning rate-limited', async function () {
      this.timeout(60_000);
      const SEED = Number(process.env.FUZZ_SEED) || 0x7e51a;
      const plan = generate(SEED, 10_000);
      const delivered = plan.filter((m) => !m.expect.drop);
      const expectedBad = plan.filter((m) => m.expect.bad).length;
      const expectedOut = [0, 1, 2].map((o) => plan.filter((m) => m.expect.out === o));
      const kinds = {
        dropped: plan.length - delivered.length,
        bad: expectedBad,
        decoded: delivered.length - expectedBad,
        golden: plan.filter((m) => m.golden).length,
      };
      // The generator must cover each case in numbers.
      assert.ok(kinds.dropped >= 300 && kinds.bad >= 2000 && kinds.decoded >= 5000 && kinds.golden === 1000, JSON.stringify(kinds));

      broker = await startBroker();
      const inNode = (id, o, extra = {}) => ({
        id,
        z: 'tab1',
        type: 'telemetry-in',
        broker: 'b1',
        vins: '',
        fields: '',
        mode: 'field',
        staleAfter: 60,
        retained: 'flag',
        wires: [[`${o}0`], [`${o}1`], [`${o}2`]],
        ...extra,
      });
      const helpers = ['fa', 'fb', 'fc'].flatMap((o) => [0, 1, 2].map((i) => ({ id: `${o}${i}`, z: 'tab1', type: 'helper' })));
      const subscribed = broker.subscribed((t) => t.endsWith('/connectivity'));
      await helper.load(nodeModules('telemetry-broker', 'telemetry-in'), [
        { id: 'tab1', type: 'tab', label: 'fuzz' },
        { id: 'b1', z: 'tab1', type: 'telemetry-broker', url: broker.url, topicBase: 'telemetry', reconnectPeriod: 0.2 },
        inNode('in1', 'fa'),
        inNode('in2', 'fb'), // a second node on the same broker: gets copies of every message
        inNode('in3', 'fc', { mode: 'vehicle', quietTime: 20 }),
        ...helpers,
      ]);
      await subscribed;
      const conn = helper.getNode('b1').connection;
      const outs = Object.fromEntries(helpers.map((h) => [h.id, collector(helper.getNode(h.id))]));
      const nodes = ['in1', 'in2', 'in3'].map((id) => helper.getNode(id));
      const badShown = nodes.map((node) =>
        statusIs(node, (s) => {
          const m = / · (\d+) bad$/.exec(s.text || '');
          return !!m && Number(m[1]) >= expectedBad;
        }),
      );
      pub = await mqttPublisher(broker.url);

      const t0 = Date.now();
      const WINDOW = 64; // QoS 1 publishes in flight at once (MQTT.js keeps them in order)
      const inFlight = [];
      for (const m of plan) {
        inFlight.push(pub.publish(m.topic, m.payload));
        if (inFlight.length >= WINDOW) await inFlight.shift();
      }
      await Promise.all(inFlight);
      // A last valid message: delivery is in order, so once it is out, everything before it is.
      await pub.publish('telemetry/ZZSENTINEL/v/BatteryLevel', '"99.5"');
      const isSentinel = (m) => m.vin === 'ZZSENTINEL';
      await Promise.all([outs.fa0.next(isSentinel), outs.fb0.next(isSentinel), outs.fc0.next(isSentinel)]);
      const elapsed = Date.now() - t0;

      // Counted at the broker connection: every delivered message, every bad one.
      assert.equal(conn.stats.messages, delivered.length + 1, 'messages delivered by the broker');
      assert.equal(conn.stats.bad, expectedBad, 'bad input counted');
      // Shown on every node's status (updated 250 ms after the last change).
      const shown = await Promise.all(badShown);
      for (const s of shown) assert.match(s.text, new RegExp(` · ${expectedBad} bad$`));

      // Field mode, both nodes: every valid message decoded, in order, as expected.
      for (const o of ['fa', 'fb']) {
        for (const i of [0, 1, 2]) {
          const got = outs[`${o}${i}`].received.filter((m) => !isSentinel(m));
          assert.equal(got.length, expectedOut[i].length, `node ${o}, output ${i + 1}: message count`);
          got.forEach((msg, k) => {
            try {
              expectedOut[i][k].expect.check(msg);
            } catch (e) {
              e.message = `node ${o}, output ${i + 1}, message ${k} (${expectedOut[i][k].topic}): ${e.message}`;
              throw e;
            }
          });
        }
        assert.equal(outs[`${o}0`].received.filter(isSentinel)[0].payload, 99.5);
      }
      // Vehicle mode: the same alerts/connectivity, and the snapshots end with the sentinel's.
      assert.equal(outs.fc1.received.length, expectedOut[1].length);
      assert.equal(outs.fc2.received.length, expectedOut[2].length);
      const lastSnapshot = outs.fc0.received.filter(isSentinel).at(-1);
      assert.deepEqual(lastSnapshot.payload, { BatteryLevel: 99.5 });

      // Reported, rate-limited: one warning per node per 10 s, not one per bad message.
      const w = warnings('telemetry-in');
      const allowed = nodes.length * (1 + Math.floor(elapsed / 10_000));
      assert.ok(w.length >= nodes.length && w.length <= allowed, `${w.length} warnings for ${expectedBad} bad messages in ${elapsed} ms`);
      for (const text of w) assert.match(text, /^bad input on telemetry\//);
      assert.ok(w.every((text) => text.length < 400), 'a warning quotes a short excerpt, not the payload');
      const errors = helper.log().args.filter((a) => a[0] && a[0].level === 20);
      assert.deepEqual(errors, [], 'no error was logged');
      console.log(`      fuzz seed ${SEED}: ${JSON.stringify(kinds)} in ${elapsed} ms`);
      assertNothingEscaped();
    });
  });

  // =======================================================================================
  describe('3. Fleet API faults (real client, HTTPS double, fallback controller on a fake clock)', function () {
    const VIN = 'FAULT000000VIN001';
    const CLIENT_ID = 'faults-client';
    let d;
    let clients;
    let controllers;

    beforeEach(async function () {
      d = await startFleetDouble({ clientId: CLIENT_ID, vehicles: { [VIN]: { state: 'online' } } });
      clients = [];
      controllers = [];
    });
    afterEach(async function () {
      for (const c of controllers) await c.stop();
      await Promise.all(clients.map((c) => c.close()));
      await d.close();
    });

    /**
     * A controller polling VIN every 10 minutes of fake time through a real FleetApiClient.
     * runUntil(t) fires the controller's timers up to t, waiting for each real HTTP call.
     */
    function harness({ client: clientOpts = {}, options = {}, random = () => 0.5 } = {}) {
      const clock = fakeClock();
      const client = new FleetApiClient({
        region: 'na',
        fleetApiUrl: d.url,
        tokenUrl: d.tokenUrl,
        proxyCa: d.ca,
        clientId: CLIENT_ID,
        accessToken: d.grant().accessToken,
        timeoutMs: 3000,
        ...clientOpts,
      });
      clients.push(client);
      const inflight = new Set();
      const started = []; // [fake time, what] of every call the controller made
      const track = (what, p) => {
        started.push([clock.t, what]);
        inflight.add(p);
        const drop = () => inflight.delete(p);
        p.then(drop, drop);
        return p;
      };
      const reader = {
        meter: client.meter,
        getVehicle: (vin) => track('state', client.getVehicle(vin)),
        vehicleData: (vin, endpoints) => track('data', client.vehicleData(vin, endpoints)),
      };
      const out = sink();
      const ctl = new VehicleDataController(
        reader,
        null,
        { vins: [VIN], mode: 'field', auto: true, staleAfterMs: 60 * MIN, pollIntervalMs: 10 * MIN, endpoints: ['charge_state'], dailyBudget: 0, ...options },
        out,
        clock,
        random,
      );
      controllers.push(ctl);
      async function settle() {
        for (;;) {
          await tick();
          await tick();
          if (inflight.size === 0) break;
          await Promise.allSettled([...inflight]);
        }
      }
      async function runUntil(end) {
        await settle();
        for (;;) {
          let next = Infinity;
          for (const t of clock.timers.values()) next = Math.min(next, t.next);
          if (next > end) break;
          clock.advance(Math.max(0, next - clock.t));
          await settle();
        }
        clock.advance(end - clock.t);
        await settle();
      }
      const gaps = (what = 'state') => {
        const ts = started.filter((s) => s[1] === what).map((s) => s[0]);
        return ts.slice(1).map((t, i) => t - ts[i]);
      };
      return { clock, client, ctl, out, started, runUntil, settle, gaps };
    }
    const apiCalls = () => d.calls.filter((c) => c.route.startsWith('/api/1'));
    const tokenCalls = () => d.calls.filter((c) => c.route === '/oauth2/v3/token');

    it('connection refused: kind network on the node, no crash, capped exponential backoff', async function () {
      const port = await new Promise((resolve) => {
        const s = net.createServer();
        s.listen(0, '127.0.0.1', () => {
          const p = s.address().port;
          s.close(() => resolve(p));
        });
      });
      const h = harness({ client: { fleetApiUrl: `https://127.0.0.1:${port}` } });
      h.ctl.start();
      await h.runUntil(h.clock.t + 4 * 60 * MIN);
      assert.ok(h.out.errors.length >= 5);
      for (const e of h.out.errors) assert.match(e.text, new RegExp(`^${VIN}: Cannot reach 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
      assert.deepEqual(h.gaps().slice(0, 5), [10, 20, 40, 60, 60].map((m) => m * MIN));
      assert.equal(h.out.statuses.at(-1).fill, 'red');
      assert.equal(h.out.sent.length, 0);
      assertNothingEscaped();
    });

    it('a hung server: one call at a time (never a second while one hangs), kind timeout after timeoutMs, then backoff', async function () {
      const held = d.failNext(new RegExp(`/api/1/vehicles/${VIN}$`), { hang: true, times: 2 });
      const h = harness({ client: { timeoutMs: 300 } });
      h.ctl.start();
      h.clock.advance(0); // the first poll is due at once
      const call = await held.arrived;
      assert.equal(call.route, `/api/1/vehicles/${VIN}`);
      // Five poll intervals of fake time pass while the call hangs: no second call.
      h.clock.advance(50 * MIN);
      await tick();
      assert.equal(h.started.length, 1);
      await h.settle(); // the real 300 ms timeout
      assert.equal(h.out.errors.length, 1);
      assert.match(h.out.errors[0].text, /No answer from 127\.0\.0\.1:\d+ within 300 ms/);
      assert.equal(apiCalls().length, 1, 'not retried by the client');
      const t = h.clock.t;
      await h.runUntil(t + 10 * MIN - 1);
      assert.equal(h.started.length, 1, 'the next attempt waits for the backoff');
      await h.runUntil(t + 10 * MIN);
      assert.equal(h.started.length, 2);
      held.release();
      await h.settle();
      assertNothingEscaped();
    });

    it('a certificate from the wrong CA: kind tls on every poll, exactly one TLS attempt each, no request ever sent', async function () {
      const h = harness({ client: { proxyCa: makeCA({ commonName: 'Not the double' }).cert } });
      h.ctl.start();
      await h.runUntil(h.clock.t + 3 * 60 * MIN);
      const polls = h.started.filter((s) => s[1] === 'state').length;
      assert.ok(polls >= 4, `polls: ${polls}`);
      assert.equal(h.out.errors.length, polls);
      for (const e of h.out.errors) assert.match(e.text, /TLS certificate of 127\.0\.0\.1:\d+ is not trusted.*UNABLE_TO_VERIFY_LEAF_SIGNATURE.*never switched off/);
      assert.equal(d.connections, polls, 'one connection attempt per poll: never a retry without verification');
      assert.deepEqual(d.calls, [], 'no HTTP request reached the server');
      assert.equal(h.started.filter((s) => s[1] === 'data').length, 0);
      assertNothingEscaped();
    });

    it('401 on every call: one refresh per request and one retry, never a loop; backoff between polls', async function () {
      d.failNext(/\/api\/1\//, { status: 401, times: Infinity, body: { response: null, error: 'token expired (401)' } });
      const h = harness({ client: { refreshToken: d.currentRefreshToken } });
      h.ctl.start();
      await h.runUntil(h.clock.t + 2 * 60 * MIN);
      const polls = h.started.length;
      assert.ok(polls >= 3);
      assert.equal(tokenCalls().length, polls, 'one refresh per request');
      assert.ok(tokenCalls().every((c) => c.status === 200 && c.refreshToken === 'valid'), 'each refresh used the rotated token');
      assert.equal(apiCalls().length, 2 * polls, 'the call and one retry');
      assert.ok(h.out.errors.every((e) => /refused the access token \(401\) even after a refresh/.test(e.text)));
      assert.deepEqual(h.gaps().slice(0, 2), [10 * MIN, 20 * MIN]);
      assertNothingEscaped();
    });

    it('refresh refused (login_required): polling stops, no HTTP call after the refusal, inputs fail without a call', async function () {
      const h = harness({ client: { accessToken: undefined, refreshToken: 'rt-refused-by-the-double' } });
      h.ctl.start();
      await h.runUntil(h.clock.t + 24 * 60 * MIN);
      assert.equal(d.calls.length, 1, 'the one refused refresh');
      assert.equal(tokenCalls()[0].status, 401);
      assert.equal(h.out.errors.length, 1);
      assert.match(h.out.errors[0].text, /login_required.*Paste a new refresh token/);
      assert.deepEqual(h.out.statuses.at(-1), { fill: 'red', shape: 'ring', text: 'login required: new refresh token in tesla-account' });
      await assert.rejects(h.ctl.readForInput([VIN]), /login_required/);
      assert.equal(d.calls.length, 1, 'an input makes no call either');
      assertNothingEscaped();
    });

    it('429 storm with Retry-After (seconds and HTTP-date): no call before it has passed, whatever the poll interval', async function () {
      const route = new RegExp(`/api/1/vehicles/${VIN}$`);
      const retryAfter = ['1800', '60', '3600', new Date(Date.now() + 900_000).toUTCString(), '7200'];
      for (const ra of retryAfter) d.failNext(route, { status: 429, headers: { 'retry-after': ra }, body: { response: null, error: 'Too Many Requests' } });
      const h = harness();
      h.ctl.start();
      await h.runUntil(h.clock.t + 1);
      assert.match(h.out.statuses.at(-1).text, /^rate-limited until \d\d:\d\d:\d\d/);
      // An input while blocked: refused without a call.
      const n = d.calls.length;
      await assert.rejects(h.ctl.readForInput([VIN]), /rate-limited by Tesla until .*no call made/);
      assert.equal(d.calls.length, n);
      await h.runUntil(h.clock.t + 6 * 60 * MIN);
      const gaps = h.gaps();
      const minimum = [1800, 600, 3600, 899, 7200].map((s) => s * 1000); // 60 s is less than the 10 min interval
      minimum.forEach((m, i) => assert.ok(gaps[i] >= m && gaps[i] <= Math.max(m, 10 * MIN) + 2000, `gap ${i}: ${gaps[i] / 1000} s, Retry-After ${retryAfter[i]}`));
      // After the storm: normal polling, state check then vehicle_data.
      assert.ok(h.started.at(-1)[1] === 'data');
      assert.equal(h.out.errors.length, retryAfter.length);
      assert.ok(h.out.sent.some((m) => m.field === 'BatteryLevel'));
      assertNothingEscaped();
    });

    it('5xx bursts: delays grow x2 up to the cap, each within ±10% jitter, and return to the interval after a success', async function () {
      const route = new RegExp(`/api/1/vehicles/${VIN}$`);
      const bursts = [
        { status: 500 },
        { status: 502, body: '<html><body>Bad Gateway</body></html>' },
        { status: 503, headers: { 'retry-after': '5' } },
        { status: 504 },
        { status: 500, delayMs: 50 },
        { status: 503 },
        { status: 500 },
      ];
      for (const b of bursts) d.failNext(route, b);
      const rnd = mulberry32(42);
      const draws = [];
      const h = harness({
        random: () => {
          const r = rnd();
          draws.push(r);
          return r;
        },
      });
      h.ctl.start();
      await h.runUntil(h.clock.t + 7 * 60 * MIN);
      const gaps = h.gaps();
      const base = [10, 20, 40, 60, 60, 60, 60].map((m) => m * MIN);
      assert.equal(draws.length, bursts.length, 'one jitter draw per failure');
      base.forEach((b, i) => {
        const ratio = gaps[i] / b;
        assert.ok(ratio >= 0.9 && ratio <= 1.1, `gap ${i}: ${gaps[i] / MIN} min for base ${b / MIN} min`);
        assert.ok(Math.abs(gaps[i] - b * (0.9 + 0.2 * draws[i])) < 1, 'the jitter is the drawn one');
      });
      assert.ok(new Set(gaps.slice(0, base.length).map((g, i) => (g / base[i]).toFixed(3))).size > 3, 'the jitter varies');
      assert.equal(gaps[base.length], 10 * MIN, 'after a success: the plain interval again');
      assert.equal(h.out.errors.length, bursts.length);
      assert.ok(h.out.errors.every((e) => /The Fleet API failed \(50\d\)/.test(e.text)), h.out.errors.map((e) => e.text).join('\n'));
      assert.ok(h.out.sent.some((m) => m.field === 'BatteryLevel'));
      assertNothingEscaped();
    });
  });

  // =======================================================================================
  describe('4. secrets', function () {
    const VIN = '5YJ3E1EA7KF000077';
    const CLIENT_ID = 'secrets-client-id';
    const MQTT_USER = 'nr-mqtt-user';
    const MQTT_PASSWORD = 'mqtt-SECRET-password-5f2c81';
    const WRONG_PASSWORD = 'mqtt-SECRET-wrong-password-0d1e';
    const CLIENT_SECRET = 'cs-SECRET-client-secret-77aa13';
    const REFRESH = 'rt-SECRET-deployed-refresh-4c9d02';
    let broker;
    let d;
    let userDir;
    let pub;

    afterEach(async function () {
      await helper.unload();
      await pub?.end();
      await broker?.close();
      await d?.close();
      helper.settings({ userDir: undefined });
      if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
    });

    it('no password or token in the saved flow, the log, a status, a message, an admin answer; the token file is 0600', async function () {
      d = await startFleetDouble({ clientId: CLIENT_ID, refreshToken: REFRESH, vehicles: { [VIN]: { state: 'online' } } });
      const ACCESS = d.grant().accessToken;
      broker = await startBroker();
      broker.aedes.authenticate = (client, username, password, cb) => {
        const ok = username === MQTT_USER && Buffer.isBuffer(password) && password.toString() === MQTT_PASSWORD;
        if (ok) return cb(null, true);
        const e = new Error('bad user name or password');
        e.returnCode = 4;
        cb(e, false);
      };
      userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'secrets-user-'));
      helper.settings({ userDir });

      // Deploy as the editor does: credentials inline in the nodes.
      const flow = [
        { id: 'tab1', type: 'tab', label: 'secrets' },
        { id: 'b1', z: 'tab1', type: 'telemetry-broker', url: broker.url, topicBase: 'telemetry', reconnectPeriod: 0.2, credentials: { username: MQTT_USER, password: MQTT_PASSWORD } },
        { id: 'b2', z: 'tab1', type: 'telemetry-broker', url: broker.url, topicBase: 'telemetry', reconnectPeriod: 0.2, credentials: { username: MQTT_USER, password: WRONG_PASSWORD } },
        {
          id: 'acc1',
          type: 'tesla-account',
          region: 'na',
          proxyUrl: d.proxyUrl,
          proxyCa: d.ca,
          tokenUrl: d.tokenUrl,
          domain: 'fleet.example.com',
          credentials: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: REFRESH, accessToken: ACCESS },
        },
        { id: 'in1', z: 'tab1', type: 'telemetry-in', broker: 'b1', vins: '', fields: '', mode: 'field', staleAfter: 60, retained: 'flag', wires: [['out'], ['out'], ['out']] },
        { id: 'in2', z: 'tab1', type: 'telemetry-in', broker: 'b2', vins: '', fields: '', mode: 'field', staleAfter: 60, retained: 'flag', wires: [['out'], ['out'], ['out']] },
        { id: 'vd1', z: 'tab1', type: 'vehicle-data', account: 'acc1', broker: '', vins: VIN, mode: 'field', auto: false, staleAfter: 60, pollInterval: 10, endpoints: 'charge_state', dailyBudget: 0, wires: [['out']] },
        { id: 'tc1', z: 'tab1', type: 'telemetry-config', account: 'acc1', vins: [VIN], action: 'status', hostname: 'telemetry.example.com', port: 4443, fields: { BatteryLevel: { interval_seconds: 60 } }, wires: [['out']] },
        { id: 'catch1', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'out', z: 'tab1', type: 'helper' },
        { id: 'caught', z: 'tab1', type: 'helper' },
      ];
      const modules = [...nodeModules('telemetry-broker', 'telemetry-in', 'tesla-account', 'vehicle-data', 'telemetry-config'), require('@node-red/nodes/core/common/25-catch.js')];
      await helper.load(modules, [{ id: 'tab1', type: 'tab', label: 'secrets' }]);
      const NodePrototype = helper._NodePrototype; // the helper spies on status/send/log/warn/error of every node
      await helper.setFlows(flow, 'full');
      const out = collector(helper.getNode('out'));
      const caught = collector(helper.getNode('caught'));

      // Exercise: connect (and a refused MQTT login), a telemetry message, a vehicle_data read,
      // a failing call whose answer echoes the tokens, a telemetry-config action, a refused refresh.
      await connected('b1');
      const b2 = helper.getNode('b2').connection;
      await new Promise((resolve) => {
        const on = (state, detail) => {
          if (state === 'disconnected' && /Not authorized|Bad User/i.test(detail)) {
            b2.off('state', on);
            resolve();
          }
        };
        if (b2.state === 'disconnected' && /Not authorized|Bad User/i.test(b2.detail)) resolve();
        else b2.on('state', on);
      });
      pub = await mqttPublisher(broker.url, { username: MQTT_USER, password: MQTT_PASSWORD });
      await pub.publish(`telemetry/${VIN}/v/BatteryLevel`, '"55"');
      await out.next((m) => m.source === 'telemetry' && m.payload === 55);

      d.revokeAccessTokens(); // the deployed access token is refused: one refresh, the rotated tokens go to the file
      helper.getNode('vd1').receive({ vin: VIN });
      await out.next((m) => m.source === 'api' && m.field === 'BatteryLevel');
      assert.equal(d.calls.filter((c) => c.route === '/oauth2/v3/token' && c.status === 200).length, 1);

      d.failNext(/vehicle_data/, { status: 500, body: { response: null, error: `internal error for ${ACCESS} / ${REFRESH}`, error_description: CLIENT_SECRET } });
      helper.getNode('vd1').receive({ vin: VIN });
      await caught.next();

      let from = out.received.length;
      helper.getNode('tc1').receive({});
      await out.next((m) => m.topic === 'telemetry-config/status', from);

      d.revokeAccessTokens();
      d.setRefreshToken('rt-someone-else-now');
      helper.getNode('vd1').receive({ vin: VIN });
      await caught.next((m) => /refresh token/i.test(m.error.message));
      from = out.received.length;
      helper.getNode('tc1').receive({});
      await out.next((m) => m.topic === 'telemetry-config/status', from);

      // The admin endpoints the editor uses.
      const answers = [];
      const get = async (url) => {
        const res = await helper.request().get(url);
        answers.push(`${url} ${res.status} ${res.text}`);
        return res;
      };
      const post = async (url, body) => {
        const res = await helper.request().post(url).send(body);
        answers.push(`${url} ${res.status} ${res.text}`);
        return res;
      };
      assert.equal((await get('/tesla-fleet-telemetry/fields')).status, 200);
      assert.equal((await get('/tesla-fleet-telemetry/presets')).status, 200);
      assert.equal((await post('/telemetry-config/ca-info', { pem: d.ca })).status, 200);
      const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
      const keyAnswer = await post('/telemetry-config/ca-info', { pem: key });
      assert.equal(keyAnswer.status, 400);
      assert.match(keyAnswer.body.error, /private key/);
      assert.equal((await post('/telemetry-config/ca-info', { pem: `not a certificate ${REFRESH}` })).status, 400);
      // What the editor's credentials endpoint would answer: password-type values only as has_*.
      const flowsApi = require('@node-red/runtime/lib/api/flows');
      for (const [type, id] of [
        ['telemetry-broker', 'b1'],
        ['tesla-account', 'acc1'],
      ]) {
        const c = await flowsApi.getNodeCredentials({ type, id });
        answers.push(`credentials ${type}/${id} ${JSON.stringify(c)}`);
      }
      assert.match(answers.at(-2), /"has_password":true/);
      assert.match(answers.at(-1), /"has_refreshToken":true/);

      // What Node-RED saves as the flow file: the flow without credentials.
      const saved = JSON.stringify(helper._redNodes.getFlows().flows);
      for (const id of ['b1', 'b2', 'acc1']) {
        const node = helper._redNodes.getFlows().flows.find((n) => n.id === id);
        assert.equal(node.credentials, undefined, `${id} keeps no credentials in the flow`);
      }

      // The token file: the rotated tokens, mode 0600 in a 0700 directory.
      const dir = path.join(userDir, 'tesla-fleet-telemetry');
      const file = path.join(dir, 'acc1.json');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
      assert.deepEqual(fs.readdirSync(dir), ['acc1.json'], 'no temporary file left behind');

      // Everything that was shown, logged, sent or answered.
      const show = (x) => (typeof x === 'string' ? x : util.inspect(x, { depth: 12, breakLength: Infinity, maxStringLength: Infinity }));
      const texts = {
        'the saved flow': saved,
        'the log': helper
          .log()
          .args.map((a) => a.map(show).join(' '))
          .join('\n'),
        'a status': NodePrototype.status.args.map((a) => show(a[0])).join('\n'),
        'a node warning or error': [...NodePrototype.warn.args, ...NodePrototype.error.args, ...NodePrototype.log.args].map((a) => a.map(show).join(' ')).join('\n'),
        'a sent message': NodePrototype.send.args.map((a) => show(a[0])).join('\n'),
        'a received message': [...out.received, ...caught.received].map(show).join('\n'),
        'an admin answer': answers.join('\n'),
      };
      assert.ok(texts['a status'].includes('disconnected'), 'the refused MQTT login is on a status');
      // The texts are not empty: they hold what was exercised.
      assert.match(texts['the log'], /login_required/);
      assert.match(texts['a sent message'], /BatteryLevel/);
      assert.match(texts['a received message'], /internal error for \[redacted\]/, 'the echoed token was scrubbed, the error kept');
      assert.match(texts['an admin answer'], /VehicleSpeed/);
      const secrets = [MQTT_PASSWORD, WRONG_PASSWORD, CLIENT_SECRET, REFRESH, ACCESS, key.split('\n')[1], ...d.secrets()];
      assert.ok(secrets.length >= 9, 'the double issued rotated tokens to look for');
      for (const [where, text] of Object.entries(texts)) {
        for (const s of secrets) assert.ok(!text.includes(s), `${where} contains a secret (${s.slice(0, 9)}…)`);
      }
      assertNothingEscaped();
    });
  });
});
