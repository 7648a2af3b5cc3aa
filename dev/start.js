'use strict';
/**
 * `npm start`: a live Node-RED with our nodes, an embedded MQTT broker, simulated cars and a
 * local HTTPS double of the Fleet API + vehicle-command proxy. Everything on 127.0.0.1.
 *
 *   node dev/start.js [--port 1880] [--mqtt-port 1883] [--reset] [--seed N] [--quiet] [--cars-asleep]
 *   node dev/start.js --broker mqtt://host:1883 [--topic-base telemetry]   (a real broker: no simulator)
 *   node dev/start.js --help
 *
 * In-process (e.g. a browser test):
 *   const { start } = require('./dev/start');
 *   const h = await start({ port: 0, mqttPort: 0, userDir: tmpDir, quiet: true });
 *   // h.editorUrl, h.brokerUrl, h.fleetApi, h.sim, h.double, h.red ...
 *   await h.stop();
 * Node-RED's runtime can be initialised once per process: call start() once.
 *
 * Our package is loaded through `nodesDir` = the repository root (see dev/settings.js); the
 * FlowFuse Dashboard 2 devDependency (example 07's page, /dashboard) from node_modules.
 * On first start (no flows file in the user directory) the demo flow is written: the
 * examples, each on its own tab, and a "commands" tab (set the first simulated car's charge
 * limit; the answer shows verified: true once the car's stream shows it), sharing one broker
 * and one account config node that point at the embedded broker and the Fleet API double (and
 * one core mqtt-broker node, Home Assistant's broker in example 08, pointing at the embedded
 * broker too). On every later start those config nodes (fixed ids) are re-pointed at this run's
 * broker and double (new port, new certificate, a new refresh token); everything else in the
 * user's flows is left alone.
 */
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const net = require('node:net');
const crypto = require('node:crypto');
const { createFleetSimulator, DEMO_CARS } = require('./simulator');

const REPO = path.resolve(__dirname, '..');
const EXAMPLES_DIR = path.join(REPO, 'examples');
const PKG = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));

/** The dashboard package example 07 is built with (a devDependency: the demo serves /dashboard). */
const DASHBOARD_MODULE = '@flowfuse/node-red-dashboard';
/** Leaflet's browser files, served to the dashboard's map at this path (no internet needed). */
const LEAFLET_PATH = '/vendor/leaflet';
/** Dev only: the Fleet API double's command calls, as JSON (the browser test reads them). */
const DOUBLE_COMMANDS_PATH = '/dev/fleet-double/commands';

/** Fixed ids of the demo's config nodes, so later starts can re-point them. */
const DEMO_IDS = Object.freeze({ broker: 'de00000000000b01', account: 'de00000000000a01', mqttBroker: 'de00000000000c01' });
const DEV_CLIENT_ID = 'dev-client-id';
const DEFAULT_TOKEN_URL = 'https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/token';

// ---------------------------------------------------------------------------------------------
// small helpers

