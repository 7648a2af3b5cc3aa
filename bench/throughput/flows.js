'use strict';
// The Node-RED flows of the throughput benchmark, one per consumer kind (b–e).

/** What a user writes to normalise Fleet Telemetry by hand in a function node (consumer d). */
const HAND_NORMALISE = `// topic: <base>/<VIN>/v/<Field>; payload: already JSON-parsed by the json node
const parts = msg.topic.split('/');
const field = parts[parts.length - 1];
const vin = parts[parts.length - 3];
let v = msg.payload;
if (typeof v === 'string') {
    if (/^[+-]?\\d+(\\.\\d+)?([eE][+-]?\\d+)?$/.test(v)) {
        v = Number(v); // legacy cars send numbers as strings
    } else if (v === 'true' || v === 'false') {
        v = v === 'true';
    } else {
        // typed cars send full enum names: strip the prefixes we care about
        const prefixes = ['DetailedChargeState', 'ShiftState', 'ChargePortLatch', 'SentryModeState',
            'HvacPowerState', 'ClimateKeeperModeState', 'WindowState', 'CableType', 'FastCharger'];
        for (const p of prefixes) {
            if (v.length > p.length && v.startsWith(p)) { v = v.slice(p.length); break; }
        }
    }
}
msg.vin = vin;
msg.field = field;
msg.topic = vin + '/' + field;
msg.payload = v;
return msg;`;

const TAB = { id: 'bench-tab', type: 'tab', label: 'bench' };
const SINK = { id: 'bench-sink', type: 'bench-sink', z: 'bench-tab', wires: [] };

function mqttBroker(port) {
  return {
    id: 'bench-mqtt-broker',
    type: 'mqtt-broker',
    name: 'bench',
    broker: '127.0.0.1',
    port: String(port),
    clientid: '',
    autoConnect: true,
    usetls: false,
    protocolVersion: '4',
    keepalive: '60',
    cleansession: true,
    autoUnsubscribe: true,
    birthTopic: '',
    closeTopic: '',
    willTopic: '',
  };
}

function mqttIn(base, datatype, wires) {
  return {
    id: 'bench-mqtt-in',
    type: 'mqtt in',
    z: 'bench-tab',
    name: '',
    topic: `${base}/+/v/+`,
    qos: '1',
    datatype,
    broker: 'bench-mqtt-broker',
    nl: false,
    rap: true,
    rh: 0,
    inputs: 0,
    wires: [wires],
  };
}

/** Flow nodes (those on the tab) need a position, or the runtime takes them for config nodes. */
function placed(nodes) {
  return nodes.map((n, i) => (n.z ? { x: 100 + 150 * i, y: 100, ...n } : n));
}

/** kind: b (telemetry-in field), c (telemetry-in vehicle), d (mqtt in → json → function), e (mqtt in). */
function flowFor(kind, opts) {
  return placed(nodesFor(kind, opts));
}

function nodesFor(kind, { url, port, base, quietMs = 250 }) {
  switch (kind) {
    case 'b':
    case 'c':
      return [
        TAB,
        // persist: the car state is kept and saved to the consumer's user directory every 30 s, as shipped
        {
          id: 'bench-tbroker',
          type: 'telemetry-broker',
          name: 'bench',
          url,
          topicBase: base,
          clientId: '',
          ca: '',
          sharedGroup: '',
          clean: true,
          reconnectPeriod: 5,
          persist: true,
        },
        {
          id: 'bench-tin',
          type: 'telemetry-in',
          z: 'bench-tab',
          name: '',
          broker: 'bench-tbroker',
          vins: '',
          fields: '',
          mode: kind === 'c' ? 'vehicle' : 'field',
          staleAfter: 60,
          retained: 'flag',
          quietTime: quietMs,
          wires: [['bench-sink'], [], []],
        },
        SINK,
      ];
    case 'd':
      return [
        TAB,
        mqttBroker(port),
        mqttIn(base, 'utf8', ['bench-json']),
        { id: 'bench-json', type: 'json', z: 'bench-tab', name: '', property: 'payload', action: '', pretty: false, wires: [['bench-fn']] },
        {
          id: 'bench-fn',
          type: 'function',
          z: 'bench-tab',
          name: 'normalise',
          func: HAND_NORMALISE,
          outputs: 1,
          timeout: 0,
          noerr: 0,
          initialize: '',
          finalize: '',
          libs: [],
          wires: [['bench-sink']],
        },
        SINK,
      ];
    case 'e':
      return [TAB, mqttBroker(port), mqttIn(base, 'buffer', ['bench-sink']), SINK];
    default:
      throw new Error(`no flow for consumer ${kind}`);
  }
}

module.exports = { flowFor, HAND_NORMALISE };
