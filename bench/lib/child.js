'use strict';
// Child processes for the benchmark: fork with an IPC request/answer protocol, timeouts, and
// a registry so that every child (and a Mosquitto) is killed whatever happens to the parent.
const { fork } = require('node:child_process');

const live = new Set();

function killAll() {
  for (const c of live) {
    try {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

/** Register a process spawned elsewhere (e.g. Mosquitto) so that it is killed on exit. */
function track(proc) {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  return proc;
}

/**
 * Fork `file` with `args` and node `execArgv`; resolves once it says {type:'ready'}.
 * Returns {proc, request(msg, timeoutMs), on(type, fn), stop()}.
 */
function start(file, { args = [], execArgv = [], env = {}, readyTimeoutMs = 60_000, label = file } = {}) {
  const proc = fork(file, args, {
    execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  track(proc);
  let seq = 0;
  const pending = new Map();
  const listeners = new Map();
  let exited = null;
  proc.on('message', (m) => {
    if (m && m.reply !== undefined && pending.has(m.reply)) {
      const p = pending.get(m.reply);
      pending.delete(m.reply);
      clearTimeout(p.timer);
      if (m.error) p.reject(new Error(`${label}: ${m.error}`));
      else p.resolve(m.value);
      return;
    }
    const fn = m && listeners.get(m.type);
    if (fn) fn(m);
  });
  proc.on('exit', (code, signal) => {
    exited = { code, signal };
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`${label} exited (${signal || code}) during a request`));
    }
    pending.clear();
  });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label}: not ready after ${readyTimeoutMs} ms`)), readyTimeoutMs);
    listeners.set('ready', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${signal || code}) before it was ready`));
    });
  });
  const handle = {
    proc,
    label,
    readyInfo: null,
    request(msg, timeoutMs = 60_000) {
      if (exited) return Promise.reject(new Error(`${label} has exited`));
      const id = ++seq;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${label}: no answer to ${msg.cmd} within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        proc.send({ ...msg, id });
      });
    },
    on(type, fn) {
      listeners.set(type, fn);
    },
    async stop(graceMs = 5000) {
      if (exited) return;
      const gone = new Promise((r) => proc.once('exit', r));
      try {
        proc.send({ cmd: 'exit' });
      } catch {
        /* channel closed */
      }
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(t);
    },
  };
  return ready.then((m) => {
    handle.readyInfo = m;
    return handle;
  });
}

/**
 * In a child: answer requests with `handlers[cmd](msg)` (sync or async); {cmd:'exit'} ends the
 * process after `onExit`. Also exits if the parent goes away.
 */
function serve(handlers, onExit = async () => {}) {
  const exit = async (code = 0) => {
    try {
      await Promise.race([onExit(), new Promise((r) => setTimeout(r, 3000))]);
    } finally {
      process.exit(code);
    }
  };
  process.on('disconnect', () => exit(0));
  process.on('message', async (m) => {
    if (!m || typeof m !== 'object') return;
    if (m.cmd === 'exit') return exit(0);
    const fn = handlers[m.cmd];
    if (!fn) return process.send({ reply: m.id, error: `unknown command ${m.cmd}` });
    try {
      const value = await fn(m);
      process.send({ reply: m.id, value });
    } catch (e) {
      process.send({ reply: m.id, error: (e && e.stack) || String(e) });
    }
  });
}

module.exports = { start, serve, track, killAll };