/** Listen on `port` or the next free one (up to 20 tries; port 0: any). Resolves with the port. */
function listenFree(server, port, host, tries = 20) {
  return new Promise((resolve, reject) => {
    let p = Number(port) || 0;
    let left = p === 0 ? 1 : tries;
    const attempt = () => {
      const onError = (err) => {
        server.removeListener('listening', onListening);
        if (err.code === 'EADDRINUSE' && --left > 0) {
          p++;
          attempt();
        } else {
          reject(err);
        }
      };
      const onListening = () => {
        server.removeListener('error', onError);
        resolve(server.address().port);
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(p, host);
    };
    attempt();
  });
}

/** Close a server and every socket it still holds. */
function closeServer(server, sockets) {
  return new Promise((resolve) => {
    if (!server || !server.listening) return resolve();
    server.close(() => resolve());
    if (typeof server.closeAllConnections === 'function') server.closeAllConnections();
    if (sockets) for (const s of sockets) s.destroy();
  });
}

function trackSockets(server) {
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

/** The folder of an installed package (resolved from the repository), or null. */
function packageDir(name) {
  try {
    return path.dirname(require.resolve(`${name}/package.json`, { paths: [REPO] }));
  } catch {
    return null;
  }
}

/** Dashboard 2 node types (ui-base, ui-page, ui-template, …). */
const isDashboardType = (type) => typeof type === 'string' && type.startsWith('ui-');

/** The path of the first dashboard (ui-base) in a flow, or null. */
function dashboardPath(nodes) {
  const base = nodes.find((n) => n.type === 'ui-base');
  return base ? base.path || '/dashboard' : null;
}

/** dev/fleet-double.js is written separately; start without it when it is missing. */
function loadFleetDouble() {
  const file = path.join(__dirname, 'fleet-double.js');
  if (!fs.existsSync(file)) return null;
  const mod = require(file);
  const fn = typeof mod === 'function' ? mod : mod.startFleetDouble;
  return typeof fn === 'function' ? fn : null;
}

/**
 * Commands the Fleet API double carries out (and wake-ups) show in the simulated car's
 * stream, as a real car's would. Returns a function that unlinks them.
 */
function linkCommands(double, sim, log = () => {}) {
  if (typeof double.onCommand !== 'function') return () => {};
  return double.onCommand((e) => {
    if (!sim.cars.has(e.vin)) return;
    sim.applyCommand(e.vin, e.name, e.body).catch((err) => log(`simulator: ${err.message}`));
  });
}

// ---------------------------------------------------------------------------------------------
// embedded MQTT broker

async function startEmbeddedBroker({ port = 1883, host = '127.0.0.1' } = {}) {
  const { Aedes } = require('aedes');
  const aedes = await Aedes.createBroker();
  const server = net.createServer(aedes.handle);
  const sockets = trackSockets(server);
  const actual = await listenFree(server, port, host);
  return {
    aedes,
    port: actual,
    url: `mqtt://${host}:${actual}`,
    async close() {
      await new Promise((resolve) => aedes.close(() => resolve()));
      await closeServer(server, sockets);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// flows: the demo, and re-pointing its config nodes

/** Node-RED's credential encryption (aes-256-ctr, key = sha256(credentialSecret)). */
function encryptCredentials(secret, creds) {
  const key = crypto.createHash('sha256').update(secret).digest();
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv('aes-256-ctr', key, iv);
  return { $: iv.toString('hex') + cipher.update(JSON.stringify(creds), 'utf8', 'base64') + cipher.final('base64') };
}

function decryptCredentials(secret, file) {
  if (!file || typeof file.$ !== 'string') return file || {};
  const key = crypto.createHash('sha256').update(secret).digest();
  const iv = Buffer.from(file.$.slice(0, 32), 'hex');
  const decipher = crypto.createDecipheriv('aes-256-ctr', key, iv);
  return JSON.parse(decipher.update(file.$.slice(32), 'base64', 'utf8') + decipher.final('utf8'));
}

/** The example files, in menu order: [{file, nodes}]. */
function readExamples(dir = EXAMPLES_DIR) {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, nodes: JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) }));
}

/** Replace old ids by new ones in a node's top-level string properties and (nested) arrays. */
function remapRefs(value, map) {
  if (typeof value === 'string') return map.has(value) ? map.get(value) : value;
  if (Array.isArray(value)) return value.map((v) => remapRefs(v, map));
  return value;
}

/**
 * The demo's broker. `persist`: its car state is kept in <userDir>/tesla-fleet-telemetry/
 * (`.node-red/` by default), so a second `npm start` shows the cars at once, with their ages.
 */
function demoBrokerNode({ brokerUrl, topicBase }) {
  return {
    id: DEMO_IDS.broker,
    type: 'telemetry-broker',
    name: 'demo broker',
    url: brokerUrl,
    topicBase,
    clientId: '',
    ca: '',
    sharedGroup: '',
    clean: true,
    reconnectPeriod: 5,
    persist: true,
  };
}

/** Host and port of Node-RED's core mqtt-broker node for a broker URL (example 08's Home Assistant broker). */
function mqttBrokerProps(brokerUrl) {
  const u = new URL(brokerUrl);
  return { broker: u.hostname, port: u.port || (u.protocol === 'mqtts:' ? '8883' : '1883'), usetls: u.protocol === 'mqtts:' };
}

/** In the demo, the Home Assistant broker is the demo broker: discovery shows beside the telemetry. */
function demoMqttBrokerNode(example, brokerUrl) {
  return { ...example, id: DEMO_IDS.mqttBroker, name: "demo broker (as Home Assistant's)", ...mqttBrokerProps(brokerUrl) };
}

function demoAccountProps(fleetApi) {
  return fleetApi
    ? { proxyUrl: fleetApi.proxyUrl, proxyCa: fleetApi.ca, tokenUrl: fleetApi.tokenUrl, fleetApiUrl: fleetApi.url }
    : { proxyUrl: '', proxyCa: '', tokenUrl: DEFAULT_TOKEN_URL, fleetApiUrl: '' };
}

function demoAccountNode(fleetApi) {
  return {
    id: DEMO_IDS.account,
    type: 'tesla-account',
    name: fleetApi ? 'demo account (Fleet API double)' : 'demo account',
    region: 'na',
    domain: 'fleet.example.com',
    ...demoAccountProps(fleetApi),
  };
}

/**
 * The demo's own tab (not an example): two injects set the first simulated car's charge limit
 * through a vehicle-command node; the double carries the command out, the simulator shows it in
 * the car's stream, and the debug sidebar shows the answer with verified: true. The node never
 * wakes the car: while the simulated car sleeps, the answer is `asleep`.
 */
function demoCommandsTab(vin) {
  const id = (name) => crypto.createHash('sha256').update(`demo:commands:${name}`).digest('hex').slice(0, 16);
  const tab = id('tab');
  const inject = (name, percent, y) => ({
    id: id(name),
    type: 'inject',
    z: tab,
    name,
    props: [{ p: 'payload' }],
    repeat: '',
    crontab: '',
    once: false,
    onceDelay: 0.1,
    topic: '',
    payload: String(percent),
    payloadType: 'num',
    x: 160,
    y,
    wires: [[id('limit')]],
  });
  return [
    { id: tab, type: 'tab', label: 'commands (demo)', disabled: false, info: 'A vehicle-command node and the simulated car.' },
    {
      id: id('about'),
      type: 'comment',
      z: tab,
      name: "Press a button: the debug sidebar shows the answer, verified: true once the car's stream shows it",
      info: `The Fleet API double carries the command out and the simulated car ${vin} shows the new ChargeLimitSoc in its stream. The node never wakes the car: while it sleeps (see the fleet dashboard) the answer is \`asleep\`. Its charge limit starts at 80 %, so the first press of 80 % is answered \`already\`, confirmed at once by the car state.`,
      x: 380,
      y: 40,
      wires: [],
    },
    inject('set charge limit 80 %', 80, 100),
    inject('set charge limit 90 %', 90, 140),
    {
      id: id('limit'),
      type: 'vehicle-command',
      z: tab,
      name: 'set charge limit',
      account: DEMO_IDS.account,
      broker: DEMO_IDS.broker,
      vins: vin,
      command: 'set_charge_limit',
      params: {},
      wake: 'never',
      allowUnlock: false,
      minInterval: 0,
      verify: 30,
      dailyBudget: 0,
      x: 420,
      y: 120,
      wires: [[id('answers')]],
    },
    {
      id: id('answers'),
      type: 'debug',
      z: tab,
      name: 'command answers',
      active: true,
      tosidebar: true,
      console: false,
      tostatus: true,
      complete: 'payload',
      targetType: 'msg',
      statusVal: 'payload.state',
      statusType: 'msg',
      x: 650,
      y: 120,
      wires: [],
    },
  ];
}

/**
 * The demo flow: every example on its own tab (ids derived from the example's, so importing
 * an example next to the demo never collides), their broker and account config nodes merged
 * into the two demo ones, and demo timings (stale after 1 min, poll every 30 s) so that the
 * fallback runs within the simulator's few-minute cycle; the commands tab (demoCommandsTab)
 * after them. Without a Fleet API (a real broker, or no double) the examples that need an
 * account, and the commands tab, are left out: they would only log errors. Without the
 * dashboard package (`dashboard: false`) the examples built with it are left out: a node type
 * Node-RED does not know keeps every flow from starting.
 */
function buildDemoFlow({
  brokerUrl,
  topicBase = 'telemetry',
  fleetApi = null,
  vins = [],
  staleAfter = 1,
  pollInterval = 0.5,
  dashboard = true,
  examples,
} = {}) {
  const out = [];
  let mqttBroker = null;
  for (const { file, nodes } of examples || readExamples()) {
    // Without an API to talk to, leave out the examples that need an account (import them later).
    if (!fleetApi && nodes.some((n) => n.type === 'tesla-account')) continue;
    if (!dashboard && nodes.some((n) => isDashboardType(n.type))) continue;
    const map = new Map();
    for (const n of nodes) {
      if (n.type === 'telemetry-broker') map.set(n.id, DEMO_IDS.broker);
      else if (n.type === 'tesla-account') map.set(n.id, DEMO_IDS.account);
      else if (n.type === 'mqtt-broker') map.set(n.id, DEMO_IDS.mqttBroker);
      else map.set(n.id, crypto.createHash('sha256').update(`demo:${file}:${n.id}`).digest('hex').slice(0, 16));
    }
    for (const n of nodes) {
      if (n.type === 'mqtt-broker') mqttBroker = mqttBroker || demoMqttBrokerNode(n, brokerUrl);
      if (n.type === 'telemetry-broker' || n.type === 'tesla-account' || n.type === 'mqtt-broker') continue;
      const copy = {};
      for (const [k, v] of Object.entries(n)) copy[k] = remapRefs(v, map);
      if (copy.type === 'telemetry-in') copy.staleAfter = staleAfter;
      if (copy.type === 'vehicle-data') {
        copy.staleAfter = staleAfter;
        copy.pollInterval = pollInterval;
      }
      if (copy.type === 'telemetry-config') {
        copy.vins = vins.join(',');
        // The double's CA as the server CA, for the nodes that talk to the API (usage needs none).
        if (fleetApi && copy.account) copy.ca = fleetApi.ca;
      }
      // Commands go to the first simulated car (the examples leave the VIN to the user).
      if (copy.type === 'vehicle-command' && !copy.vins && vins.length) copy.vins = vins[0];
      out.push(copy);
    }
  }
  if (fleetApi && vins.length) out.push(...demoCommandsTab(vins[0]));
  out.push(demoBrokerNode({ brokerUrl, topicBase }));
  if (fleetApi) out.push(demoAccountNode(fleetApi));
  if (mqttBroker) out.push(mqttBroker);
  return out;
}

function readJson(file, fallback) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if (err.code === 'ENOENT') return fallback;
    throw err;
  }
}

