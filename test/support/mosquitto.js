'use strict';
// A real Mosquitto broker on 127.0.0.1 for tests, when the binary is installed (.ci/run installs it).
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { once } = require('node:events');

function mosquittoPath() {
  for (const p of ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/usr/bin/mosquitto']) if (fs.existsSync(p)) return p;
  try {
    return execFileSync('which', ['mosquitto'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

async function freePort() {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** Start Mosquitto; resolves once it listens. `persistence` keeps sessions across a restart. */
async function startMosquitto({ port, persistence = false, dir } = {}) {
  const bin = mosquittoPath();
  if (!bin) return null;
  port = port || (await freePort());
  dir = dir || fs.mkdtempSync(path.join(os.tmpdir(), 'mosq-'));
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'socket_domain ipv4',
      'allow_anonymous true',
      // Run as root, Mosquitto would switch to the user "mosquitto", which cannot write its
      // persistence file into our 0700 temporary directory: stay the user that started it.
      `user ${os.userInfo().username}`,
      `persistence ${persistence ? 'true' : 'false'}`,
      `persistence_location ${dir}/`,
      'autosave_interval 1',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      'max_queued_messages 100000',
    ].join('\n') + '\n',
  );
  const child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise((resolve, reject) => {
    const onData = (d) => {
      log += d;
      if (/running/.test(log)) {
        child.stderr.off('data', onData);
        resolve();
      }
    };
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`mosquitto exited ${code}: ${log}`)));
  });
  child.stderr.resume();
  return {
    port,
    dir,
    url: `mqtt://127.0.0.1:${port}`,
    child,
    /** Stop it: SIGTERM (clean, saves persistence) or SIGKILL (a crash). */
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
}

module.exports = { startMosquitto, mosquittoPath, freePort };
