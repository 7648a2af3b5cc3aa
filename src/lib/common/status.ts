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