function writeFileAtomic(file, text) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: /_cred\.json$/.test(file) ? 0o600 : 0o644 });
  fs.renameSync(tmp, file);
}

/**
 * Write the demo flow on first start; otherwise re-point the demo's config nodes.
 * Returns {deployed: 'demo' | 'updated' | 'kept', flowFile}.
 */
function prepareFlows({ settings, brokerUrl, topicBase, fleetApi, credentials, vins, reset, dashboard = true, log }) {
  const userDir = settings.userDir;
  fs.mkdirSync(userDir, { recursive: true });
  const flowFile = path.join(userDir, settings.flowFile || 'flows.json');
  const credFile = flowFile.replace(/\.json$/, '') + '_cred.json';
  if (reset) {
    for (const f of [flowFile, credFile]) fs.rmSync(f, { force: true });
  }
  const secret = settings.credentialSecret;

  if (!fs.existsSync(flowFile)) {
    const flows = buildDemoFlow({ brokerUrl, topicBase, fleetApi, vins, dashboard });
    writeFileAtomic(flowFile, JSON.stringify(flows, null, 4));
    const creds = credentials ? { [DEMO_IDS.account]: credentials } : {};
    writeFileAtomic(credFile, JSON.stringify(encryptCredentials(secret, creds), null, 4));
    return { deployed: 'demo', flowFile };
  }

  const raw = readJson(flowFile, []);
  const flows = Array.isArray(raw) ? raw : raw.flows || [];
  let changed = false;
  const set = (node, props) => {
    for (const [k, v] of Object.entries(props)) {
      if (node[k] !== v) {
        node[k] = v;
        changed = true;
      }
    }
  };
  const acct = flows.find((n) => n.id === DEMO_IDS.account && n.type === 'tesla-account');
  const brk = flows.find((n) => n.id === DEMO_IDS.broker && n.type === 'telemetry-broker');
  if (brk) set(brk, { url: brokerUrl, topicBase });
  const mqttBrk = flows.find((n) => n.id === DEMO_IDS.mqttBroker && n.type === 'mqtt-broker');
  if (mqttBrk) set(mqttBrk, mqttBrokerProps(brokerUrl));
  if (acct && fleetApi) {
    const oldCa = acct.proxyCa;
    set(acct, demoAccountProps(fleetApi));
    // telemetry-config nodes of the demo carried the double's CA as the server CA
    for (const n of flows) {
      if (n.type === 'telemetry-config' && n.account === DEMO_IDS.account && oldCa && n.ca === oldCa) set(n, { ca: fleetApi.ca });
    }
  }
  if (changed) {
    writeFileAtomic(flowFile, JSON.stringify(Array.isArray(raw) ? flows : { ...raw, flows }, null, 4));
  }
  if (!acct && fleetApi && brk) {
    log('note: the flows were written without the Fleet API double (real broker); `npm start -- --reset` writes the full demo');
  }
  if (acct && credentials) {
    let creds = {};
    try {
      creds = decryptCredentials(secret, readJson(credFile, {}));
    } catch (err) {
      log(`note: ${path.basename(credFile)} cannot be decrypted with dev/settings.js's credentialSecret; demo account credentials not updated`);
      return { deployed: changed ? 'updated' : 'kept', flowFile };
    }
    creds[DEMO_IDS.account] = { ...(creds[DEMO_IDS.account] || {}), ...credentials };
    writeFileAtomic(credFile, JSON.stringify(encryptCredentials(secret, creds), null, 4));
    changed = true;
  }
  return { deployed: changed ? 'updated' : 'kept', flowFile };
}

