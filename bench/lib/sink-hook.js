'use strict';
// The end of every benchmarked flow: the `bench-sink` node (and the raw MQTT.js consumer) call
// hook.receive(msg); the consumer process sets hook.handler to count, time and finish a run.
const hook = {
  handler: null,
  receive(msg) {
    const h = hook.handler;
    if (h !== null) h(msg);
  },
};
module.exports = hook;
