'use strict';
/**
 * Reliability, fuzzing: 10,000 generated MQTT messages (seeded: FUZZ_SEED reproduces a run)
 * through a real in-process broker (aedes) into three telemetry-in nodes.
 *
 * Anything that escapes the package (an unhandled rejection, an uncaught exception, the package's
 * own "last line of defence" process warning) fails the test it escaped in (test/support/escapes.js).
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { lib, FIXTURES } = require('../support/paths');
const { sameValue } = require('../support/values');
const { mulberry32 } = require('../support/random');
const { startBroker, publisher } = require('../support/broker');
const { helper, nodeModules, collector, statusIs, warnings } = require('../support/red');
const { escapeWatch } = require('../support/escapes');
const { FIELDS } = lib('catalogue');

describe('reliability: fuzzing, 10,000 generated MQTT messages through aedes', function () {
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

  let broker;
  let pub;

  afterEach(async function () {
    await helper.unload();
    await pub?.end(true);
    await broker?.close();
  });
  // After the clean-up above: whatever escaped during it fails the test too.
  afterEach(function () {
    assertNothingEscaped();
  });

  // --- what the spec says happens to a topic (independent of src/lib/stream/decode.ts) ---------
  const FILTERS = ['+/v/+', '+/alerts/+/current', '+/alerts/+/history', '+/errors/+', '+/connectivity'].map((f) => `telemetry/${f}`.split('/'));
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

    /** Expectation for a payload on a topic, from the spec's rules; `value` computes a data payload from raw. */
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
    const alert = (name, o = {}) => ({
      name,
      active: !o.endedAt,
      startedAt: o.startedAt ?? null,
      endedAt: o.endedAt ?? null,
      audiences: o.audiences ?? [],
    });
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
      kind === 'current' || kind === 'history'
        ? `telemetry/${vin}/alerts/${name}/${kind}`
        : kind === 'errors'
          ? `telemetry/${vin}/errors/${name}`
          : `telemetry/${vin}/connectivity`;
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
    const UNICODE_TOPICS = [
      'telemetry/🚗VIN/v/VehicleName',
      'telemetry/مرحبا/v/FuzzUnicode',
      'telemetry/ВИН/v/Ünïcödé',
      'telemetry/\u202eNIV/v/VehicleName',
      'telemetry/VIN\ud800/v/FuzzUnicode',
    ];
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
    add(
      'telemetry/BIG1/v/FuzzBig',
      `[${Array(MB / 2)
        .fill(7)
        .join(',')}]`,
    );
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
    pub = await publisher(broker.url);

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
    assert.ok(
      w.every((text) => text.length < 400),
      'a warning quotes a short excerpt, not the payload',
    );
    const errors = helper.log().args.filter((a) => a[0] && a[0].level === 20);
    assert.deepEqual(errors, [], 'no error was logged');
    console.log(`      fuzz seed ${SEED}: ${JSON.stringify(kinds)} in ${elapsed} ms`);
    assertNothingEscaped();
  });
});
