'use strict';
// Node-RED runtime for tests (node-red-node-test-helper) with our nodes loaded.
const helper = require('node-red-node-test-helper');
// NODE_RED_MODULE points at another Node-RED install (the compatibility run of .ci/run).
helper.init(process.env.NODE_RED_MODULE || require.resolve('node-red'));

const NODES = {
  'telemetry-broker': '../../nodes/telemetry-broker.js',
  'telemetry-in': '../../nodes/telemetry-in.js',
  'tesla-account': '../../nodes/tesla-account.js',
  'vehicle-data': '../../nodes/vehicle-data.js',
  'telemetry-config': '../../nodes/telemetry-config.js',
  'vehicle-command': '../../nodes/vehicle-command.js',
};

function nodeModules(...types) {
  return types.map((t) => require(NODES[t]));
}

/** Collects what a helper node receives; `next(pred, from)` resolves with the first message at index ≥ from matching pred, now or when it arrives. */
function collector(node) {
  const received = [];
  const waiters = [];
  node.on('input', (msg) => {
    received.push(msg);
    for (let i = 0; i < waiters.length; i++) {
      if (waiters[i].pred(msg)) {
        waiters[i].resolve(msg);
        waiters.splice(i, 1);
        i--;
      }
    }
  });
  return {
    received,
    next(pred = () => true, from = 0) {
      const hit = received.slice(from).find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
  };
}

/** Resolves when a node's status satisfies `pred`. */
function statusIs(node, pred) {
  return new Promise((resolve) => {
    const orig = node.status.bind(node);
    let done = false;
    node.status = (s) => {
      orig(s);
      if (!done && pred(s)) {
        done = true;
        resolve(s);
      }
    };
  });
}

/** Warnings logged by nodes of a type (from the helper's log spy). */
function warnings(type) {
  return helper
    .log()
    .args.map((a) => a[0])
    .filter((e) => e && e.level === 30 && e.type === type)
    .map((e) => String(e.msg));
}

module.exports = { helper, nodeModules, collector, statusIs, warnings };

/** Resolves once a broker config node's connection has its subscriptions granted. */
function connected(brokerNodeId) {
  const conn = helper.getNode(brokerNodeId).connection;
  if (conn.state === 'connected') return Promise.resolve(conn);
  return new Promise((resolve) => {
    const on = (state) => {
      if (state !== 'connected') return;
      conn.off('state', on);
      resolve(conn);
    };
    conn.on('state', on);
  });
}

/** Resolves once the collectors together hold `n` messages matching `pred`. */
function total(collectors, n, pred = () => true) {
  const count = () => collectors.reduce((k, c) => k + c.received.filter(pred).length, 0);
  return new Promise((resolve) => {
    if (count() >= n) return resolve();
    for (const c of collectors) c.next(() => count() >= n).then(resolve);
  });
}

module.exports.connected = connected;
module.exports.total = total;
