'use strict';
// BENCHMARKS.md from one run's results.
const fs = require('node:fs');
const path = require('node:path');
const { LABELS, QUIET_MS } = require('./throughput');
const { CARS } = require('./cost');

const f = (x, d = 0) =>
  x === null || x === undefined || Number.isNaN(x) ? '—' : Number(x).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const x2 = (x) => (x === null || x === undefined ? '—' : `${x.toFixed(2)}×`);
const POLICY = {
  ours: 'ours: `vehicle-data` auto (stale after 60 min, poll every 10 min: the defaults)',
  'ours-10': 'ours: `vehicle-data` auto, stale after 10 min',
  twc: 'TWCManager (hourly check, 1 h threshold)',
  ha: 'Home Assistant Tesla Fleet (every 10 min)',
};

function machineSection(m, cfg, t1) {
  const mosq = t1 && t1.brokers.find((b) => b.broker === 'mosquitto' && b.config);
  const lines = [
    '## Machine',
    '',
    '| | |',
    '|---|---|',
    `| CPU | ${m.cpu} |`,
    `| cores | ${m.cores} |`,
    `| memory | ${m.memGiB.toFixed(1)} GiB |`,
    `| OS | ${m.os} |`,
    `| Node.js | ${m.node} |`,
    `| Node-RED | ${m.nodeRed} (embedded runtime, one per consumer process) |`,
    `| MQTT.js | ${m.mqtt} (ours, the raw subscriber)${m.mqttNodeRed ? `; ${m.mqttNodeRed} inside Node-RED's core \`mqtt in\`` : ''} |`,
    `| aedes | ${m.aedes} (in the publisher's process) |`,
    `| Mosquitto | ${m.mosquitto ? `${m.mosquitto}${mosq ? ` (\`${mosq.config.join('`, `')}\`)` : ''}` : 'not installed'} |`,
    `| code | ${m.git ? `commit ${m.git.commit}${m.git.dirty ? ' with local changes' : ''}` : 'not a git checkout'} |`,
    `| run | ${m.date}, ${cfg.messages.toLocaleString('en-US')} messages per throughput run, ${cfg.rounds} runs per figure |`,
    `| load average (1 min) | ${m.loadStart ? m.loadStart[0].toFixed(2) : '—'} at the start, ${m.loadEnd ? m.loadEnd[0].toFixed(2) : '—'} at the end (the benchmark's own processes count in the latter)${m.loadStart && m.loadStart[0] > 0.5 ? ' — **the machine was not idle when the run started: other work shared the 2 cores**' : ''} |`,
    '',
  ];
  return lines.join('\n');
}

function targetsSection(targets) {
  const lines = ['## Targets', '', '| target | broker | measured | |', '|---|---|---|---|'];
  for (const t of targets) {
    const v =
      typeof t.value === 'number'
        ? t.unit
          ? `${t.value.toFixed(2)} ${t.unit}`
          : Number.isInteger(t.value)
            ? String(t.value)
            : `${t.value.toFixed(2)}×`
        : String(t.value);
    const notes = [t.extra, t.capNote].filter(Boolean).join('; ');
    lines.push(`| ${t.text} | ${t.broker || ''} | ${v}${notes ? ` (${notes})` : ''} | **${t.met ? 'met' : 'missed'}** |`);
  }
  lines.push('');
  return lines.join('\n');
}

