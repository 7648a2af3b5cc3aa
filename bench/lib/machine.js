'use strict';
// What the benchmark ran on.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const REPO = path.resolve(__dirname, '..', '..');

function pkgVersion(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    /* not Linux */
  }
  return os.cpus()[0] ? os.cpus()[0].model : 'unknown';
}

/** Read-only git facts (no state change): commit and whether the tree has local changes. */
function gitInfo() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return { commit, dirty };
  } catch {
    return null;
  }
}

function machine(mosquittoVersion) {
  return {
    cpu: cpuModel(),
    cores: os.cpus().length,
    memGiB: os.totalmem() / 2 ** 30,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    nodeRed: pkgVersion('node-red'),
    mqtt: pkgVersion('mqtt'),
    mqttNodeRed: pkgVersion('@node-red/nodes/node_modules/mqtt'),
    aedes: pkgVersion('aedes'),
    mosquitto: mosquittoVersion,
    git: gitInfo(),
    date: new Date().toISOString(),
  };
}

module.exports = { machine };
