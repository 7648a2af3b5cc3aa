/**
 * What streaming costs: Tesla bills Fleet Telemetry by the signal ($1 per 150,000; one live
 * `v` message is one signal). The broker counts, per UTC day, per VIN and per field, the live
 * `v` messages — retained re-deliveries are not signals, nor are alerts, errors or
 * connectivity records — keeping today and yesterday, and spots jittering numeric fields that
 * a `minimum_delta` would quieten.
 *
 * On the hot path (every message of the broker) `record()` does two Map look-ups, an
 * increment and, for a numeric value, two writes into a preallocated ring buffer. Day
 * rollover is lazy: each field keeps the UTC day its count belongs to and shifts it into
 * "yesterday" on its first signal of a new day, so there is no timer and no walk over every
 * field at midnight. Everything else (sums, jitter analysis) is done when a report is asked.
 */
import { Clock, realClock } from '../common/clock';
import type { BadInput, Decoded } from './decode';
import { parseList } from '../common/util';

/** Tesla's price for streaming. */
export const SIGNALS_PER_DOLLAR = 150_000;

export const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** Jitter analysis: the last this many live values of a field... */
export const JITTER_WINDOW = 60;
/** ...of which at least this many arrived within the last hour... */
export const JITTER_MIN_VALUES = 30;
/** ...and the sum of their absolute changes is at least this many times their range. */
export const JITTER_FACTOR = 5;
/** How far back the jitter window reaches. */
export const JITTER_MAX_AGE_MS = HOUR_MS;

/**
 * At most this many (VIN, field) ring buffers (about 1 KB each): a fleet of 10,000 cars
 * streaming 20 numeric fields would otherwise hold 200 MB for advice. Fields beyond it are
 * counted as usual but get no advice.
 */
export const DEFAULT_MAX_TRACKED = 20_000;

export interface FieldUsage {
  [field: string]: number;
}

export interface VinUsage {
  signals: number;
  usd: number;
  /** Signals per field, most first. */
  fields: FieldUsage;
}

export interface UsageAdvice {
  vin: string;
  field: string;
  /** The smallest number of the 1-2-5 series at least the field's recent range. */
  minimumDelta: number;
  /** Signals a day this minimum_delta would have saved, estimated. */
  savesPerDay: number;
}

/** The `usage` payload of `telemetry-config` and of the broker's admin endpoint. */
export interface UsageReport {
  /** UTC date, YYYY-MM-DD. */
  day: string;
  signalsPerDollar: number;
  total: { signals: number; usd: number };
  vins: Record<string, VinUsage>;
  advice: UsageAdvice[];
}

export interface UsageReportOptions {
  /** `today` (default) or `yesterday`; advice is given for today only (it is about now). */
  day?: 'today' | 'yesterday';
}

export interface UsageMeterOptions {
  maxTracked?: number;
}

/** The last JITTER_WINDOW live numeric values of one field, with their arrival times. */
class Ring {
  /** Values at [0, W), arrival times (ms) at [W, 2W): one allocation per field, none per message. */
  readonly data = new Float64Array(2 * JITTER_WINDOW);
  /** Next slot to write. */
  next = 0;
  /** Slots written, at most JITTER_WINDOW. */
  size = 0;
}

interface FieldTrack {
  /** UTC day number (ms / DAY_MS) that `count` belongs to. */
  day: number;
  count: number;
  /** The count of day `day - 1`. */
  before: number;
  ring: Ring | null;
}

/** UTC date of a day number: YYYY-MM-DD. */
export function utcDay(dayNumber: number): string {
  return new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
}

/** Dollars for a number of signals, rounded to micro-dollars. */
export function signalsToUsd(signals: number): number {
  return Math.round((signals * 1_000_000) / SIGNALS_PER_DOLLAR) / 1_000_000;
}

/** The smallest number of the 1-2-5 series (…, 0.1, 0.2, 0.5, 1, 2, 5, 10, …) that is ≥ x (x > 0). */
export function series125AtLeast(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return NaN;
  // A range computed from decimals carries binary noise (20.6 - 20.1 = 0.5000000000000036):
  // judged at 12 significant digits, it is the 0.5 it means.
  const r = Number(x.toPrecision(12));
  let e = Math.floor(Math.log10(r));
  for (;;) {
    for (const m of [1, 2, 5]) {
      const c = e >= 0 ? m * 10 ** e : m / 10 ** -e;
      if (c >= r) return c;
    }
    e++;
  }
}

export interface JitterVerdict {
  /** Values within the last hour among the last JITTER_WINDOW. */
  values: number;
  range: number;
  sumOfChanges: number;
  jittering: boolean;
  minimumDelta: number | null;
  /** Share of those values a minimumDelta would have held back (0..1). */
  savedShare: number;
}

