/**
 * One MQTT.js client per broker configuration, shared by every node that uses it (the pattern
 * of Node-RED core's `mqtt-broker`): it connects for the first listener and disconnects after
 * the last; it decodes each message once, keeps the per-VIN freshness, and fans messages and
 * connection state out to its listeners. Nothing here throws out of an MQTT callback.
 */
import { EventEmitter } from 'node:events';
import { createSecureContext, rootCertificates } from 'node:tls';
import mqtt, { IClientOptions, MqttClient } from 'mqtt';
import { Failure, TEXT, describeFailure, redact } from './broker-texts';
import { CarState } from './car-state';
import { BadInput, Decoded, TopicParser, decode, isBad, subscriptionTopics } from './decode';
import { assertPemCertificate } from '../fleet-api/http';
import { Clock, FreshnessTracker, realClock } from './freshness';
import { UsageMeter } from './usage';

/**
 * Plain Node.js TLS options, as a Node-RED `tls-config` node's `addTLSOptions` gives them:
 * client certificate and key (with passphrase), CA, server name, ALPN, and whether the
 * broker's certificate is verified (only an explicit `false` turns that off).
 */
export interface BrokerTlsOptions {
  ca?: string | Buffer | Array<string | Buffer>;
  cert?: string | Buffer;
  key?: string | Buffer;
  passphrase?: string;
  servername?: string;
  ALPNProtocols?: string[];
  rejectUnauthorized?: boolean;
}
import { StateFile } from './state-file';

