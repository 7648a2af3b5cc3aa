/**
 * Per-VIN freshness, kept once per broker (docs/message-contract.md "Freshness").
 *
 * - `touch(vin, live)` is on the hot path: a Map look-up and, only for a VIN some watcher
 *   holds stale, a `fresh` event.
 * - Each watcher (a `telemetry-in` or `vehicle-data` node) applies its own `staleAfter`.
 * - One sweep timer for the whole tracker, its period the shortest any watcher needs:
 *   a quarter of the threshold, at most 5 s, for thresholds under ten minutes; 30 s above.
 * - Time the broker connection was down does not count as silence: a broker restart does not
 *   make every car stale, nor then fresh again.
 */
import { Clock, realClock } from '../common/clock';

export interface FreshnessEvent {
  vin: string;
  /** When the last live message arrived; `null` for a VIN known only from retained messages. */
  lastSeen: number | null;
  /** ms of silence (time the broker was unreachable excluded). */
  silentFor: number;
}

export interface WatcherOptions {
  /** ms; 0 turns freshness events off for this watcher. */
  staleAfterMs: number;
  /** Only these VINs (they become known now), or every VIN when null. */
  vins?: ReadonlySet<string> | null;
  onStale?(e: FreshnessEvent): void;
  onFresh?(e: FreshnessEvent): void;
  /** A VIN became known, or turned stale/fresh: for status updates. */
  onChange?(): void;
}

export type { Clock };
export { realClock };

interface VinRecord {
  lastLive: number | null;
  firstSeen: number;
  /** How many watchers hold this VIN stale (0 on the hot path almost always). */
  staleIn: number;
}

interface Outage {
  start: number;
  end: number | null;
}

const MAX_OUTAGES = 64;

/** Sweep period for a threshold: detection lags at most this much. */
export function sweepPeriodFor(staleAfterMs: number): number {
  if (staleAfterMs >= 10 * 60_000) return 30_000;
  return Math.max(20, Math.min(5_000, Math.floor(staleAfterMs / 4)));
}

export class Watcher {
  readonly stale = new Set<string>();
  constructor(
    private readonly tracker: FreshnessTracker,
    readonly options: WatcherOptions,
  ) {}

  /** Does this watcher follow this VIN? */
  follows(vin: string): boolean {
    return !this.options.vins || this.options.vins.has(vin);
  }

  /** Known VINs this watcher follows, and how many of them are stale. */
  counts(): { known: number; stale: number } {
    const vins = this.options.vins;
    let known = 0;
    if (vins) {
      for (const v of vins) if (this.tracker.has(v)) known++;
    } else known = this.tracker.size;
    return { known, stale: this.stale.size };
  }

  /** VINs this watcher follows that the tracker knows. */
  knownVins(): string[] {
    const vins = this.options.vins;
    return vins ? [...vins].filter((v) => this.tracker.has(v)) : this.tracker.vins();
  }

  close(): void {
    this.tracker.unwatch(this);
  }
}

export class FreshnessTracker {
  private readonly records = new Map<string, VinRecord>();
  private readonly watchers = new Set<Watcher>();
  private readonly outages: Outage[] = [];
  private timer: unknown = null;
  private period = 0;

  constructor(readonly clock: Clock = realClock) {}

  get size(): number {
    return this.records.size;
  }

  has(vin: string): boolean {
    return this.records.has(vin);
  }

  vins(): string[] {
    return [...this.records.keys()];
  }

  /** When the last live message of a VIN arrived (null: never), or undefined for an unknown VIN. */
  lastLive(vin: string): number | null | undefined {
    return this.records.get(vin)?.lastLive;
  }

  /** A message for `vin` arrived; `live` unless retained or a DISCONNECTED connectivity. */
  touch(vin: string, live: boolean, at: number = this.clock.now()): void {
    const rec = this.records.get(vin);
    if (rec === undefined) {
      this.records.set(vin, { lastLive: live ? at : null, firstSeen: at, staleIn: 0 });
      this.changed();
      return;
    }
    if (!live) return;
    const before = rec.lastLive;
    rec.lastLive = at;
    if (rec.staleIn > 0) this.refresh(vin, rec, before, at);
  }

  /**
   * A VIN restored from the car state file: known from `at` on like a VIN first seen now (stale
   * `staleAfter` after `at` unless something live arrives), but its `lastSeen` is the restored
   * last live time.
   */
  restore(vin: string, lastLive: number | null, at: number = this.clock.now()): void {
    if (this.records.has(vin)) return;
    this.records.set(vin, { lastLive, firstSeen: at, staleIn: 0 });
    this.changed();
  }