function throughputSection(t1, cfg) {
  const lines = [
    '## 1. Throughput, CPU and latency',
    '',
    `${cfg.messages.toLocaleString('en-US')} messages per run from \`dev/simulator.js\` \`fleetMessages\` (10,000 VINs; ~70 % numbers, ~20 % enums, legacy strings and typed names, ~10 % objects; one burst of 5–20 fields per record, then the next VIN), published as QoS 1 with retain (the seed's server settings) to \`bench/<consumer>/<VIN>/v/<Field>\`. The publisher, the consumer and the broker are separate processes (aedes runs inside the publisher's process): on 2 cores the consumer has one core to itself. The publisher writes pre-encoded PUBLISH packets to a TCP socket with a window of PUBACKs, so it costs next to nothing and the broker or the consumer sets the pace. Every consumer process stays up for the whole table and subscribes to its own topic base; each round runs the five consumers back to back (order rotated), after one unmeasured warm-up run each. In (b) and (c) the \`telemetry-broker\` keeps the car state (every VIN's latest values, on the path of every message) and saves it to the consumer's user directory every 30 s, as shipped (\`persist\` on).`,
    '',
    '- **msg/s**: messages published ÷ time from the first publish to the last message reaching the end of the flow (a minimal `bench-sink` node; for (a) the MQTT.js `message` handler). For (c), whose record snapshots leave after the quiet time, the end is the last snapshot minus the quiet time (250 ms).',
    '- **× (a)**, **× (e)**: msg/s ratio within each round, median over the rounds.',
    '- **CPU µs/msg**: `process.cpuUsage()` (user + system) of the consumer process over the run ÷ messages. **one-core capacity** = 1,000,000 ÷ that: what the consumer could take if nothing else limited it.',
    "- **busy**: the consumer process's CPU time ÷ the run's wall time (above 100 % when V8's helper threads work beside the main one). Near 100 % the consumer set the pace; well below, it kept up with the broker and its msg/s is the broker's pace (a lower bound of its own), so compare such consumers by CPU per message.",
    `- **p50 / p99**: publish → end-of-flow latency at a steady ${cfg.latencyRate.toLocaleString('en-US')} msg/s (records sent whole, as the server does), ${cfg.latencyMessages.toLocaleString('en-US')} messages per run, both processes reading the same monotonic clock; median over the runs. For (c) the latency of a snapshot is measured from the last field of its record, so it includes the ${QUIET_MS} ms quiet time by design.`,
    '',
  ];
  for (const b of t1.brokers) {
    if (!b.rows) {
      lines.push(`### ${b.broker}: not measured (${b.skipped})`, '');
      continue;
    }
    lines.push(`### ${b.broker}${b.version ? ` ${b.version}` : ''}`, '');
    lines.push('| consumer | msg/s | × (a) | × (e) | CPU µs/msg | busy | one-core capacity msg/s | p50 ms | p99 ms |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const kind of Object.keys(b.rows)) {
      const r = b.rows[kind];
      lines.push(
        `| ${r.label} | ${f(r.rate)} | ${x2(r.ratio.a)} | ${x2(r.ratio.e)} | ${f(r.cpuPerMsg, 1)} | ${r.busy === null ? '—' : `${f(r.busy * 100)} %`} | ${r.cpuPerMsg ? f(1e6 / r.cpuPerMsg) : '—'} | ${f(r.p50, 2)} | ${f(r.p99, 2)} |`,
      );
    }
    lines.push('');
    const c = b.rows.c;
    const bRow = b.rows.b;
    const details = [];
    if (bRow && b.rows.d && bRow.ratio.d)
      details.push(`(b) ÷ (d): ${x2(bRow.ratio.d)} in msg/s, ${x2(b.rows.d.cpuPerMsg / bRow.cpuPerMsg)} in CPU per message.`);
    if (c && c.snapshots)
      details.push(
        `(c) sent ${f(c.snapshots)} record snapshots per run (one Node-RED message per record instead of per field); its latency beyond the ${QUIET_MS} ms quiet time: p50 ${f(c.p50 - QUIET_MS, 2)} ms, p99 ${f(c.p99 - QUIET_MS, 2)} ms.`,
      );
    details.push(
      `Per-run msg/s: ${Object.entries(b.rows)
        .map(([k, r]) => `(${k}) ${r.allRates.map((x) => f(x)).join(' / ')}`)
        .join('; ')}.`,
    );
    details.push(
      `Per-run CPU µs/msg: ${Object.entries(b.rows)
        .map(([k, r]) => `(${k}) ${r.allCpu.join(' / ')}`)
        .join('; ')}.`,
    );
    if (b.errors && b.errors.length) details.push(`Errors: ${b.errors.join('; ')}.`);
    lines.push(details.join(' '), '');
  }
  return lines.join('\n');
}

function hotpathSection(h) {
  if (!h || !h.runs) return '';
  return [
    '### Our hot path alone',
    '',
    `The same ${h.messages.toLocaleString('en-US')} messages through our code only, in one process: no socket, no MQTT.js, no Node-RED (\`bench/hotpath.js\`; the four paths interleaved, median of 7 passes after 2 warm-ups per process, median of ${h.runs} processes). What (b) and (c) add to a raw subscriber, before Node-RED's own per-message cost.`,
    '',
    '| path | µs per message |',
    '|---|---:|',
    `| \`JSON.parse(payload.toString())\` (what the raw subscriber (a) does) | ${f(h.jsonParse, 2)} |`,
    `| \`decode()\`: topic, JSON, normalise | ${f(h.decode, 2)} |`,
    `| \`BrokerConnection\` → freshness → \`telemetry-in\` field mode (message built, handed to \`send\`) | ${f(h.field, 2)} |`,
    `| the same, vehicle mode (coalescing, one snapshot per record) | ${f(h.vehicle, 2)} |`,
  ].join('\n');
}

