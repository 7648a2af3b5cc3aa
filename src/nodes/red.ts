/**
 * The small part of Node-RED's runtime API these nodes use (typed here rather than adding a
 * types package). Only the node files import it; src/lib never does.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { NodeStatus } from '../lib/status';

export type NodeMessage = Record<string, unknown>;
/** One message, or one entry per output (each a message, several messages, or null). */
export type Outgoing = NodeMessage | null | Array<NodeMessage | NodeMessage[] | null>;
export type SendFn = (msg: Outgoing) => void;
export type DoneFn = (err?: Error) => void;

export interface Node {
  id: string;
  type: string;
  name?: string;
  credentials: Record<string, string | undefined>;
  on(event: 'input', fn: (msg: NodeMessage, send: SendFn, done: DoneFn) => void): void;
  on(event: 'close', fn: (removed: boolean, done: () => void) => void): void;
  status(s: NodeStatus | Record<string, never>): void;
  send(msg: Outgoing): void;
  log(text: string): void;
  warn(text: string): void;
  error(err: string | Error, msg?: NodeMessage): void;
}

/** A `telemetry-broker` config node as other nodes see it. */
export interface TelemetryBrokerNode extends Node {
  connection: import('../lib/broker-connection').BrokerConnection;
}

/** A `tesla-account` config node as other nodes see it. */
export interface TeslaAccountNode extends Node {
  /** null when the settings are unusable (`problem` says why). */
  client: import('../lib/fleet-api').FleetApiClient | null;
  problem: string | null;
  domain: string;
}

export interface Request {
  body?: unknown;
  query: Record<string, string | undefined>;
  params: Record<string, string | undefined>;
}
export interface Response {
  json(v: unknown): void;
  status(code: number): Response;
}
type Handler = (req: Request, res: Response) => void;
/** Any node constructor (`this` and config typed by each node). */
export type NodeConstructor = (this: never, config: never) => void;

export interface RED {
  nodes: {
    createNode(node: Node, config: Record<string, unknown>): void;
    registerType(type: string, ctor: NodeConstructor, opts?: Record<string, unknown>): void;
    getNode(id: string): Node | null;
  };
  httpAdmin: {
    get(path: string, perm: unknown, fn: Handler): void;
    post(path: string, perm: unknown, fn: Handler): void;
  };
  auth: { needsPermission(permission: string): unknown };
  settings: { userDir?: string; [key: string]: unknown };
}

/** Run an async close step and always call done (a failure is logged, never thrown). */
export function closeWith(node: Node, work: () => Promise<unknown>): (removed: boolean, done: () => void) => void {
  return (_removed, done) => {
    work().then(
      () => done(),
      (e: unknown) => {
        node.warn(`close: ${(e as Error)?.message ?? e}`);
        done();
      },
    );
  };
}

/** Where this package keeps files across restarts (rotated tokens, car state): `<userDir>/tesla-fleet-telemetry`. */
export function dataDir(RED: RED): string {
  return path.join(RED.settings.userDir || path.join(os.homedir(), '.node-red'), 'tesla-fleet-telemetry');
}
