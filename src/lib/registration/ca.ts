/**
 * The CA of the telemetry server: PEM parsing, description, comparison.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { CaInfo } from './types';

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The certificate blocks of a PEM string (`[]` when there is none). */
export function pemBlocks(pem: string): string[] {
  return pem.replace(/\r\n?/g, '\n').match(CERT_BLOCK) ?? [];
}

/** One-line form of Node's multi-line distinguished name: `CN=a, O=b`. */
function oneLineDn(dn: string | undefined): string {
  return (dn ?? '').split('\n').filter(Boolean).join(', ');
}

function isoOf(nodeDate: string): string {
  const t = Date.parse(nodeDate);
  return Number.isFinite(t) ? new Date(t).toISOString() : nodeDate;
}

function parseCertificate(block: string): X509Certificate {
  try {
    return new X509Certificate(block);
  } catch (err) {
    throw new Error(`the certificate does not parse (${(err as Error).message})`);
  }
}

export function certInfo(x: X509Certificate, now: number, count: number): CaInfo {
  const from = Date.parse(x.validFrom);
  const to = Date.parse(x.validTo);
  return {
    subject: oneLineDn(x.subject),
    issuer: oneLineDn(x.issuer),
    validFrom: isoOf(x.validFrom),
    validTo: isoOf(x.validTo),
    expired: Number.isFinite(to) ? to < now : false,
    notYetValid: Number.isFinite(from) ? from > now : false,
    fingerprint256: x.fingerprint256,
    isCa: x.ca,
    subjectAltName: x.subjectAltName ?? null,
    count,
  };
}

/**
 * Describe the (first) certificate of a PEM: subject, issuer, validity, fingerprint.
 * Throws an Error with a message fit for the user when there is no usable certificate.
 */
export function describeCa(pem: unknown, now: number = Date.now()): CaInfo {
  if (typeof pem !== 'string' || pem.trim() === '') throw new Error('no certificate given: paste the PEM of the CA');
  if (!pem.includes('\n') && pem.includes('\\n')) {
    throw new Error('the PEM contains "\\n" escapes instead of line breaks: paste the certificate file as it is');
  }
  const blocks = pemBlocks(pem);
  if (blocks.length === 0) {
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
      throw new Error('this is a private key, not a certificate: paste the CA certificate (never the key)');
    }
    throw new Error('not a PEM certificate: expected a block starting with -----BEGIN CERTIFICATE-----');
  }
  const x = parseCertificate(blocks[0]);
  for (let i = 1; i < blocks.length; i++) parseCertificate(blocks[i]);
  return certInfo(x, now, blocks.length);
}

/** The base64 payloads of a PEM's certificates, whitespace removed: for comparing CAs. */
export function caKey(pem: unknown): string {
  if (typeof pem !== 'string') return '';
  const blocks = pemBlocks(pem);
  if (blocks.length === 0)
    return pem
      .replace(/\r\n?/g, '\n')
      .replace(/[ \t]+$/gm, '')
      .trim();
  return blocks.map((b) => b.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '')).join('|');
}

export function caLabel(pem: unknown): string {
  try {
    const info = describeCa(pem);
    return `${info.subject || '(no subject)'}, SHA-256 ${info.fingerprint256.slice(0, 11)}…`;
  } catch {
    if (typeof pem !== 'string' || pem.trim() === '') return 'none';
    return `sha256 ${createHash('sha256').update(caKey(pem)).digest('hex').slice(0, 8)}…`;
  }
}