/**
 * The contract's jitter rule over chronological values: at least JITTER_MIN_VALUES of them,
 * a range > 0, not only climbing or only falling, and Σ|Δ| ≥ JITTER_FACTOR × range.
 */
export function judgeJitter(values: ArrayLike<number>, count: number = values.length): JitterVerdict {
  const n = count;
  const out: JitterVerdict = { values: n, range: 0, sumOfChanges: 0, jittering: false, minimumDelta: null, savedShare: 0 };
  if (n === 0) return out;
  let min = values[0];
  let max = values[0];
  let sum = 0;
  let ups = 0;
  let downs = 0;
  for (let i = 1; i < n; i++) {
    const d = values[i] - values[i - 1];
    if (d > 0) ups++;
    else if (d < 0) downs++;
    sum += Math.abs(d);
    if (values[i] < min) min = values[i];
    if (values[i] > max) max = values[i];
  }
  out.range = max - min;
  out.sumOfChanges = sum;
  const monotonic = ups === 0 || downs === 0;
  if (n < JITTER_MIN_VALUES || !(out.range > 0) || monotonic || sum < JITTER_FACTOR * out.range) return out;
  const delta = series125AtLeast(out.range);
  // What the car would have sent with this minimum_delta: a value only when it moved at least
  // delta away from the last value sent.
  let sent = 1;
  let last = values[0];
  for (let i = 1; i < n; i++) {
    if (Math.abs(values[i] - last) >= delta) {
      sent++;
      last = values[i];
    }
  }
  out.jittering = true;
  out.minimumDelta = delta;
  out.savedShare = (n - sent) / n;
  return out;
}

export class UsageMeter {
  private readonly vinTracks = new Map<string, Map<string, FieldTrack>>();
  private readonly maxTracked: number;
  private tracked = 0;
  /** Current UTC day number and the ms at which it ends (the hot path compares against it). */
  private dayNumber: number;
  private dayEndsAt: number;
  /** Live `v` messages counted since start (all days). */
  signalsSinceStart = 0;
  /** One window's values while a report is made (no array per field). */
  private readonly scratch = new Float64Array(JITTER_WINDOW);

  constructor(
    private readonly clock: Pick<Clock, 'now'> = realClock,
    options: UsageMeterOptions = {},
  ) {
    this.maxTracked = options.maxTracked ?? DEFAULT_MAX_TRACKED;
    this.dayNumber = Math.floor(clock.now() / DAY_MS);
    this.dayEndsAt = (this.dayNumber + 1) * DAY_MS;
  }

  /** A decoded message of the broker (hot path): counts it when it is a live `v` message. */
  record(d: Decoded): void {
    if (d.kind !== 'data' || d.retain) return;
    this.count(d.vin, d.name, d.payload, d.receivedAt);
  }

  /** A `v` message whose payload could not be decoded still went over Tesla's wire: one signal, no value. */
  recordBad(b: BadInput): void {
    if (b.info === null || b.info.kind !== 'data' || b.retain) return;
    this.count(b.info.vin, b.info.name, undefined, b.receivedAt);
  }

  /** Count one live signal of `vin`/`field` that arrived at `at` (ms); numeric values feed the jitter window. */
  count(vin: string, field: string, value: unknown, at: number): void {
    if (at >= this.dayEndsAt) this.roll(at);
    let fields = this.vinTracks.get(vin);
    if (fields === undefined) {
      fields = new Map();
      this.vinTracks.set(vin, fields);
    }
    let f = fields.get(field);
    if (f === undefined) {
      f = { day: this.dayNumber, count: 0, before: 0, ring: null };
      fields.set(field, f);
    }
    if (f.day !== this.dayNumber) this.shift(f, this.dayNumber);
    f.count++;
    this.signalsSinceStart++;
    if (typeof value === 'number' && value - value === 0 /* finite */) {
      let ring = f.ring;
      if (ring === null) {
        if (this.tracked >= this.maxTracked) return;
        ring = f.ring = new Ring();
        this.tracked++;
      }
      const i = ring.next;
      ring.data[i] = value;
      ring.data[JITTER_WINDOW + i] = at;
      ring.next = i + 1 === JITTER_WINDOW ? 0 : i + 1;
      if (ring.size < JITTER_WINDOW) ring.size++;
    }
  }

  private roll(at: number): void {
    this.dayNumber = Math.floor(at / DAY_MS);
    this.dayEndsAt = (this.dayNumber + 1) * DAY_MS;
  }

  /** Move a field's count to the day `day`: the old count becomes "yesterday" when it was the day before. */
  private shift(f: FieldTrack, day: number): void {
    if (day < f.day) return; // the clock went back: keep counting into the newer day
    f.before = day === f.day + 1 ? f.count : 0;
    f.count = 0;
    f.day = day;
  }

