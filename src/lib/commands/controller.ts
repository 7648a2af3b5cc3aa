/**
 * What a `vehicle-command` node does, without Node-RED: charge and climate commands from a
 * flow, through the Fleet API client (and the vehicle-command proxy that signs them).
 *
 *   const ctl = new VehicleCommandController(client, options, sink, { stream, clock });
 *   ctl.start();
 *   ctl.handle({ command: msg.command, payload: msg.payload, vins: msg.vins, vin: msg.vin }, send)
 *     .then(() => done(), done);          // rejects with a CommandInputError: nothing was sent
 *   await ctl.stop();                      // on close: every timer cleared, nothing sent after
 *
 * Per VIN of an input:
 * - The input is checked against the command table first; a bad input makes no call at all.
 * - `minIntervalMs` per VIN and command: an input less than that after the last one sent
 *   waits; when the interval ends only the newest waiting parameters are sent, each older
 *   waiting input is answered `superseded`. Parameters equal to the last successful ones
 *   within the interval are answered `unchanged`. No call for either.
 * - The free state check (GET /api/1/vehicles/{vin}) comes first. Not online: `asleep` with
 *   no billed call, unless `wake: 'allow'`: then ONE wake_up (shared by the inputs that need
 *   it), and free state checks every 5 s for up to 60 s.
 * - Then the command. Answers: result true `done`; a refusal meaning "already so" `already`;
 *   any other refusal `rejected` (Tesla's reason kept); 408 `asleep`; 429 `rate-limited`, and
 *   no call to that VIN (any command) before Retry-After; 5xx, network, timeout `error`.
 * - `dailyBudget`: billed commands and wakes per VIN per day (the account's meter); once
 *   spent, `over budget` with no call. A wake is made only when the budget has room for it
 *   and the command after it.
 * - Confirmation (`verifyMs` > 0 and a stream): after `done`/`already`, wait for a live
 *   message of the table's field with the table's value (listened for from just before the
 *   command was sent): `verified: true` and `verifiedAt` (the message's receivedAt), or
 *   `verified: false` after `verifyMs`. A matching value already in the car state when the
 *   command is sent confirms at once (`verifiedAt` the time of the answer): the car sends
 *   nothing when nothing changes (door_lock on a locked car). For `already`, a matching value
 *   in the car state when the answer comes confirms too. `verified: null` without a stream,
 *   with verify 0, or for a command the table does not confirm.
 * - One message per VIN per input, sent when all that is settled.
 * All timers run on an injectable clock. Nothing throws out of a timer or a stream callback.
 */
import { Clock, realClock } from '../common/clock';
import type { BillingMeter } from '../fleet-api/billing';
import { priceOf } from '../fleet-api/billing';
import type { CommandAnswer } from '../fleet-api/client';
import { isFleetApiError } from '../fleet-api/errors';
import type { CarMessage } from '../common/messages';
import { NodeStatus, StatusOnChange, StatusSink } from '../common/status';
import { parseList } from '../common/util';
import { CommandParams, CommandSpec, ValidCommand, commandBody, confirmationTest, meansAlready, validateCommand } from './table';
import { TEXTS } from './texts';

/** The part of FleetApiClient the controller uses. */
export interface CommandClient {
  getVehicle(vin: string): Promise<{ state: string | null }>;
  wakeUp(vin: string): Promise<{ state: string | null }>;
  command(vin: string, name: string, body: Record<string, unknown>): Promise<CommandAnswer>;
  readonly meter: BillingMeter;
}

/** Called for every live (not retained) field value: the value as normalised for the car state. */
export type LiveListener = (vin: string, field: string, value: unknown, receivedAt: number) => void;

/**
 * The car's stream as the controller needs it, to confirm commands: live field values as they
 * arrive, and the car state's current value of a field (undefined when unknown).
 */
export interface CommandStream {
  /** Calls `listener` for every live field value; returns a function that stops it. */
  onLive(listener: LiveListener): () => void;
  current(vin: string, field: string): unknown;
}

export interface VehicleCommandOptions {
  /** VINs used when an input names none (msg.vin / msg.vins). */
  vins: readonly string[];
  /** The node's command; '' takes msg.command. When set, msg.command is ignored. */
  command: string;
  /**
   * Parameters of the node's command set in the node (used only with `command`): each is
   * taken from here, and msg.payload is read only for the others.
   */
  params?: CommandParams;
  wake: 'never' | 'allow';
  /** door_unlock and charge_port_door_open run only when true. */
  allowUnlock: boolean;
  /** Per VIN and command; 0 = every input is sent. */
  minIntervalMs: number;
  /** How long to wait for the stream to confirm; 0 = no confirmation. */
  verifyMs: number;
  /** Billed commands and wakes per VIN per day; 0 = no limit. */
  dailyBudget: number;
}