  /** Make a VIN known without a live message (a configured VIN never heard yet). */
  know(vin: string, at: number = this.clock.now()): void {
    if (!this.records.has(vin)) {
      this.records.set(vin, { lastLive: null, firstSeen: at, staleIn: 0 });
      this.changed();
    }
  }

  private refresh(vin: string, rec: VinRecord, before: number | null, at: number): void {
    const event: FreshnessEvent = {
      vin,
      lastSeen: before,
      silentFor: this.silence(silentSince(rec, before), at),
    };
    for (const w of this.watchers) {
      if (!w.stale.delete(vin)) continue;
      rec.staleIn--;
      safely(() => w.options.onFresh?.(event));
      safely(() => w.options.onChange?.());
    }
    rec.staleIn = Math.max(0, rec.staleIn);
  }

  /** Silence between `since` and `at`, less the time the broker connection was down. */
  silence(since: number, at: number): number {
    let down = 0;
    for (const o of this.outages) {
      const s = Math.max(o.start, since);
      const e = Math.min(o.end ?? at, at);
      if (e > s) down += e - s;
    }
    return Math.max(0, at - since - down);
  }

  /** The broker connection went down: silence from now on does not count. */
  connectionDown(at: number = this.clock.now()): void {
    const last = this.outages[this.outages.length - 1];
    if (last && last.end === null) return;
    this.outages.push({ start: at, end: null });
    if (this.outages.length > MAX_OUTAGES) this.outages.shift();
  }

  /** The broker connection is back. */
  connectionUp(at: number = this.clock.now()): void {
    const last = this.outages[this.outages.length - 1];
    if (last && last.end === null) last.end = at;
  }

  watch(options: WatcherOptions): Watcher {
    const w = new Watcher(this, options);
    const at = this.clock.now();
    if (options.vins) for (const v of options.vins) this.know(v, at);
    this.watchers.add(w);
    this.reschedule();
    return w;
  }

  unwatch(w: Watcher): void {
    if (!this.watchers.delete(w)) return;
    for (const vin of w.stale) {
      const rec = this.records.get(vin);
      if (rec) rec.staleIn = Math.max(0, rec.staleIn - 1);
    }
    w.stale.clear();
    this.reschedule();
  }

  /** Check every watcher's VINs against its threshold; called by the timer (or a test/bench). */
  sweep(at: number = this.clock.now()): void {
    for (const w of this.watchers) {
      const limit = w.options.staleAfterMs;
      if (!(limit > 0)) continue;
      let turned = false;
      const check = (vin: string, rec: VinRecord): void => {
        if (w.stale.has(vin)) return;
        const silentFor = this.silence(silentSince(rec, rec.lastLive), at);
        if (silentFor < limit) return;
        w.stale.add(vin);
        rec.staleIn++;
        turned = true;
        const event: FreshnessEvent = { vin, lastSeen: rec.lastLive, silentFor };
        safely(() => w.options.onStale?.(event));
      };
      const vins = w.options.vins;
      if (vins) {
        for (const vin of vins) {
          const rec = this.records.get(vin);
          if (rec) check(vin, rec);
        }
      } else {
        for (const [vin, rec] of this.records) check(vin, rec);
      }
      if (turned) safely(() => w.options.onChange?.());
    }
  }

  private changed(): void {
    for (const w of this.watchers) safely(() => w.options.onChange?.());
  }

  private reschedule(): void {
    let period = Infinity;
    for (const w of this.watchers) {
      if (w.options.staleAfterMs > 0) period = Math.min(period, sweepPeriodFor(w.options.staleAfterMs));
    }
    if (period === this.period && this.timer !== null) return;
    if (this.timer !== null) this.clock.clearInterval(this.timer);
    this.timer = null;
    this.period = 0;
    if (period === Infinity) return;
    this.period = period;
    this.timer = this.clock.setInterval(() => safely(() => this.sweep()), period);
  }

  /** Stop the sweep timer and forget every watcher (the state itself is kept). */
  close(): void {
    for (const w of [...this.watchers]) this.unwatch(w);
    if (this.timer !== null) this.clock.clearInterval(this.timer);
    this.timer = null;
  }
}

/**
 * Silence counts from the last live message, or from when the VIN became known when that is
 * later (never heard live, or restored from a file with a last live time from before the start).
 */
function silentSince(rec: VinRecord, lastLive: number | null): number {
  return lastLive !== null && lastLive > rec.firstSeen ? lastLive : rec.firstSeen;
}

/** Run a callback; an exception from user-facing code must never escape a timer or a socket callback. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    // The callbacks report their own errors on their node; this is the last line of defence.
    process.emitWarning(`tesla-fleet-telemetry: freshness callback failed: ${(e as Error)?.message ?? e}`);
  }
}
