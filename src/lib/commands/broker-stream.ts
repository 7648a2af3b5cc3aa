/**
 * A BrokerConnection as the command controller's confirmation stream (`CommandStream`):
 * every live field value it decodes goes to the listeners, and `current(vin, field)` answers
 * the car state's value of a field.
 *
 *   const stream = new BrokerCommandStream(broker.connection);   // registers with the broker
 *   new VehicleCommandController(client, options, sink, { stream });
 *   await stream.close();                                          // deregisters (on node close)
 *
 * `current` reads the connection's car state (`connection.carState`), so a VIN restored from a
 * saved state or seen before this node started is known.
 */
import type { BrokerConnection, BrokerListener } from '../stream/broker-connection';
import type { Decoded } from '../stream/decode';
import type { CommandStream, LiveListener } from './controller';

export class BrokerCommandStream implements CommandStream {
  private readonly listeners = new Set<LiveListener>();
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
    return this.connection.carState.value(vin, field);
  }

  /** Stops listening to the broker (the connection disconnects after its last user). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.connection.deregister(this.user);
  }

  private onMessage(d: Decoded): void {
    if (this.closed || d.kind !== 'data') return;
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