export interface CommandSink extends StatusSink {
  /** One answer message (the node sends it, or `handle`'s own send does). */
  send(msg: CommandMessage): void;
  warn(text: string): void;
}

export interface CommandDeps {
  /** Live values for confirmation; null or absent: `verified` is null. */
  stream?: CommandStream | null;
  clock?: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;
}

export type CommandState = 'done' | 'already' | 'asleep' | 'rejected' | 'superseded' | 'unchanged' | 'rate-limited' | 'over budget' | 'error';

export const COMMAND_STATES: readonly CommandState[] = [
  'done',
  'already',
  'asleep',
  'rejected',
  'superseded',
  'unchanged',
  'rate-limited',
  'over budget',
  'error',
];

export interface CommandPayload {
  vin: string;
  command: string;
  /** The parameters sent (or that would have been): the Fleet API body. */
  params: Record<string, number | boolean>;
  /** The car is as asked: `done`, `already`, `unchanged`. */
  ok: boolean;
  state: CommandState;
  /** Plain English; null for `done`. */
  reason: string | null;
  /** Tesla's own reason of a `result: false` answer, as it came; null otherwise. */
  teslaReason: string | null;
  verified: boolean | null;
  /** receivedAt of the confirming message, or the time of the answer when the car state confirmed it. */
  verifiedAt: number | null;
}

export interface CommandMessage extends CarMessage {
  event: 'command';
  payload: CommandPayload;
  /** The command's raw answer (or the error body of the call that failed); null when no call answered. */
  response: unknown;
}

/** What an input carries (from msg). */
export interface CommandInput {
  command?: unknown;
  payload?: unknown;
  vins?: unknown;
  vin?: unknown;
}

/** After one wake_up: a free state check every WAKE_POLL_MS, up to WAKE_WAIT_MS. */
export const WAKE_POLL_MS = 5000;
export const WAKE_WAIT_MS = 60_000;
/** A 429 without Retry-After blocks the VIN this long. */
export const DEFAULT_RETRY_AFTER_MS = 60_000;

/** setTimeout's limit; longer waits are taken in steps. */
const MAX_TIMER = 2 ** 31 - 1;
const OK_STATES: ReadonlySet<CommandState> = new Set(['done', 'already', 'unchanged']);

interface Watch {
  vin: string;
  field: string;
  test: (value: unknown) => boolean;
  hitAt: number | null;
  /** The car state held the confirming value when the command was sent. */
  heldAtSend: boolean;
  notify: (() => void) | null;
}

interface Outcome {
  state: CommandState;
  reason: string | null;
  teslaReason?: string | null;
  response?: unknown;
  /** Set for done/already when the command can be confirmed. */
  watch?: Watch | null;
}

interface Job {
  vin: string;
  spec: CommandSpec;
  params: CommandParams;
  /** The parameters as a comparable key. */
  key: string;
  send: (msg: CommandMessage) => void;
  resolve: (payload: CommandPayload | null) => void;
  settled: boolean;
}

interface Slot {
  /** When the last command of this VIN+command was started (state check first). */
  lastStartAt: number;
  lastOk: { key: string; at: number } | null;
  waiting: Job | null;
  inFlight: number;
  timer: PendingTimer | null;
}

interface VinState {
  blockedUntil: number;
  budgetWarned: string | null;
}

interface PendingTimer {
  handle: unknown;
  at: number;
  fire: () => void;
  /** Called instead of `fire` when the controller stops. */
  cancelled: () => void;
}

export class VehicleCommandController {
  private readonly clock: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;
  private readonly stream: CommandStream | null;
  private readonly slots = new Map<string, Slot>();
  private readonly vinStates = new Map<string, VinState>();
  private readonly wakes = new Map<string, Promise<true | Outcome>>();
  private readonly watches = new Set<Watch>();
  private readonly timers = new Set<PendingTimer>();
  private readonly open = new Set<Job>();
  private started = false;
  private stopped = false;
  private unsubscribeStream: (() => void) | null = null;
  private unsubscribeMeter: (() => void) | null = null;
  private last: { vin: string; command: string; state: CommandState } | null = null;
  private statusOut: StatusOnChange | null = null;
  /** Inputs, invalid inputs, and answers by state, since start. */
  readonly counts: Record<CommandState | 'inputs' | 'invalid', number> = {
    inputs: 0,
    invalid: 0,
    ...(Object.fromEntries(COMMAND_STATES.map((s) => [s, 0])) as Record<CommandState, number>),
  };

