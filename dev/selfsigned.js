'use strict';
/**
 * Test/dev certificates without the openssl CLI: a minimal ASN.1 DER writer (and a tiny
 * reader, to take a CA's subject and key id back out of its PEM) that builds X.509 v3
 * certificates with EC P-256 keys and ecdsa-with-SHA256 signatures, using node:crypto only.
 *
 *   const ca = makeCA({ commonName: 'Test CA', days: 1 });
 *   const leaf = makeCert({ ca, commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
 *   https.createServer({ cert: leaf.cert, key: leaf.key }) ... and trust ca.cert on the client.
 *
 * Validity: `notBefore` (Date | ms, default now - 5 min, to survive small clock skew) and
 * `notAfter` (Date | ms) or `days` (default 1) after notBefore. Pass both in the past for an
 * expired certificate.
 *
 * Not shipped: a dev/test tool.
 */
const crypto = require('node:crypto');
const net = require('node:net');

// ---------------------------------------------------------------------------------------
// DER writer

function encodeLength(n) {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV: `tag` is the identifier octet, `content` a Buffer or an array of Buffers. */
function tlv(tag, content) {
  const body = Array.isArray(content) ? Buffer.concat(content) : content;
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}

const der = {
  sequence: (...items) => tlv(0x30, items),
  set: (...items) => tlv(0x31, items),
  boolean: (v) => tlv(0x01, Buffer.from([v ? 0xff : 0x00])),
  null: () => Buffer.from([0x05, 0x00]),
  /** Non-negative integer from a number or a big-endian Buffer. */
  integer(v) {
    let bytes;
    if (Buffer.isBuffer(v)) {
      bytes = v;
      let i = 0;
      while (i < bytes.length - 1 && bytes[i] === 0) i++;
      bytes = bytes.subarray(i);
    } else {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError('der.integer: non-negative safe integer expected');
      const arr = [];
      do {
        arr.unshift(v & 0xff);
        v = Math.floor(v / 256);
      } while (v > 0);
      bytes = Buffer.from(arr);
    }
    if (bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return tlv(0x02, bytes);
  },
  oid(dotted) {
    const parts = dotted.split('.').map(Number);
    const out = [40 * parts[0] + parts[1]];
    for (const p of parts.slice(2)) {
      const chunk = [p & 0x7f];
      let v = Math.floor(p / 128);
      while (v > 0) {
        chunk.unshift(0x80 | (v & 0x7f));
        v = Math.floor(v / 128);
      }
      out.push(...chunk);
    }
    return tlv(0x06, Buffer.from(out));
  },
  bitString: (bytes, unusedBits = 0) => tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes])),
  octetString: (bytes) => tlv(0x04, bytes),
  utf8String: (s) => tlv(0x0c, Buffer.from(s, 'utf8')),
  /** UTCTime for 1950..2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5). */
  time(date) {
    const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
    const y = date.getUTCFullYear();
    const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z';
    if (y >= 1950 && y < 2050) return tlv(0x17, Buffer.from(digits.slice(2), 'ascii'));
    return tlv(0x18, Buffer.from(digits, 'ascii'));
  },
  /** [n] EXPLICIT (constructed, context-specific). */
  explicit: (n, inner) => tlv(0xa0 | n, inner),
  /** [n] IMPLICIT primitive (context-specific). */
  implicit: (n, bytes) => tlv(0x80 | n, bytes),
};

/**
 * A named-bit-list BIT STRING (KeyUsage): `bits` are bit numbers (0 = most significant bit
 * of the first byte); DER drops trailing zero bits.
 */
function namedBits(bits) {
  const max = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(max / 8) + 1);
  for (const b of bits) bytes[Math.floor(b / 8)] |= 0x80 >> (b % 8);
  const unused = 7 - (max % 8);
  return der.bitString(bytes, unused);
}

// ---------------------------------------------------------------------------------------
// DER reader (just enough to walk a certificate)

