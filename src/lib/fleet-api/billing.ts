/**
 * Counts Fleet API calls by Tesla's billing categories and prices them.
 *
 * Tesla bills every answer below 500, 408 and 429 included; 5xx answers and calls that got
 * no answer (network errors, timeouts) are not billed. The vehicle state check
 * (GET /api/1/vehicles/{vin}) and token calls are counted in their own category `free` at $0.
 *
 * Days are local calendar days of the injectable clock, so a daily budget per VIN can be
 * enforced with `billedToday(vin)`.
 */

export type BillingCategory = 'data' | 'command' | 'wake' | 'free';

export const BILLING_CATEGORIES: readonly BillingCategory[] = ['data', 'command', 'wake', 'free'];

/** Calls per US dollar, from Tesla's price list. `free` costs nothing. */
export const CALLS_PER_DOLLAR: Readonly<Record<Exclude<BillingCategory, 'free'>, number>> = {
  data: 500,
  command: 1000,
  wake: 50,
};

/** Price of one call in micro-dollars (integers, so sums stay exact). */
const MICRO_USD: Readonly<Record<BillingCategory, number>> = {
  data: 1_000_000 / CALLS_PER_DOLLAR.data, // 2000
  command: 1_000_000 / CALLS_PER_DOLLAR.command, // 1000
  wake: 1_000_000 / CALLS_PER_DOLLAR.wake, // 20000
  free: 0,
};

/** Price of one call of a category in dollars. */
export function priceOf(category: BillingCategory): number {
  return MICRO_USD[category] / 1_000_000;
}

export type CallCounts = Record<BillingCategory, number>;

export interface BillingSummary {
  /** Answered calls (status < 500) per category. */
  calls: CallCounts;
  /** Calls that cost money: data + command + wake. */
  billed: number;
  /** Their cost in US dollars. */
  cost: number;
  /** Calls that were not billed: 5xx answers, network errors, timeouts. */
  unbilled: number;
}

export interface DaySummary extends BillingSummary {
  /** Local calendar day, YYYY-MM-DD. */
  day: string;
}

export interface BillingEvent {
  category: BillingCategory;
  vin: string | null;
  /** HTTP status, or null when no answer came. */
  status: number | null;
  billed: boolean;
  day: string;
}

export type BillingListener = (event: BillingEvent, meter: BillingMeter) => void;

class Tally {
  calls: CallCounts = { data: 0, command: 0, wake: 0, free: 0 };
  unbilled = 0;
  microUsd = 0;

  add(category: BillingCategory, billed: boolean): void {
    if (!billed) {
      this.unbilled++;
      return;
    }
    this.calls[category]++;
    this.microUsd += MICRO_USD[category];
  }

  get paid(): number {
    return this.calls.data + this.calls.command + this.calls.wake;
  }

  summary(): BillingSummary {
    return { calls: { ...this.calls }, billed: this.paid, cost: this.microUsd / 1_000_000, unbilled: this.unbilled };
  }
}

/** Local calendar day of a timestamp, YYYY-MM-DD. */
export function localDay(ms: number): string {
  const d = new Date(ms);
  const mm = String(d.getMonth() + 1).padStart(2, '0');
  const dd = String(d.getDate()).padStart(2, '0');
  return `${d.getFullYear()}-${mm}-${dd}`;
}

/** True when Tesla bills an answer with this status (null: no answer at all). */
export function isBilled(status: number | null): boolean {
  return status !== null && status < 500;
}

export class BillingMeter {
  private readonly now: () => number;
  private readonly listeners = new Set<BillingListener>();
  private readonly all = new Tally();
  private day = '';
  private dayTally = new Tally();
  private vinTally = new Map<string, Tally>();

  constructor(opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Records one call. `status` is the HTTP status of the answer, or null when none came.
   * Returns whether it was billed.
   */
  record(category: BillingCategory, vin: string | null | undefined, status: number | null): boolean {
    const billed = isBilled(status);
    const day = this.rollover();
    this.all.add(category, billed);
    this.dayTally.add(category, billed);
    if (vin) {
      let t = this.vinTally.get(vin);
      if (!t) {
        t = new Tally();
        this.vinTally.set(vin, t);
      }
      t.add(category, billed);
    }
    const event: BillingEvent = { category, vin: vin ?? null, status, billed, day };
    for (const l of [...this.listeners]) {
      try {
        l(event, this);
      } catch {
        // A listener's failure must not break the HTTP path that records.
      }
    }
    return billed;
  }

  /** Calls that cost money (data, command, wake) for one VIN today. */
  billedToday(vin: string): number {
    this.rollover();
    return this.vinTally.get(vin)?.paid ?? 0;
  }

  /** Today's summary for one VIN. */
  vinToday(vin: string): DaySummary {
    const day = this.rollover();
    return { day, ...(this.vinTally.get(vin) ?? new Tally()).summary() };
  }

  /** Today's summary over all VINs (token calls included, as free). */
  today(): DaySummary {
    const day = this.rollover();
    return { day, ...this.dayTally.summary() };
  }

  /** Everything since the meter was created. */
  total(): BillingSummary {
    return this.all.summary();
  }

  /** Calls `listener` after every recorded call; returns a function that removes it. */
  onChange(listener: BillingListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private rollover(): string {
    const day = localDay(this.now());
    if (day !== this.day) {
      this.day = day;
      this.dayTally = new Tally();
      this.vinTally = new Map();
    }
    return day;
  }
}

/** "12 calls ≈ $0.024" style text for a node status. */
export function formatCost(summary: BillingSummary): string {
  const cost = summary.cost;
  const digits = cost === 0 ? 2 : cost < 0.1 ? 3 : 2;
  return `${summary.billed} calls ≈ $${cost.toFixed(digits)}`;
}
