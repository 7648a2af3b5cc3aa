/**
 * What a `vehicle-data` node does, without Node-RED: the Fleet API fallback.
 *
 * - A read is always: `GET /api/1/vehicles/{vin}` (free, never wakes the car), and only when
 *   the car is `online`, `vehicle_data` (billed). `wake_up` is never called.
 * - `auto` with a broker: each VIN the broker's freshness reports stale is read at once, then
 *   every `pollInterval`; polling stops the moment the VIN streams again.
 *   `auto` without a broker: the configured VINs are read this way all the time.
 * - 429: nothing for that VIN until Retry-After has passed. 5xx/network: capped exponential
 *   backoff with jitter. A refused refresh token: everything stops until a redeploy.
 * - `dailyBudget`: billed calls per VIN per day; once spent, no more calls that day.
 * - Free reads: with a broker, an input for a VIN whose stream is fresh (a live message within
 *   `staleAfter`) is answered from the broker's car state, with no HTTP call at all;
 *   `refresh` (msg.refresh), a stale or an unknown VIN take the API path.
 * - `units`: payloads converted as `telemetry-in` converts them.
 * One scheduler timer for all VINs, on an injectable clock (benchmarks run a day in ms).
 */
import type { BrokerConnection, BrokerListener } from '../stream/broker-connection';
import { Clock, realClock } from '../common/clock';
import type { FleetApiError } from '../fleet-api/errors';
import { FREE_READ_TEXTS } from '../stream/car-state-texts';
import type { BillingMeter } from '../fleet-api/billing';
import { formatCost, isBilled, localDay } from '../fleet-api/billing';
import type { FreshnessEvent, Watcher } from '../stream/freshness';
import { CarMessage, fieldMessage, snapshotMessage, statusMessage } from '../common/messages';
import { NodeStatus, StatusOnChange, StatusSink, shortText } from '../common/status';
import { CarUnits, UnitConverter, UnitsChoice } from '../catalogue/units';
import { apiMessages } from './vehicle-data-map';

/** The part of FleetApiClient this uses (a double in unit tests). */
export interface FleetReader {
  getVehicle(vin: string): Promise<{ state: string | null }>;
  vehicleData(vin: string, endpoints: string[]): Promise<{ response: Record<string, unknown> }>;
  readonly meter: BillingMeter;
}

export interface VehicleDataOptions {
  vins: readonly string[];
  mode: 'field' | 'vehicle';
  auto: boolean;
  staleAfterMs: number;
  pollIntervalMs: number;
  endpoints: readonly string[];
  /** Billed calls per VIN per day; 0 = no limit. */
  dailyBudget: number;
  /** The units of payloads (default `sent`: as Tesla sends them). */
  units?: UnitsChoice;
}

/** Reads this node answered today: from the car state (free) and with a billed vehicle_data call. */
export interface ReadCounts {
  /** Local calendar day, YYYY-MM-DD (the billing meter's days). */
  day: string;
  free: number;
  billed: number;
}

export interface VehicleDataSink extends StatusSink {
  send(msgs: CarMessage[]): void;
  /** An error to report on the node (Catch nodes see it), with the VIN it concerns. */
  error(text: string, vin: string | null): void;
  warn(text: string): void;
}

/** The part of a Clock the scheduler needs. */
export type SchedulerClock = Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;

/** setTimeout's limit; longer waits are taken in steps. */
const MAX_TIMER = 2 ** 31 - 1;
const BACKOFF_CAP_MS = 60 * 60_000;

interface Poll {
  nextAt: number;
  inFlight: boolean;
  failures: number;
}

interface VinState {
  /** Last state the API reported: online / asleep / offline. */
  state: string | null;
  /** No call before this time (Retry-After). */
  blockedUntil: number;
  /** Day on which the budget warning was given. */
  budgetWarned: string | null;
  /** vehicle mode: the last snapshot's payload, for `changed`. */
  previous?: Record<string, unknown>;
}

/** Why a read made no call, or what it found. */
export type ReadOutcome = 'data' | 'cached' | 'asleep' | 'offline' | 'rate-limited' | 'budget' | 'stopped' | 'error';