function scaleSection(t2) {
  const lines = [
    '## 2. Fleet scale',
    '',
    '10,000 VINs × 20 fields (14 numbers, 4 enums, Location, DoorState; half typed, half legacy) fed through `BrokerConnection.inject()` — the decode → freshness → `telemetry-in` path of every MQTT message, without a socket — into one `BrokerConnection` (its `FreshnessTracker` and its car state: every field\'s latest value per VIN, kept in memory here, no file) and one `TelemetryInController` (stale after 60 min). Heap: `heapUsed` after `global.gc()` (`--expose-gc`) with the fleet held, less before the first message. Sweep: `tracker.sweep()` with the node\'s watcher, median of 20 calls per process, none turning stale (the slower ones are the first call, before the JIT has optimised it, and garbage-collection pauses); "all turn stale" is the one sweep after an hour of silence that sends 10,000 `stale` events. Median of the runs, each in a fresh process.',
    '',
    '| state | heap | bytes per VIN | sweep (median) | first sweep (not yet optimised by the JIT) | slowest of the other sweeps | sweep turning all 10,000 stale | decode + deliver µs/msg |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const names = {
    vehicle: "`telemetry-in` vehicle mode (the broker's car state, and the node's own latest snapshot of every VIN)",
    field: "`telemetry-in` field mode (the broker's car state and freshness)",
  };
  for (const [mode, r] of Object.entries(t2.rows)) {
    const first = r.sweepFirstMs === undefined || r.sweepFirstMs === null ? f(r.sweepMaxMs, 2) : f(r.sweepFirstMs, 2);
    const rest = r.sweepMaxAfterFirstMs === undefined || r.sweepMaxAfterFirstMs === null ? '—' : f(r.sweepMaxAfterFirstMs, 2);
    lines.push(
      `| ${names[mode]} | ${f(r.heapMB, 1)} MB | ${f(r.bytesPerVin)} | ${f(r.sweepMs, 2)} ms | ${first} ms | ${rest} ms | ${f(r.staleSweepMs, 1)} ms | ${f(r.injectUsPerMsg, 2)} |`,
    );
  }
  if (t2.errors.length) lines.push('', `Errors: ${t2.errors.join('; ')}`);
  lines.push('');
  return lines.join('\n');
}

