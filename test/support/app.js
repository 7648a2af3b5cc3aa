'use strict';
// `npm start` (dev/start.js) in a child process, and Debian's Chromium, for the browser tests:
// Node-RED can be initialised only once per process, so each browser test file starts its own.
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const { ROOT } = require('./paths');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/**
 * Start `node dev/start.js` (free ports, `userDir`, the demo written anew, quiet); `log` collects
 * its output. `ready` resolves once it printed its summary: {editorUrl, brokerUrl, dashboardUrl,
 * commandLogUrl} (the last two null when the summary has no such line).
 */
function startApp(userDir, log) {
  const args = ['dev/start.js', '--port', '0', '--mqtt-port', '0', '--user-dir', userDir, '--reset', '--quiet'];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.stdout.on('data', (d) => {
    out += d;
    log.push(String(d));
  });
  child.stderr.on('data', (d) => log.push(String(d)));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev/start.js printed no summary within 60 s:\n${log.join('')}`)), 60000);
    const check = () => {
      if (!/Press Ctrl-C to stop/.test(out)) return;
      clearTimeout(timer);
      child.stdout.removeListener('data', check);
      const editor = /Node-RED editor\s+(http:\/\/\S+)/.exec(out);
      const broker = /MQTT broker\s+(mqtt:\/\/\S+)/.exec(out);
      if (!editor || !broker) return reject(new Error(`unexpected summary:\n${out}`));
      if (/WARNING\s+node types not loaded/.test(out)) return reject(new Error(`node types missing:\n${out}`));
      const dashboard = /Fleet dashboard\s+(http:\/\/\S+)/.exec(out);
      const commandLog = /Command log\s+(http:\/\/\S+)/.exec(out);
      resolve({
        editorUrl: editor[1],
        brokerUrl: broker[1],
        dashboardUrl: dashboard ? dashboard[1] : null,
        commandLogUrl: commandLog ? commandLog[1] : null,
        summary: out,
      });
    };
    child.stdout.on('data', check);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`dev/start.js exited (${code ?? signal}) before it was ready:\n${log.join('')}`));
    });
  });
  return { child, exited, ready };
}

/** Stop it as Ctrl-C does (SIGKILL after 15 s); resolves with {code, signal}, or null if it had to be killed or had exited. */
async function stopApp(app) {
  if (!app || app.child.exitCode !== null || app.child.signalCode !== null) return null;
  app.child.kill('SIGINT'); // as Ctrl-C: start.js stops Node-RED, simulator, broker and double
  let timer;
  const done = await Promise.race([
    app.exited,
    new Promise((r) => {
      timer = setTimeout(() => r(null), 15000);
    }),
  ]);
  clearTimeout(timer);
  if (!done) {
    app.child.kill('SIGKILL');
    await app.exited;
  }
  return done;
}

/** Debian's Chromium through playwright-core (no browser download); CHROMIUM=/path overrides it. */
function launchChromium() {
  const { chromium } = require('playwright-core');
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM} (apt-get install chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      '--disable-quic',
    ],
  });
}

module.exports = { startApp, stopApp, launchChromium, CHROMIUM };
