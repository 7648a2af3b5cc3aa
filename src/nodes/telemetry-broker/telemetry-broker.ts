/**
 * `telemetry-broker` config node: holds one shared BrokerConnection (MQTT client, decoder,
 * per-VIN freshness) for every node that uses it. TLS options come from an optional core
 * `tls-config` node, read with its own `addTLSOptions` and passed on as plain options. Node-RED stops
 * a config node only when it was removed or its own settings changed (or on a full deploy); a
 * flow node restarted by a "modified nodes" deploy finds the session still up.
 */
import { BrokerConnection, BrokerTlsOptions, CarStateOptions, checkSettings } from '../../lib/stream/broker-connection';
import { Failure, TEXT } from '../../lib/stream/broker-texts';
import { registerAdminEndpoints } from '../common/admin';
import { Config, Node, NodeAPI, TelemetryBrokerCredentials, TelemetryBrokerNode, closeWith, dataDir } from '../common/red';

interface TelemetryBrokerConfig {
  url: string;
  topicBase?: string;
  clientId?: string;
  ca?: string;
  /** id of a core `tls-config` node, or empty. */
  tls?: string;
  sharedGroup?: string;
  clean?: boolean | string;
  reconnectPeriod?: number | string;
  /** Keep the car state across restarts in <userDir>/tesla-fleet-telemetry/state-<id>.json (default true). */
  persist?: boolean | string;
}

/** A core `tls-config` node (@node-red/nodes core/network/05-tls.js). */
interface TlsConfigNode extends Node<object> {
  valid?: boolean;
  addTLSOptions(opts: Record<string, unknown>): Record<string, unknown>;
}

/** Seconds from the editor as ms, `fallback` s when not a positive number. */
function seconds(value: unknown, fallback: number): number {
  const n = Number(value);
  return Math.round((Number.isFinite(n) && n > 0 ? n : fallback) * 1000);
}

/** The TLS options of the chosen tls-config node, or why it cannot be used. */
function tlsOptions(RED: NodeAPI, id: string | undefined): { tls?: BrokerTlsOptions; problem?: string } {
  if (!id) return {};
  const node = RED.nodes.getNode(id) as TlsConfigNode | null;
  if (!node || typeof node.addTLSOptions !== 'function') return { problem: TEXT.tlsConfigMissing };
  if (node.valid === false) return { problem: TEXT.tlsConfigUnusable(node.name || id) };
  const o = node.addTLSOptions({});
  const tls: BrokerTlsOptions = {
    // Verification stays on unless the user unticked it: only an explicit false turns it off.
    rejectUnauthorized: !(o.rejectUnauthorized === false || o.rejectUnauthorized === 'false'),
  };
  if (o.ca) tls.ca = o.ca as BrokerTlsOptions['ca'];
  if (o.cert) tls.cert = o.cert as string | Buffer;
  if (o.key) tls.key = o.key as string | Buffer;
  if (typeof o.passphrase === 'string' && o.passphrase) tls.passphrase = o.passphrase;
  if (typeof o.servername === 'string' && o.servername) tls.servername = o.servername;
  if (Array.isArray(o.ALPNProtocols) && o.ALPNProtocols.length) tls.ALPNProtocols = o.ALPNProtocols.map(String);
  return { tls };
}

export = function (RED: NodeAPI): void {
  registerAdminEndpoints(RED);
  function TelemetryBroker(this: TelemetryBrokerNode, config: Config<TelemetryBrokerConfig>): void {
    RED.nodes.createNode(this, config);
    const creds = this.credentials ?? {};
    const { tls, problem } = tlsOptions(RED, config.tls?.trim() || undefined);
    const carState: CarStateOptions = {
      persist: config.persist !== false && config.persist !== 'false',
      // Node-RED always names its user directory; without one (a bare test runtime) the state stays in memory.
      stateDir: RED.settings.userDir ? dataDir(RED) : undefined,
      stateId: this.id,
      warn: (text) => this.warn(text),
    };
    const connection = new BrokerConnection(
      {
        url: String(config.url ?? '').trim(),
        topicBase: config.topicBase ?? 'telemetry',
        clientId: config.clientId?.trim() || undefined,
        username: creds.username || undefined,
        password: creds.password || undefined,
        ca: config.ca?.trim() || undefined,
        tls,
        settingsProblem: problem,
        sharedGroup: config.sharedGroup?.trim() || undefined,
        clean: config.clean !== false && config.clean !== 'false',
        reconnectPeriodMs: seconds(config.reconnectPeriod, 5),
      },
      undefined,
      carState,
    );
    this.connection = connection;
    const settings = connection.settings;
    for (const p of checkSettings(settings)) this.warn(p);
    if (connection.tlsUnverified) this.warn(TEXT.tlsNotVerifiedWarning(settings.url));
    // One warning per cause, not one per retry; again when the cause changes.
    connection.on('failure', (f: Failure) => this.warn(f.message));
    connection.on('recovered', (f: Failure) => this.log(TEXT.connectedAgain(settings.url, f.short)));
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
  RED.nodes.registerType<TelemetryBrokerNode, Config<TelemetryBrokerConfig>, unknown, TelemetryBrokerCredentials>(
    'telemetry-broker',
    TelemetryBroker,
    {
      credentials: { username: { type: 'text' }, password: { type: 'password' } },
    },
  );
};