function costSection(t3) {
  const lines = [
    '## 3. Fleet API cost: a simulated day, 10 cars',
    '',
    'One simulated day (00:00–24:00, no real waiting) of 10 cars from `dev/simulator.js` (realistic pace: a record every 10 s driving or charging, every 60 s parked): driving, parking, charging, sleeping, and 7 stream outages while the car stays online (30 min to 5 h, starting off the hour). Each policy gets the same day (same seed) and talks through the real `FleetApiClient` (tokens refreshed as they expire on the simulated clock) over HTTPS to the Fleet API double (`dev/fleet-double.js`, on 127.0.0.1), whose clock is the simulated one and which follows the simulated cars (asleep → 408 for `vehicle_data`). Counts are from the double\'s own call records; Tesla bills every answer below 500 (408 and 429 included): data $0.002, command $0.001, wake $0.02; the state check `GET /api/1/vehicles/{vin}` and token refreshes are free. "Ours" follows the `FreshnessTracker` of a `BrokerConnection` that the simulated stream is injected into; the two reference policies are implemented in `bench/cost.js` as described in `docs/fleet-api.md`: TWCManager checks once an hour for cars silent ≥ 1 h (not after a DISCONNECTED), Home Assistant checks every car every 10 min; both call `vehicle_data` only when the state check says online.',
    '',
    '| policy | `vehicle_data` (billed) | command | wake | billed calls | $ / day | $ / 30 days | billed while streaming | billed to asleep cars | state checks (free) | of them to asleep cars | token refreshes (free) | outage → first fallback data: median / max (outages covered) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const p of t3.policies) {
    lines.push(
      `| ${POLICY[p.policy] || p.policy} | ${p.calls.data}${p.calls.data408 ? ` (${p.calls.data408} × 408)` : ''} | ${p.calls.command} | ${p.calls.wake} | ${p.billed} | $${p.dollars.toFixed(3)} | $${(p.dollars * 30).toFixed(2)} | ${p.billedWhileStreaming} | ${p.billedToAsleep} | ${p.calls.stateChecks} | ${p.stateChecksToAsleep} | ${p.calls.tokenRefreshes} | ${p.minutesToDataMedian === null ? '—' : `${f(p.minutesToDataMedian, 1)} / ${f(p.minutesToDataMax, 1)} min`} (${p.outagesCovered} of ${p.outageCount}) |`,
    );
  }
  lines.push('');
  // Per outage.
  const first = t3.policies[0];
  if (first && first.outages.length) {
    const nameOf = new Map(CARS.map((c) => [c.vin, c.name]));
    lines.push('Minutes from the start of each outage to the first fallback data (— : none before the stream came back or the car slept):', '');
    lines.push(`| car | outage | ${t3.policies.map((p) => p.policy).join(' | ')} |`);
    lines.push(`|---|---|${t3.policies.map(() => '---:').join('|')}|`);
    const hhmm = (h) => `${String(Math.floor(h)).padStart(2, '0')}:${String(Math.round((h % 1) * 60)).padStart(2, '0')}`;
    // Every policy saw the same day (same outages); list them by start.
    const order = first.outages.map((o, i) => i).sort((x, y) => first.outages[x].startH - first.outages[y].startH);
    order.forEach((i) => {
      const o = first.outages[i];
      const cells = t3.policies.map((p) => {
        const same = p.outages.find((x) => x.vin === o.vin && x.startH === o.startH);
        return same && same.minutesToData !== null ? f(same.minutesToData, 1) : '—';
      });
      lines.push(`| ${nameOf.get(o.vin) || o.vin} | ${hhmm(o.startH)}, ${f(o.lengthMin)} min | ${cells.join(' | ')} |`);
    });
    lines.push('');
  }
  const checks = t3.policies.map(
    (p) =>
      `${p.policy}: ${p.check.consistent ? "the client's BillingMeter agrees" : `the BillingMeter says ${p.check.meterBilled} billed / $${p.check.meterCost}`}`,
  );
  lines.push(
    `Cross-check with the client's own meter — ${checks.join('; ')}. Stream volume: ${f(first ? first.streamedMessages : 0)} MQTT messages in the day.`,
    '',
  );
  return lines.join('\n');
}

const SCENARIO = {
  each: 'every surplus value as a command (no logic, no coalescing)',
  'each-60': 'every surplus value, into a node with Min interval 60 s (coalescing alone)',
  logic: "example 05's function, its nodes with Min interval 0 (the logic alone)",
  example: '**example 05 as shipped**: its function, Min interval 60 s on "charging amps"',
};

function solarSection(t4) {
  const d = t4.day;
  const lines = [
    '## 4. Vehicle commands: a solar day through example 05',
    '',
    `A simulated day of solar surplus (\`bench/solar.js\`): a value every ${d.stepS} s for ${d.hours} h (${f(d.values)} values, 08:00–18:00; a 7 kWp roof on a clear-sky curve, clouds of 1–12 min about every 15 min, the house's own load with a kettle, washing machine, oven, dishwasher; ${f(d.minW)} to ${f(d.maxW)} W, ≥ 1,600 W for ${f(d.hoursAbove1600W, 1)} h). Example 05's function node runs as its code is in \`examples/05 solar surplus charging.json\` (read from the file), and its two \`vehicle-command\` nodes' properties become the options through the node's own parser; the real \`VehicleCommandController\` and \`FleetApiClient\` talk HTTPS through the proxy path to the Fleet API double, which carries the commands out on the car (its clock and the controller's are one fake clock, \`@sinonjs/fake-timers\`). Counts are from the double's call records (cross-checked with the client's meter below). A command costs $0.001; the state check before each command is free; no row wakes the car. "kWh" is what the car would draw if it follows the commands (its current × 230 V while charging), split into what the surplus covered and what came from the grid.`,
    '',
    '| scenario | inputs to the nodes | billed commands | of them start / stop / amps | $ / day | $ / 30 days | most amps commands in 60 s | node answers | kWh from the sun / from the grid | fewer billed commands than every value |',
    '|---|---:|---:|---|---:|---:|---:|---|---|---:|',
  ];
  for (const r of t4.runs) {
    const n = (k) => r.byName[k] || 0;
    const answers = Object.entries(r.answers)
      .filter(([k]) => k !== 'inputs')
      .map(([k, v]) => `${k} ${f(v)}`)
      .join(', ');
    lines.push(
      `| ${SCENARIO[r.scenario] || r.scenario} | ${f(r.outputs.amps + r.outputs.control)} | ${f(r.commands)} | ${n('charge_start')} / ${n('charge_stop')} / ${f(n('set_charging_amps'))} | $${r.dollars.toFixed(3)} | $${(r.dollars * 30).toFixed(2)} | ${r.maxAmpsPerWindow} | ${answers} | ${f(r.solarKWh, 1)} / ${f(r.gridKWh, 2)} | ${r.fewerThanEach === null ? '—' : `${f(r.fewerThanEach * 100, 1)} %`} |`,
    );
  }
  lines.push('');
  const checks = t4.runs.map((r) => `${r.scenario}: ${r.check.consistent ? 'agrees' : `says ${r.check.meterCommands} commands`}`);
  lines.push(
    `Cross-check with the client's own meter — ${checks.join('; ')}. Wall time of the four runs: ${t4.runs.map((r) => `${(r.wallMs / 1000).toFixed(1)} s`).join(', ')}.`,
    '',
  );
  return lines.join('\n');
}

