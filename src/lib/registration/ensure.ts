/**
 * `ensure`: which VINs get this node's config pushed, and the 24 h cap that survives restarts.
 *
 * A VIN is pushed when the doctor found it `not configured`, `drift` or `expiring`, and it
 * was not pushed within the last 24 h. The push times live in
 * `<userDir>/tesla-fleet-telemetry/ensure-<node id>.json` (mode 0600, directory 0700, the
 * token file's directory), written atomically (temporary file, then rename). A file that does
 * not parse, or is not ours, is renamed aside (`<name>.corrupt-<ms>`) with one warning and
 * the cap starts empty; a file that cannot be written (full disk, read-only directory) gives a
 * warning and the cap is kept in memory. Nothing here throws at the caller for a file problem.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DoctorEntry, EXPIRING_WITHIN_MS, PUSH_STATES } from './doctor';
import { ERRORS, WARNINGS } from './texts';

export const PUSH_INTERVAL_MS = 24 * 3_600_000;
/**
 * `ensureEvery` at most a week: a config expiring within 7 days is found `expiring` by a run
 * in that week, and a longer period would not fit a Node.js timer anyway (at most 2^31-1 ms).
 */
export const ENSURE_EVERY_MAX_HOURS = 168;
const FORMAT = 'tesla-fleet-telemetry/ensure-cap';
const VERSION = 1;

interface CapFile {
  format: typeof FORMAT;
  version: typeof VERSION;
  /** VIN → ms of the last push. */
  pushed: Record<string, number>;
}

export interface EnsureCapOptions {
  /** One warning per problem (corrupt file set aside, file not writable). */
  warn?(text: string): void;
  /** For the `.corrupt-<ms>` suffix. */
  now?: () => number;
}

/**
 * `ensureEvery` (hours, fractions allowed; empty or 0 = off) as ms. Throws a TypeError naming
 * it for anything but a number from 0 to ENSURE_EVERY_MAX_HOURS.
 */
export function parseEnsureEvery(raw: unknown): number {
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return 0;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d*\.?\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > ENSURE_EVERY_MAX_HOURS) throw new TypeError(ERRORS.ensureEveryBad(raw, ENSURE_EVERY_MAX_HOURS));
  return Math.round(n * 3_600_000);
}

/** The directory beside the token files: `<userDir>/tesla-fleet-telemetry`. */
export function dataDir(userDir: string): string {
  return path.join(userDir, 'tesla-fleet-telemetry');
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? (e as Error)?.message ?? 'error';
}

function isCapFile(x: unknown): x is CapFile {
  if (!x || typeof x !== 'object' || Array.isArray(x)) return false;
  const o = x as Record<string, unknown>;
  if (o.format !== FORMAT || o.version !== VERSION) return false;
  if (!o.pushed || typeof o.pushed !== 'object' || Array.isArray(o.pushed)) return false;
  return Object.values(o.pushed as Record<string, unknown>).every((t) => typeof t === 'number' && Number.isFinite(t));
}

/** The 24 h push cap of one telemetry-config node; `file` null keeps it in memory only. */
export class EnsureCap {
  readonly file: string | null;
  private readonly pushed = new Map<string, number>();
  private loading: Promise<void> | null = null;
  private chain: Promise<void> = Promise.resolve();
  private readonly warn: (text: string) => void;
  private readonly now: () => number;
  private warnedWrite: string | null = null;

  constructor(file: string | null, options: EnsureCapOptions = {}) {
    this.file = file;
    this.warn = options.warn ?? (() => undefined);
    this.now = options.now ?? Date.now;
  }

  /** `<dir>/ensure-<node id>.json` (characters other than letters, digits, `.`, `_`, `-` become `_`). */
  static forNode(dir: string, nodeId: string, options: EnsureCapOptions = {}): EnsureCap {
    const safe = String(nodeId).replace(/[^A-Za-z0-9._-]/g, '_');
    if (!safe || /^\.+$/.test(safe)) throw new TypeError('EnsureCap: a non-empty node id is required');
    return new EnsureCap(path.join(dir, `ensure-${safe}.json`), options);
  }

