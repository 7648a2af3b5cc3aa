'use strict';
const { lib } = require('../support/paths');
// telemetry-broker over mqtts, ws and wss, with logins and client certificates, against a real
// Mosquitto started here with its own configuration and openssl-made certificates; the TLS
// options come from Node-RED's core tls-config node. Failures: a red status naming the cause,
// one warning per cause, retries at the reconnect period (counted in Mosquitto's log), never a
// password in a log line, a status or a message.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const tls = require('node:tls');
const { startMosquitto, mosquittoPath, freePort, setPassword } = require('../support/mosquitto');
const { makePki, encryptKey, opensslPath } = require('../support/certs');
const { publisher } = require('../support/broker');
const { helper, nodeModules, collector, connected, warnings } = require('../support/red');
const { BrokerConnection, checkSettings } = lib('stream/broker-connection');

const USER = 'telemetry';
const PASSWORD = 'pw-Correct-7f3a9';
const WRONG_PASSWORD = 'pw-Wrong-c41d2';
const PERIOD_S = 0.5;
const PERIOD = PERIOD_S * 1000;

/** Node-RED's core tls-config node, from the Node-RED in use (NODE_RED_MODULE for the compatibility run). */
function coreTlsNode() {
  const from = path.dirname(process.env.NODE_RED_MODULE || require.resolve('node-red'));
  return require(require.resolve('@node-red/nodes/core/network/05-tls.js', { paths: [from] }));
}

/** A tls-config node as the editor saves it: PEM inline (credentials) or as file paths. */
function tlsNode({ ca = '', cert = '', key = '', passphrase, files = false, verify = true, servername = '', alpn = '' } = {}) {
  const node = {
    id: 'tls1',
    type: 'tls-config',
    name: 'test tls',
    cert: files ? cert : '',
    key: files ? key : '',
    ca: files ? ca : '',
    certname: '',
    keyname: '',
    caname: '',
    servername,
    alpnprotocol: alpn,
    verifyservercert: verify,
  };
  const credentials = files ? {} : { cadata: ca, certdata: cert, keydata: key };
  if (passphrase) credentials.passphrase = passphrase;
  return { node, credentials };
}

/** A broker config, a telemetry-in on it and its three outputs; `tls` from tlsNode(). */
function flow({ url, tls: t, broker = {}, login }) {
  const nodes = [{ id: 'tab1', type: 'tab', label: 'tls' }];
  const credentials = {};
  if (t) {
    nodes.push(t.node);
    credentials.tls1 = t.credentials;
  }
  nodes.push(
    { id: 'b1', type: 'telemetry-broker', url, topicBase: 'telemetry', tls: t ? 'tls1' : '', reconnectPeriod: PERIOD_S, ...broker },
    {
      id: 'in1',
      z: 'tab1',
      type: 'telemetry-in',
      broker: 'b1',
      vins: '',
      fields: '',
      mode: 'field',
      staleAfter: 60,
      retained: 'flag',
      wires: [['o1'], ['o2'], ['o3']],
    },
    { id: 'o1', z: 'tab1', type: 'helper' },
    { id: 'o2', z: 'tab1', type: 'helper' },
    { id: 'o3', z: 'tab1', type: 'helper' },
  );
  if (login) credentials.b1 = login;
  return { nodes, credentials };
}

async function load(spec) {
  const { nodes, credentials } = flow(spec);
  await helper.load([coreTlsNode(), ...nodeModules('telemetry-broker', 'telemetry-in')], nodes, credentials);
  return {
    conn: helper.getNode('b1').connection,
    out: collector(helper.getNode('o1')),
    o3: collector(helper.getNode('o3')),
  };
}

/** Every status a node has shown (the helper spies on Node.prototype.status). */
function statuses(id) {
  return helper._NodePrototype.status
    .getCalls()
    .filter((c) => c.thisValue && c.thisValue.id === id)
    .map((c) => c.args[0]);
}

/** Resolves with the first status of node `id` matching `pred`, shown already or to come. */
function statusSeen(id, pred) {
  const hit = statuses(id).find(pred);
  if (hit) return Promise.resolve(hit);
  const node = helper.getNode(id);
  return new Promise((resolve) => {
    const on = (call) => {
      if (!pred(call.args[0])) return;
      node.off('call:status', on);
      resolve(call.args[0]);
    };
    node.on('call:status', on);
  });
}

const red = (text) => (s) => s.fill === 'red' && s.text === `disconnected: ${text}`;
const green = (s) => s.fill === 'green';

