'use strict';
// `npm start`'s commands tab, end to end: dev/start.js in a child process (Node-RED can be
// initialised once per process), its inject buttons pressed through Node-RED's admin API, the
// answers taken where the debug node receives them. The simulated car must show the new charge
// limit in its stream, so the answer says verified: true; the car is never woken.
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { ROOT } = require('../support/paths');

/** Runs in the child: starts the demo, presses the buttons until an answer is verified, prints JSON. */
const CHILD = `
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { start, demoCommandsTab } = require('./dev/start');
(async () => {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-commands-'));
  const h = await start({ port: 0, mqttPort: 0, userDir, quiet: true, reset: true, log: () => {} });
  const answers = [];
  let arrived = () => {};
  h.red.hooks.add('onReceive.demoCommandsTest', (evt) => {
    if (evt.destination.node.type !== 'debug' || evt.msg.event !== 'command') return;
    answers.push(evt.msg.payload);
    arrived();
  });
  const injects = demoCommandsTab(h.vins[0]).filter((n) => n.type === 'inject');
  const end = Date.now() + 150000;
  for (let i = 0; Date.now() < end && !answers.some((a) => a.verified === true); i++) {
    const next = new Promise((r) => (arrived = r));
    // The admin API answers 404 until the flows have started.
    let res;
    do res = await fetch(h.editorUrl + 'inject/' + injects[i % 2].id, { method: 'POST' });
    while (res.status === 404 && (await new Promise((r) => setTimeout(r, 200, true))));
    await next;
    if (answers[answers.length - 1].state === 'asleep') await new Promise((r) => setTimeout(r, 5000));
  }
  const wakes = h.double.calls.filter((c) => /wake_up/.test(c.path)).length;
  process.stdout.write('RESULT ' + JSON.stringify({ answers, wakes }) + '\\n');
  await h.stop();
  fs.rmSync(userDir, { recursive: true, force: true });
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
`;

describe('npm start: the commands tab', function () {
  let child = null;
  afterEach(function () {
    // A child still running (this test timed out) is stopped with its whole demo.
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = null;
  });

  it('a press of a button is answered, verified: true once the simulated car shows the new limit, never waking it', async function () {
    this.timeout(200000);
    child = spawn(process.execPath, ['-e', CHILD], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, err.slice(-2000));
    const line = out.split('\n').find((l) => l.startsWith('RESULT '));
    assert.ok(line, `no result:\n${out.slice(-2000)}\n${err.slice(-2000)}`);
    const { answers, wakes } = JSON.parse(line.slice('RESULT '.length));
    const verified = answers.find((a) => a.verified === true);
    assert.ok(verified, JSON.stringify(answers));
    assert.equal(verified.command, 'set_charge_limit');
    assert.ok(['done', 'already'].includes(verified.state));
    assert.ok(
      answers.every((a) => ['done', 'already', 'asleep'].includes(a.state)),
      JSON.stringify(answers),
    );
    assert.equal(wakes, 0, 'the car was never woken');
  });
});