  /** Read the file once (later calls wait for the same read). Never rejects. */
  load(): Promise<void> {
    if (!this.loading) this.loading = this.read();
    return this.loading;
  }

  private async read(): Promise<void> {
    const file = this.file;
    if (file === null) return;
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      if (errCode(e) !== 'ENOENT') this.warn(WARNINGS.capUnreadable(file, errCode(e)));
      return;
    }
    let parsed: unknown;
    let why: string | null = null;
    try {
      parsed = JSON.parse(text);
      if (!isCapFile(parsed)) why = 'not an ensure cap file of this version';
    } catch {
      why = text.trim() === '' ? 'empty' : 'not JSON';
    }
    if (why !== null) {
      const aside = `${file}.corrupt-${this.now()}`;
      try {
        await fsp.rename(file, aside);
      } catch (e) {
        this.warn(WARNINGS.capUnreadable(file, errCode(e)));
        return;
      }
      this.warn(WARNINGS.capCorrupt(file, aside, why));
      return;
    }
    for (const [vin, at] of Object.entries((parsed as CapFile).pushed)) {
      // A push recorded while this one was loading wins.
      if (!this.pushed.has(vin)) this.pushed.set(vin, at);
    }
  }

  /** When this node last pushed to `vin` (ms), or null. */
  lastPush(vin: string): number | null {
    return this.pushed.get(vin) ?? null;
  }

  /** When the next push to `vin` is allowed (ms), or null when it is allowed at `now`. */
  heldUntil(vin: string, now: number): number | null {
    const at = this.pushed.get(vin);
    if (at === undefined) return null;
    const until = at + PUSH_INTERVAL_MS;
    return until > now ? until : null;
  }

  /**
   * Remember a push to `vins` at `at` and write the file. Resolves once written; a write that
   * fails is warned about (once per cause) and the cap stays in memory. Never rejects.
   */
  record(vins: readonly string[], at: number): Promise<void> {
    for (const v of vins) this.pushed.set(v, at);
    const run = this.chain.then(() => this.write(at)).catch(() => undefined);
    this.chain = run;
    return run;
  }

  private async write(at: number): Promise<void> {
    const file = this.file;
    if (file === null) return;
    // Entries older than the interval no longer hold anything back.
    for (const [vin, t] of this.pushed) if (t + PUSH_INTERVAL_MS <= at) this.pushed.delete(vin);
    const record: CapFile = { format: FORMAT, version: VERSION, pushed: Object.fromEntries(this.pushed) };
    const dir = path.dirname(file);
    const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
      const fh = await fsp.open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(JSON.stringify(record), 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.chmod(tmp, 0o600);
      await fsp.rename(tmp, file);
      this.warnedWrite = null;
    } catch (e) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      const code = errCode(e);
      if (this.warnedWrite !== code) {
        this.warnedWrite = code;
        this.warn(WARNINGS.capUnwritable(file, code));
      }
    }
  }
}

export interface EnsurePlan {
  /** VINs to push now, in the doctor's order. */
  push: string[];
  /** VINs that need a push but are held by the 24 h cap: VIN → when it is allowed again (ms). */
  held: Map<string, number>;
  /** VINs whose own exp would not help (`expiring`, and this node's exp is within 7 days too). */
  futile: string[];
}

/**
 * From the doctor's entries: the VINs in `not configured`, `drift` or `expiring`, less those
 * pushed within 24 h. `ourExp` (epoch seconds) is this node's own exp, if any: re-pushing a
 * config that expires within 7 days itself would not cure `expiring`.
 */
export function planEnsure(entries: readonly DoctorEntry[], cap: Pick<EnsureCap, 'heldUntil'>, now: number, ourExp?: number | null): EnsurePlan {
  const plan: EnsurePlan = { push: [], held: new Map(), futile: [] };
  for (const e of entries) {
    if (!PUSH_STATES.has(e.state)) continue;
    if (e.state === 'expiring' && typeof ourExp === 'number' && ourExp * 1000 - now <= EXPIRING_WITHIN_MS) {
      plan.futile.push(e.vin);
      continue;
    }
    const until = cap.heldUntil(e.vin, now);
    if (until !== null) plan.held.set(e.vin, until);
    else plan.push.push(e.vin);
  }
  return plan;
}
