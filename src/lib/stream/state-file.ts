/**
 * The car state across restarts: `<dir>/state-<id>.json` (0600, directory 0700: it holds
 * locations), written atomically (temporary file + rename) at most once per period (30 s) while
 * something changed, and on close; read back once at start.
 *
 * - A missing file is an empty state. A file that cannot be read, is empty, truncated, not JSON,
 *   of another format or version, or holds a record of the wrong shape gives ONE warning naming
 *   it, is renamed aside to `<name>.corrupt-<ms>` (never overwritten unread), and the state
 *   starts empty. If it cannot even be moved aside, it is left alone and nothing is written.
 * - A write that fails (disk full, read-only directory …) warns once per cause and is tried
 *   again at the next period; the state stays in memory meanwhile. Nothing throws.
 * - Writing stays off the message path: the state is serialised a slice of VINs at a time, with
 *   a turn of the event loop between slices, and written slice by slice.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic, tempPrefix } from '../common/atomic-file';
import { CarState, StateShapeError } from './car-state';
import { STATE_FILE_REASONS, STATE_FILE_TEXTS } from './car-state-texts';
import { Clock, realClock } from '../common/clock';

/** The format marker and version of the file (a file without both is foreign). */
export const STATE_FORMAT = 'tesla-fleet-telemetry/car-state';
export const STATE_VERSION = 1;

export const STATE_PERIOD_MS = 30_000;
/** VINs serialised per turn of the event loop. */
export const SLICE_VINS = 250;

export interface StateFileOptions {
  /** The directory (created 0700 when missing). */
  dir: string;
  /** The broker config node's id: the file is `state-<id>.json`. */
  id: string;
  warn: (text: string) => void;
  clock?: Clock;
  /** Write at most this often while changed (default 30 s). */
  periodMs?: number;
  /** VINs serialised per turn of the event loop (default 250). */
  sliceVins?: number;
}