  constructor(
    private readonly client: CommandClient,
    private readonly options: VehicleCommandOptions,
    private readonly sink: CommandSink,
    deps: CommandDeps = {},
  ) {
    this.clock = deps.clock ?? realClock;
    this.stream = deps.stream ?? null;
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.unsubscribeMeter = this.client.meter.onChange(() => this.updateStatus());
    if (this.stream) this.unsubscribeStream = this.stream.onLive((vin, field, value, at) => this.onLive(vin, field, value, at));
    this.updateStatus();
  }

  /** Clears every timer, stops listening; inputs still open resolve without an answer. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of [...this.timers]) {
      this.clock.clearTimeout(t.handle);
      this.timers.delete(t);
      t.cancelled();
    }
    for (const s of this.slots.values()) s.timer = null;
    for (const job of [...this.open]) this.finish(job, { state: 'error', reason: null });
    this.watches.clear();
    this.unsubscribeStream?.();
    this.unsubscribeStream = null;
    this.unsubscribeMeter?.();
    this.unsubscribeMeter = null;
  }

  /** Timers pending now (coalescing, wake checks, confirmation). */
  pendingTimers(): number {
    return this.timers.size;
  }

  /**
   * One input: validated first (a CommandInputError rejects, nothing is sent), then one
   * answer message per VIN through `send` (default: the sink) when that VIN is settled.
   * Resolves with the payloads sent (fewer when the controller stopped meanwhile).
   */
  async handle(input: CommandInput, send?: (msg: CommandMessage) => void): Promise<CommandPayload[]> {
    if (this.stopped) return [];
    if (!this.started) this.start();
    this.counts.inputs++;
    let valid: ValidCommand;
    try {
      const fromMsg = parseList(input.vins ?? input.vin ?? '');
      valid = validateCommand(this.options.command || input.command, input.payload, fromMsg.length ? fromMsg : this.options.vins, {
        allowUnlock: this.options.allowUnlock,
        fixedParams: this.options.command ? this.options.params : undefined,
      });
    } catch (e) {
      this.counts.invalid++;
      this.updateStatus();
      throw e;
    }
    const out = send ?? ((m: CommandMessage) => this.sink.send(m));
    const settled = await Promise.all(valid.vins.map((vin) => this.enqueue(vin, valid, out)));
    return settled.filter((p): p is CommandPayload => p !== null);
  }

  // -------------------------------------------------------------------------------------
  // Coalescing

  private enqueue(vin: string, valid: ValidCommand, send: (msg: CommandMessage) => void): Promise<CommandPayload | null> {
    return new Promise((resolve) => {
      const job: Job = {
        vin,
        spec: valid.spec,
        params: valid.params,
        key: JSON.stringify(commandBody(valid.spec, valid.params)),
        send,
        resolve,
        settled: false,
      };
      this.open.add(job);
      this.arrive(job);
    });
  }

  private arrive(job: Job): void {
    const now = this.clock.now();
    const blocked = this.vinState(job.vin).blockedUntil;
    if (blocked > now) return this.finish(job, { state: 'rate-limited', reason: TEXTS.reasonRateLimited(blocked) });
    const min = this.options.minIntervalMs;
    if (!(min > 0)) {
      this.run(this.slot(job), job);
      return;
    }
    const slot = this.slot(job);
    if (slot.inFlight === 0 && this.isUnchanged(slot, job, now)) {
      // The newest wish is what the car already got: an older waiting input is outdated.
      if (slot.waiting) this.finish(slot.waiting, this.superseded(slot.waiting));
      slot.waiting = null;
      this.clearSlotTimer(slot);
      return this.finish(job, this.unchanged(slot, job, now));
    }
    if (slot.inFlight > 0 || slot.waiting || now - slot.lastStartAt < min) {
      if (slot.waiting) this.finish(slot.waiting, this.superseded(slot.waiting));
      slot.waiting = job;
      this.pump(slot);
      return;
    }
    this.run(slot, job);
  }