function stateSection(t4, cfg) {
  const lines = ['## 5. Car state', ''];
  const s = t4.store;
  if (s) {
    lines.push(
      `The \`telemetry-broker\`'s car state alone (\`bench/state.js\`): ${s.vins.toLocaleString('en-US')} VINs × ${s.fields} fields (table 2's fields and values, each a live message through the real decoder) in one \`CarState\`. Heap: \`heapUsed\` after \`global.gc()\` with the state held, less before. Write: \`StateFile.save()\` to the file system (temporary file + rename), wall time, and the longest the event loop was held meanwhile (gaps between \`setImmediate\` turns); as shipped the state is serialised ${s.sliceVins} VINs per turn, "in one go" serialises every VIN at once for comparison. Restore: \`StateFile.load()\` of that file into an empty state (it runs at start). Median of 5 writes and 5 restores per process, median of ${s.runs} processes.`,
      '',
      '| car state | heap | bytes per VIN | file | one write | longest event-loop block during it | write, in one go | block, in one go | restore |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      `| ${s.vins.toLocaleString('en-US')} VINs × ${s.fields} fields | ${f(s.heapMB, 1)} MB | ${f(s.bytesPerVin)} | ${f(s.fileMB, 1)} MB | ${f(s.writeMs, 0)} ms | ${f(s.maxBlockMs, 1)} ms (worst ${f(s.worstBlockMs, 1)} ms) | ${f(s.oneGoWriteMs, 0)} ms | ${f(s.oneGoMaxBlockMs, 1)} ms | ${f(s.restoreMs, 0)} ms |`,
      '',
    );
  }
  const l = t4.latency;
  if (l && Object.keys(l.rows).length) {
    lines.push(
      `Is a message held up while the state is written? Consumer (b) of table 1 (\`telemetry-in\` field mode in Node-RED) on ${l.broker}${l.version ? ` ${l.version}` : ''}, its broker node holding the car state of ${l.fill ? l.fill.vins.toLocaleString('en-US') : '—'} VINs × 20 fields (a ${l.fill ? f(l.fill.fileBytes / 1e6, 1) : '—'} MB file), receives records of those VINs at a steady ${l.rate.toLocaleString('en-US')} msg/s (${l.n.toLocaleString('en-US')} messages per run, publish → end of the flow, as table 1's p50 / p99). In the runs with a write, the state file is written back to back for the whole run — far more often than the shipped once per 30 s, so that most messages travel while a write is under way. The three variants interleaved, ${Math.max(...Object.values(l.rows).map((r) => r.runs))} rounds after a warm-up; median over the rounds. Load average (1 min) ${l.load[0].toFixed(2)} before, ${l.load[1].toFixed(2)} after.`,
      '',
      '| while the messages arrive | p50 ms | p99 ms | max ms | writes per run | one write | messages on their way during a write | p99 per run |',
      '|---|---:|---:|---:|---:|---:|---:|---|',
    );
    for (const r of Object.values(l.rows)) {
      lines.push(
        `| ${r.label} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${f(r.max, 1)} | ${r.writes ? f(r.writes) : '—'} | ${r.writeMs ? `${f(r.writeMs, 0)} ms` : '—'} | ${r.writes ? `${f(r.duringShare * 100)} %` : '—'} | ${r.allP99.map((x) => f(x, 2)).join(' / ')} |`,
      );
    }
    lines.push('');
  }
  if (t4.load)
    lines.push(
      `Load average (1 min) when the car state measurements started: ${t4.load[0].toFixed(2)}; after the heap, write and restore runs: ${t4.load[1].toFixed(2)}.`,
      '',
    );
  if (t4.errors.length) lines.push(`Errors: ${t4.errors.join('; ')}`, '');
  return lines.join('\n');
}

