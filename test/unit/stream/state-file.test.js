'use strict';
const { lib } = require('../../support/paths');
// The car state file on the real file system: format, period, bad files, failed writes.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { CarState } = lib('stream/car-state');
const { StateFile, STATE_FORMAT, STATE_VERSION, stateFileName } = lib('stream/state-file');
const { decode, TopicParser } = lib('stream/decode');
const { fakeClock } = require('../../support/clock');

const parser = new TopicParser('t');
const live = (vin, field, value, at) => decode(parser, `t/${vin}/v/${field}`, JSON.stringify(value), false, at);
const PERIOD = 30_000;

function tmpDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'state-file-'));
}

/** A state with `vins` VINs of `fields` fields each (numbers, an enum, a location). */
function filled(vins = 2, fields = 3, at = 5000) {
  const s = new CarState();
  const names = ['BatteryLevel', 'Gear', 'Location', 'Odometer', 'VehicleSpeed', 'InsideTemp', 'ChargeLimitSoc', 'EstBatteryRange'];
  for (let v = 0; v < vins; v++) {
    const vin = `VIN${String(v).padStart(6, '0')}`;
    for (let f = 0; f < fields; f++) {
      const name = f < names.length ? names[f] : `Field${1000 + f}`;
      const value = name === 'Location' ? { latitude: 37.4 + v / 1e4, longitude: -122.1 } : name === 'Gear' ? 'ShiftStateD' : v + f / 10;
      s.update(live(vin, name, value, at + f));
    }
  }
  return s;
}

function open(state, dir, o = {}) {
  const warnings = [];
  const clock = o.clock ?? fakeClock();
  const sf = new StateFile(state, { dir, id: 'b1', warn: (t) => warnings.push(t), clock, ...o });
  return { sf, warnings, clock, file: path.join(dir, stateFileName('b1')) };
}

/** `periods` times: a change, then a period of the fake clock, and the write it starts (VIN000000's BatteryLevel = 50, 51 …). */
async function changeEachPeriod(state, sf, clock, periods) {
  for (let i = 0; i < periods; i++) {
    state.update(live('VIN000000', 'BatteryLevel', 50 + i, 9000 + i));
    clock.advance(PERIOD);
    await sf.idle();
  }
}