  /** Starts the waiting input of a slot once nothing is in flight and the interval has passed. */
  private pump(slot: Slot): void {
    if (this.stopped || !slot.waiting || slot.inFlight > 0) return;
    const now = this.clock.now();
    const due = slot.lastStartAt + this.options.minIntervalMs;
    if (due > now) {
      if (!slot.timer) {
        slot.timer = this.timer(due - now, () => {
          slot.timer = null;
          this.pump(slot);
        });
      }
      return;
    }
    const job = slot.waiting;
    slot.waiting = null;
    const blocked = this.vinState(job.vin).blockedUntil;
    if (blocked > now) return this.finish(job, { state: 'rate-limited', reason: TEXTS.reasonRateLimited(blocked) });
    if (this.isUnchanged(slot, job, now)) return this.finish(job, this.unchanged(slot, job, now));
    this.run(slot, job);
  }

  private isUnchanged(slot: Slot, job: Job, now: number): boolean {
    return slot.lastOk !== null && slot.lastOk.key === job.key && now - slot.lastOk.at < this.options.minIntervalMs;
  }

  private unchanged(slot: Slot, job: Job, now: number): Outcome {
    const ago = now - (slot.lastOk?.at ?? now);
    return { state: 'unchanged', reason: TEXTS.reasonUnchanged(job.spec.name, ago, this.options.minIntervalMs) };
  }

  private superseded(job: Job): Outcome {
    return { state: 'superseded', reason: TEXTS.reasonSuperseded(job.spec.name, this.options.minIntervalMs) };
  }

  private run(slot: Slot, job: Job): void {
    const startedAt = this.clock.now();
    slot.inFlight++;
    slot.lastStartAt = startedAt;
    this.execute(job)
      .catch((e: unknown) => this.failure(job.vin, e))
      .then(async (o) => {
        slot.inFlight--;
        if (o.state === 'done' || o.state === 'already') slot.lastOk = { key: job.key, at: startedAt };
        this.pump(slot);
        const v = await this.confirm(o);
        this.finish(job, o, v);
      })
      .catch((e: unknown) => this.finish(job, { state: 'error', reason: TEXTS.reasonError(String((e as Error)?.message ?? e)) }));
  }

  // -------------------------------------------------------------------------------------
  // One command to one car

  private async execute(job: Job): Promise<Outcome> {
    const { vin, spec } = job;
    if (this.overBudget(vin, 1)) return { state: 'over budget', reason: TEXTS.reasonOverBudget(this.options.dailyBudget) };
    let state: string | null;
    try {
      ({ state } = await this.client.getVehicle(vin));
    } catch (e) {
      return this.failure(vin, e);
    }
    if (this.stopped) return { state: 'error', reason: null };
    if (state !== 'online') {
      if (this.options.wake !== 'allow') return { state: 'asleep', reason: TEXTS.reasonAsleep(state ?? 'asleep') };
      const woke = await this.wake(vin);
      if (woke !== true) return woke;
      if (this.stopped) return { state: 'error', reason: null };
    }
    const blocked = this.vinState(vin).blockedUntil;
    if (blocked > this.clock.now()) return { state: 'rate-limited', reason: TEXTS.reasonRateLimited(blocked) };
    if (this.overBudget(vin, 1)) return { state: 'over budget', reason: TEXTS.reasonOverBudget(this.options.dailyBudget) };

    const watch = this.watchFor(job);
    let answer: CommandAnswer;
    try {
      answer = await this.client.command(vin, spec.name, commandBody(spec, job.params));
    } catch (e) {
      if (watch) this.watches.delete(watch);
      return this.failure(vin, e);
    }
    if (answer.result) return { state: 'done', reason: null, response: answer.body, watch };
    const tesla = answer.reason;
    if (meansAlready(spec, tesla)) {
      return { state: 'already', reason: TEXTS.reasonAlready(spec.name, tesla), teslaReason: tesla, response: answer.body, watch };
    }
    if (watch) this.watches.delete(watch);
    return { state: 'rejected', reason: TEXTS.reasonRejected(spec.name, tesla), teslaReason: tesla, response: answer.body };
  }

  /** One wake_up per VIN at a time: inputs that need the same car awake share it. */
  private wake(vin: string): Promise<true | Outcome> {
    let p = this.wakes.get(vin);
    if (!p) {
      p = this.wakeAndWait(vin).finally(() => this.wakes.delete(vin));
      this.wakes.set(vin, p);
    }
    return p;
  }