  private countOn(f: FieldTrack, day: number): number {
    if (f.day === day) return f.count;
    if (f.day === day + 1) return f.before;
    return 0;
  }

  /** VINs that sent a signal today or yesterday. */
  vins(): string[] {
    const today = this.today();
    const out: string[] = [];
    for (const [vin, fields] of this.vinTracks) {
      for (const f of fields.values()) {
        if (this.countOn(f, today) > 0 || this.countOn(f, today - 1) > 0) {
          out.push(vin);
          break;
        }
      }
    }
    return out.sort();
  }

  /** Signals of one VIN (and field) on today's UTC day. */
  signalsToday(vin: string, field?: string): number {
    const today = this.today();
    const fields = this.vinTracks.get(vin);
    if (!fields) return 0;
    if (field !== undefined) {
      const f = fields.get(field);
      return f ? this.countOn(f, today) : 0;
    }
    let n = 0;
    for (const f of fields.values()) n += this.countOn(f, today);
    return n;
  }

  private today(): number {
    const now = this.clock.now();
    if (now >= this.dayEndsAt) this.roll(now);
    return Math.max(this.dayNumber, Math.floor(now / DAY_MS));
  }

  /**
   * The usage payload for `vins` (array or comma list; every VIN with signals when empty).
   * A VIN asked for by name is listed even with no signal.
   */
  report(vins?: unknown, options: UsageReportOptions = {}): UsageReport {
    const today = this.today();
    const day = options.day === 'yesterday' ? today - 1 : today;
    const wanted = parseList(vins);
    const list = wanted.length > 0 ? wanted : [...this.vinTracks.keys()];
    const out: UsageReport = {
      day: utcDay(day),
      signalsPerDollar: SIGNALS_PER_DOLLAR,
      total: { signals: 0, usd: 0 },
      vins: {},
      advice: [],
    };
    const now = this.clock.now();
    for (const vin of [...list].sort()) {
      const fields = this.vinTracks.get(vin);
      const counts: Array<[string, number]> = [];
      const advice: UsageAdvice[] = [];
      let signals = 0;
      if (fields) {
        for (const [name, f] of fields) {
          const n = this.countOn(f, day);
          if (n > 0) counts.push([name, n]);
          signals += n;
          if (day === today && f.ring !== null) {
            const a = this.advise(vin, name, f, today, now);
            if (a) advice.push(a);
          }
        }
      }
      if (signals === 0 && wanted.length === 0) continue;
      out.advice.push(...advice);
      counts.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      out.vins[vin] = { signals, usd: signalsToUsd(signals), fields: Object.fromEntries(counts) };
      out.total.signals += signals;
    }
    out.total.usd = signalsToUsd(out.total.signals);
    out.advice.sort((a, b) => b.savesPerDay - a.savesPerDay || (a.vin < b.vin ? -1 : a.vin > b.vin ? 1 : a.field < b.field ? -1 : 1));
    return out;
  }

  /** The chronological values of a field's window that arrived within the last hour. */
  recentValues(vin: string, field: string, now: number = this.clock.now()): number[] {
    const ring = this.vinTracks.get(vin)?.get(field)?.ring;
    if (!ring) return [];
    const n = windowInto(ring, now, this.scratch);
    return Array.from(this.scratch.subarray(0, n));
  }

  private advise(vin: string, field: string, f: FieldTrack, today: number, now: number): UsageAdvice | null {
    const v = judgeJitter(this.scratch, windowInto(f.ring as Ring, now, this.scratch));
    if (!v.jittering || v.minimumDelta === null) return null;
    // A day's signals of this field: yesterday's count when there is one, else today's so far
    // projected over the whole day (from at least an hour, so a first burst is not blown up).
    const yesterday = this.countOn(f, today - 1);
    const elapsed = Math.max(HOUR_MS, now - today * DAY_MS);
    const perDay = yesterday > 0 ? yesterday : (this.countOn(f, today) * DAY_MS) / elapsed;
    const savesPerDay = Math.round(perDay * v.savedShare);
    // A range that is itself a 1-2-5 number between values that flip end to end saves nothing
    // (the car sends a change of at least minimum_delta): no advice rather than an empty one.
    return savesPerDay > 0 ? { vin, field, minimumDelta: v.minimumDelta, savesPerDay } : null;
  }
}

/** Copy the ring's values of the last hour into `out`, oldest first; returns how many. */
function windowInto(ring: Ring, now: number, out: Float64Array): number {
  let n = 0;
  const oldest = ring.size < JITTER_WINDOW ? 0 : ring.next;
  for (let k = 0; k < ring.size; k++) {
    const i = (oldest + k) % JITTER_WINDOW;
    if (now - ring.data[JITTER_WINDOW + i] <= JITTER_MAX_AGE_MS) out[n++] = ring.data[i];
  }
  return n;
}
