/**
 * `vehicle` mode: Fleet Telemetry publishes one record as a burst of per-field messages with
 * no record id. Messages for one VIN less than `quietMs` apart form one burst; when the VIN
 * has been quiet for `quietMs`, the burst becomes one snapshot of every field's latest value.
 * One timer per open burst (not per message); retained and live messages never share a burst.
 */
import { isDeepStrictEqual } from 'node:util';
import { Clock, realClock } from '../common/clock';

export interface Snapshot {
  vin: string;
  /** Every field's latest normalised value (a fresh object each time). */
  payload: Record<string, unknown>;
  /** Fields whose value changed (or appeared) in this burst. */
  changed: string[];
  /** Raw values of the fields received in this burst, as they arrived. */
  raw: Record<string, unknown>;
  /** For every field of `payload`: when its value last arrived live (ms), or null. */
  updatedAt: Record<string, number | null>;
  retain: boolean;
  receivedAt: number;
}

/** The part of a Clock a coalescer needs. */
export type CoalescerTimers = Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;

interface Burst {
  changed: Set<string>;
  raw: Record<string, unknown>;
  /** updatedAt of the fields received in this burst (merged into the VIN's at the flush). */
  updated: Record<string, number | null>;
  retain: boolean;
  lastAt: number;
  timer: unknown;
}

export class Coalescer {
  private readonly state = new Map<string, Record<string, unknown>>();
  private readonly updated = new Map<string, Record<string, number | null>>();
  private readonly bursts = new Map<string, Burst>();

  constructor(
    private readonly quietMs: number,
    private readonly emit: (s: Snapshot) => void,
    private readonly timers: CoalescerTimers = realClock,
  ) {}

  add(
    vin: string,
    field: string,
    payload: unknown,
    raw: unknown,
    retain: boolean,
    at: number = this.timers.now(),
    updatedAt: number | null = null,
  ): void {
    let burst = this.bursts.get(vin);
    if (burst && burst.retain !== retain) {
      this.flush(vin);
      burst = undefined;
    }
    if (!burst) {
      burst = { changed: new Set(), raw: {}, updated: {}, retain, lastAt: at, timer: null };
      this.bursts.set(vin, burst);
      this.arm(vin, burst, this.quietMs);
    }
    let values = this.state.get(vin);
    if (!values) this.state.set(vin, (values = {}));
    if (!(field in values) || !isDeepStrictEqual(values[field], payload)) burst.changed.add(field);
    values[field] = payload;
    burst.raw[field] = raw;
    burst.updated[field] = updatedAt;
    burst.lastAt = at;
  }

  private arm(vin: string, burst: Burst, ms: number): void {
    burst.timer = this.timers.setTimeout(() => {
      try {
        const left = burst.lastAt + this.quietMs - this.timers.now();
        if (left > 0 && this.bursts.get(vin) === burst) this.arm(vin, burst, left);
        else this.flush(vin);
      } catch (e) {
        process.emitWarning(`tesla-fleet-telemetry: snapshot failed: ${(e as Error)?.message ?? e}`);
      }
    }, ms);
  }

  /** Emit the open burst of a VIN now. */
  flush(vin: string): void {
    const burst = this.bursts.get(vin);
    if (!burst) return;
    this.bursts.delete(vin);
    this.timers.clearTimeout(burst.timer);
    const values = this.state.get(vin) ?? {};
    let updated = this.updated.get(vin);
    if (!updated) this.updated.set(vin, (updated = {}));
    Object.assign(updated, burst.updated);
    this.emit({
      vin,
      payload: { ...values },
      changed: [...burst.changed],
      raw: burst.raw,
      updatedAt: { ...updated },
      retain: burst.retain,
      receivedAt: burst.lastAt,
    });
  }

  /**
   * Start a VIN from values known before (the car state at start), without a snapshot: the
   * next burst's snapshot carries them too, and `changed` is counted against them.
   */
  seed(vin: string, values: Record<string, unknown>, updatedAt: Record<string, number | null>): void {
    if (this.state.has(vin)) return;
    this.state.set(vin, { ...values });
    this.updated.set(vin, { ...updatedAt });
  }

  /** The latest values of a VIN (for tests and status). */
  values(vin: string): Readonly<Record<string, unknown>> | undefined {
    return this.state.get(vin);
  }

  /** Drop open bursts without emitting and stop every timer. */
  close(): void {
    for (const b of this.bursts.values()) this.timers.clearTimeout(b.timer);
    this.bursts.clear();
  }
}
