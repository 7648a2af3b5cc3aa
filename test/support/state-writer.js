'use strict';
const { lib } = require('./paths');
// A child process for the SIGKILL test: restores the car state file, keeps the state changing
// (a counter in VIN K0 and filler VINs), and saves every `period` ms until it is killed.
// Reports over IPC: {restored}, {writing: counter} before a save, {written: counter} after it.
const { CarState } = lib('stream/car-state');
const { StateFile } = lib('stream/state-file');
const { decode, TopicParser } = lib('stream/decode');

const [dir, vinsArg, periodArg] = process.argv.slice(2);
const VINS = Number(vinsArg);
const PERIOD = Number(periodArg);
const parser = new TopicParser('t');
const state = new CarState();
const file = new StateFile(state, { dir, id: 'kill', warn: (text) => process.send({ warn: text }) });
file.load();
let counter = Number(state.value('K0', 'Odometer') ?? 0);
process.send({ restored: counter });

const put = (vin, field, value) => state.update(decode(parser, `t/${vin}/v/${field}`, JSON.stringify(value), false, Date.now()));
if (state.size < VINS) {
  for (let v = 1; v < VINS; v++) for (let f = 0; f < 20; f++) put(`F${v}`, `Field${1000 + f}`, v + f);
}

// The stream: a counter that only goes up, and filler VINs changing.
(function stream() {
  for (let i = 0; i < 50; i++) {
    counter++;
    put('K0', 'Odometer', counter);
    put(`F${1 + (counter % (VINS - 1))}`, 'Field1000', counter);
  }
  setImmediate(stream);
})();

(async function saver() {
  for (;;) {
    await new Promise((r) => setTimeout(r, PERIOD));
    const c = counter;
    process.send({ writing: c });
    await file.save();
    process.send({ written: c });
  }
})();
