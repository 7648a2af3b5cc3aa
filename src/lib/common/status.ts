/**
 * Node status conventions shared by every node: green dot live, yellow ring stale or polling,
 * blue ring asleep, red ring error, grey ring idle.
 */
import type { ConnectionState } from '../stream/broker-connection';

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export interface StatusSink {
  status(s: NodeStatus): void;
}

/**
 * Passes a status on only when it differs from the last one passed (timers and meters ask for
 * it often); a sink that throws is ignored: a status update must never break the work.
 */
export class StatusOnChange {
  private last = '';
  constructor(private readonly sink: StatusSink) {}

  set(s: NodeStatus): void {
    const key = `${s.fill}|${s.shape}|${s.text}`;
    if (key === this.last) return;
    this.last = key;
    try {
      this.sink.status(s);
    } catch {
      // nothing to do: the next change tries again
    }
  }
}

const MAX_DETAIL = 48;

/** Shorten a detail for a status text. */
export function shortText(s: string, max = MAX_DETAIL): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Status for a broker connection that is not (yet) up. */
export function connectionStatus(state: ConnectionState, detail: string): NodeStatus {
  switch (state) {
    case 'connecting':
      return { fill: 'yellow', shape: 'ring', text: 'connecting' };
    case 'connected':
      return { fill: 'green', shape: 'dot', text: 'connected' };
    case 'disconnected':
      return { fill: 'red', shape: 'ring', text: detail ? `disconnected: ${shortText(detail)}` : 'disconnected' };
    default:
      return { fill: 'grey', shape: 'ring', text: 'idle' };
  }
}