/** Resolves once the connection has failed `n` attempts in all. */
function failedAttempts(conn, n) {
  return new Promise((resolve) => {
    if (conn.stats.failures >= n) return resolve();
    const on = () => {
      if (conn.stats.failures < n) return;
      conn.off('attempt-failed', on);
      resolve();
    };
    conn.on('attempt-failed', on);
  });
}

/** Resolves with the first `n` Mosquitto log lines matching `re` that arrived at or after `since`. */
async function brokerLines(mosq, re, n, since) {
  while (mosq.lines(re, since).length < n) await mosq.nextLine(re);
  return mosq.lines(re, since).slice(0, n);
}

/** Attempts at times `at` (ms) are never closer than the period: N attempts over T ms ≤ T/period + 1. */
function assertPaced(at, what) {
  const span = at[at.length - 1] - at[0];
  assert.ok(at.length <= span / (PERIOD * 0.95) + 1, `${what}: ${at.length} attempts in ${span} ms with a ${PERIOD} ms period`);
  for (let i = 1; i < at.length; i++) assert.ok(at[i] - at[i - 1] >= PERIOD * 0.9, `${what}: attempts ${at[i] - at[i - 1]} ms apart`);
}

/** Every text a user could see: log entries, statuses, messages out of the test nodes. */
function everyText(...collectors) {
  const show = (v) => (typeof v === 'string' ? v : JSON.stringify(v));
  return [
    ...helper.log().args.map((a) => show(a[0] && a[0].msg !== undefined ? a[0].msg : a[0])),
    ...helper._NodePrototype.status.args.map((a) => show(a[0])),
    ...helper._NodePrototype.send.args.map((a) => show(a[0])),
    ...helper._NodePrototype.warn.args.map((a) => show(a[0])),
    ...helper._NodePrototype.error.args.map((a) => show(a[0])),
    ...collectors.flatMap((c) => c.received.map(show)),
  ].join('\n');
}

