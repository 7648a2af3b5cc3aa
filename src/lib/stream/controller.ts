/**
 * What a `telemetry-in` node does, without Node-RED: filters, field/vehicle mode, retained
 * handling, stale/fresh events, bad-input reports and the status text. The node file only
 * wires this to RED.
 */
import type { BrokerConnection, BrokerListener, ConnectionState } from './broker-connection';
import { TEXT } from './broker-texts';
import type { StateSnapshot } from './car-state';
import { RESTORED_TEXTS } from './car-state-texts';
import { Coalescer, CoalescerTimers, Snapshot } from './coalesce';
import type { BadInput, Decoded } from './decode';
import type { FreshnessEvent, Watcher } from './freshness';
import { CarMessage, OUTPUT_OF, copyJson, messageFromDecoded, snapshotMessage, statusMessage } from '../common/messages';
import { ReportLimiter } from '../common/rate-limit';
import { NodeStatus, StatusSink, connectionStatus } from '../common/status';
import { CarUnits, UnitConverter, UnitsChoice } from '../catalogue/units';

export type Outputs = [CarMessage | null, CarMessage | null, CarMessage | null];

export interface TelemetryInOptions {
  vins: readonly string[];
  fields: readonly string[];
  mode: 'field' | 'vehicle';
  staleAfterMs: number;
  retained: 'flag' | 'ignore';
  /** vehicle mode: a burst ends after this much quiet. */
  quietMs: number;
  /** The units of payloads (default `sent`: as Tesla sends them). */
  units?: UnitsChoice;
  /** vehicle mode: the car state's snapshots go out this long after start (default 500 ms), once the flow runs. */
  restoredDelayMs?: number;
}

const RESTORED_DELAY_MS = 500;

export interface TelemetryInSink extends StatusSink {
  send(out: Outputs): void;
  warn(text: string): void;
}

export class TelemetryInController implements BrokerListener {
  private readonly vins: ReadonlySet<string> | null;
  private readonly fields: ReadonlySet<string> | null;
  private readonly coalescer: Coalescer | null;
  private readonly limiter: ReportLimiter;
  private readonly units: UnitConverter;
  private watcher: Watcher | null = null;
  private restoredTimer: unknown = null;
  /** vehicle mode, until the restored snapshots went out: VINs a live snapshot went out for. */
  private readonly snapshotted = new Set<string>();
  private conn: ConnectionState = 'idle';
  private connDetail = '';
  private statusTimer: ReturnType<typeof setTimeout> | null = null;
  private lastStatus = '';
  /** Messages not emitted because they could not be decoded. */
  bad = 0;

  constructor(
    private readonly broker: BrokerConnection,
    private readonly options: TelemetryInOptions,
    private readonly sink: TelemetryInSink,
    private readonly timers?: CoalescerTimers,
  ) {
    this.vins = options.vins.length ? new Set(options.vins) : null;
    this.fields = options.fields.length ? new Set(options.fields) : null;
    this.coalescer = options.mode === 'vehicle' ? new Coalescer(options.quietMs, (s) => this.emitSnapshot(s), timers) : null;
    this.limiter = new ReportLimiter(10_000, () => broker.tracker.clock.now());
    this.units = new UnitConverter(options.units ?? 'sent');
  }

  start(): void {
    this.watcher = this.broker.tracker.watch({
      staleAfterMs: this.options.staleAfterMs,
      vins: this.vins,
      onStale: (e) => this.freshness('stale', e),
      onFresh: (e) => this.freshness('fresh', e),
      onChange: () => this.statusSoon(),
    });
    if (this.coalescer) this.restore(this.coalescer);
    this.broker.register(this);
  }

  /**
   * vehicle mode: every VIN of the car state (restored from its file, or kept by a broker that
   * was already running) that passes the filters starts the coalescer, and goes out as one
   * `restored: true` snapshot shortly after start (unless a live snapshot of it went out first).
   */
  private restore(coalescer: Coalescer): void {
    const state = this.broker.carState;
    const vins = state.vinList().filter((vin) => !this.vins || this.vins.has(vin));
    for (const vin of vins) {
      const snap = this.stateSnapshot(vin);
      if (snap) coalescer.seed(vin, snap.payload, snap.updatedAt);
    }
    if (vins.length === 0) return;
    const clock = this.timers ?? this.broker.tracker.clock;
    this.restoredTimer = clock.setTimeout(() => {
      this.restoredTimer = null;
      const sent = new Set(this.snapshotted);
      this.snapshotted.clear();
      try {
        for (const vin of vins) {
          if (sent.has(vin)) continue;
          const snap = this.stateSnapshot(vin);
          if (!snap) continue;
          const msg = snapshotMessage(vin, snap.payload, [], {}, 'telemetry', clock.now(), false);
          msg.restored = true;
          msg.updatedAt = snap.updatedAt;
          this.units.applyTo(msg, this.carUnits(vin));
          this.sink.send([msg, null, null]);
        }
      } catch (e) {
        this.sink.warn(RESTORED_TEXTS.notSent((e as Error)?.message ?? String(e)));
      }
    }, this.options.restoredDelayMs ?? RESTORED_DELAY_MS);
  }