// ---------------------------------------------------------------------------------------------
// start

/**
 * Start everything. options:
 *   port 1880 (editor; next free one if taken; 0 = any), host '127.0.0.1', mqttPort 1883 (0 = any)
 *   broker     URL of a real broker: no embedded broker, no simulator, no Fleet API double
 *   topicBase  'telemetry'
 *   userDir    Node-RED user directory (default <repo>/.node-red)
 *   reset      remove flows.json/flows_cred.json first (the demo is written again)
 *   seed, preset ('demo' | 'realistic'), cars   for the simulator
 *   carsAsleep the simulated cars stay asleep: nothing streams (the Fleet API double says asleep),
 *              so /fleet shows what the demo's broker saved in the last run
 *   fleetApi   false: no Fleet API double
 *   quiet      Node-RED logs warnings only; log: function for our own lines (default console.log)
 *   settings   extra Node-RED settings (merged over dev/settings.js)
 * Resolves with {editorUrl, dashboardUrl (null when the flows have no dashboard), tableUrl,
 * usageUrl, brokerUrl, topicBase, fleetApi, userDir, flowFile, deployed, vins, sim, double,
 * broker, red, server, settings, types: {loaded, missing}, dashboard: {module, loaded}, stop()}.
 */
async function start(options = {}) {
  const log = options.log || ((...a) => console.log(...a));
  const host = options.host || '127.0.0.1';
  const topicBase = options.topicBase === undefined ? 'telemetry' : String(options.topicBase);
  const external = options.broker || null;
  const handles = { topicBase, sim: null, double: null, broker: null, red: null, server: null, fleetApi: null, vins: [] };
  const cleanups = [];
  let stopping = null;

  const stop = () => {
    if (stopping) return stopping;
    stopping = (async () => {
      for (const fn of cleanups.reverse()) {
        try {
          await fn();
        } catch (err) {
          log(`stop: ${err.message}`);
        }
      }
    })();
    return stopping;
  };
  handles.stop = stop;

  try {
    // 1. broker
    let brokerUrl = external;
    if (!external) {
      handles.broker = await startEmbeddedBroker({ port: options.mqttPort === undefined ? 1883 : options.mqttPort, host });
      cleanups.push(() => handles.broker.close());
      brokerUrl = handles.broker.url;
    }
    handles.brokerUrl = brokerUrl;

    // 2. simulator (created now, started after the double mirrors it)
    let sim = null;
    if (!external && options.simulator !== false) {
      sim = createFleetSimulator({
        url: brokerUrl,
        topicBase,
        seed: options.seed,
        preset: options.preset || 'demo',
        cars: options.cars || DEMO_CARS,
        onError: (err) => log(`simulator: ${err.message}`),
      });
      handles.sim = sim;
      handles.vins = sim.vins();
    }

    // 3. Fleet API double, mirroring the simulated cars' state
    let credentials = null;
    if (sim && options.fleetApi !== false) {
      const startFleetDouble = loadFleetDouble();
      if (!startFleetDouble) {
        log('note: dev/fleet-double.js not found: starting without the Fleet API double (vehicle-data and telemetry-config cannot reach an API)');
      } else {
        // A fresh refresh token each run: the deployed token differs from last run's, so the
        // account node does not reuse a token it rotated with the previous double.
        const refreshToken = `dev-rt-${crypto.randomBytes(9).toString('hex')}`;
        const vehicles = {};
        for (const vin of sim.vins()) {
          const st = sim.carState(vin);
          vehicles[vin] = { state: 'asleep', displayName: st.name, data: st.data, autoSync: true };
        }
        let d = null;
        try {
          d = await startFleetDouble({ port: 0, host, clientId: DEV_CLIENT_ID, refreshToken, vehicles });
        } catch (e) {
          // Its HTTPS certificate comes from openssl: without it the demo runs on, minus the API.
          log(`note: the Fleet API double did not start: ${e.message}`);
          log('note: starting without it (vehicle-data and telemetry-config cannot reach an API)');
        }
        if (d) {
          handles.double = d;
          cleanups.push(() => d.close());
          handles.fleetApi = {
            url: d.url,
            proxyUrl: d.proxyUrl || `${d.url}/proxy`,
            tokenUrl: d.tokenUrl || `${d.url}/oauth2/v3/token`,
            ca: d.ca,
          };
          credentials = { clientId: DEV_CLIENT_ID, refreshToken };
          const unmirror = sim.onState((st) => {
            d.setVehicle(st.vin, { state: st.online ? 'online' : 'asleep', data: st.data, displayName: st.name });
          });
          cleanups.push(() => unmirror());
          cleanups.push(linkCommands(d, sim, log));
        }
      }
    }

    handles.carsAsleep = !!(sim && options.carsAsleep);

    // 4. Node-RED settings and flows
    const settings = { ...require('./settings'), ...(options.settings || {}) };
    settings.uiHost = host;
    if (options.userDir) settings.userDir = path.resolve(options.userDir);
    if (options.quiet) settings.logging = { console: { level: 'warn', metrics: false, audit: false } };
    // Dashboard 2 (example 07) is found in the repository's node_modules beside Node-RED. With
    // another Node-RED install (NODE_RED_MODULE) that walk misses it: name its folder instead.
    const dashboardDir = packageDir(DASHBOARD_MODULE);
    if (!dashboardDir) log(`note: ${DASHBOARD_MODULE} is not installed: the demo runs without example 07's dashboard (npm install)`);
    else if (process.env.NODE_RED_MODULE) settings.nodesDir = [...[].concat(settings.nodesDir || []), dashboardDir];
    const missingBuild = Object.entries((PKG['node-red'] && PKG['node-red'].nodes) || {})
      .filter(([, file]) => !fs.existsSync(path.join(REPO, file)))
      .map(([type]) => type);
    if (missingBuild.length) log(`note: not built yet: ${missingBuild.join(', ')} (run \`npm run build\`)`);

    const prepared = prepareFlows({
      settings,
      brokerUrl,
      topicBase,
      fleetApi: handles.fleetApi,
      credentials,
      vins: handles.vins,
      reset: !!options.reset,
      dashboard: !!dashboardDir,
      log,
    });
    handles.userDir = settings.userDir;
    handles.flowFile = prepared.flowFile;
    handles.deployed = prepared.deployed;
    const written = readJson(prepared.flowFile, []);
    const uiPath = dashboardDir ? dashboardPath(Array.isArray(written) ? written : written.flows || []) : null;

    // 5. Node-RED, embedded
    // NODE_RED_MODULE: another Node-RED install (.ci/run's Node 22 / Node-RED 5 run).
    const redModule = process.env.NODE_RED_MODULE || require.resolve('node-red');
    const RED = require(redModule);
    const express = require(require.resolve('express', { paths: [path.dirname(redModule)] }));
    const app = express();
    const server = http.createServer(app);
    // The dashboard's map loads Leaflet from here first (a CDN is its fallback for other installs).
    const leafletDir = packageDir('leaflet');
    if (leafletDir) app.use(LEAFLET_PATH, express.static(path.join(leafletDir, 'dist'), { index: false }));
    if (handles.double) {
      const calls = handles.double.calls;
      app.get(DOUBLE_COMMANDS_PATH, (req, res) => {
        // Records hold no token values (the double redacts them); commands only.
        res.json(
          calls
            .filter((c) => /\/command\/[^/]+$/.test(c.path))
            .map((c) => ({
              at: c.at,
              method: c.method,
              path: c.path,
              vin: (/\/vehicles\/([^/]+)\//.exec(c.path) || [])[1] || null,
              command: c.path.split('/').pop(),
              body: c.body,
              status: c.status,
            })),
        );
      });
    }
    const sockets = trackSockets(server);
    settings.uiPort = options.port === undefined ? settings.uiPort || 1880 : options.port;
    RED.init(server, settings);
    app.use(settings.httpAdminRoot, RED.httpAdmin);
    app.use(settings.httpNodeRoot, RED.httpNode);
    const port = await listenFree(server, settings.uiPort, host);
    handles.server = server;
    handles.red = RED;
    handles.settings = settings;
    cleanups.push(() => closeServer(server, sockets));
    await RED.start();
    cleanups.push(() => RED.stop());
    // The simulated cars start once the demo's broker node has subscribed: their first records
    // then arrive live, after the car state saved by the last run was restored (a restart shows
    // every car at once with its saved values and their ages, then the new values).
    if (sim && !options.carsAsleep) {
      await demoBrokerSubscribed(RED, 10000);
      await sim.start();
      cleanups.push(() => sim.stop());
    }
    handles.editorUrl = `http://${host}:${port}/`;
    handles.tableUrl = `http://${host}:${port}/fleet`;
    handles.dashboardUrl = uiPath ? `http://${host}:${port}${uiPath}` : null;
    handles.usageUrl = `http://${host}:${port}/telemetry-usage`;

    // 6. did our node types load?
    const expected = Object.keys((PKG['node-red'] && PKG['node-red'].nodes) || {});
    const list = await RED.runtime.nodes.getNodeList({});
    const loaded = new Set();
    const errors = [];
    for (const set of list) {
      if (set.module !== PKG.name) continue;
      if (set.err) errors.push(`${set.name}: ${set.err}`);
      else if (set.enabled !== false) for (const t of set.types || []) loaded.add(t);
    }
    handles.types = { loaded: [...loaded], missing: expected.filter((t) => !loaded.has(t)), errors };
    handles.dashboard = {
      module: DASHBOARD_MODULE,
      loaded: list.some((set) => set.module === DASHBOARD_MODULE && !set.err && set.enabled !== false),
    };
    return handles;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Resolves once the demo's telemetry-broker has its subscriptions granted, or after `ms` (a user's own flows may not use it). */
function demoBrokerSubscribed(RED, ms) {
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      done = true;
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    const check = () => {
      if (done) return;
      const conn = RED.nodes.getNode(DEMO_IDS.broker)?.connection;
      if (!conn) return void setTimeout(check, 50);
      if (conn.state === 'connected') return finish();
      conn.once('state', check);
    };
    check();
  });
}

