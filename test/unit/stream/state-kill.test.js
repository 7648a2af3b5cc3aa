'use strict';
const { lib } = require('../../support/paths');
// SIGKILL between and during writes: the file is never corrupt and loses at most what changed
// since the last completed write (one period).
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { fork } = require('node:child_process');
const { once } = require('node:events');
const { CarState } = lib('stream/car-state');
const { StateFile } = lib('stream/state-file');

const WRITER = path.join(__dirname, '..', '..', 'support', 'state-writer.js');

describe('car state file under SIGKILL (a child process writes, is killed, the file is read back)', function () {
  this.timeout(60_000);
  let dir;
  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'state-kill-'));
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Run the writer and SIGKILL it: `during` = as soon as the temporary file of its `killAt`-th
   * save appears (fs.watch: the write is under way), else right after its `killAt`-th save completed.
   */
  async function runAndKill(killAt, during) {
    const child = fork(WRITER, [dir, '3000', '100'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const seen = { restored: null, written: null, warnings: [], counterAtKill: null };
    const exited = once(child, 'exit');
    let saves = 0;
    let watcher = null;
    const kill = (counter) => {
      if (seen.counterAtKill !== null) return;
      child.kill('SIGKILL');
      seen.counterAtKill = counter;
    };
    child.on('message', (m) => {
      if ('restored' in m) seen.restored = m.restored;
      if ('warn' in m) seen.warnings.push(m.warn);
      if ('written' in m) seen.written = m.written;
      if ('writing' in m && during && ++saves === killAt) {
        watcher = fs.watch(dir, (_event, name) => {
          if (String(name).endsWith('.tmp')) kill(m.writing);
        });
      }
      if ('written' in m && !during && ++saves === killAt) kill(m.written);
    });
    const [code, signal] = await exited;
    watcher?.close();
    assert.equal(signal, 'SIGKILL', `the writer ended by itself (${code})`);
    return seen;
  }

  it('six kills, during and between writes: never a corrupt file, never more lost than since the last completed write', async function () {
    let previous = 0;
    let killedMidWrite = 0;
    for (let round = 0; round < 6; round++) {
      const during = round % 2 === 0;
      const seen = await runAndKill(2 + (round % 3), during);
      assert.deepEqual(seen.warnings, [], `round ${round}: the child read a good file`);
      assert.equal(seen.restored, previous, `round ${round}: the child started from the last file`);
      if (fs.readdirSync(dir).some((n) => n.endsWith('.tmp'))) killedMidWrite++;
      const warnings = [];
      const state = new CarState();
      new StateFile(state, { dir, id: 'kill', warn: (t) => warnings.push(t) }).load();
      assert.deepEqual(warnings, [], `round ${round}: the file is whole`);
      const counter = state.value('K0', 'Odometer');
      assert.equal(state.size, 3000, `round ${round}: every VIN`);
      assert.ok(counter >= seen.written, `round ${round}: ${counter} < last completed write ${seen.written}`);
      assert.ok(counter >= previous, `round ${round}: went back`);
      assert.ok(counter <= seen.counterAtKill + 1e6, 'sane');
      previous = counter;
      assert.ok(!fs.readdirSync(dir).some((n) => n.endsWith('.tmp')), 'the leftover temporary file is removed at start');
    }
    assert.ok(killedMidWrite >= 1, `at least one kill landed in the middle of a write (${killedMidWrite})`);
  });
});