  /** A VIN's stored fields that this node shows (with `retained: "ignore"`, only those seen live). */
  private stateSnapshot(vin: string): StateSnapshot | null {
    const snap = this.broker.carState.snapshot(vin, this.fields);
    if (!snap) return null;
    if (this.options.retained === 'ignore') {
      for (const f of Object.keys(snap.updatedAt)) {
        if (snap.updatedAt[f] !== null) continue;
        delete snap.payload[f];
        delete snap.updatedAt[f];
      }
      if (Object.keys(snap.payload).length === 0) return null;
    }
    return snap;
  }

  /** The car's own units for `units: "car"` (as sent for the other choices: not needed). */
  private carUnits(vin: string): CarUnits | undefined {
    return this.units.needsCar ? this.broker.carState.carUnits(vin) : undefined;
  }

  /** `restarting`: a new instance of the node starts right after, on the same broker session. */
  async stop(restarting = false): Promise<void> {
    this.watcher?.close();
    this.watcher = null;
    this.coalescer?.close();
    if (this.restoredTimer !== null) (this.timers ?? this.broker.tracker.clock).clearTimeout(this.restoredTimer);
    this.restoredTimer = null;
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.statusTimer = null;
    await this.broker.deregister(this, restarting);
  }

  onMessage(d: Decoded, shared: boolean): void {
    if (this.vins && !this.vins.has(d.vin)) return;
    if (d.retain && this.options.retained === 'ignore') return;
    const out = OUTPUT_OF[d.kind];
    if (out === 0) {
      // The filter names the field, or the number a server published it as.
      if (this.fields && !this.fields.has(d.name) && !(d.fieldId !== undefined && this.fields.has(String(d.fieldId)))) return;
      if (this.coalescer) {
        this.coalescer.add(d.vin, d.name, shared ? copyJson(d.payload) : d.payload, d.raw, d.retain, d.receivedAt, d.updatedAt);
        return;
      }
    }
    const msg = shared ? messageFromDecoded(d, copyJson(d.payload), copyJson(d.raw)) : messageFromDecoded(d);
    if (out === 0) {
      msg.updatedAt = d.updatedAt;
      const c = this.units.of(d.name, this.carUnits(d.vin));
      msg.payload = c.apply(msg.payload);
      msg.unit = c.unit;
    }
    const outputs: Outputs = [null, null, null];
    outputs[out] = msg;
    this.sink.send(outputs);
  }

  private emitSnapshot(s: Snapshot): void {
    const msg = snapshotMessage(s.vin, s.payload, s.changed, s.raw, 'telemetry', s.receivedAt, s.retain);
    msg.updatedAt = s.updatedAt;
    this.units.applyTo(msg, this.carUnits(s.vin));
    if (this.restoredTimer !== null) this.snapshotted.add(s.vin);
    this.sink.send([msg, null, null]);
  }

  onBadInput(b: BadInput): void {
    if (b.info && this.vins && !this.vins.has(b.info.vin)) return;
    this.bad++;
    const suppressed = this.limiter.take();
    if (suppressed !== null) {
      const more = suppressed > 0 ? ` (${suppressed} more since the last report)` : '';
      this.sink.warn(`bad input on ${b.topic}: ${b.reason}: ${b.excerpt}${more}`);
    }
    this.statusSoon();
  }

  onConnection(state: ConnectionState, detail: string): void {
    this.conn = state;
    this.connDetail = detail;
    this.updateStatus();
  }

  private freshness(event: 'stale' | 'fresh', e: FreshnessEvent): void {
    const msg = statusMessage(event, e.vin, { lastSeen: e.lastSeen, silentFor: e.silentFor }, 'telemetry', this.broker.tracker.clock.now());
    this.sink.send([null, null, msg]);
  }

  /** Coalesce status updates: a burst of new VINs or bad messages gives one update. */
  private statusSoon(): void {
    if (this.statusTimer) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = null;
      this.updateStatus();
    }, 250);
  }

  /** The status this node shows now. */
  status(): NodeStatus {
    if (this.conn !== 'connected') return connectionStatus(this.conn, this.connDetail);
    const { known, stale } = this.watcher?.counts() ?? { known: 0, stale: 0 };
    const notes = (this.bad ? ` · ${this.bad} bad` : '') + (this.broker.tlsUnverified ? ` · ${TEXT.tlsNotVerified}` : '');
    if (!(this.options.staleAfterMs > 0)) {
      return { fill: 'green', shape: 'dot', text: `${known} ${known === 1 ? 'car' : 'cars'}${notes}` };
    }
    const live = known - stale;
    const text = `${live} live · ${stale} stale${notes}`;
    return live > 0 || known === 0 ? { fill: 'green', shape: 'dot', text } : { fill: 'yellow', shape: 'ring', text };
  }

  private updateStatus(): void {
    const s = this.status();
    const key = `${s.fill}|${s.shape}|${s.text}`;
    if (key === this.lastStatus) return;
    this.lastStatus = key;
    this.sink.status(s);
  }
}