export class VehicleDataController {
  private readonly polls = new Map<string, Poll>();
  private readonly vins = new Map<string, VinState>();
  private watcher: Watcher | null = null;
  private timer: unknown = null;
  private timerAt = Infinity;
  private stopped = false;
  private loginRequired = false;
  private lastError: string | null = null;
  private unsubscribeMeter: (() => void) | null = null;
  private readonly random: () => number;
  private readonly units: UnitConverter;
  private reads: ReadCounts = { day: '', free: 0, billed: 0 };
  /** Keeps the broker's MQTT client connected while this node uses it (freshness, free reads). */
  private readonly brokerUser: BrokerListener = { onMessage() {}, onBadInput() {}, onConnection() {} };

  constructor(
    private readonly client: FleetReader,
    private readonly broker: BrokerConnection | null,
    private readonly options: VehicleDataOptions,
    private readonly sink: VehicleDataSink,
    private readonly clock: SchedulerClock = realClock,
    random: () => number = Math.random,
  ) {
    this.random = random;
    this.units = new UnitConverter(options.units ?? 'sent');
  }

  start(): void {
    this.unsubscribeMeter = this.client.meter.onChange(() => this.updateStatus());
    if (this.options.auto) {
      if (this.broker) {
        this.watcher = this.broker.tracker.watch({
          staleAfterMs: this.options.staleAfterMs,
          vins: this.options.vins.length ? new Set(this.options.vins) : null,
          onStale: (e) => this.onStale(e),
          onFresh: (e) => this.onFresh(e),
        });
      } else {
        const at = this.clock.now();
        for (const vin of this.options.vins) this.polls.set(vin, { nextAt: at, inFlight: false, failures: 0 });
        this.schedule();
      }
    }
    // With a broker, keep its stream (and so the car state for free reads) running.
    this.broker?.register(this.brokerUser);
    this.updateStatus();
  }

  /** `restarting`: a new instance of the node starts right after, on the same broker session. */
  async stop(restarting = false): Promise<void> {
    this.stopped = true;
    await this.broker?.deregister(this.brokerUser, restarting);
    this.watcher?.close();
    this.watcher = null;
    this.unsubscribeMeter?.();
    this.unsubscribeMeter = null;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.polls.clear();
  }

  /** VINs being polled now. */
  polling(): string[] {
    return [...this.polls.keys()];
  }

  private vinState(vin: string): VinState {
    let s = this.vins.get(vin);
    if (!s) this.vins.set(vin, (s = { state: null, blockedUntil: 0, budgetWarned: null }));
    return s;
  }

  private onStale(e: FreshnessEvent): void {
    if (this.stopped) return;
    this.polls.set(e.vin, { nextAt: this.clock.now(), inFlight: false, failures: 0 });
    this.schedule();
    this.updateStatus();
  }

  private onFresh(e: FreshnessEvent): void {
    this.polls.delete(e.vin);
    const s = this.vins.get(e.vin);
    if (s) s.state = null;
    this.schedule();
    this.updateStatus();
  }

