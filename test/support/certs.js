'use strict';
/**
 * Test and demo certificates, made by the `openssl` command (CI installs it; Linux and macOS
 * ship it; Git for Windows includes one). EC P-256 keys, SHA-256 signatures.
 *
 *   const pki = makePki();            // files in pki.dir, PEM in memory
 *   // pki.ca, pki.server (127.0.0.1, localhost, ::1), pki.client (clientAuth, signed by pki.ca),
 *   // pki.wrongCa (unrelated), pki.wrongClient (a client certificate signed by pki.wrongCa)
 *   const ca = makeCA({ commonName: 'Test CA', days: 2 });
 *   const leaf = makeCert({ ca, commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
 *   const { cert, key } = selfSigned();   // what the HTTPS Fleet API double serves
 *   const locked = encryptKey(key, 'passphrase');
 *
 * Every certificate is `{ cert, key }` (PEM strings) plus `certFile` and `keyFile` when it was
 * made into a directory that is kept (`dir`). Validity: `days` (default 1) from `notBefore`
 * (Date | ms, default now - 5 min, to survive small clock skew), or an explicit `notAfter`; both
 * in the past give an expired certificate.
 *
 * selfSigned() uses only `openssl req -x509` with its own configuration, so it works with any
 * OpenSSL or LibreSSL; makeCA/makeCert use `openssl ca` (OpenSSL 1.1.1 or newer), which can
 * set any validity dates. Not shipped: a dev/test tool.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const DAY = 86400 * 1000;

/** Where to install openssl, for the message when it is missing. */
const INSTALL_HINT =
  'install OpenSSL (Debian/Ubuntu: apt install openssl; Fedora: dnf install openssl; macOS: included; ' +
  'Windows: the one in Git for Windows, or winget install ShiningLight.OpenSSL.Light) and make sure `openssl` is on the PATH';

let found;
/** The openssl command, or null when it is not installed. */
function opensslPath() {
  if (found !== undefined) return found;
  const candidates = [process.env.OPENSSL || 'openssl', '/usr/bin/openssl', '/usr/local/bin/openssl', '/opt/homebrew/bin/openssl'];
  found = null;
  for (const c of candidates) {
    try {
      execFileSync(c, ['version'], { stdio: 'pipe' });
      found = c;
      break;
    } catch {
      /* try the next one */
    }
  }
  return found;
}

