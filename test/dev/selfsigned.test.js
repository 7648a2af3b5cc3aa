'use strict';
const assert = require('node:assert/strict');
const https = require('node:https');
const { X509Certificate } = require('node:crypto');
const { makeCA, makeCert } = require('../../dev/selfsigned');

const DAY = 86400 * 1000;

function serve(leaf) {
  const server = https.createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => res.end('hello'));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function close(server) {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** One GET trusting only `ca`; resolves {status, body} or rejects with the TLS error. */
function get(server, ca, hostname = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', servername: hostname === '127.0.0.1' ? undefined : hostname, port: server.address().port, path: '/', ca: [ca], agent: false, headers: { host: hostname } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      },
    );
    req.on('error', reject);
  });
}

describe('dev/selfsigned', function () {
  let ca;
  let leaf;
  before(function () {
    ca = makeCA({ commonName: 'Unit Test CA', days: 2 });
    leaf = makeCert({ ca, commonName: 'localhost', altNames: ['localhost', '127.0.0.1', '::1'], days: 1 });
  });

  it('makes a CA certificate: subject, CA flag, self-signed, validity from days', function () {
    const x = new X509Certificate(ca.cert);
    assert.equal(x.subject, 'CN=Unit Test CA');
    assert.equal(x.issuer, 'CN=Unit Test CA');
    assert.equal(x.ca, true);
    assert.ok(x.verify(x.publicKey), 'self-signature verifies');
    assert.ok(x.checkIssued(x));
    const from = Date.parse(x.validFrom);
    const to = Date.parse(x.validTo);
    assert.ok(from <= Date.now() && Date.now() < to, 'valid now');
    assert.equal(to - from, 2 * DAY);
    assert.equal(ca.keyObject.asymmetricKeyType, 'ec');
    assert.equal(ca.keyObject.asymmetricKeyDetails.namedCurve, 'prime256v1');
    assert.match(ca.key, /^-----BEGIN PRIVATE KEY-----/);
  });

  it('makes a leaf signed by the CA with SAN (DNS and IP) and serverAuth', function () {
    const caX = new X509Certificate(ca.cert);
    const x = new X509Certificate(leaf.cert);
    assert.equal(x.subject, 'CN=localhost');
    assert.equal(x.issuer, caX.subject);
    assert.equal(x.ca, false);
    assert.ok(x.checkIssued(caX), 'issued by the CA');
    assert.ok(x.verify(caX.publicKey), 'signature verifies with the CA key');
    assert.equal(x.verify(x.publicKey), false, 'not self-signed');
    assert.equal(x.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.equal(x.checkHost('localhost'), 'localhost');
    assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(x.checkHost('example.com'), undefined);
    assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(Date.parse(x.validTo) - Date.parse(x.validFrom), DAY);
    assert.ok(x.checkPrivateKey(require('node:crypto').createPrivateKey(leaf.key)), 'key matches the certificate');
  });

  it('makes an already-expired certificate when notBefore/notAfter are in the past', function () {
    const notBefore = Date.now() - 10 * DAY;
    const expired = makeCert({ ca, notBefore, notAfter: notBefore + DAY });
    const x = new X509Certificate(expired.cert);
    assert.equal(Date.parse(x.validFrom), Math.floor(notBefore / 1000) * 1000);
    assert.ok(Date.parse(x.validTo) < Date.now(), 'expired');
    assert.throws(() => makeCert({ ca, notBefore, notAfter: notBefore - 1 }), /notAfter must be after notBefore/);
  });

  it('serves a real TLS handshake to a client that trusts only this CA', async function () {
    const server = await serve(leaf);
    try {
      const byIp = await get(server, ca.cert);
      assert.deepEqual(byIp, { status: 200, body: 'hello' });
      const byName = await get(server, ca.cert, 'localhost');
      assert.deepEqual(byName, { status: 200, body: 'hello' });
    } finally {
      await close(server);
    }
  });

  it('fails the handshake for a client that trusts another CA, or when the cert expired', async function () {
    const other = makeCA({ commonName: 'Other CA' });
    const server = await serve(leaf);
    try {
      await assert.rejects(get(server, other.cert), (e) => {
        assert.equal(e.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
        return true;
      });
    } finally {
      await close(server);
    }
    const notBefore = Date.now() - 10 * DAY;
    const expiredServer = await serve(makeCert({ ca, notBefore, notAfter: notBefore + DAY }));
    try {
      await assert.rejects(get(expiredServer, ca.cert), (e) => {
        assert.equal(e.code, 'CERT_HAS_EXPIRED');
        return true;
      });
    } finally {
      await close(expiredServer);
    }
  });

  it('fails the handshake for a host name the certificate does not name', async function () {
    const narrow = makeCert({ ca, commonName: 'only.example', altNames: ['only.example'] });
    const server = await serve(narrow);
    try {
      await assert.rejects(get(server, ca.cert), (e) => {
        assert.equal(e.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
        return true;
      });
    } finally {
      await close(server);
    }
  });
});