function printSummary(h, log = console.log) {
  const lines = ['', 'Tesla Fleet Telemetry for Node-RED: dev setup', `  Node-RED editor    ${h.editorUrl}`];
  if (h.dashboardUrl)
    lines.push(`  Fleet dashboard    ${h.dashboardUrl}  (example 07${h.dashboard.loaded ? '' : `; WARNING: ${h.dashboard.module} not loaded`})`);
  if (h.sim) lines.push(`  Fleet table        ${h.tableUrl}  (example 01)`);
  lines.push(`  Streaming cost     ${h.usageUrl}  (example 06)`);
  if (h.double) lines.push(`  Command log        ${h.editorUrl.replace(/\/$/, '')}${DOUBLE_COMMANDS_PATH}  (the double's command calls, JSON)`);
  lines.push(`  MQTT broker        ${h.brokerUrl}${h.broker ? '  (embedded aedes)' : '  (external)'}, topic base "${h.topicBase}"`);
  if (h.fleetApi) lines.push(`  Fleet API double   ${h.fleetApi.url}  (proxy ${h.fleetApi.proxyUrl}, self-signed CA made at start)`);
  if (h.sim) {
    for (const vin of h.sim.vins()) {
      const st = h.sim.carState(vin);
      const car = h.sim.cars.get(vin);
      const kind = car.spec.dropsStream ? 'typed, stream drops while online' : st.typed ? 'typed values' : 'legacy string values';
      lines.push(`  Simulated car      ${vin}  ${st.name} (${kind})${h.carsAsleep ? ', asleep' : ''}`);
    }
  } else {
    lines.push('  Simulator          off (real broker)');
  }
  const flowsNote = { demo: 'demo flow written (first start)', updated: 'demo config nodes re-pointed at this run', kept: 'kept as is' }[h.deployed];
  lines.push(`  Flows              ${path.relative(process.cwd(), h.flowFile) || h.flowFile}: ${flowsNote}; --reset writes the demo again`);
  if (h.carsAsleep) lines.push('  Cars asleep        nothing streams: /fleet shows the car state saved by the last run, with its ages');
  if (h.types.missing.length) {
    lines.push(`  WARNING            node types not loaded: ${h.types.missing.join(', ')}`);
    for (const e of h.types.errors) lines.push(`                     ${e}`);
  } else {
    lines.push(`  Node types         ${h.types.loaded.join(', ')}`);
  }
  lines.push('', 'Press Ctrl-C to stop.', '');
  log(lines.join('\n'));
}