function profileSection(profiles) {
  if (!profiles.length) return '';
  const lines = [
    '## Profiles of missed targets',
    '',
    'Each consumer below was run once more under `node --cpu-prof` (250 µs sampling) for one full run after a warm-up; only the samples of the measured run are counted (self time). Profiling slows the process, so its CPU per message is higher than in table 1.',
    '',
  ];
  for (const p of profiles) {
    if (p.error) {
      lines.push(`- (${p.kind}) on ${p.broker}: profile failed: ${p.error}`);
      continue;
    }
    lines.push(`### ${LABELS[p.kind]} on ${p.broker}: ${f(p.cpuPerMsg, 1)} µs CPU per message while profiled`, '');
    lines.push(
      `By area: ${p.areas
        .filter((a) => a.share >= 0.005)
        .map((a) => `${a.area} ${(a.share * 100).toFixed(1)} %`)
        .join(', ')}.`,
      '',
    );
    lines.push('| self time | function | where |', '|---:|---|---|');
    for (const t of p.top) lines.push(`| ${(t.share * 100).toFixed(1)} % | \`${t.fn}\` | ${t.where || ''} |`);
    lines.push('');
  }
  return lines.join('\n');
}

function render(results) {
  const { cfg, machine: m } = results;
  const quick = cfg.messages !== 200_000 || cfg.rounds !== 3 || cfg.latencyMessages !== 2000;
  const parts = [
    '# Benchmarks',
    `Written by \`npm run bench\` (\`bench/run.js\`) in ${Math.round(results.durationS)} s; every figure below comes from that one run.${quick ? ` **Not the default settings** (${cfg.messages} messages, ${cfg.rounds} runs per figure).` : ''}`,
    [
      '## Reproduce',
      '',
      '```sh',
      'npm ci',
      'sudo apt-get install -y mosquitto   # optional: the Mosquitto half of table 1 (found at /usr/sbin/mosquitto)',
      `npm run bench                       # builds, then runs (${Math.max(1, Math.round(results.durationS / 60))} min here)`,
      '# quicker, less precise: BENCH_MESSAGES=20000 BENCH_ROUNDS=3 npm run bench',
      '```',
      '',
      'Only 127.0.0.1 is used. Each consumer, the publisher, the table-2, table-3 and table-4 measurements run in child processes; Mosquitto, when installed, is started on a free port with its own configuration and stopped at the end.',
    ].join('\n'),
    machineSection(m, cfg, results.throughput),
  ];
  if (results.targets.length) parts.push(targetsSection(results.targets));
  parts.push(results.throughput ? throughputSection(results.throughput, cfg) : '## 1. Throughput, CPU and latency\n\nNot run.');
  parts.push(hotpathSection(results.hotpath));
  parts.push(results.scale ? scaleSection(results.scale) : '## 2. Fleet scale\n\nNot run.');
  parts.push(results.cost ? costSection(results.cost) : '## 3. Fleet API cost\n\nNot run.');
  parts.push(results.solar ? solarSection(results.solar) : '## 4. Vehicle commands: a solar day through example 05\n\nNot run.');
  parts.push(results.state ? stateSection(results.state, cfg) : '## 5. Car state\n\nNot run.');
  parts.push(profileSection(results.profiles || []));
  const notesFile = path.join(__dirname, 'NOTES.md');
  if (fs.existsSync(notesFile)) parts.push(fs.readFileSync(notesFile, 'utf8'));
  return `${parts
    .map((p) => p.trim())
    .filter(Boolean)
    .join('\n\n')}\n`;
}

module.exports = { render, solarSection };
