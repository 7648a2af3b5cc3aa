'use strict';
// A real Mosquitto broker on 127.0.0.1 for tests, when the binary is installed (.ci/run installs it).
//
//   const m = await startMosquitto();                       // one plain listener, anonymous
//   const m = await startMosquitto({ listeners: [            // several, each with its own security
//     { name: 'tls', tls: { cafile, certfile, keyfile }, passwordFile },
//     { name: 'mtls', tls: { cafile, certfile, keyfile, requireCertificate: true } },
//     { name: 'ws', websockets: true },
//   ] });
//   m.urls.tls === 'mqtts://127.0.0.1:<port>'; m.lines(/New connection from/) ...
//
// Every log line is kept with the time it arrived (`m.log`), and `m.nextLine(re)` waits for the
// next one matching: tests count connection attempts on the broker's side.
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

/** Writes (or, with `create`, starts) a Mosquitto password file entry, hashed by mosquitto_passwd -b. */
function setPassword(file, user, password) {
  const bin = ['/usr/bin/mosquitto_passwd', '/usr/local/bin/mosquitto_passwd'].find((p) => fs.existsSync(p)) || 'mosquitto_passwd';
  const args = fs.existsSync(file) ? ['-b', file, user, password] : ['-c', '-b', file, user, password];
  execFileSync(bin, args, { stdio: 'pipe' });
}

/** The configuration lines of one listener. */
function listenerLines(l, port) {
  const lines = [`listener ${port} 127.0.0.1`];
  if (l.websockets) lines.push('protocol websockets');
  if (l.tls) {
    lines.push(`cafile ${l.tls.cafile}`, `certfile ${l.tls.certfile}`, `keyfile ${l.tls.keyfile}`);
    if (l.tls.requireCertificate) lines.push('require_certificate true');
  }
  if (l.passwordFile) lines.push(`password_file ${l.passwordFile}`, 'allow_anonymous false');
  else lines.push('allow_anonymous true');
  return lines;
}

/**
 * Start Mosquitto; resolves once it listens. `persistence` keeps sessions across a restart.
 * `listeners` (see above) replaces the one plain listener on `port`; `logAll` adds debug lines.
 */
async function startMosquitto({ port, persistence = false, dir, listeners, logAll = false } = {}) {
  const bin = mosquittoPath();
  if (!bin) return null;
  dir = dir || fs.mkdtempSync(path.join(os.tmpdir(), 'mosq-'));
  const conf = path.join(dir, 'mosquitto.conf');
  const ports = {};
  const urls = {};
  let listenerConf;
  if (listeners) {
    listenerConf = ['per_listener_settings true'];
    for (const l of listeners) {
      const p = l.port || (await freePort());
      ports[l.name] = p;
      urls[l.name] = `${l.websockets ? 'ws' : 'mqtt'}${l.tls ? 's' : ''}://127.0.0.1:${p}`;
      listenerConf.push(...listenerLines(l, p));
    }
    port = ports[listeners[0].name];
  } else {
    port = port || (await freePort());
    listenerConf = [`listener ${port} 127.0.0.1`, 'allow_anonymous true'];
  }
  fs.writeFileSync(
    conf,
    [
      ...listenerConf,
      'socket_domain ipv4',
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
      ...(logAll ? ['log_type debug', 'log_type websockets', 'websockets_log_level 0'] : []),
      'max_queued_messages 100000',
    ].join('\n') + '\n',
  );
  const child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  /** Every log line as { at: Date.now() when it arrived, text }. */
  const log = [];
  const waiters = new Set();
  let partial = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop();
    const at = Date.now();
    for (const text of parts) {
      const line = { at, text };
      log.push(line);
      for (const w of waiters) {
        if (w.re.test(text) && --w.skip < 0) {
          waiters.delete(w);
          w.resolve(line);
        }
      }
    }
  });
  const nextLine = (re, skip = 0) => new Promise((resolve) => waiters.add({ re, skip, resolve }));
  await new Promise((resolve, reject) => {
    const onExit = (code) => reject(new Error(`mosquitto exited ${code}: ${log.map((l) => l.text).join('\n')}`));
    child.once('exit', onExit);
    nextLine(/ running$/).then(() => {
      child.off('exit', onExit);
      resolve();
    });
  });
  return {
    port,
    ports,
    urls,
    dir,
    url: `mqtt://127.0.0.1:${port}`,
    child,
    log,
    /** Log lines matching `re` (optionally only those that arrived at or after `since` ms). */
    lines(re, since = 0) {
      return log.filter((l) => l.at >= since && re.test(l.text));
    },
    /** Resolves with the next log line matching `re` (after skipping `skip` of them). */
    nextLine,
    /** SIGHUP: Mosquitto reloads its configuration and password files; resolves once it has. */
    async reload() {
      const done = nextLine(/Reloading config/);
      child.kill('SIGHUP');
      await done;
    },
    /** Stop it: SIGTERM (clean, saves persistence) or SIGKILL (a crash). */
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
}

module.exports = { startMosquitto, mosquittoPath, freePort, setPassword };
