'use strict';
// Against a real Mosquitto: MQTT v5 shared subscriptions split one stream between two broker configs.
const assert = require('node:assert/strict');
const { startMosquitto, mosquittoPath } = require('../support/mosquitto');
const { publisher } = require('../support/broker');
const { helper, nodeModules, collector, connected, total } = require('../support/red');

describe('telemetry-in against Mosquitto', function () {
  let mosq;
  before(async function () {
    if (!mosquittoPath()) {
      if (process.env.CI) throw new Error('mosquitto is not installed: .ci/run must install it');
      this.skip();
    }
    mosq = await startMosquitto();
    await new Promise((r) => helper.startServer(r));
  });
  after(async function () {
    if (mosq) await mosq.stop();
    await new Promise((r) => helper.stopServer(r));
  });
  afterEach(async function () {
    await helper.unload();
  });

  it('two broker configs in one sharedGroup split the stream: every message reaches exactly one of them', async function () {
    const broker = (id) => ({ id, type: 'telemetry-broker', url: mosq.url, topicBase: 'fleet/x', sharedGroup: 'nr', clientId: `c-${id}` });
    const inNode = (id, b, out) => ({ id, type: 'telemetry-in', broker: b, mode: 'field', staleAfter: 0, retained: 'flag', wires: [[out], [], []] });
    await helper.load(nodeModules('telemetry-broker', 'telemetry-in'), [
      broker('b1'),
      broker('b2'),
      inNode('in1', 'b1', 'o1'),
      inNode('in2', 'b2', 'o2'),
      { id: 'o1', type: 'helper' },
      { id: 'o2', type: 'helper' },
    ]);
    const o1 = collector(helper.getNode('o1'));
    const o2 = collector(helper.getNode('o2'));
    await Promise.all([connected('b1'), connected('b2')]);
    const pub = await publisher(mosq.url);
    const N = 400;
    for (let i = 0; i < N; i++) await pub.publish(`fleet/x/VIN${i % 7}/v/Seq`, String(i));
    await total([o1, o2], N);
    const got = () => [...o1.received, ...o2.received];
    await pub.end();
    const seqs = got()
      .map((m) => m.payload)
      .sort((a, b) => a - b);
    assert.equal(seqs.length, N, 'no message twice');
    assert.deepEqual(
      seqs,
      Array.from({ length: N }, (_, i) => i),
      'none lost',
    );
    assert.ok(o1.received.length > 0 && o2.received.length > 0, 'both instances got a share');
  });
});