// ---------------------------------------------------------------------------------------------
// CLI

const HELP = `usage: npm start -- [options]

  --port N            editor port (default 1880, or the next free one)
  --mqtt-port N       embedded broker port (default 1883, or the next free one)
  --broker URL        use a real broker (e.g. mqtt://192.168.1.2:1883): no embedded broker,
                      no simulator, no Fleet API double
  --topic-base S      topic base (default telemetry)
  --user-dir DIR      Node-RED user directory (default .node-red in the repository)
  --reset             forget the flows in the user directory and write the demo again
  --seed N            simulator seed (default: random)
  --preset P          simulator pace: demo (default) or realistic
  --no-fleet-api      do not start the Fleet API double
  --cars-asleep       the simulated cars stay asleep: nothing streams, so /fleet shows the car
                      state the demo's broker saved in the last run (with each value's age)
  --quiet             Node-RED logs warnings and errors only
  --open              open the editor in the default browser (--no-open, the default, does not)
  -h, --help          this text
`;

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    const int = () => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag}: not a port: ${v}`);
      return n;
    };
    switch (flag) {
      case '--port':
        o.port = int();
        break;
      case '--mqtt-port':
        o.mqttPort = int();
        break;
      case '--broker':
        o.broker = value();
        break;
      case '--topic-base':
        o.topicBase = value();
        break;
      case '--user-dir':
        o.userDir = value();
        break;
      case '--reset':
        o.reset = true;
        break;
      case '--seed':
        o.seed = value();
        break;
      case '--preset':
        o.preset = value();
        break;
      case '--no-fleet-api':
        o.fleetApi = false;
        break;
      case '--cars-asleep':
        o.carsAsleep = true;
        break;
      case '--quiet':
        o.quiet = true;
        break;
      case '--open':
        o.open = true;
        break;
      case '--no-open':
        o.open = false;
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  if (o.broker && !/^(mqtts?|wss?|tcp|ssl):\/\//.test(o.broker)) o.broker = `mqtt://${o.broker}`;
  return o;
}

