'use strict';
// Mosquitto for the benchmark (when installed): 127.0.0.1 only, no persistence, and queues
// large enough that a consumer running behind by a whole run loses nothing (the stock limit
// of 1,000 queued QoS 1 messages per client would drop most of a 200,000-message run).
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { mosquittoPath, freePort } = require('../../test/support/mosquitto');
const { track } = require('./child');

const CONF = ['max_queued_messages 0', 'max_inflight_messages 0'];

function version(bin) {
  try {
    const out = require('node:child_process').spawnSync(bin, ['-h'], { encoding: 'utf8', timeout: 5000 });
    const m = /mosquitto version (\S+)/.exec(`${out.stdout}${out.stderr}`);
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

async function startMosquitto() {
  const bin = mosquittoPath();
  if (!bin) return null;
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-mosq-'));
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'socket_domain ipv4',
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      ...CONF,
    ].join('\n') + '\n',
  );
  const child = track(spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let log = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mosquitto did not start: ${log}`)), 10_000);
    const onData = (d) => {
      log += d;
      if (/running/.test(log)) {
        clearTimeout(timer);
        child.stderr.off('data', onData);
        resolve();
      }
    };
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mosquitto exited ${code}: ${log}`));
    });
  });
  child.stderr.resume();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    version: version(bin),
    config: CONF,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await gone;
        clearTimeout(t);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = {
  startMosquitto,
  mosquittoVersion: () => {
    const bin = mosquittoPath();
    return bin ? version(bin) : null;
  },
};