describe('telemetry-broker: TLS, logins and websockets against Mosquitto', function () {
  this.timeout(30000);
  let pki;
  let mosq;
  let passwordFile;
  let serverTls;
  let pub;

  before(async function () {
    if (!mosquittoPath() || !opensslPath()) {
      if (process.env.CI) throw new Error('mosquitto and openssl must be installed: .ci/run installs them');
      this.skip();
    }
    pki = makePki();
    passwordFile = path.join(pki.dir, 'passwords');
    setPassword(passwordFile, USER, PASSWORD);
    serverTls = { cafile: pki.ca.certFile, certfile: pki.server.certFile, keyfile: pki.server.keyFile };
    mosq = await startMosquitto({
      dir: pki.dir,
      logAll: true,
      listeners: [
        { name: 'tls', tls: serverTls, passwordFile },
        { name: 'mtls', tls: { ...serverTls, requireCertificate: true } },
        { name: 'ws', websockets: true, passwordFile },
        { name: 'wss', websockets: true, tls: serverTls, passwordFile },
      ],
    });
    await new Promise((r) => helper.startServer(r));
  });

  after(async function () {
    if (mosq) await mosq.stop();
    pki?.remove();
    await new Promise((r) => helper.stopServer(r));
  });

  afterEach(async function () {
    await pub?.end();
    pub = null;
    await helper.unload();
  });

  /** A telemetry message published over `url`, received by telemetry-in. */
  async function roundTrip(url, opts, out, value) {
    pub = await publisher(url, opts);
    await pub.publish('telemetry/5YJ3TLS0000000001/v/BatteryLevel', String(value));
    const msg = await out.next((m) => m.payload === value);
    assert.equal(msg.vin, '5YJ3TLS0000000001');
    assert.equal(msg.field, 'BatteryLevel');
  }

  describe('connects', function () {
    it('mqtts with a password, the CA from a tls-config node: messages arrive, the status is green without a TLS warning', async function () {
      const { out } = await load({ url: mosq.urls.tls, tls: tlsNode({ ca: pki.ca.cert }), login: { username: USER, password: PASSWORD } });
      const conn = await connected('b1');
      assert.equal(conn.tlsUnverified, false);
      await roundTrip(mosq.urls.tls, { ca: pki.ca.cert, username: USER, password: PASSWORD }, out, 71);
      const st = await statusSeen('in1', (s) => s.fill === 'green' && /live/.test(s.text));
      assert.doesNotMatch(st.text, /TLS/);
      assert.deepEqual(warnings('telemetry-broker'), []);
      assert.ok(mosq.lines(new RegExp(`New client connected from .* \\(p2, c1, k60, u'${USER}'\\)`)).length >= 1);
    });

    it('mqtts with only the broker ca field: that PEM is trusted in addition to the system roots', async function () {
      const { out } = await load({ url: mosq.urls.tls, broker: { ca: pki.ca.cert }, login: { username: USER, password: PASSWORD } });
      const conn = await connected('b1');
      await roundTrip(mosq.urls.tls, { ca: pki.ca.cert, username: USER, password: PASSWORD }, out, 72);
      const ca = conn.options().ca;
      assert.equal(ca.length, tls.rootCertificates.length + 1, 'every system root and the PEM');
      assert.equal(ca[ca.length - 1], pki.ca.cert.trim());
      assert.equal(conn.options().rejectUnauthorized, true);
    });

    it('mqtts with a client certificate (tls-config with file paths) on a listener that requires one', async function () {
      const t = tlsNode({ ca: pki.ca.certFile, cert: pki.client.certFile, key: pki.client.keyFile, files: true });
      const { out } = await load({ url: mosq.urls.mtls, tls: t, broker: { clientId: 'nr-mtls' } });
      await connected('b1');
      assert.ok(mosq.lines(/New client connected from .* as nr-mtls /).length >= 1);
      await roundTrip(mosq.urls.mtls, { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key }, out, 73);
    });

    it('mqtts with a client key protected by a passphrase', async function () {
      const passphrase = 'key-Passphrase-19';
      const t = tlsNode({ ca: pki.ca.cert, cert: pki.client.cert, key: encryptKey(pki.client.key, passphrase), passphrase });
      await load({ url: mosq.urls.mtls, tls: t });
      await connected('b1');
      assert.ok(!everyText().includes(passphrase), 'the passphrase is in no text');
    });

    it('ws with a password', async function () {
      const { out } = await load({ url: mosq.urls.ws, login: { username: USER, password: PASSWORD } });
      await connected('b1');
      await roundTrip(mosq.urls.ws, { username: USER, password: PASSWORD }, out, 74);
    });

    it('wss with a password and the CA from tls-config (servername and ALPN passed to the websocket client too)', async function () {
      const t = tlsNode({ ca: pki.ca.cert, servername: 'localhost', alpn: 'http/1.1' });
      const { out } = await load({ url: mosq.urls.wss, tls: t, login: { username: USER, password: PASSWORD } });
      const conn = await connected('b1');
      const ws = conn.options().wsOptions;
      assert.equal(ws.servername, 'localhost');
      assert.deepEqual(ws.ALPNProtocols, ['http/1.1']);
      assert.deepEqual(ws.ca, [pki.ca.cert]);
      assert.equal(ws.rejectUnauthorized, true);
      await roundTrip(mosq.urls.wss, { ca: pki.ca.cert, username: USER, password: PASSWORD }, out, 75);
    });

    it('the server name from tls-config is the name checked: localhost passes, another name does not', async function () {
      await load({ url: mosq.urls.tls, tls: tlsNode({ ca: pki.ca.cert, servername: 'localhost' }), login: { username: USER, password: PASSWORD } });
      await connected('b1');
      await helper.unload();
      await load({
        url: mosq.urls.tls,
        tls: tlsNode({ ca: pki.ca.cert, servername: 'mqtt.example.com' }),
        login: { username: USER, password: PASSWORD },
      });
      await statusSeen('in1', red('certificate not for this host'));
      assert.equal(warnings('telemetry-broker').length, 1);
      assert.match(warnings('telemetry-broker')[0], /does not name this host.*ERR_TLS_CERT_ALTNAME_INVALID/);
    });

    it('verification unticked in tls-config: connects to a certificate no CA vouches for, and every status says "TLS not verified"', async function () {
      const { out } = await load({
        url: mosq.urls.tls,
        tls: tlsNode({ ca: pki.wrongCa.cert, verify: false }),
        login: { username: USER, password: PASSWORD },
      });
      const conn = await connected('b1');
      assert.equal(conn.tlsUnverified, true);
      await roundTrip(mosq.urls.tls, { ca: pki.ca.cert, username: USER, password: PASSWORD }, out, 76);
      const st = await statusSeen('in1', (s) => s.fill === 'green' && /live/.test(s.text));
      assert.match(st.text, / · TLS not verified$/);
      const w = warnings('telemetry-broker');
      assert.equal(w.length, 1);
      assert.match(w[0], /TLS not verified: "Verify server certificate" is unticked/);
    });
  });

  describe('fails clearly, warns once per cause, retries at the reconnect period', function () {
    it('a certificate the CA does not vouch for: "certificate not trusted", one warning over several paced attempts', async function () {
      const since = Date.now();
      const { conn } = await load({ url: mosq.urls.tls, tls: tlsNode({ ca: pki.wrongCa.cert }), login: { username: USER, password: PASSWORD } });
      await statusSeen('in1', red('certificate not trusted'));
      const lines = await brokerLines(mosq, new RegExp(`New connection from 127\\.0\\.0\\.1:\\d+ on port ${mosq.ports.tls}\\.`), 4, since);
      assertPaced(
        lines.map((l) => l.at),
        'untrusted',
      );
      await failedAttempts(conn, 4);
      const w = warnings('telemetry-broker');
      assert.equal(w.length, 1, `one warning, not one per retry: ${w.join(' | ')}`);
      assert.match(
        w[0],
        /: certificate not trusted: the certificate of 127\.0\.0\.1:\d+ is not signed by a CA this node trusts.*\(SELF_SIGNED_CERT_IN_CHAIN\)\. Retrying every 0\.5 s\./,
      );
      assert.equal(conn.stats.connects, 0);
      assert.ok(statuses('in1').every((s) => s.fill !== 'green'));
    });

    it('no client certificate where one is required, or one from another CA: "client certificate refused"', async function () {
      const since = Date.now();
      const { conn } = await load({ url: mosq.urls.mtls, tls: tlsNode({ ca: pki.ca.cert }) });
      await statusSeen('in1', red('client certificate refused'));
      await failedAttempts(conn, 2);
      assert.match(warnings('telemetry-broker')[0], /requires a client certificate: set one .*\(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\)/);
      assert.ok(mosq.lines(/peer did not return a certificate/, since).length >= 1, "the broker's side says the same");
      await helper.unload();

      const { conn: c2 } = await load({
        url: mosq.urls.mtls,
        tls: tlsNode({ ca: pki.ca.cert, cert: pki.wrongClient.cert, key: pki.wrongClient.key }),
      });
      await statusSeen('in1', red('client certificate refused'));
      await failedAttempts(c2, 2);
      const w = warnings('telemetry-broker');
      assert.equal(w.length, 1);
      assert.match(w[0], /does not accept this client certificate.*\(ERR_SSL_TLSV1_ALERT_UNKNOWN_CA\)/);
    });

    it('a wrong password over wss: "not authorised", retried (MQTT.js alone would stop), one warning', async function () {
      const { conn } = await load({ url: mosq.urls.wss, tls: tlsNode({ ca: pki.ca.cert }), login: { username: USER, password: WRONG_PASSWORD } });
      await statusSeen('in1', red('not authorised'));
      await failedAttempts(conn, 3);
      const w = warnings('telemetry-broker');
      assert.equal(w.length, 1);
      assert.match(w[0], /not authorised: the broker refused the login \(Not authorized\).*\(CONNACK 5\)/);
      assert.ok(!everyText().includes(WRONG_PASSWORD), 'the password is in no text');
    });

    it('nothing listening: "connection refused", counted, paced', async function () {
      const port = await freePort();
      const { conn } = await load({ url: `mqtts://127.0.0.1:${port}`, tls: tlsNode({ ca: pki.ca.cert }) });
      const at = [];
      conn.on('attempt-failed', () => at.push(Date.now()));
      await statusSeen('in1', red('connection refused'));
      await failedAttempts(conn, conn.stats.failures + 4);
      assertPaced(at, 'refused');
      assert.equal(warnings('telemetry-broker').length, 1);
      assert.match(warnings('telemetry-broker')[0], /connection refused: nothing accepts connections on 127\.0\.0\.1:\d+.*\(ECONNREFUSED\)/);
    });

    it('a host name that does not resolve: "host not found"', async function () {
      const { conn } = await load({ url: 'mqtts://no-such-broker.invalid:8883', tls: tlsNode({ ca: pki.ca.cert }) });
      await statusSeen('in1', red('host not found'));
      await failedAttempts(conn, 2);
      assert.equal(warnings('telemetry-broker').length, 1);
      assert.match(warnings('telemetry-broker')[0], /the name no-such-broker\.invalid does not resolve/);
    });

    it('a TLS configuration with a plain mqtt:// url: refused before connecting, not sent in clear text', async function () {
      const { conn } = await load({ url: mosq.urls.tls.replace('mqtts:', 'mqtt:'), tls: tlsNode({ ca: pki.ca.cert }) });
      const st = await statusSeen('in1', (s) => s.fill === 'red');
      assert.match(st.text, /^disconnected: a TLS configuration is set but the url/);
      assert.match(warnings('telemetry-broker')[0], /url is mqtt:\/\/, which is not encrypted: use mqtts:\/\/ or wss:\/\//);
      assert.equal(conn.stats.failures, 0, 'no attempt was made');
    });

    it('a tls-config node that could not read its files: the broker says so instead of connecting without them', async function () {
      const t = tlsNode({ cert: path.join(pki.dir, 'missing.pem'), key: path.join(pki.dir, 'missing.key'), files: true });
      const { conn } = await load({ url: mosq.urls.mtls, tls: t });
      const st = await statusSeen('in1', (s) => s.fill === 'red');
      assert.match(st.text, /^disconnected: the TLS configuration "test tls" is not usable/);
      assert.equal(conn.stats.failures, 0);
    });
  });

  describe('a password fixed on the broker heals without a redeploy (own Mosquitto)', function () {
    let own;
    afterEach(async function () {
      await own?.stop();
      own = null;
    });

    it('not authorised (paced, one warning), healed by the broker reloading its passwords; then the broker stops: a second warning for the new cause; back when it returns', async function () {
      const file = path.join(pki.dir, 'passwords-heal');
      fs.rmSync(file, { force: true });
      setPassword(file, USER, 'the-old-password');
      const listeners = (port) => [{ name: 'tls', port, tls: serverTls, passwordFile: file }];
      own = await startMosquitto({ dir: fs.mkdtempSync(path.join(pki.dir, 'own-')), logAll: true, listeners: listeners() });
      const since = Date.now();
      const { conn, out, o3 } = await load({ url: own.urls.tls, tls: tlsNode({ ca: pki.ca.cert }), login: { username: USER, password: PASSWORD } });

      await statusSeen('in1', red('not authorised'));
      const refusals = await brokerLines(own, /Sending CONNACK to 127\.0\.0\.1 \(0, 5\)/, 4, since);
      assertPaced(
        refusals.map((l) => l.at),
        'not authorised',
      );
      // The broker logs its CONNACK before the client has read it: wait for the client's count.
      await new Promise((resolve) => {
        const check = () => (conn.stats.failures >= 4 ? resolve() : conn.once('attempt-failed', check));
        check();
      });
      assert.equal(warnings('telemetry-broker').length, 1);

      setPassword(file, USER, PASSWORD);
      await own.reload();
      await connected('b1');
      await statusSeen('in1', green);
      const info = helper
        .log()
        .args.map((a) => a[0])
        .filter((e) => e && e.type === 'telemetry-broker' && e.level === 40)
        .map((e) => String(e.msg));
      assert.ok(
        info.some((m) => /: connected \(after: not authorised\)$/.test(m)),
        info.join(' | '),
      );
      await roundTrip(own.urls.tls, { ca: pki.ca.cert, username: USER, password: PASSWORD }, out, 77);
      await pub.end();
      pub = null;

      const port = own.ports.tls;
      await own.stop();
      await statusSeen('in1', red('connection refused'));
      const w = warnings('telemetry-broker');
      assert.equal(w.length, 2, `one warning per cause: ${w.join(' | ')}`);
      assert.match(w[0], /not authorised/);
      assert.match(w[1], /connection refused/);

      const ups = conn.stats.connects;
      own = await startMosquitto({ dir: own.dir, logAll: true, listeners: listeners(port) });
      await new Promise((resolve) => conn.once('recovered', resolve));
      await connected('b1');
      assert.equal(conn.stats.connects, ups + 1);
      assert.equal(warnings('telemetry-broker').length, 2, 'no warning for getting better');

      const texts = everyText(out, o3);
      assert.ok(texts.includes('not authorised') && texts.includes('connection refused'), 'the texts hold what happened');
      for (const secret of [PASSWORD, 'the-old-password']) assert.ok(!texts.includes(secret), `"${secret}" appears in a log line, status or message`);
    });
  });

  describe('BrokerConnection directly (no Node-RED)', function () {
    const noop = { onMessage() {}, onBadInput() {}, onConnection() {} };

    it('mqtts with a client certificate and ALPN: connected, subscriptions granted', async function () {
      const conn = new BrokerConnection({
        url: mosq.urls.mtls,
        topicBase: 'telemetry',
        clientId: 'direct-mtls',
        tls: { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key, ALPNProtocols: ['mqtt'] },
        reconnectPeriodMs: PERIOD,
      });
      const up = new Promise((resolve) => conn.on('state', (s) => s === 'connected' && resolve()));
      conn.register(noop);
      try {
        await up;
        assert.ok(mosq.lines(/as direct-mtls /).length >= 1);
        assert.equal(conn.stats.failures, 0);
      } finally {
        await conn.close();
      }
    });

    it('a wrong password: retried at the period and counted, one failure event; never the password in a text', async function () {
      const conn = new BrokerConnection({
        url: mosq.urls.tls,
        topicBase: 'telemetry',
        username: USER,
        password: WRONG_PASSWORD,
        tls: { ca: pki.ca.cert },
        reconnectPeriodMs: PERIOD,
      });
      const causes = [];
      const at = [];
      conn.on('failure', (f) => causes.push(f));
      conn.on('attempt-failed', () => at.push(Date.now()));
      const seen = [];
      conn.register({ ...noop, onConnection: (s, d) => seen.push(`${s} ${d}`) });
      try {
        await failedAttempts(conn, 4);
        assertPaced(at, 'direct');
        assert.equal(causes.length, 1);
        assert.equal(causes[0].kind, 'not-authorised');
        assert.equal(causes[0].code, 'CONNACK 5');
        assert.equal(conn.state, 'disconnected');
        assert.equal(conn.detail, 'not authorised');
        assert.ok(![...seen, causes[0].message].join('\n').includes(WRONG_PASSWORD));
      } finally {
        await conn.close();
      }
    });

    it('a corrupt client key, or a wrong passphrase: a message naming the problem, no attempt, no exception', async function () {
      const passphrase = 'the-Right-one-5';
      const locked = encryptKey(pki.client.key, passphrase);
      for (const [what, t] of [
        ['corrupt key', { cert: pki.client.cert, key: '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n' }],
        ['wrong passphrase', { cert: pki.client.cert, key: locked, passphrase: 'a-Wrong-guess-8' }],
        ['key of another certificate', { cert: pki.client.cert, key: pki.wrongClient.key }],
      ]) {
        const settings = { url: mosq.urls.mtls, topicBase: 'telemetry', tls: { ca: pki.ca.cert, ...t }, reconnectPeriodMs: PERIOD };
        const problems = checkSettings(settings);
        assert.equal(problems.length, 1, what);
        assert.match(
          problems[0],
          /^the client certificate or key of the TLS configuration cannot be used \(.+\): check both files and the passphrase$/,
          what,
        );
        assert.ok(!problems[0].includes('a-Wrong-guess-8'), 'no passphrase in the message');
        const conn = new BrokerConnection(settings);
        conn.register(noop);
        assert.equal(conn.state, 'disconnected', what);
        assert.equal(conn.detail, problems[0]);
        assert.equal(conn.stats.failures, 0);
        await conn.close();
      }
    });

    it('a client certificate without its key, or TLS options Node refuses outright: a cause on the status, no exception', async function () {
      assert.deepEqual(checkSettings({ url: mosq.urls.mtls, topicBase: 'telemetry', tls: { cert: pki.client.cert } }), [
        'the TLS configuration has a client certificate without its key, or a key without its certificate: give both',
      ]);
      const conn = new BrokerConnection({
        url: mosq.urls.tls,
        topicBase: 'telemetry',
        tls: { ca: pki.ca.cert, ALPNProtocols: ['x'.repeat(300)] },
        reconnectPeriodMs: PERIOD,
      });
      const causes = [];
      conn.on('failure', (f) => causes.push(f));
      conn.register(noop);
      assert.equal(conn.state, 'disconnected');
      assert.equal(causes.length, 1);
      assert.match(causes[0].message, /exceeds the maximum length/);
      assert.equal(conn.stats.failures, 1);
      await conn.close();
    });

    it('the ca field must be a PEM certificate', function () {
      const problems = checkSettings({ url: mosq.urls.tls, topicBase: 'telemetry', ca: 'not a certificate' });
      assert.deepEqual(problems, ['ca: the ca field is not a PEM certificate (-----BEGIN CERTIFICATE----- …).']);
    });
  });
});