  private async wakeAndWait(vin: string): Promise<true | Outcome> {
    if (this.overBudget(vin, 2)) return { state: 'over budget', reason: TEXTS.reasonWakeOverBudget(this.options.dailyBudget) };
    try {
      const { state } = await this.client.wakeUp(vin);
      if (state === 'online') return true;
    } catch (e) {
      return this.failure(vin, e);
    }
    for (let waited = WAKE_POLL_MS; waited <= WAKE_WAIT_MS; waited += WAKE_POLL_MS) {
      if (!(await this.delay(WAKE_POLL_MS))) return { state: 'error', reason: null };
      try {
        const { state } = await this.client.getVehicle(vin);
        if (state === 'online') return true;
      } catch (e) {
        // A blip while the car wakes is not the end; anything else is.
        if (isFleetApiError(e) && (e.kind === 'server' || e.kind === 'network' || e.kind === 'timeout')) continue;
        return this.failure(vin, e);
      }
    }
    return { state: 'asleep', reason: TEXTS.reasonDidNotWake(WAKE_WAIT_MS) };
  }

  private failure(vin: string, e: unknown): Outcome {
    if (!isFleetApiError(e)) return { state: 'error', reason: TEXTS.reasonError(String((e as Error)?.message ?? e)), response: null };
    const response = e.body ?? null;
    if (e.kind === 'asleep') return { state: 'asleep', reason: TEXTS.reasonAsleep408(), response };
    if (e.kind === 'rate-limited') {
      const ms = e.retryAfterSeconds !== null ? e.retryAfterSeconds * 1000 : DEFAULT_RETRY_AFTER_MS;
      const until = this.clock.now() + ms;
      const v = this.vinState(vin);
      v.blockedUntil = Math.max(v.blockedUntil, until);
      return { state: 'rate-limited', reason: TEXTS.reasonRateLimited(v.blockedUntil), response };
    }
    return { state: 'error', reason: TEXTS.reasonError(e.message), response };
  }

  private overBudget(vin: string, need: number): boolean {
    const budget = this.options.dailyBudget;
    if (!(budget > 0)) return false;
    const today = this.client.meter.vinToday(vin);
    if (today.calls.command + today.calls.wake + need <= budget) return false;
    const v = this.vinState(vin);
    if (v.budgetWarned !== today.day && today.calls.command + today.calls.wake >= budget) {
      v.budgetWarned = today.day;
      this.warn(TEXTS.warnBudget(vin, budget));
    }
    return true;
  }

  // -------------------------------------------------------------------------------------
  // Confirmation

  /** Starts listening for the confirming value before the command is sent. */
  private watchFor(job: Job): Watch | null {
    if (!this.stream || !(this.options.verifyMs > 0)) return null;
    const t = confirmationTest(job.spec, job.params);
    if (!t) return null;
    const w: Watch = { vin: job.vin, field: t.field, test: t.test, hitAt: null, heldAtSend: false, notify: null };
    w.heldAtSend = this.stateHolds(w);
    this.watches.add(w);
    return w;
  }

  /** Whether the car state's value of the watched field confirms (false when it cannot be read). */
  private stateHolds(w: Watch): boolean {
    if (!this.stream) return false;
    try {
      return w.test(this.stream.current(w.vin, w.field));
    } catch {
      return false;
    }
  }

  private onLive(vin: string, field: string, value: unknown, receivedAt: number): void {
    if (this.stopped || this.watches.size === 0) return;
    for (const w of this.watches) {
      if (w.hitAt !== null || w.vin !== vin || w.field !== field) continue;
      try {
        if (!w.test(value)) continue;
      } catch {
        continue;
      }
      w.hitAt = receivedAt;
      this.watches.delete(w);
      w.notify?.();
    }
  }

  private async confirm(o: Outcome): Promise<{ verified: boolean | null; verifiedAt: number | null }> {
    const w = o.watch;
    if (!w || this.stopped) return { verified: null, verifiedAt: null };
    if (w.hitAt === null && (w.heldAtSend || (o.state === 'already' && this.stateHolds(w)))) {
      this.watches.delete(w);
      return { verified: true, verifiedAt: this.clock.now() };
    }
    if (w.hitAt === null) {
      await new Promise<void>((resolve) => {
        const t = this.timer(
          this.options.verifyMs,
          () => resolve(),
          () => resolve(),
        );
        w.notify = () => {
          this.cancelTimer(t);
          resolve();
        };
      });
    }
    this.watches.delete(w);
    return w.hitAt !== null ? { verified: true, verifiedAt: w.hitAt } : { verified: false, verifiedAt: null };
  }

