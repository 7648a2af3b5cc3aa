'use strict';
// The publisher of the throughput/latency benchmark, in its own process. With `aedes` it also
// hosts the in-process aedes broker on 127.0.0.1 (the tests' broker, test/support/broker.js);
// with an mqtt:// URL it publishes to that broker (Mosquitto).
//
// Messages come from dev/simulator.js fleetMessages: many VINs, ~70 % numbers, ~20 % enums
// (legacy and typed), ~10 % objects, one burst of fields per record, published at QoS 1 with
// retain as the seed's fleet-telemetry server is configured. The PUBLISH packets are encoded
// once (mqtt-packet) and written to a plain TCP socket, PUBACKs counted for a window: like the
// Go server, the publisher costs next to nothing, so the broker and the consumer set the pace.
// Usage: node publisher.js aedes|<mqtt url>
const net = require('node:net');
const { once } = require('node:events');
const mqttPacket = require('mqtt-packet');
const { serve } = require('../lib/child');
const { fleetMessages } = require('../../dev/simulator');
const { startBroker } = require('../../test/support/broker');

const target = process.argv[2];
const SENTINEL_VIN = 'BENCHSENTINEL0000';
const WINDOW = 10_000; // QoS 1 publishes in flight at most (message ids cycle through 1..65535)
const BATCH = 256; // packets per socket write
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

let broker = null;
let conn = null;
let messages = []; // [{suffix: '/VIN/v/Field', payload: Buffer}]
let records = []; // [{vin, first, last}] over `messages`
const packetCache = new Map(); // base -> Buffer[]

/** A minimal MQTT 3.1.1 publishing connection: CONNECT, pre-encoded PUBLISHes, PUBACK counting. */
async function connect(url) {
  const { hostname, port } = new URL(url);
  const socket = net.connect({ host: hostname, port: Number(port) });
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const c = {
    socket,
    acked: 0,
    waiters: [],
    /** Resolves once at least `n` PUBACKs arrived in total. */
    ackedAtLeast(n) {
      if (c.acked >= n) return Promise.resolve();
      return new Promise((resolve) => c.waiters.push({ n, resolve }));
    },
  };
  let connack;
  const connacked = new Promise((r) => (connack = r));
  parser.on('packet', (p) => {
    if (p.cmd === 'puback') {
      c.acked++;
      if (c.waiters.length) {
        c.waiters = c.waiters.filter((w) => (c.acked >= w.n ? (w.resolve(), false) : true));
      }
    } else if (p.cmd === 'connack') connack(p);
  });
  parser.on('error', (e) => console.error(`publisher: bad packet from broker: ${e.message}`));
  socket.on('data', (d) => parser.parse(d));
  socket.on('error', (e) => console.error(`publisher: socket: ${e.message}`));
  socket.write(
    mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `bench-pub-${process.pid}`, keepalive: 0 }),
  );
  const ack = await connacked;
  if (ack.returnCode !== 0) throw new Error(`CONNACK ${ack.returnCode}`);
  return c;
}

let nextId = 0;
function publishPacket(topic, payload, qos = 1) {
  nextId = (nextId % 65535) + 1;
  return mqttPacket.generate({ cmd: 'publish', topic, payload, qos, retain: qos > 0, dup: false, messageId: qos > 0 ? nextId : undefined });
}

function prepare({ count, vins, seed }) {
  messages = [];
  records = [];
  packetCache.clear();
  for (const m of fleetMessages({ vins, count, seed, topicBase: '' })) {
    const suffix = m.topic; // '/VIN/v/Field'
    const vin = suffix.split('/')[1];
    const last = records[records.length - 1];
    if (last && last.vin === vin) last.last = messages.length;
    else records.push({ vin, first: messages.length, last: messages.length });
    messages.push({ suffix, payload: m.payload });
  }
  return { messages: messages.length, records: records.length, bytes: messages.reduce((s, m) => s + m.payload.length, 0) };
}

/** The encoded PUBLISH packets of every prepared message under `base` (cached). */
function packetsFor(base) {
  let p = packetCache.get(base);
  if (!p) {
    p = messages.map((m) => publishPacket(base + m.suffix, m.payload));
    packetCache.set(base, p);
  }
  return p;
}

/** Publish messages[0..n) to `base` as fast as the window allows; times in µs (monotonic clock). */
async function publishFast(base, n, sentinel) {
  const packets = packetsFor(base);
  const start = conn.acked;
  let sent = 0;
  const t0 = nowUs();
  while (sent < n) {
    if (sent - (conn.acked - start) >= WINDOW) await conn.ackedAtLeast(start + sent - WINDOW / 2);
    const end = Math.min(n, sent + BATCH);
    conn.socket.write(end - sent === 1 ? packets[sent] : Buffer.concat(packets.slice(sent, end)));
    sent = end;
    // let PUBACKs in between batches
    if (sent % (BATCH * 8) === 0) await new Promise((r) => setImmediate(r));
  }
  if (sentinel) {
    conn.socket.write(publishPacket(`${base}/${SENTINEL_VIN}/v/BatteryLevel`, '50'));
    sent++;
  }
  const tSent = nowUs();
  await conn.ackedAtLeast(start + sent);
  return { t0, tSent, tAcked: nowUs() };
}

/** Publish messages[0..n) record by record at `rate` msg/s; each message's send time (µs). */
function publishPaced(base, n, rate, sentinel) {
  const packets = packetsFor(base);
  const start = conn.acked;
  const sendTimes = new Float64Array(n);
  const usPerMsg = 1e6 / rate;
  const recs = records.filter((r) => r.first < n);
  let r = 0;
  let sent = 0;
  return new Promise((resolve) => {
    const t0 = nowUs();
    const tick = () => {
      const elapsed = nowUs() - t0;
      while (r < recs.length && recs[r].first * usPerMsg <= elapsed) {
        const rec = recs[r++];
        const last = Math.min(rec.last, n - 1);
        const t = nowUs();
        for (let i = rec.first; i <= last; i++) sendTimes[i] = t;
        conn.socket.write(Buffer.concat(packets.slice(rec.first, last + 1)));
        sent += last + 1 - rec.first;
      }
      if (r < recs.length) return void setTimeout(tick, 1);
      if (sentinel) {
        conn.socket.write(publishPacket(`${base}/${SENTINEL_VIN}/v/BatteryLevel`, '50'));
        sent++;
      }
      conn
        .ackedAtLeast(start + sent)
        .then(() => resolve({ t0, tAcked: nowUs(), sendTimes: Array.from(sendTimes), records: recs.map((x) => [x.vin, Math.min(x.last, n - 1)]) }));
    };
    tick();
  });
}

serve(
  {
    prepare,
    /** One QoS 0 message on the base (is the consumer subscribed yet?). */
    probe({ base }) {
      conn.socket.write(publishPacket(`${base}/BENCHPROBE0000000/v/BatteryLevel`, '1', 0));
      return true;
    },
    async publish({ base, n, rate, sentinel }) {
      if (n > messages.length) throw new Error(`only ${messages.length} messages prepared`);
      return rate ? publishPaced(base, n, rate, sentinel) : publishFast(base, n, sentinel);
    },
  },
  async () => {
    if (conn) conn.socket.destroy();
    if (broker) await broker.close().catch(() => {});
  },
);

(async () => {
  let url = target;
  if (target === 'aedes') {
    broker = await startBroker();
    url = broker.url;
  }
  conn = await connect(url);
  process.send({ type: 'ready', url, pid: process.pid });
})().catch((e) => {
  console.error(`publisher: ${e.stack || e}`);
  process.exit(1);
});