/** Run a test only where the machine allows what it needs (root with a file system that supports it). */
function tryRun(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('car state file', function () {
  const dirs = [];
  const mkdir = () => {
    const d = tmpDir();
    dirs.push(d);
    return d;
  };
  after(function () {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('writes state-<id>.json (0600) in a 0700 directory it creates, versioned JSON, and reads it back', async function () {
    const dir = path.join(mkdir(), 'tesla-fleet-telemetry');
    const state = filled(3, 4);
    state.update(decode(parser, 't/VIN000001/connectivity', '{"ConnectionId":"c","CreatedAt":"x","Status":"CONNECTED"}', false, 7000));
    const { sf, file } = open(state, dir);
    await sf.close(); // close writes what changed
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(doc.format, STATE_FORMAT);
    assert.equal(doc.version, STATE_VERSION);
    assert.equal(typeof doc.savedAt, 'number');
    assert.deepEqual(doc.vins.VIN000001.fields.Gear, ['D', 5001]);
    const back = new CarState();
    const r = open(back, dir);
    assert.equal(r.sf.load(), 3);
    assert.deepEqual(r.warnings, []);
    for (const vin of state.vinList()) {
      assert.deepEqual(back.snapshot(vin), state.snapshot(vin), vin);
      assert.equal(back.lastLive(vin), state.lastLive(vin));
      assert.deepEqual(back.connectivity(vin), state.connectivity(vin));
    }
    assert.equal(r.sf.dirty, false, 'what was just read needs no write');
    assert.deepEqual(fs.readdirSync(dir), [path.basename(file)], 'no temporary file left');
  });

  it('a missing file is an empty state, without a warning', function () {
    const state = new CarState();
    const { sf, warnings } = open(state, mkdir());
    assert.equal(sf.load(), 0);
    assert.equal(state.size, 0);
    assert.deepEqual(warnings, []);
  });

  it('writes at most once per 30 s while something changed, not at all while nothing did, and on close', async function () {
    const state = filled(2, 2);
    const { sf, clock, file } = open(state, mkdir());
    sf.load();
    sf.start();
    const mtimes = () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null);
    let at = 10_000;
    for (let i = 0; i < 290; i++) {
      state.update(live('VIN000000', 'BatteryLevel', i, (at += 100)));
      clock.advance(100); // a message every 100 ms for 29 s
    }
    await sf.idle(); // a write under way, if any
    assert.equal(sf.stats.writes, 0, 'nothing before the period');
    assert.equal(mtimes(), null);
    clock.advance(1000);
    await sf.idle();
    assert.equal(sf.stats.writes, 1, 'one write at 30 s');
    assert.deepEqual(JSON.parse(mtimes()).vins.VIN000000.fields.BatteryLevel, [289, at]);
    clock.advance(5 * PERIOD);
    await sf.idle();
    assert.equal(sf.stats.writes, 1, 'no write while nothing changed');
    state.update(live('VIN000001', 'Gear', 'ShiftStateR', (at += 100)));
    clock.advance(PERIOD - 1);
    await sf.idle();
    assert.equal(sf.stats.writes, 1, 'the change waits for the period');
    clock.advance(1);
    await sf.idle();
    assert.equal(sf.stats.writes, 2);
    state.update(live('VIN000001', 'Gear', 'ShiftStateP', (at += 100)));
    await sf.close();
    assert.equal(sf.stats.writes, 3, 'close writes what changed');
    assert.deepEqual(JSON.parse(mtimes()).vins.VIN000001.fields.Gear, ['P', at]);
    assert.equal(clock.timers.size, 0, 'close stops the timer');
  });

  const BAD = [
    ['truncated', (text) => text.slice(0, Math.floor(text.length / 2)), /is not JSON \(truncated or corrupt\)/],
    ['empty', () => '', /is empty/],
    ['blank', () => '  \n', /is empty/],
    ['garbage', () => '\u0000\u0001binary', /is not JSON/],
    ['foreign JSON', () => '{"hello":"world"}', /is not a car state file of this package/],
    ['a JSON array', () => '[1,2]', /is not a car state file of this package/],
    ['another format marker', (text) => text.replace(STATE_FORMAT, 'someone-else/state'), /is not a car state file/],
    ['another version', (text) => text.replace(`"version":${STATE_VERSION}`, '"version":2'), /is format version 2; this version reads 1/],
    ['no version', (text) => text.replace(`"version":${STATE_VERSION},`, ''), /is format version undefined/],
    [
      'a record of the wrong shape',
      (text) => text.replace('"lastLive":', '"lastLive":"soon","x":'),
      /has a record of the wrong shape \(VIN000000: lastLive is not a time\)/,
    ],
  ];
  for (const [what, corrupt, reason] of BAD) {
    it(`${what} file: one warning naming it, moved aside (never overwritten), start empty, later writes a new file`, async function () {
      const dir = mkdir();
      const first = open(filled(2, 3), dir);
      await first.sf.close();
      const bad = corrupt(fs.readFileSync(first.file, 'utf8'));
      fs.writeFileSync(first.file, bad);
      const state = new CarState();
      const { sf, warnings, clock, file } = open(state, dir);
      assert.equal(sf.load(), 0);
      assert.equal(state.size, 0);
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.ok(warnings[0].includes(file), 'names the file');
      assert.match(warnings[0], reason);
      const aside = `${file}.corrupt-${clock.t}`;
      assert.ok(warnings[0].includes(aside), 'says where it went');
      assert.equal(fs.readFileSync(aside, 'utf8'), bad, 'kept as it was');
      assert.equal(fs.existsSync(file), false);
      state.update(live('NEWVIN', 'BatteryLevel', 1, 1));
      await sf.close();
      assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).vins), ['NEWVIN']);
      assert.equal(fs.readFileSync(aside, 'utf8'), bad, 'the set-aside file is never overwritten');
    });
  }

  it('an unreadable file (a directory in its place: EISDIR) is moved aside too', function () {
    const dir = mkdir();
    const state = new CarState();
    const { sf, warnings, clock, file } = open(state, dir);
    fs.mkdirSync(file);
    fs.writeFileSync(path.join(file, 'inside'), 'x');
    assert.equal(sf.load(), 0);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /cannot be read \(EISDIR\)/);
    assert.equal(fs.readFileSync(path.join(`${file}.corrupt-${clock.t}`, 'inside'), 'utf8'), 'x');
  });

  it('two bad files in the same millisecond get two names: nothing set aside is overwritten', function () {
    const dir = mkdir();
    const clock = fakeClock();
    const a = open(new CarState(), dir, { clock });
    fs.writeFileSync(a.file, 'first');
    a.sf.load();
    fs.writeFileSync(a.file, 'second');
    const b = open(new CarState(), dir, { clock });
    b.sf.load();
    assert.equal(fs.readFileSync(`${a.file}.corrupt-${clock.t}`, 'utf8'), 'first');
    assert.equal(fs.readFileSync(`${a.file}.corrupt-${clock.t + 1}`, 'utf8'), 'second');
  });

  it('removes the temporary files a killed write left behind, and only ours', function () {
    const dir = mkdir();
    const { sf, file } = open(new CarState(), dir);
    const ours = path.join(dir, `.${path.basename(file)}.1234.abcd.tmp`);
    const other = path.join(dir, '.acc1.json.1234.abcd.tmp');
    fs.writeFileSync(ours, '{"format":');
    fs.writeFileSync(other, 'x');
    sf.load();
    assert.equal(fs.existsSync(ours), false);
    assert.equal(fs.existsSync(other), true, 'a token store leftover is not ours');
  });

  it('a path through a regular file (ENOTDIR): one warning per cause, the state stays in memory, written once the path works', async function () {
    const root = mkdir();
    const blocker = path.join(root, 'userDir');
    fs.writeFileSync(blocker, 'not a directory');
    const dir = path.join(blocker, 'tesla-fleet-telemetry');
    const state = filled(2, 2);
    const { sf, warnings, clock, file } = open(state, dir);
    assert.equal(sf.load(), 0);
    sf.start();
    await changeEachPeriod(state, sf, clock, 3);
    assert.equal(sf.stats.failures, 3, 'tried at every period');
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(
      warnings[0],
      /cannot save the car state to .*state-b1\.json: a part of the path is a file, not a directory \(ENOTDIR\); keeping it in memory and trying again every 30 s/,
    );
    assert.equal(state.value('VIN000000', 'BatteryLevel'), 52);
    fs.rmSync(blocker);
    clock.advance(PERIOD);
    await sf.idle();
    assert.equal(sf.stats.writes, 1);
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')).vins.VIN000000.fields.BatteryLevel, [52, 9002]);
    await sf.close();
  });

  it('a read-only directory (chattr +i, which binds root too: EPERM): warned once, kept in memory, retried; a bad file there is left untouched', async function () {
    const dir = mkdir();
    if (!tryRun('chattr', ['+i', dir])) this.skip(); // needs root and a file system with the immutable flag
    try {
      const state = filled(1, 2);
      const { sf, warnings, clock } = open(state, dir);
      sf.start();
      await changeEachPeriod(state, sf, clock, 2);
      assert.equal(sf.stats.failures, 2);
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0], /the directory is read-only or not writable \(EPERM\)/);
      await sf.close();
    } finally {
      tryRun('chattr', ['-i', dir]);
    }
    // A corrupt file in a directory that turns read-only: it cannot be moved aside, so it is never written over.
    const { file } = open(new CarState(), dir);
    fs.writeFileSync(file, '{"truncated":');
    assert.ok(tryRun('chattr', ['+i', dir]));
    try {
      const state = new CarState();
      const { sf, warnings, clock } = open(state, dir);
      sf.load();
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /could not be moved aside \(EPERM\): it is left untouched, the car state is kept in memory only/);
      sf.start();
      state.update(live('V', 'BatteryLevel', 1, 1));
      clock.advance(PERIOD);
      await sf.close();
      assert.equal(sf.stats.writes + sf.stats.failures, 0, 'no write was even tried');
    } finally {
      tryRun('chattr', ['-i', dir]);
    }
    assert.equal(fs.readFileSync(file, 'utf8'), '{"truncated":');
  });

  it('a full disk (a 64 KiB tmpfs: ENOSPC): warned once, no partial file, the old file intact, written once there is room', async function () {
    const dir = mkdir();
    if (!tryRun('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', dir])) this.skip(); // needs the right to mount
    try {
      const small = filled(2, 2);
      const first = open(small, dir);
      await first.sf.close();
      const before = fs.readFileSync(first.file, 'utf8');
      const state = filled(600, 8); // ~200 KB of JSON
      const { sf, warnings, clock, file } = open(state, dir);
      sf.start();
      await changeEachPeriod(state, sf, clock, 2);
      assert.equal(sf.stats.failures, 2);
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0], /the disk is full \(ENOSPC\)/);
      assert.equal(fs.readFileSync(file, 'utf8'), before, 'the last good file is intact');
      assert.deepEqual(fs.readdirSync(dir), [path.basename(file)], 'no temporary file left');
      execFileSync('mount', ['-o', 'remount,size=4m', dir]);
      clock.advance(PERIOD);
      await sf.idle();
      assert.equal(sf.stats.writes, 1);
      assert.equal(Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).vins).length, 600);
      await sf.close();
    } finally {
      tryRun('umount', [dir]);
    }
  });

  it('serialises 10,000 VINs × 20 fields in slices: the event loop keeps turning during the write', async function () {
    this.timeout(60_000);
    const state = filled(10_000, 20);
    // What one JSON.stringify of everything would hold the loop for.
    const t0 = process.hrtime.bigint();
    JSON.stringify(Object.fromEntries(state.vinList().map((v) => [v, state.record(v)])));
    const whole = Number(process.hrtime.bigint() - t0) / 1e6;
    const { sf, file } = open(state, mkdir());
    let maxGap = 0;
    let last = process.hrtime.bigint();
    let turns = 0;
    let running = true;
    const tick = () => {
      const now = process.hrtime.bigint();
      maxGap = Math.max(maxGap, Number(now - last) / 1e6);
      last = now;
      turns++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    await sf.save();
    running = false;
    assert.equal(sf.stats.writes, 1);
    assert.equal(Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).vins).length, 10_000);
    assert.ok(turns >= 40, `the loop turned ${turns} times during the write`);
    assert.ok(maxGap < whole / 2, `longest block ${maxGap.toFixed(1)} ms vs ${whole.toFixed(1)} ms for one stringify`);
  });
});