function openssl(args, cwd) {
  const bin = opensslPath();
  if (!bin) throw new Error(`the openssl command was not found: ${INSTALL_HINT}`);
  try {
    return execFileSync(bin, args, { cwd, stdio: 'pipe', encoding: 'utf8' });
  } catch (e) {
    throw new Error(`openssl ${args[0]} failed: ${String(e.stderr || e.message).trim()}`, { cause: e });
  }
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** subjectAltName value for host names and IP addresses. */
function sanOf(names) {
  return names.map((n) => (net.isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
}

/** Escape a value for an OpenSSL configuration file (a subject or SAN entry). */
function confValue(v) {
  return `"${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A minimal OpenSSL configuration: `req` takes the subject from it, `ca` signs without asking. */
function writeConfig(work, { commonName, extensions }) {
  const conf = [
    '[ req ]',
    'distinguished_name = dn',
    'prompt = no',
    '[ dn ]',
    `CN = ${confValue(commonName)}`,
    '[ ca ]',
    'default_ca = local',
    '[ local ]',
    `dir = ${work.replace(/\\/g, '/')}`,
    'database = $dir/index.txt',
    'new_certs_dir = $dir',
    'rand_serial = yes',
    'default_md = sha256',
    'policy = any',
    'unique_subject = no',
    'copy_extensions = none',
    'email_in_dn = no',
    '[ any ]',
    'commonName = supplied',
    '[ ext ]',
    ...extensions,
  ].join('\n');
  fs.writeFileSync(path.join(work, 'openssl.cnf'), conf + '\n');
  fs.writeFileSync(path.join(work, 'index.txt'), '');
  fs.writeFileSync(path.join(work, 'index.txt.attr'), 'unique_subject = no\n');
}

/** YYYYMMDDHHMMSSZ, what `openssl ca -startdate/-enddate` takes. */
function asn1Time(ms) {
  return new Date(Math.floor(ms / 1000) * 1000)
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function validity({ days = 1, notBefore, notAfter }) {
  const from = notBefore === undefined ? Date.now() - 5 * 60 * 1000 : +notBefore;
  const to = notAfter === undefined ? from + days * DAY : +notAfter;
  if (!(to > from)) throw new RangeError('notAfter must be after notBefore');
  return ['-startdate', asn1Time(from), '-enddate', asn1Time(to)];
}

/** Run `make(work)` in a fresh directory; keep the named files in `dir` when given, else delete it all. */
function inWorkDir(dir, keep, make) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'certs-'));
  try {
    const out = make(work);
    const read = (f) => fs.readFileSync(path.join(work, f), 'utf8');
    const result = { cert: read('cert.pem'), key: read('key.pem'), ...out };
    if (dir) {
      fs.mkdirSync(dir, { recursive: true });
      result.certFile = path.join(dir, `${keep}.pem`);
      result.keyFile = path.join(dir, `${keep}.key`);
      fs.writeFileSync(result.certFile, result.cert);
      fs.writeFileSync(result.keyFile, result.key, { mode: 0o600 });
    }
    return result;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** A CA certificate (self-signed, CA:TRUE). `dir` keeps `<name>.pem` and `<name>.key` there. */
function makeCA({ commonName = 'Test CA', dir, name = 'ca', ...times } = {}) {
  return inWorkDir(dir, name, (work) => {
    writeConfig(work, {
      commonName,
      extensions: ['basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash'],
    });
    openssl(['req', '-new', '-config', 'openssl.cnf', ...KEY, '-keyout', 'key.pem', '-out', 'req.csr'], work);
    openssl(
      [
        'ca',
        '-batch',
        '-notext',
        '-config',
        'openssl.cnf',
        '-selfsign',
        '-keyfile',
        'key.pem',
        '-in',
        'req.csr',
        '-out',
        'cert.pem',
        '-extensions',
        'ext',
        ...validity(times),
      ],
      work,
    );
    return { commonName };
  });
}

/**
 * A certificate signed by `ca` (from makeCA): a server certificate (serverAuth, SAN from
 * `altNames`, default the common name) or, with `client: true`, a client certificate
 * (clientAuth).
 */
function makeCert({ ca, commonName = 'localhost', altNames, client = false, dir, name = client ? 'client' : 'server', ...times }) {
  if (!ca || !ca.cert || !ca.key) throw new TypeError('makeCert: ca must be { cert, key } from makeCA');
  const names = altNames || (client ? [] : [commonName]);
  return inWorkDir(dir, name, (work) => {
    writeConfig(work, {
      commonName,
      extensions: [
        'basicConstraints = critical,CA:FALSE',
        'keyUsage = critical,digitalSignature,keyEncipherment',
        `extendedKeyUsage = ${client ? 'clientAuth' : 'serverAuth'}`,
        'subjectKeyIdentifier = hash',
        'authorityKeyIdentifier = keyid',
        ...(names.length ? [`subjectAltName = ${confValue(sanOf(names))}`] : []),
      ],
    });
    fs.writeFileSync(path.join(work, 'ca.pem'), ca.cert);
    fs.writeFileSync(path.join(work, 'ca.key'), ca.key);
    openssl(['req', '-new', '-config', 'openssl.cnf', ...KEY, '-keyout', 'key.pem', '-out', 'req.csr'], work);
    openssl(
      [
        'ca',
        '-batch',
        '-notext',
        '-config',
        'openssl.cnf',
        '-cert',
        'ca.pem',
        '-keyfile',
        'ca.key',
        '-in',
        'req.csr',
        '-out',
        'cert.pem',
        '-extensions',
        'ext',
        ...validity(times),
      ],
      work,
    );
    return {};
  });
}

/**
 * One self-signed server certificate (`openssl req -x509` only): what a local HTTPS server such
 * as the vehicle-command proxy or the Fleet API double serves; clients trust the certificate
 * itself. Throws an Error that says how to install openssl when it is missing.
 */
function selfSigned({ commonName = 'localhost', altNames = ['localhost', '127.0.0.1', '::1'], days = 30 } = {}) {
  return inWorkDir(undefined, 'self', (work) => {
    fs.writeFileSync(
      path.join(work, 'openssl.cnf'),
      [
        '[ req ]',
        'distinguished_name = dn',
        'prompt = no',
        'x509_extensions = ext',
        '[ dn ]',
        `CN = ${confValue(commonName)}`,
        '[ ext ]',
        'basicConstraints = critical,CA:TRUE',
        'keyUsage = critical,digitalSignature,keyCertSign',
        'extendedKeyUsage = serverAuth',
        'subjectKeyIdentifier = hash',
        `subjectAltName = ${confValue(sanOf(altNames))}`,
      ].join('\n') + '\n',
    );
    openssl(['req', '-x509', '-config', 'openssl.cnf', ...KEY, '-keyout', 'key.pem', '-out', 'cert.pem', '-days', String(days)], work);
    return {};
  });
}

/** `keyPem` encrypted with `passphrase` (AES-256), as a key file protected by a passphrase is. */
function encryptKey(keyPem, passphrase) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'certs-'));
  try {
    fs.writeFileSync(path.join(work, 'key.pem'), keyPem);
    openssl(['pkey', '-in', 'key.pem', '-aes256', '-passout', `pass:${passphrase}`, '-out', 'enc.pem'], work);
    return fs.readFileSync(path.join(work, 'enc.pem'), 'utf8');
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Everything a TLS broker test needs, as files in `dir` (a new temporary directory when absent)
 * and PEM strings: `ca`, `server` (127.0.0.1, localhost, ::1, signed by ca), `client` (signed
 * by ca), `wrongCa` (unrelated) and `wrongClient` (a client certificate signed by wrongCa).
 * `remove()` deletes the directory.
 */
function makePki({ dir, days = 1 } = {}) {
  dir = dir || fs.mkdtempSync(path.join(os.tmpdir(), 'pki-'));
  const ca = makeCA({ commonName: 'Broker Test CA', dir, name: 'ca', days });
  const wrongCa = makeCA({ commonName: 'Unrelated Test CA', dir, name: 'wrong-ca', days });
  return {
    dir,
    ca,
    wrongCa,
    server: makeCert({ ca, commonName: 'localhost', altNames: ['localhost', '127.0.0.1', '::1'], dir, name: 'server', days }),
    client: makeCert({ ca, commonName: 'telemetry-client', client: true, dir, name: 'client', days }),
    wrongClient: makeCert({ ca: wrongCa, commonName: 'stranger', client: true, dir, name: 'wrong-client', days }),
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { opensslPath, makeCA, makeCert, selfSigned, makePki, encryptKey, INSTALL_HINT };