  /** One timer, set for the earliest poll due. */
  private schedule(): void {
    if (this.stopped) return;
    let next = Infinity;
    for (const p of this.polls.values()) if (!p.inFlight && p.nextAt < next) next = p.nextAt;
    if (next === this.timerAt && this.timer !== null) return;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = next;
    if (next === Infinity) return;
    const wait = Math.min(MAX_TIMER, Math.max(0, next - this.clock.now()));
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.runDue();
    }, wait);
  }

  private runDue(): void {
    const now = this.clock.now();
    for (const [vin, p] of this.polls) {
      if (p.inFlight || p.nextAt > now) continue;
      p.inFlight = true;
      this.read(vin, 'auto').then(
        (outcome) => this.afterPoll(vin, p, outcome),
        () => this.afterPoll(vin, p, 'error'),
      );
    }
    this.schedule();
  }

  private afterPoll(vin: string, p: Poll, outcome: ReadOutcome): void {
    p.inFlight = false;
    if (this.polls.get(vin) !== p) return; // fresh again, or stopped, meanwhile
    const now = this.clock.now();
    const interval = this.options.pollIntervalMs;
    if (outcome === 'error') {
      p.failures++;
      const backoff = Math.min(interval * 2 ** (p.failures - 1), Math.max(interval, BACKOFF_CAP_MS));
      p.nextAt = now + backoff * (0.9 + 0.2 * this.random());
    } else {
      p.failures = 0;
      p.nextAt = now + interval;
    }
    const blocked = this.vinState(vin).blockedUntil;
    if (blocked > p.nextAt) p.nextAt = blocked;
    if (this.loginRequired) this.polls.clear();
    this.schedule();
    this.updateStatus();
  }

  /**
   * Read one car: the free state check, then vehicle_data only when online. Sends what it
   * found; reports errors through the sink (auto) or returns them (input, via `throwErrors`).
   */
  async read(
    vin: string,
    why: 'auto' | 'input',
    send: (msgs: CarMessage[]) => void = (m) => this.sink.send(m),
    refresh = false,
  ): Promise<ReadOutcome> {
    const s = this.vinState(vin);
    if (this.stopped) return 'stopped';
    if (why === 'input' && !refresh) {
      const cached = this.freeRead(vin);
      if (cached) {
        this.count('free');
        send(cached);
        this.updateStatus();
        return 'cached';
      }
    }
    const now = this.clock.now();
    if (this.loginRequired) throw new Error(this.lastError ?? 'login required');
    if (s.blockedUntil > now) {
      const text = `${vin}: rate-limited by Tesla until ${timeOf(s.blockedUntil)}; no call made`;
      if (why === 'input') throw new Error(text);
      return 'rate-limited';
    }
    if (this.budgetSpent(vin, s)) {
      if (why === 'input') throw new Error(`${vin}: daily budget of ${this.options.dailyBudget} billed calls spent; no call made`);
      return 'budget';
    }
    try {
      const { state } = await this.client.getVehicle(vin);
      if (this.stopped) return 'stopped';
      if (state !== 'online') return this.notOnline(vin, s, state === 'offline' ? 'offline' : 'asleep', why, send);
      if (this.budgetSpent(vin, s)) return 'budget';
      let body: { response: Record<string, unknown> };
      try {
        body = await this.client.vehicleData(vin, [...this.options.endpoints]);
        this.count('billed');
      } catch (e) {
        if (isBilled((e as FleetApiError)?.status ?? null)) this.count('billed');
        throw e;
      }
      if (this.stopped) return 'stopped';
      s.state = 'online';
      this.lastError = null;
      const response = (body && typeof body === 'object' && 'response' in body ? body.response : body) as Record<string, unknown>;
      const msgs = apiMessages(vin, response, {
        mode: this.options.mode,
        receivedAt: this.clock.now(),
        previous: s.previous,
      });
      // `previous` (for `changed`) stays in the units Tesla sends; the message's own payload is converted.
      if (this.options.mode === 'vehicle' && msgs[0]) s.previous = { ...(msgs[0].payload as Record<string, unknown>) };
      const car = this.carUnits(vin);
      for (const m of msgs) this.units.applyTo(m, car);
      send(msgs);
      return 'data';
    } catch (e) {
      return this.failed(vin, s, e as FleetApiError, why, send);
    } finally {
      this.updateStatus();
    }
  }

  /** The car's own units for `units: "car"`, from the broker's car state (as sent without one). */
  private carUnits(vin: string): CarUnits | undefined {
    return this.units.needsCar && this.broker ? this.broker.carState.carUnits(vin) : undefined;
  }

  /**
   * The answer from the broker's car state when the VIN's stream is fresh (a live message within
   * `staleAfter`; with `staleAfter` 0, any live message), else null: the API path.
   */
  private freeRead(vin: string): CarMessage[] | null {
    const state = this.broker?.carState;
    const lastLive = state?.lastLive(vin);
    if (!state || lastLive === null || lastLive === undefined) return null;
    const now = this.clock.now();
    const limit = this.options.staleAfterMs;
    if (limit > 0 && now - lastLive >= limit) return null;
    const snap = state.snapshot(vin);
    if (!snap) return null;
    const car = this.carUnits(vin);
    let msgs: CarMessage[];
    if (this.options.mode === 'vehicle') {
      const msg = snapshotMessage(vin, snap.payload, [], {}, 'telemetry', now, false);
      msg.updatedAt = snap.updatedAt;
      msgs = [msg];
    } else {
      msgs = Object.keys(snap.payload).map((field) => {
        const msg = fieldMessage(vin, field, snap.payload[field], undefined, 'telemetry', now, false);
        delete msg.raw; // the raw payload is not kept in the car state
        msg.updatedAt = snap.updatedAt[field];
        return msg;
      });
    }
    for (const m of msgs) {
      m.cached = true;
      this.units.applyTo(m, car);
    }
    return msgs;
  }

  private count(kind: 'free' | 'billed'): void {
    const day = localDay(this.clock.now());
    if (this.reads.day !== day) this.reads = { day, free: 0, billed: 0 };
    this.reads[kind]++;
  }

  /** Reads answered today: free (from the car state) and billed (a vehicle_data call). */
  readsToday(): ReadCounts {
    const day = localDay(this.clock.now());
    return this.reads.day === day ? { ...this.reads } : { day, free: 0, billed: 0 };
  }

  private notOnline(vin: string, s: VinState, state: 'asleep' | 'offline', why: 'auto' | 'input', send: (msgs: CarMessage[]) => void): ReadOutcome {
    const changed = s.state !== state;
    s.state = state;
    if (why === 'input' || changed) send([statusMessage(state, vin, { state }, 'api', this.clock.now())]);
    return state;
  }

  private budgetSpent(vin: string, s: VinState): boolean {
    const budget = this.options.dailyBudget;
    if (!(budget > 0) || this.client.meter.billedToday(vin) < budget) return false;
    const day = this.client.meter.today().day;
    if (s.budgetWarned !== day) {
      s.budgetWarned = day;
      this.sink.warn(`${vin}: daily budget of ${budget} billed calls spent; no more calls today`);
    }
    return true;
  }

  private failed(vin: string, s: VinState, e: FleetApiError, why: 'auto' | 'input', send: (msgs: CarMessage[]) => void): ReadOutcome {
    if (this.stopped) return 'stopped'; // the node closed while a call was under way
    const kind = e?.kind;
    if (kind === 'asleep') return this.notOnline(vin, s, 'asleep', why, send); // fell asleep between the two calls
    const message = e?.message ?? String(e);
    if (kind === 'rate-limited') {
      const seconds = e.retryAfterSeconds ?? this.options.pollIntervalMs / 1000;
      s.blockedUntil = this.clock.now() + seconds * 1000;
    }
    if (kind === 'login-required') {
      this.loginRequired = true;
      this.polls.clear();
    }
    this.lastError = message;
    if (why === 'input') throw e;
    this.sink.error(`${vin}: ${message}`, vin);
    return kind === 'rate-limited' ? 'rate-limited' : 'error';
  }

  /** Read the VINs a message names (msg.vin, msg.vins, else the configured ones); `refresh` skips the car state. */
  async readForInput(vins: readonly string[], send?: (msgs: CarMessage[]) => void, refresh = false): Promise<void> {
    const errors: Error[] = [];
    for (const vin of vins) {
      try {
        await this.read(vin, 'input', send, refresh);
      } catch (e) {
        errors.push(e as Error);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new Error(errors.map((e) => e.message).join('; '));
  }

  status(): NodeStatus {
    const today = this.client.meter.today();
    const free = this.readsToday().free;
    const cost = `today ${formatCost(today)}${free ? ` · ${FREE_READ_TEXTS.status(free)}` : ''}`;
    if (this.loginRequired) {
      return { fill: 'red', shape: 'ring', text: 'login required: new refresh token in tesla-account' };
    }
    const now = this.clock.now();
    const blocked = [...this.vins.values()].filter((v) => v.blockedUntil > now);
    if (blocked.length) {
      const until = Math.max(...blocked.map((v) => v.blockedUntil));
      return { fill: 'yellow', shape: 'ring', text: `rate-limited until ${timeOf(until)} · ${cost}` };
    }
    if (this.lastError) return { fill: 'red', shape: 'ring', text: shortText(this.lastError, 40) + ` · ${cost}` };
    const polled = [...this.polls.keys()];
    if (polled.length) {
      const sleeping = polled.filter((v) => {
        const st = this.vins.get(v)?.state;
        return st === 'asleep' || st === 'offline';
      });
      if (sleeping.length === polled.length) {
        return { fill: 'blue', shape: 'ring', text: `asleep ${sleeping.length} · ${cost}` };
      }
      return { fill: 'yellow', shape: 'ring', text: `polling ${polled.length} · ${cost}` };
    }
    if (this.options.auto && this.broker) return { fill: 'green', shape: 'dot', text: `streaming · ${cost}` };
    return { fill: 'grey', shape: 'ring', text: `idle · ${cost}` };
  }

  private statusOut: StatusOnChange | null = null;
  private updateStatus(): void {
    if (this.stopped) return;
    (this.statusOut ??= new StatusOnChange(this.sink)).set(this.status());
  }
}

function timeOf(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
