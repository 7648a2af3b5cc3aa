'use strict';
// A real MQTT broker for tests: in-process aedes on 127.0.0.1, restartable on the same port.
const net = require('node:net');
const { once } = require('node:events');
const { Aedes } = require('aedes');
const mqtt = require('mqtt');

async function startBroker({ port = 0 } = {}) {
  const aedes = await Aedes.createBroker();
  const server = net.createServer(aedes.handle);
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const actual = server.address().port;
  return {
    aedes,
    port: actual,
    url: `mqtt://127.0.0.1:${actual}`,
    /** Resolves when some client subscribed to a topic filter matching `predicate`. */
    subscribed(predicate = () => true) {
      return new Promise((resolve) => {
        const on = (subs, client) => {
          if (subs.some((s) => predicate(s.topic, client))) {
            aedes.removeListener('subscribe', on);
            resolve(subs);
          }
        };
        aedes.on('subscribe', on);
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(() => r()));
      await new Promise((r) => aedes.close(() => r()));
    },
  };
}

/**
 * A real MQTT.js client that publishes as the fleet-telemetry server would; `publish` resolves
 * on PUBACK (QoS 1 unless told). `options` go to MQTT.js (username, password, reconnectPeriod…).
 * It reconnects by itself: an error after the first connection (a refused reconnect while the
 * broker is down) is not a test failure. `end(true)` does not wait for messages in flight.
 */
async function publisher(url, options = {}) {
  const client = mqtt.connect(url, { clientId: `pub-${process.pid}-${Math.random().toString(16).slice(2)}`, ...options });
  await once(client, 'connect');
  client.on('error', () => {});
  return {
    client,
    publish(topic, payload, { retain = false, qos = 1 } = {}) {
      return client.publishAsync(topic, payload, { retain, qos });
    },
    end(force = false) {
      return client.endAsync(force);
    },
  };
}

module.exports = { startBroker, publisher };
