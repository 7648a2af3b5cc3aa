/**
 * Node-RED's runtime API is typed by @types/node-red; this file holds only what those types
 * lack: our config nodes as the nodes that use them see them, and the close handler. Only the
 * node files import it; src/lib never does.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { FleetApiClient } from '../../lib/fleet-api';
import type { BrokerConnection } from '../../lib/stream/broker-connection';

import * as os from 'node:os';
import * as path from 'node:path';
import type { NodeAPI as RedApi } from 'node-red';
export type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';

/** A node's editor settings: Node-RED's own (`id`, `type`, `name`, `z`) and the node type's. */
export type Config<T> = NodeDef & T;

export interface TelemetryBrokerCredentials {
  username?: string;
  password?: string;
}

/** A `telemetry-broker` config node as other nodes see it. */
export interface TelemetryBrokerNode extends Node<TelemetryBrokerCredentials> {
  connection: BrokerConnection;
}

export interface TeslaAccountCredentials {
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  accessToken?: string;
}

/** A `tesla-account` config node as other nodes see it. */
export interface TeslaAccountNode extends Node<TeslaAccountCredentials> {
  /** null when the settings are unusable (`problem` says why). */
  client: FleetApiClient | null;
  problem: string | null;
  domain: string;
}

/** The config node of an id, or null (none chosen, or not of that type: Node-RED types the id only). */
export function configNode<T extends Node<object>>(RED: NodeAPI, id: string | undefined, type: string): T | null {
  const node = id ? (RED.nodes.getNode(id) as Node<object> | null) : null;
  return node && node.type === type ? (node as T) : null;
}

/**
 * A close handler that runs an async step and always calls done (a failure is logged, never
 * thrown). The step learns whether the node was removed, or is only being restarted (a deploy
 * that changed it; a new instance starts right after).
 */
export function closeWith(node: Node<object>, work: (removed: boolean) => Promise<unknown>): (removed: boolean, done: () => void) => void {
  return (removed, done) => {
    work(removed === true).then(
      () => done(),
      (e: unknown) => {
        node.warn(`close: ${(e as Error)?.message ?? e}`);
        done();
      },
    );
  };
}

/** Where this package keeps files across restarts (rotated tokens, car state, ensure cap): `<userDir>/tesla-fleet-telemetry`. */
export function dataDir(RED: RedApi): string {
  return path.join(RED.settings.userDir || path.join(os.homedir(), '.node-red'), 'tesla-fleet-telemetry');
}