/** `state-<id>.json` for a node id (characters other than letters, digits, `.`, `_`, `-` become `_`). */
export function stateFileName(id: string): string {
  return `state-${String(id).replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
}

const errCode = (e: unknown): string => (e as NodeJS.ErrnoException)?.code ?? 'error';
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class StateFile {
  readonly file: string;
  private readonly clock: Clock;
  private readonly periodMs: number;
  private readonly sliceVins: number;
  private timer: unknown = null;
  private writing: Promise<void> | null = null;
  /** `state.changes` when the file last matched the state. */
  private saved: number;
  /** Set when a file we could not read could not be moved aside either: never write over it. */
  private blocked = false;
  /** Causes of failed writes already warned about (cleared by a successful write). */
  private readonly warned = new Set<string>();
  /** Counters since start: successful and failed writes. */
  readonly stats = { writes: 0, failures: 0 };

  constructor(
    readonly state: CarState,
    private readonly options: StateFileOptions,
  ) {
    this.file = path.join(options.dir, stateFileName(options.id));
    this.clock = options.clock ?? realClock;
    this.periodMs = options.periodMs ?? STATE_PERIOD_MS;
    this.sliceVins = Math.max(1, options.sliceVins ?? SLICE_VINS);
    this.saved = state.size === 0 ? state.changes : -1; // an empty state needs no file yet
  }

  /**
   * Read the file into the state (synchronously: at start, before any message can arrive).
   * Returns the number of VINs restored. Never throws.
   */
  load(): number {
    this.removeLeftovers();
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      const code = errCode(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') return 0; // no file (ENOTDIR: not even the directory)
      return this.setAside(STATE_FILE_REASONS.unreadable(code));
    }
    if (text.trim() === '') return this.setAside(STATE_FILE_REASONS.empty);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return this.setAside(STATE_FILE_REASONS.notJson);
    }
    const d = doc as Record<string, unknown> | null;
    if (!d || typeof d !== 'object' || Array.isArray(d) || d.format !== STATE_FORMAT) {
      return this.setAside(STATE_FILE_REASONS.foreign);
    }
    if (d.version !== STATE_VERSION) return this.setAside(STATE_FILE_REASONS.version(d.version, STATE_VERSION));
    try {
      this.state.restore(d.vins);
    } catch (e) {
      return this.setAside(STATE_FILE_REASONS.shape(e instanceof StateShapeError ? e.message : errCode(e)));
    }
    this.saved = this.state.changes;
    return this.state.size;
  }

  /** Temporary files a crash left behind (ours only: they start with the file's name). */
  private removeLeftovers(): void {
    const prefix = tempPrefix(this.file);
    let names: string[];
    try {
      names = fs.readdirSync(this.options.dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
      try {
        fs.rmSync(path.join(this.options.dir, name), { force: true });
      } catch {
        /* a leftover we cannot remove does no harm */
      }
    }
  }

  private setAside(reason: string): 0 {
    let at = this.clock.now();
    let aside = `${this.file}.corrupt-${at}`;
    while (fs.existsSync(aside)) aside = `${this.file}.corrupt-${++at}`;
    try {
      fs.renameSync(this.file, aside);
      this.options.warn(STATE_FILE_TEXTS.setAside(this.file, reason, aside));
    } catch (e) {
      this.blocked = true;
      this.options.warn(STATE_FILE_TEXTS.notSetAside(this.file, reason, errCode(e)));
    }
    return 0;
  }

  /** Write every period while changed (one timer). */
  start(): void {
    if (this.timer !== null || this.blocked) return;
    this.timer = this.clock.setInterval(() => {
      this.save().catch(() => undefined); // save never rejects; belt and braces in a timer
    }, this.periodMs);
  }

  /** True when the state changed since the file was last written (or read). */
  get dirty(): boolean {
    return this.state.changes !== this.saved;
  }

  /**
   * Write now if something changed; one write at a time (a call during a write waits for it).
   * Never rejects: a failure is warned about (once per cause) and left for the next period.
   */
  save(): Promise<void> {
    if (this.writing) return this.writing;
    if (this.blocked || !this.dirty) return Promise.resolve();
    this.writing = this.write().finally(() => {
      this.writing = null;
    });
    return this.writing;
  }

  /** Resolves when no write is under way (starts none). */
  idle(): Promise<void> {
    return this.writing ?? Promise.resolve();
  }

  /** Stop the timer and write what changed since the last write. */
  async close(): Promise<void> {
    if (this.timer !== null) this.clock.clearInterval(this.timer);
    this.timer = null;
    if (this.writing) await this.writing;
    await this.save();
  }

  private async write(): Promise<void> {
    const changes = this.state.changes;
    try {
      await writeFileAtomic(this.file, this.serialise());
      this.saved = changes;
      this.stats.writes++;
      this.warned.clear();
    } catch (e) {
      this.stats.failures++;
      const code = errCode(e);
      if (!this.warned.has(code)) {
        this.warned.add(code);
        this.options.warn(STATE_FILE_TEXTS.writeFailed(this.file, code, Math.round(this.periodMs / 1000)));
      }
    }
  }

  /** The file's JSON, a slice of VINs per chunk, a turn of the event loop between slices. */
  private async *serialise(): AsyncGenerator<string> {
    const state = this.state;
    const vins = state.vinList();
    let chunk = `{"format":${JSON.stringify(STATE_FORMAT)},"version":${STATE_VERSION},"savedAt":${this.clock.now()},"vins":{`;
    let first = true;
    for (let i = 0; i < vins.length; i += this.sliceVins) {
      if (i > 0) await turn();
      const end = Math.min(vins.length, i + this.sliceVins);
      for (let k = i; k < end; k++) {
        const record = state.record(vins[k]);
        if (!record) continue; // gone meanwhile
        chunk += `${first ? '' : ','}${JSON.stringify(vins[k])}:${JSON.stringify(record)}`;
        first = false;
      }
      yield chunk;
      chunk = '';
    }
    yield `${chunk}}}`;
  }
}
