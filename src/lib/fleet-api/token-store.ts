/**
 * Where rotated tokens live between restarts. Node-RED writes credentials only when the user
 * deploys, and Tesla's refresh tokens are single-use, so the rotated one must be kept
 * elsewhere or it is lost at the next restart.
 *
 * A record carries the fingerprint of the refresh token the user *deployed*; at start the
 * stored (rotated) tokens are used only when that fingerprint matches the deployed token,
 * so a newly deployed token always wins over an old file.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../common/atomic-file';

export interface StoredTokens {
  /** fingerprint() of the refresh token that was deployed when this record was written. */
  fingerprint: string;
  /** The current (rotated) refresh token. */
  refreshToken: string;
  accessToken?: string;
  /** Access token expiry, ms since the epoch. */
  expiresAt?: number;
}

export interface TokenStore {
  load(): Promise<StoredTokens | null>;
  save(tokens: StoredTokens): Promise<void>;
}

/** A short, non-reversible id of a deployed refresh token: sha256 hex, first 16 characters. */
export function fingerprint(refreshToken: string): string {
  return createHash('sha256').update(refreshToken, 'utf8').digest('hex').slice(0, 16);
}

function isStoredTokens(x: unknown): x is StoredTokens {
  if (!x || typeof x !== 'object') return false;
  const o = x as Record<string, unknown>;
  return (
    typeof o.fingerprint === 'string' &&
    typeof o.refreshToken === 'string' &&
    o.refreshToken !== '' &&
    (o.accessToken === undefined || typeof o.accessToken === 'string') &&
    (o.expiresAt === undefined || typeof o.expiresAt === 'number')
  );
}

/** Keeps tokens in memory only (tests, or when no directory is available). */
export class MemoryTokenStore implements TokenStore {
  private value: StoredTokens | null;
  constructor(initial: StoredTokens | null = null) {
    this.value = initial ? { ...initial } : null;
  }
  async load(): Promise<StoredTokens | null> {
    return this.value ? { ...this.value } : null;
  }
  async save(tokens: StoredTokens): Promise<void> {
    this.value = { ...tokens };
  }
}

/**
 * `<dir>/<key>.json`, mode 0600, the directory created with mode 0700 when missing.
 * Writes are atomic (temporary file in the same directory, then rename) and serialized.
 * `key` is typically the tesla-account config node's id; characters other than
 * letters, digits, `.`, `_` and `-` are replaced by `_`.
 */
export class FileTokenStore implements TokenStore {
  readonly file: string;
  private chain: Promise<void> = Promise.resolve();

  constructor(dir: string, key: string) {
    const safe = String(key).replace(/[^A-Za-z0-9._-]/g, '_');
    if (!safe || /^\.+$/.test(safe)) throw new TypeError('FileTokenStore: a non-empty key is required');
    this.file = path.join(dir, `${safe}.json`);
  }

  /** The stored record, or null when there is none or it is unreadable. */
  async load(): Promise<StoredTokens | null> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new Error(`Cannot read the token file ${this.file} (${(e as NodeJS.ErrnoException).code ?? 'error'}).`);
    }
    try {
      const parsed: unknown = JSON.parse(text);
      return isStoredTokens(parsed) ? parsed : null;
    } catch {
      return null;
    }
  }

  save(tokens: StoredTokens): Promise<void> {
    const run = this.chain.then(() => this.write(tokens));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Removes the file (no error when it is missing). */
  async clear(): Promise<void> {
    await this.chain;
    await fsp.rm(this.file, { force: true });
  }

  private async write(tokens: StoredTokens): Promise<void> {
    const record: StoredTokens = {
      fingerprint: tokens.fingerprint,
      refreshToken: tokens.refreshToken,
      ...(tokens.accessToken !== undefined ? { accessToken: tokens.accessToken } : {}),
      ...(tokens.expiresAt !== undefined ? { expiresAt: tokens.expiresAt } : {}),
    };
    try {
      await writeFileAtomic(this.file, [JSON.stringify(record)]);
    } catch (e) {
      throw new Error(`Cannot write the token file ${this.file} (${(e as NodeJS.ErrnoException).code ?? 'error'}).`);
    }
  }
}