function openBrowser(url) {
  const { spawn } = require('node:child_process');
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'cmd' : 'xdg-open';
  const args = process.platform === 'win32' ? ['/c', 'start', '', url] : [url];
  try {
    spawn(cmd, args, { stdio: 'ignore', detached: true })
      .on('error', () => {})
      .unref();
  } catch {
    /* no browser: the URL is printed anyway */
  }
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`${err.message}\n\n${HELP}`);
    process.exit(2);
  }
  if (opts.help) {
    console.log(HELP);
    return;
  }
  let handles;
  try {
    handles = await start(opts);
  } catch (err) {
    console.error(`npm start failed: ${err.stack || err.message}`);
    process.exit(1);
  }
  printSummary(handles);
  if (opts.open) openBrowser(handles.editorUrl);

  let signalled = false;
  const shutdown = (sig) => {
    if (signalled) {
      console.error(`${sig} again: exiting now`);
      process.exit(1);
    }
    signalled = true;
    console.log(`\n${sig}: stopping Node-RED, the simulator, the broker and the Fleet API double…`);
    const watchdog = setTimeout(() => {
      console.error('stop took more than 10 s: exiting');
      process.exit(1);
    }, 10000);
    watchdog.unref();
    handles.stop().then(
      () => {
        console.log('stopped.');
        process.exit(0);
      },
      (err) => {
        console.error(`stop failed: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

module.exports = {
  start,
  linkCommands,
  buildDemoFlow,
  demoCommandsTab,
  readExamples,
  prepareFlows,
  parseArgs,
  printSummary,
  startEmbeddedBroker,
  DEMO_IDS,
  encryptCredentials,
  decryptCredentials,
  DOUBLE_COMMANDS_PATH,
  LEAFLET_PATH,
};

if (require.main === module) main();