function readTlv(buf, offset) {
  const tag = buf[offset];
  let len = buf[offset + 1];
  let hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i];
    hdr = 2 + n;
  }
  const start = offset + hdr;
  return { tag, start, end: start + len, raw: buf.subarray(offset, start + len), content: buf.subarray(start, start + len) };
}

function children(node) {
  const out = [];
  let off = 0;
  const buf = node.content;
  while (off < buf.length) {
    const child = readTlv(buf, off);
    out.push(child);
    off = child.end;
  }
  return out;
}

/** The DER-encoded subject Name of a certificate (PEM or DER). */
function subjectOf(certPemOrDer) {
  const derBuf = Buffer.isBuffer(certPemOrDer) ? certPemOrDer : new crypto.X509Certificate(certPemOrDer).raw;
  const cert = readTlv(derBuf, 0);
  const tbs = children(cert)[0];
  const fields = children(tbs);
  const i = fields[0].tag === 0xa0 ? 1 : 0; // skip [0] version
  // serial, signature, issuer, validity, subject
  return fields[i + 4].raw;
}

// ---------------------------------------------------------------------------------------
// Certificate building

const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

function name({ commonName, organization }) {
  const rdns = [];
  if (organization) rdns.push(der.set(der.sequence(der.oid(OID.organization), der.utf8String(organization))));
  rdns.push(der.set(der.sequence(der.oid(OID.commonName), der.utf8String(commonName))));
  return der.sequence(...rdns);
}

function extension(oid, critical, valueDer) {
  const parts = [der.oid(oid)];
  if (critical) parts.push(der.boolean(true));
  parts.push(der.octetString(valueDer));
  return der.sequence(...parts);
}

/** SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2 method 1). */
function keyId(publicKey) {
  const spki = readTlv(publicKey.export({ type: 'spki', format: 'der' }), 0);
  const bits = children(spki)[1].content.subarray(1); // drop the unused-bits octet
  return crypto.createHash('sha1').update(bits).digest();
}

function ipBytes(ip) {
  const family = net.isIP(ip);
  if (family === 4) return Buffer.from(ip.split('.').map(Number));
  if (family !== 6) throw new TypeError(`not an IP address: ${ip}`);
  let addr = ip;
  const v4 = addr.match(/(\d+\.\d+\.\d+\.\d+)$/);
  let tail = [];
  if (v4) {
    tail = [...ipBytes(v4[1])];
    addr = addr.slice(0, -v4[1].length) + '0:0';
  }
  const [head, rest] = addr.split('::');
  const h = head ? head.split(':') : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...Array(8 - h.length - r.length).fill('0'), ...r];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  if (tail.length) out.set(tail, 12);
  return out;
}

function toDate(v, what) {
  if (v === undefined || v === null) return null;
  const d = v instanceof Date ? v : new Date(v);
  if (Number.isNaN(d.getTime())) throw new TypeError(`${what}: not a date`);
  return d;
}

function validity({ days = 1, notBefore, notAfter }) {
  const from = toDate(notBefore, 'notBefore') || new Date(Date.now() - 5 * 60 * 1000);
  const to = toDate(notAfter, 'notAfter') || new Date(from.getTime() + days * 86400 * 1000);
  if (to.getTime() <= from.getTime()) throw new RangeError('notAfter must be after notBefore');
  // X.509 times have whole seconds.
  return {
    from: new Date(Math.floor(from.getTime() / 1000) * 1000),
    to: new Date(Math.floor(to.getTime() / 1000) * 1000),
  };
}

function serialNumber() {
  const bytes = crypto.randomBytes(16);
  bytes[0] &= 0x7f; // positive
  if (bytes[0] === 0) bytes[0] = 1;
  return der.integer(bytes);
}