  // -------------------------------------------------------------------------------------
  // Answers, status, timers

  private finish(job: Job, o: Outcome, v: { verified: boolean | null; verifiedAt: number | null } = { verified: null, verifiedAt: null }): void {
    if (job.settled) return;
    job.settled = true;
    this.open.delete(job);
    if (this.stopped) {
      job.resolve(null);
      return;
    }
    const payload: CommandPayload = {
      vin: job.vin,
      command: job.spec.name,
      params: commandBody(job.spec, job.params),
      ok: OK_STATES.has(o.state),
      state: o.state,
      reason: o.reason,
      teslaReason: o.teslaReason ?? null,
      verified: v.verified,
      verifiedAt: v.verifiedAt,
    };
    const msg: CommandMessage = {
      event: 'command',
      topic: `${job.vin}/command/${job.spec.name}`,
      vin: job.vin,
      source: 'api',
      receivedAt: this.clock.now(),
      payload,
      response: o.response ?? null,
    };
    this.counts[o.state]++;
    this.last = { vin: job.vin, command: job.spec.name, state: o.state };
    try {
      job.send(msg);
    } catch (e) {
      this.warn(TEXTS.warnSendFailed(String((e as Error)?.message ?? e)));
    }
    job.resolve(payload);
    this.updateStatus();
  }

  status(): NodeStatus {
    const today = this.client.meter.today();
    const usd = today.calls.command * priceOf('command') + today.calls.wake * priceOf('wake');
    const cost = TEXTS.statusCost(today.calls.command, today.calls.wake, usd);
    const last = this.last;
    if (!last) return { fill: 'grey', shape: 'ring', text: `${TEXTS.statusIdle()} · ${cost}` };
    const text = `${TEXTS.statusLast(last.vin, last.command, last.state)} · ${cost}`;
    switch (last.state) {
      case 'done':
      case 'already':
      case 'unchanged':
      case 'superseded':
        return { fill: 'green', shape: 'dot', text };
      case 'asleep':
        return { fill: 'blue', shape: 'ring', text };
      case 'rate-limited':
      case 'over budget':
        return { fill: 'yellow', shape: 'ring', text };
      default:
        return { fill: 'red', shape: 'ring', text };
    }
  }

  private updateStatus(): void {
    if (this.stopped) return;
    (this.statusOut ??= new StatusOnChange(this.sink)).set(this.status());
  }

  private warn(text: string): void {
    try {
      this.sink.warn(text);
    } catch {
      // nothing more to do
    }
  }

  private slot(job: Job): Slot {
    const key = `${job.vin}\n${job.spec.name}`;
    let s = this.slots.get(key);
    if (!s) this.slots.set(key, (s = { lastStartAt: -Infinity, lastOk: null, waiting: null, inFlight: 0, timer: null }));
    return s;
  }

  private clearSlotTimer(slot: Slot): void {
    if (slot.timer) this.cancelTimer(slot.timer);
    slot.timer = null;
  }

  private vinState(vin: string): VinState {
    let v = this.vinStates.get(vin);
    if (!v) this.vinStates.set(vin, (v = { blockedUntil: 0, budgetWarned: null }));
    return v;
  }

  /** A timer on the clock that stop() clears (calling `cancelled` instead of `fire`). */
  private timer(ms: number, fire: () => void, cancelled: () => void = () => undefined): PendingTimer {
    const t: PendingTimer = { handle: null, at: this.clock.now() + Math.max(0, ms), fire, cancelled };
    if (this.stopped) {
      cancelled();
      return t;
    }
    const arm = (): void => {
      const left = t.at - this.clock.now();
      t.handle = this.clock.setTimeout(
        () => {
          if (this.clock.now() < t.at) return arm();
          this.timers.delete(t);
          try {
            t.fire();
          } catch (e) {
            this.warn(TEXTS.reasonError(String((e as Error)?.message ?? e)));
          }
        },
        Math.min(MAX_TIMER, Math.max(0, left)),
      );
    };
    this.timers.add(t);
    arm();
    return t;
  }

  private cancelTimer(t: PendingTimer): void {
    if (!this.timers.delete(t)) return;
    this.clock.clearTimeout(t.handle);
  }

  /** Resolves true after `ms`, false when the controller stops first. */
  private delay(ms: number): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.timer(
        ms,
        () => resolve(true),
        () => resolve(false),
      );
    });
  }
}
