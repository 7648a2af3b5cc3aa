'use strict';
// Summarise a V8 .cpuprofile (node --cpu-prof): self time per function and per area.
const fs = require('node:fs');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..');

function areaOf(url, name) {
  if (!url) {
    if (name === '(garbage collector)') return 'GC';
    if (name === '(program)' || name === '(idle)') return name;
    return 'V8/native';
  }
  const u = url.replace(/^file:\/\//, '');
  if (u.includes('/nodes/dist/lib/')) return 'ours (src/lib)';
  if (u.includes('/nodes/dist/nodes/')) return 'ours (node glue)';
  if (u.includes('/bench/')) return 'bench sink';
  if (u.includes('node_modules/@node-red/') || u.includes('node_modules/node-red/')) return 'Node-RED runtime';
  if (
    u.includes('node_modules/mqtt-packet/') ||
    u.includes('node_modules/mqtt/') ||
    u.includes('node_modules/bl/') ||
    u.includes('node_modules/readable-stream/')
  )
    return 'MQTT.js';
  if (u.startsWith('node:')) return 'Node core';
  if (u.includes('node_modules/')) return `other deps (${u.split('node_modules/').pop().split('/')[0]})`;
  return 'other';
}

/**
 * {total ms, areas: [{area, ms, share}], top: [{fn, where, ms, share}]}. `window` {from, to}
 * in µs of the monotonic clock (process.hrtime, which V8's profile timestamps also use) keeps
 * only the samples of a measured run.
 */
function summarise(file, topN = 15, window = null) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let ts = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i] || 0;
    ts += dt;
    if (window && (ts < window.from || ts > window.to)) continue;
    const id = prof.samples[i];
    self.set(id, (self.get(id) || 0) + dt);
  }
  const fnMs = new Map();
  const areaMs = new Map();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const name = cf.functionName || '(anonymous)';
    if (name === '(idle)') continue;
    const where = cf.url ? `${path.relative(REPO, cf.url.replace(/^file:\/\//, ''))}:${cf.lineNumber + 1}` : '';
    const key = `${name}\u0000${where}`;
    fnMs.set(key, (fnMs.get(key) || 0) + us / 1000);
    const area = areaOf(cf.url, name);
    areaMs.set(area, (areaMs.get(area) || 0) + us / 1000);
    total += us / 1000;
  }
  const areas = [...areaMs].map(([area, ms]) => ({ area, ms, share: ms / total })).sort((a, b) => b.ms - a.ms);
  const top = [...fnMs]
    .map(([k, ms]) => {
      const [fn, where] = k.split('\u0000');
      return { fn, where, ms, share: ms / total };
    })
    .sort((a, b) => b.ms - a.ms)
    .slice(0, topN);
  return { total, areas, top };
}

module.exports = { summarise };