function toPem(derBuf, label) {
  const b64 = derBuf.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

function build({ subject, issuer, publicKey, signingKey, extensions, days, notBefore, notAfter }) {
  const { from, to } = validity({ days, notBefore, notAfter });
  const sigAlg = der.sequence(der.oid(OID.ecdsaWithSHA256));
  const tbs = der.sequence(
    der.explicit(0, der.integer(2)), // v3
    serialNumber(),
    sigAlg,
    issuer,
    der.sequence(der.time(from), der.time(to)),
    subject,
    publicKey.export({ type: 'spki', format: 'der' }),
    der.explicit(3, der.sequence(...extensions)),
  );
  const signature = crypto.sign('sha256', tbs, { key: signingKey, dsaEncoding: 'der' });
  const certDer = der.sequence(tbs, sigAlg, der.bitString(signature));
  return toPem(certDer, 'CERTIFICATE');
}

function newKeyPair() {
  return crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

/**
 * A self-signed CA: basicConstraints CA:true (critical), keyUsage keyCertSign + cRLSign
 * (critical), subject/authority key identifiers.
 * @returns {{cert: string, key: string, keyObject: crypto.KeyObject}}
 */
function makeCA({ commonName = 'Fleet Double Test CA', organization, days = 1, notBefore, notAfter } = {}) {
  const { publicKey, privateKey } = newKeyPair();
  const subject = name({ commonName, organization });
  const ski = keyId(publicKey);
  const cert = build({
    subject,
    issuer: subject,
    publicKey,
    signingKey: privateKey,
    days,
    notBefore,
    notAfter,
    extensions: [
      extension(OID.basicConstraints, true, der.sequence(der.boolean(true))),
      extension(OID.keyUsage, true, namedBits([5, 6])), // keyCertSign, cRLSign
      extension(OID.subjectKeyIdentifier, false, der.octetString(ski)),
      extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicit(0, ski))),
    ],
  });
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }), keyObject: privateKey };
}

/**
 * A server certificate signed by `ca` (an object from makeCA, or any {cert, key} PEM pair of
 * an EC CA): subjectAltName with DNS and IP entries, extKeyUsage serverAuth (and clientAuth
 * with `client: true`), keyUsage digitalSignature, basicConstraints CA:false.
 * @returns {{cert: string, key: string, keyObject: crypto.KeyObject}}
 */
function makeCert({
  ca,
  commonName = 'localhost',
  altNames = ['localhost', '127.0.0.1', '::1'],
  days = 1,
  notBefore,
  notAfter,
  client = false,
} = {}) {
  if (!ca || !ca.cert || !(ca.key || ca.keyObject)) throw new TypeError('makeCert: ca {cert, key} required');
  const caKey = ca.keyObject || crypto.createPrivateKey(ca.key);
  const caPublic = crypto.createPublicKey(caKey);
  const { publicKey, privateKey } = newKeyPair();
  const san = altNames.map((n) => (net.isIP(n) ? der.implicit(7, ipBytes(n)) : der.implicit(2, Buffer.from(n, 'ascii'))));
  const usages = [der.oid(OID.serverAuth)];
  if (client) usages.push(der.oid(OID.clientAuth));
  const exts = [
    extension(OID.basicConstraints, true, der.sequence()),
    extension(OID.keyUsage, true, namedBits([0])), // digitalSignature
    extension(OID.extKeyUsage, false, der.sequence(...usages)),
    extension(OID.subjectKeyIdentifier, false, der.octetString(keyId(publicKey))),
    extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicit(0, keyId(caPublic)))),
  ];
  if (san.length) exts.splice(3, 0, extension(OID.subjectAltName, false, der.sequence(...san)));
  const cert = build({
    subject: name({ commonName }),
    issuer: subjectOf(ca.cert),
    publicKey,
    signingKey: caKey,
    days,
    notBefore,
    notAfter,
    extensions: exts,
  });
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }), keyObject: privateKey };
}

module.exports = { makeCA, makeCert, der, subjectOf };
