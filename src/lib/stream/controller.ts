/**
 * What a `telemetry-in` node does, without Node-RED: filters, field/vehicle mode, retained
 * handling, stale/fresh events, bad-input reports and the status text. The node file only
 * wires this to RED.
 */
import type { BrokerConnection, BrokerListener, ConnectionState } from './broker-connection';
import { TEXT } from './broker-texts';
import { Coalescer, CoalescerTimers, Snapshot } from './coalesce';
import type { BadInput, Decoded } from './decode';
import type { FreshnessEvent, Watcher } from './freshness';
import { CarMessage, OUTPUT_OF, copyJson, messageFromDecoded, snapshotMessage, statusMessage } from '../common/messages';
import { ReportLimiter } from '../common/rate-limit';
import { NodeStatus, StatusSink, connectionStatus } from '../common/status';

export type Outputs = [CarMessage | null, CarMessage | null, CarMessage | null];

export interface TelemetryInOptions {
  vins: readonly string[];
  fields: readonly string[];
  mode: 'field' | 'vehicle';
  staleAfterMs: number;
  retained: 'flag' | 'ignore';
  /** vehicle mode: a burst ends after this much quiet. */
  quietMs: number;
}

export interface TelemetryInSink extends StatusSink {
  send(out: Outputs): void;
  warn(text: string): void;
}

export class TelemetryInController implements BrokerListener {
  private readonly vins: ReadonlySet<string> | null;
  private readonly fields: ReadonlySet<string> | null;
  private readonly coalescer: Coalescer | null;
  private readonly limiter: ReportLimiter;
  private watcher: Watcher | null = null;
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
    timers?: CoalescerTimers,
  ) {
    this.vins = options.vins.length ? new Set(options.vins) : null;
    this.fields = options.fields.length ? new Set(options.fields) : null;
    this.coalescer =
      options.mode === 'vehicle' ? new Coalescer(options.quietMs, (s) => this.emitSnapshot(s), timers) : null;
    this.limiter = new ReportLimiter(10_000, () => broker.tracker.clock.now());
  }

  start(): void {
    this.watcher = this.broker.tracker.watch({
      staleAfterMs: this.options.staleAfterMs,
      vins: this.vins,
      onStale: (e) => this.freshness('stale', e),
      onFresh: (e) => this.freshness('fresh', e),
      onChange: () => this.statusSoon(),
    });
    this.broker.register(this);
  }

  /** `restarting`: a new instance of the node starts right after, on the same broker session. */
  async stop(restarting = false): Promise<void> {
    this.watcher?.close();
    this.watcher = null;
    this.coalescer?.close();
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
        this.coalescer.add(d.vin, d.name, shared ? copyJson(d.payload) : d.payload, d.raw, d.retain, d.receivedAt);
        return;
      }
    }
    const msg = shared ? messageFromDecoded(d, copyJson(d.payload), copyJson(d.raw)) : messageFromDecoded(d);
    const outputs: Outputs = [null, null, null];
    outputs[out] = msg;
    this.sink.send(outputs);
  }

  private emitSnapshot(s: Snapshot): void {
    this.sink.send([snapshotMessage(s.vin, s.payload, s.changed, s.raw, 'telemetry', s.receivedAt, s.retain), null, null]);
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