export interface BrokerSettings {
  url: string;
  topicBase: string;
  clientId?: string;
  username?: string;
  password?: string;
  /** PEM of the CA that signed the broker's certificate (added to the system roots). */
  ca?: string;
  /**
   * TLS options for mqtts:// and wss://. A CA given here is trusted instead of the system roots
   * (as Node-RED's core MQTT nodes do); `ca` above is trusted as well.
   */
  tls?: BrokerTlsOptions;
  /** A problem found while reading the settings (e.g. an unusable TLS configuration node): shown instead of connecting. */
  settingsProblem?: string;
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
const SECURE = new Set(['mqtts:', 'wss:']);

function isSecure(url: string): boolean {
  try {
    return SECURE.has(new URL(url).protocol);
  } catch {
    return false;
  }
}

/** Problems with the settings, as short sentences naming the setting (empty when fine). */
export function checkSettings(s: BrokerSettings): string[] {
  const problems: string[] = [];
  if (s.settingsProblem) problems.push(s.settingsProblem);
  let url: URL | null = null;
  try {
    url = new URL(s.url);
  } catch {
    problems.push(TEXT.notUrl(s.url));
  }
  if (url && !SCHEMES.has(url.protocol)) problems.push(TEXT.badScheme(url.protocol));
  if (url && s.tls && SCHEMES.has(url.protocol) && !SECURE.has(url.protocol)) problems.push(TEXT.tlsNeedsSecureUrl(url.protocol));
  if (s.ca) {
    try {
      assertPemCertificate(s.ca, 'the ca field');
    } catch (e) {
      problems.push(TEXT.caNotPem((e as Error).message));
    }
  }
  if (s.tls && !s.tls.cert !== !s.tls.key) problems.push(TEXT.certKeyPair);
  else if (s.tls && s.tls.cert && s.tls.key) {
    // Read now, not in a reconnect timer: a bad key or passphrase must be a message, never an exception.
    try {
      createSecureContext({ cert: s.tls.cert, key: s.tls.key, passphrase: s.tls.passphrase });
    } catch (e) {
      problems.push(TEXT.clientKeyUnusable(redact((e as Error).message, [s.tls.passphrase ?? ''])));
    }
  }
  if (/[+#]/.test(s.topicBase)) problems.push('topicBase must not contain + or #');
  if (s.sharedGroup && /[/+#]/.test(s.sharedGroup)) problems.push('sharedGroup must not contain /, + or #');
  if (s.clean === false && !s.clientId) problems.push('a persistent session (clean off) needs a fixed clientId');
  return problems;
}

/** Emits `state` (state, detail) on every change: `connected` once the subscriptions are granted. */
export class BrokerConnection extends EventEmitter {
  readonly tracker: FreshnessTracker;
  /** Signals (live `v` messages) per UTC day, VIN and field: what streaming costs. */
  readonly usage: UsageMeter;
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
  /** Counters since start: messages received, those that could not be decoded, connections, failed connection attempts. */
  readonly stats = { messages: 0, bad: 0, connects: 0, failures: 0 };
  /** The cause of the last failed attempt, null once connected. */
  failure: Failure | null = null;
  private attemptFailed = false;

  constructor(
    readonly settings: BrokerSettings,
    clock: Clock = realClock,
    stateOptions: CarStateOptions = {},
  ) {
    super();
    this.tracker = new FreshnessTracker(clock);
    this.usage = new UsageMeter(clock);
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

  /** True when TLS is in use without verifying the broker's certificate (unticked in the TLS configuration). */
  get tlsUnverified(): boolean {
    return isSecure(this.settings.url) && this.settings.tls?.rejectUnauthorized === false;
  }

  get userCount(): number {
    return this.users.length;
  }

  register(listener: BrokerListener): void {
    if (!this.users.includes(listener)) this.users.push(listener);
    listener.onConnection(this.state, this.detail);
    if (!this.client) this.connect();
  }

  /**
   * Remove a listener; after the last one the client disconnects, unless `restarting`: the
   * listener's successor is about to register, and finds the session up (no new CONNECT, no
   * resubscription, so no replay of the retained messages). releaseIfUnused() ends a session
   * kept that way that nobody came back to.
   */
  async deregister(listener: BrokerListener, restarting = false): Promise<void> {
    const i = this.users.indexOf(listener);
    if (i >= 0) this.users.splice(i, 1);
    if (this.users.length === 0 && !restarting) await this.disconnect();
  }

  /** Disconnect when no listener is registered. */
  async releaseIfUnused(): Promise<void> {
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
      // MQTT.js gives up after a refused login (CONNACK 4/5, 0x86/0x87) unless told otherwise:
      // retry at the same period, so a password fixed on the broker heals without a redeploy.
      reconnectOnConnackError: true,
    };
    if (s.clientId) o.clientId = s.clientId;
    if (s.username) o.username = s.username;
    if (s.password) o.password = s.password;
    if (isSecure(s.url)) {
      const t = this.tlsOptions();
      Object.assign(o, t);
      // The websocket client takes its TLS options from wsOptions (MQTT.js copies only some).
      if (s.url.startsWith('wss:')) o.wsOptions = { ...t };
    }
    return o;
  }

  /** The TLS options of a secure connection: verification on unless explicitly off. */
  private tlsOptions(): BrokerTlsOptions {
    const s = this.settings;
    const { ca: tlsCa, ...rest } = s.tls ?? {};
    const t: BrokerTlsOptions = { ...rest, rejectUnauthorized: s.tls?.rejectUnauthorized !== false };
    const fromTls = tlsCa === undefined ? [] : Array.isArray(tlsCa) ? tlsCa : [tlsCa];
    if (fromTls.length) t.ca = s.ca ? [...fromTls, s.ca] : fromTls;
    else if (s.ca) t.ca = [...rootCertificates, s.ca];
    return t;
  }

  private failureContext() {
    const s = this.settings;
    return {
      url: s.url,
      reconnectPeriodMs: s.reconnectPeriodMs ?? 5000,
      clientCertificate: !!s.tls?.cert,
      secrets: [s.password ?? '', s.tls?.passphrase ?? ''],
    };
  }

  /**
   * A failed attempt: counted once (event `attempt-failed`), warned once per cause (event
   * `failure`, again when the cause changes; `recovered` once connected), shown in the status.
   */
  private failed(err: unknown): void {
    const f = describeFailure(err, this.failureContext());
    const first = !this.attemptFailed;
    if (first) {
      this.attemptFailed = true;
      this.stats.failures++;
    }
    const changed = this.failure?.kind !== f.kind || this.failure.short !== f.short;
    this.failure = f;
    if (first) this.emit('attempt-failed', f);
    if (changed) this.emit('failure', f);
    this.setState('disconnected', f.short);
  }

  private connect(): void {
    const problems = checkSettings(this.settings);
    if (problems.length) {
      this.setState('disconnected', problems[0]);
      return;
    }
    this.tracker.connectionDown();
    this.setState('connecting');
    this.attemptFailed = false;
    let client: MqttClient;
    try {
      client = mqtt.connect(this.settings.url, this.options());
    } catch (e) {
      // Options Node's TLS refuses outright (e.g. an ALPN name over 255 bytes): a cause, not a crash.
      this.failed(e);
      return;
    }
    this.client = client;
    client.on('connect', () => {
      this.stats.connects++;
      if (this.failure) {
        const after = this.failure;
        this.failure = null;
        this.emit('recovered', after);
      }
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
    client.on('reconnect', () => {
      this.attemptFailed = false;
      // While a cause is known the status keeps naming it (red) instead of flickering to "connecting".
      if (!this.failure) this.setState('connecting', this.detail);
    });
    client.on('close', () => {
      this.tracker.connectionDown();
      if (this.client === client && !this.closing) this.setState('disconnected', this.detail);
    });
    client.on('offline', () => this.tracker.connectionDown());
    client.on('error', (err) => {
      // MQTT.js keeps reconnecting by itself (after a refused login too); say why on the nodes.
      if (this.client !== client || this.closing) return;
      if (this.state === 'connected') this.setState('connected', redact(err.message, this.failureContext().secrets));
      else this.failed(err);
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
      this.usage.recordBad(d);
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
    this.usage.record(d);
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
        this.failure = null; // a later start warns about its own causes again
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
