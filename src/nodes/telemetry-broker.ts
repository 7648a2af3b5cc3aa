/**
 * `telemetry-broker` config node: holds one shared BrokerConnection (MQTT client, decoder,
 * per-VIN freshness, car state) for every node that uses it.
 */
import { BrokerConnection, CarStateOptions } from '../lib/broker-connection';
import { registerAdminEndpoints } from './admin';
import { RED, TelemetryBrokerNode, closeWith, dataDir } from './red';

interface TelemetryBrokerConfig {
  url: string;
  topicBase?: string;
  clientId?: string;
  ca?: string;
  sharedGroup?: string;
  clean?: boolean | string;
  reconnectPeriod?: number | string;
  /** Keep the car state across restarts in <userDir>/tesla-fleet-telemetry/state-<id>.json (default true). */
  persist?: boolean | string;
}

/** Seconds from the editor as ms, `fallback` s when not a positive number. */
function seconds(value: unknown, fallback: number): number {
  const n = Number(value);
  return Math.round((Number.isFinite(n) && n > 0 ? n : fallback) * 1000);
}

export = function (RED: RED): void {
  registerAdminEndpoints(RED);
  function TelemetryBroker(this: TelemetryBrokerNode, config: TelemetryBrokerConfig): void {
    RED.nodes.createNode(this, config as unknown as Record<string, unknown>);
    const creds = this.credentials ?? {};
    const carState: CarStateOptions = {
      persist: config.persist !== false && config.persist !== 'false',
      // Node-RED always names its user directory; without one (a bare test runtime) the state stays in memory.
      stateDir: RED.settings.userDir ? dataDir(RED) : undefined,
      stateId: this.id,
      warn: (text) => this.warn(text),
    };
    this.connection = new BrokerConnection({
      url: String(config.url ?? '').trim(),
      topicBase: config.topicBase ?? 'telemetry',
      clientId: config.clientId?.trim() || undefined,
      username: creds.username || undefined,
      password: creds.password || undefined,
      ca: config.ca?.trim() || undefined,
      sharedGroup: config.sharedGroup?.trim() || undefined,
      clean: config.clean !== false && config.clean !== 'false',
      reconnectPeriodMs: seconds(config.reconnectPeriod, 5),
    }, undefined, carState);
    this.on('close', closeWith(this, () => this.connection.close()));
  }
  RED.nodes.registerType('telemetry-broker', TelemetryBroker, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  });
};
