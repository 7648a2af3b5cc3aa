/**
 * One MQTT.js client per broker configuration, shared by every node that uses it (the pattern
 * of Node-RED core's `mqtt-broker`): it connects for the first listener and disconnects after
 * the last; it decodes each message once, keeps the per-VIN freshness, and fans messages and
 * connection state out to its listeners. Nothing here throws out of an MQTT callback.
 */
import { EventEmitter } from 'node:events';
import mqtt, { IClientOptions, MqttClient } from 'mqtt';
import { CarState } from './car-state';
import { BadInput, Decoded, TopicParser, decode, isBad, subscriptionTopics } from './decode';
import { Clock, FreshnessTracker, realClock } from './freshness';
import { StateFile } from './state-file';

export interface BrokerSettings {
  url: string;
  topicBase: string;
  clientId?: string;
  username?: string;
  password?: string;
  /** PEM of the CA that signed the broker's certificate (added to the system roots). */
  ca?: string;
  /** MQTT v5 shared-subscription group: several instances split one fleet. */
  sharedGroup?: string;
  /** Clean session (default true). `false` with a fixed client id keeps a persistent session. */
  clean?: boolean;
  reconnectPeriodMs?: number;
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'disconnected';

/** Where the car state is kept across restarts. */
export interface CarStateOptions {
  /** Keep the car state in `<stateDir>/state-<stateId>.json` (default true; needs both). */
  persist?: boolean;
  stateDir?: string;
  stateId?: string;
  /** Warnings about the state file (one per problem; never thrown). */
  warn?: (text: string) => void;
}

export interface BrokerListener {
  /** A decoded message; `shared` is true for every listener but the first (copy objects before changing them). */
  onMessage(d: Decoded, shared: boolean): void;
  onBadInput(b: BadInput): void;
  onConnection(state: ConnectionState, detail: string): void;
}

const SCHEMES = new Set(['mqtt:', 'mqtts:', 'ws:', 'wss:']);

/** Problems with the settings, as short sentences naming the setting (empty when fine). */
export function checkSettings(s: BrokerSettings): string[] {
  const problems: string[] = [];
  let url: URL | null = null;
  try {
    url = new URL(s.url);
  } catch {
    problems.push(`url "${s.url}" is not a URL (use mqtt://host:1883, mqtts://, ws:// or wss://)`);
  }
  if (url && !SCHEMES.has(url.protocol)) problems.push(`url scheme ${url.protocol} is not mqtt:, mqtts:, ws: or wss:`);
  if (/[+#]/.test(s.topicBase)) problems.push('topicBase must not contain + or #');
  if (s.sharedGroup && /[/+#]/.test(s.sharedGroup)) problems.push('sharedGroup must not contain /, + or #');
  if (s.clean === false && !s.clientId) problems.push('a persistent session (clean off) needs a fixed clientId');
  return problems;
}

/** Emits `state` (state, detail) on every change: `connected` once the subscriptions are granted. */
export class BrokerConnection extends EventEmitter {
  readonly tracker: FreshnessTracker;
  /** Every VIN's latest field values, connectivity and last live time (restored at start when persisted). */
  readonly carState = new CarState();
  /** The state's file, when persisted. */
  readonly stateFile: StateFile | null = null;
  readonly parser: TopicParser;
  readonly topics: string[];
  private client: MqttClient | null = null;
  private readonly users: BrokerListener[] = [];
  private closing: Promise<void> | null = null;
  state: ConnectionState = 'idle';
  detail = '';
  /** Counters since start: messages received, and those that could not be decoded. */
  readonly stats = { messages: 0, bad: 0, connects: 0 };

  constructor(
    readonly settings: BrokerSettings,
    clock: Clock = realClock,
    stateOptions: CarStateOptions = {},
  ) {
    super();
    this.tracker = new FreshnessTracker(clock);
    const { persist = true, stateDir, stateId, warn = () => undefined } = stateOptions;
    if (persist && stateDir && stateId) {
      this.stateFile = new StateFile(this.carState, { dir: stateDir, id: stateId, warn, clock });
      this.stateFile.load();
      // Restored VINs are known from now on, and go stale with their real last live time.
      const at = clock.now();
      for (const vin of this.carState.vinList()) this.tracker.restore(vin, this.carState.lastLive(vin) ?? null, at);
      this.stateFile.start();
    }
    this.parser = new TopicParser(settings.topicBase);
    this.topics = subscriptionTopics(settings.topicBase, settings.sharedGroup || undefined);
  }

  get userCount(): number {
    return this.users.length;
  }

  register(listener: BrokerListener): void {
    if (!this.users.includes(listener)) this.users.push(listener);
    listener.onConnection(this.state, this.detail);
    if (!this.client) this.connect();
  }

  /** Remove a listener; after the last one the client disconnects. */
  async deregister(listener: BrokerListener): Promise<void> {
    const i = this.users.indexOf(listener);
    if (i >= 0) this.users.splice(i, 1);
    if (this.users.length === 0) await this.disconnect();
  }

  private setState(state: ConnectionState, detail = ''): void {
    if (state === this.state && detail === this.detail) return;
    this.state = state;
    this.detail = detail;
    this.emit('state', state, detail);
    for (const l of this.users) {
      try {
        l.onConnection(state, detail);
      } catch {
        /* a listener's status update must not break the others */
      }
    }
  }

  private options(): IClientOptions {
    const s = this.settings;
    const o: IClientOptions = {
      clean: s.clean !== false,
      reconnectPeriod: s.reconnectPeriodMs ?? 5000,
      connectTimeout: 30_000,
      keepalive: 60,
      resubscribe: false,
      protocolVersion: s.sharedGroup ? 5 : 4,
    };
    if (s.clientId) o.clientId = s.clientId;
    if (s.username) o.username = s.username;
    if (s.password) o.password = s.password;
    if (s.ca) o.ca = s.ca;
    return o;
  }

  private connect(): void {
    const problems = checkSettings(this.settings);
    if (problems.length) {
      this.setState('disconnected', problems[0]);
      return;
    }
    this.tracker.connectionDown();
    this.setState('connecting');
    let client: MqttClient;
    try {
      client = mqtt.connect(this.settings.url, this.options());
    } catch (e) {
      this.setState('disconnected', (e as Error).message);
      return;
    }
    this.client = client;
    client.on('connect', () => {
      this.stats.connects++;
      this.tracker.connectionUp();
      // Subscribe even when the broker kept our session: the topic base or the shared group may
      // have changed since (a redeploy with the same client id). Queued QoS 1 messages still
      // arrive; retained ones come again, flagged retained, so they never count as live.
      client.subscribe(this.topics, { qos: 1 }, (err, granted) => {
        if (err) return this.setState('disconnected', `subscribe failed: ${err.message}`);
        const refused = (granted ?? []).filter((g) => g.qos >= 128);
        if (refused.length) return this.setState('disconnected', `subscription refused: ${refused[0].topic}`);
        this.setState('connected');
      });
    });
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet.retain === true));
    client.on('reconnect', () => this.setState('connecting', this.detail));
    client.on('close', () => {
      this.tracker.connectionDown();
      if (this.client === client && !this.closing) this.setState('disconnected', this.detail);
    });
    client.on('offline', () => this.tracker.connectionDown());
    client.on('error', (err) => {
      // MQTT.js keeps reconnecting by itself; say why on the nodes.
      this.setState(this.state === 'connected' ? 'connected' : 'disconnected', err.message);
    });
  }

  /** The hot path: decode once, update freshness, fan out. Never throws. */
  private onMessage(topic: string, payload: Buffer, retain: boolean): void {
    const at = this.tracker.clock.now();
    this.stats.messages++;
    let d: Decoded | BadInput;
    try {
      d = decode(this.parser, topic, payload, retain, at);
    } catch (e) {
      d = { bad: true, topic, reason: (e as Error).message, excerpt: '', info: null, retain, receivedAt: at };
    }
    if (isBad(d)) {
      this.stats.bad++;
      if (d.info) this.tracker.touch(d.info.vin, !retain, at);
      for (const l of this.users) {
        try {
          l.onBadInput(d);
        } catch {
          /* reported by the listener itself */
        }
      }
      return;
    }
    this.tracker.touch(d.vin, d.live, at);
    d.updatedAt = this.carState.update(d);
    const users = this.users;
    for (let i = 0; i < users.length; i++) {
      try {
        users[i].onMessage(d, i > 0);
      } catch (e) {
        // A node that failed to emit: counted and warned like bad input, never thrown into MQTT.js.
        try {
          users[i].onBadInput({
            bad: true,
            topic,
            reason: `could not be emitted: ${(e as Error)?.message ?? e}`,
            excerpt: '',
            info: d,
            retain,
            receivedAt: at,
          });
        } catch {
          /* nothing more can be done for this listener */
        }
      }
    }
  }

  /** Inject a message as if it came from the broker (simulations and tests of the decode path). */
  inject(topic: string, payload: Buffer | string, retain = false): void {
    this.onMessage(topic, typeof payload === 'string' ? Buffer.from(payload) : payload, retain);
  }

  private disconnect(): Promise<void> {
    const client = this.client;
    if (!client) return Promise.resolve();
    if (this.closing) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      let finished = false;
      const done = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(guard);
        this.client = null;
        this.closing = null;
        this.setState('idle');
        resolve();
      };
      // A broker that is gone must not hold up a redeploy.
      const guard = setTimeout(() => client.end(true, {}, done), 2000);
      client.end(!client.connected, {}, done);
    });
    return this.closing;
  }

  /** Disconnect, stop the freshness timer and write the car state (the config node is closing). */
  async close(): Promise<void> {
    this.users.length = 0;
    await this.disconnect();
    this.tracker.close();
    await this.stateFile?.close();
  }
}
