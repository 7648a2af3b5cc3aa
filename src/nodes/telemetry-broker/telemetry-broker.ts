/**
 * `telemetry-broker` config node: holds one shared BrokerConnection (MQTT client, decoder,
 * per-VIN freshness) for every node that uses it. Node-RED stops a config node only when it was
 * removed or its own settings changed (or on a full deploy); a flow node restarted by a
 * "modified nodes" deploy finds the session still up.
 */
import { BrokerConnection } from '../../lib/stream/broker-connection';
import { registerAdminEndpoints } from '../shared/admin';
import { Config, NodeAPI, TelemetryBrokerCredentials, TelemetryBrokerNode, closeWith } from '../shared/red';

interface TelemetryBrokerConfig {
  url: string;
  topicBase?: string;
  clientId?: string;
  ca?: string;
  sharedGroup?: string;
  clean?: boolean | string;
  reconnectPeriod?: number | string;
}

/** Seconds from the editor as ms, `fallback` s when not a positive number. */
function seconds(value: unknown, fallback: number): number {
  const n = Number(value);
  return Math.round((Number.isFinite(n) && n > 0 ? n : fallback) * 1000);
}

export = function (RED: NodeAPI): void {
  registerAdminEndpoints(RED);
  function TelemetryBroker(this: TelemetryBrokerNode, config: Config<TelemetryBrokerConfig>): void {
    RED.nodes.createNode(this, config);
    const creds = this.credentials ?? {};
    const connection = new BrokerConnection({
      url: String(config.url ?? '').trim(),
      topicBase: config.topicBase ?? 'telemetry',
      clientId: config.clientId?.trim() || undefined,
      username: creds.username || undefined,
      password: creds.password || undefined,
      ca: config.ca?.trim() || undefined,
      sharedGroup: config.sharedGroup?.trim() || undefined,
      clean: config.clean !== false && config.clean !== 'false',
      reconnectPeriodMs: seconds(config.reconnectPeriod, 5),
    });
    this.connection = connection;
    // Once a deploy has started every node: a session kept for a restarted node that did not
    // come back (it now uses another broker, or was disabled) is ended.
    const afterDeploy = (): void => void connection.releaseIfUnused();
    RED.events.on('flows:started', afterDeploy);
    this.on(
      'close',
      closeWith(this, () => {
        RED.events.off('flows:started', afterDeploy);
        return connection.close();
      }),
    );
  }
  RED.nodes.registerType<TelemetryBrokerNode, Config<TelemetryBrokerConfig>, unknown, TelemetryBrokerCredentials>('telemetry-broker', TelemetryBroker, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  });
};
