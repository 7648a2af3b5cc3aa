/**
 * A BrokerConnection as the command controller's confirmation stream (`CommandStream`):
 * every live field value it decodes goes to the listeners, and `current(vin, field)` answers
 * the car state's value of a field.
 *
 *   const stream = new BrokerCommandStream(broker.connection);   // registers with the broker
 *   new VehicleCommandController(client, options, sink, { stream });
 *   await stream.close();                                          // deregisters (on node close)
 *
 * The car state: when the connection keeps one itself (a store with `value(vin, field)`, on
 * `connection.state` or `connection.carState`), `current` reads it, so a VIN restored from a
 * saved state or seen before this node started is known. Otherwise this adapter remembers the
 * latest value (live or retained) of each field the command table confirms on, from its
 * registration on.
 */
import type { BrokerConnection, BrokerListener } from '../stream/broker-connection';
import type { Decoded } from '../stream/decode';
import type { CommandStream, LiveListener } from './controller';
import { COMMANDS } from './table';

/** The fields whose values confirm a command: the only ones `current` is asked for. */
const CONFIRMING_FIELDS: ReadonlySet<string> = new Set(COMMANDS.flatMap((c) => (c.confirm ? [c.confirm.field] : [])));

/** A car state kept by the broker connection: the latest normalised value of a VIN's field. */
export interface CarStateStore {
  value(vin: string, field: string): unknown;
}

function isStore(v: unknown): v is CarStateStore {
  return !!v && typeof v === 'object' && typeof (v as { value?: unknown }).value === 'function';
}

/** The connection's own car state, when it keeps one. */
export function carStateOf(connection: object): CarStateStore | null {
  const c = connection as { state?: unknown; carState?: unknown };
  if (isStore(c.state)) return c.state;
  if (isStore(c.carState)) return c.carState;
  return null;
}

export class BrokerCommandStream implements CommandStream {
  private readonly listeners = new Set<LiveListener>();
  /** `${vin}\n${field}` → latest value of a confirming field; only when the connection keeps no car state. */
  private readonly seen = new Map<string, unknown>();
  private readonly user: BrokerListener;
  private closed = false;

  constructor(private readonly connection: BrokerConnection) {
    this.user = {
      onMessage: (d: Decoded) => this.onMessage(d),
      onBadInput: () => undefined,
      onConnection: () => undefined,
    };
    connection.register(this.user);
  }

  onLive(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  current(vin: string, field: string): unknown {
    const store = carStateOf(this.connection);
    if (store) return store.value(vin, field);
    return this.seen.get(`${vin}\n${field}`);
  }

  /** Stops listening to the broker (the connection disconnects after its last user). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.seen.clear();
    await this.connection.deregister(this.user);
  }

  private onMessage(d: Decoded): void {
    if (this.closed || d.kind !== 'data') return;
    if (CONFIRMING_FIELDS.has(d.name) && !carStateOf(this.connection)) this.seen.set(`${d.vin}\n${d.name}`, d.payload);
    if (!d.live) return;
    for (const l of [...this.listeners]) {
      try {
        l(d.vin, d.name, d.payload, d.receivedAt);
      } catch {
        // A listener's failure must not reach the broker connection or the other listeners.
      }
    }
  }
}
