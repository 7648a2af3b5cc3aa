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

/** A real MQTT.js client that publishes as the fleet-telemetry server would (`opts`: more MQTT.js options, e.g. TLS, login). */
async function publisher(url, opts = {}) {
  const client = mqtt.connect(url, { clientId: `pub-${process.pid}-${Math.random().toString(16).slice(2)}`, ...opts });
  await once(client, 'connect');
  return {
    client,
    publish(topic, payload, { retain = false, qos = 1 } = {}) {
      return client.publishAsync(topic, payload, { retain, qos });
    },
    end() {
      return client.endAsync();
    },
  };
}

module.exports = { startBroker, publisher };
