'use strict';
// A minimal Node-RED node that ends a benchmarked flow: it hands each message to the consumer
// process (bench/lib/sink-hook.js). Cheaper than a function node, so it adds next to nothing.
const hook = require('../lib/sink-hook');

module.exports = function (RED) {
  function BenchSink(config) {
    RED.nodes.createNode(this, config);
    this.on('input', (msg) => hook.receive(msg));
  }
  RED.nodes.registerType('bench-sink', BenchSink);
};
