/**
 * `telemetry-config`: 1 input, 1 output. Registers VINs with the telemetry server through the
 * vehicle-command proxy, checks what the cars adopted, diagnoses each car (`doctor`), heals
 * what a push of this node's config heals (`ensure`, also by itself every `ensureEvery`
 * hours), and says what streaming costs (`usage`). Thin glue over runAction (the config
 * actions) and runRegistrationAction (doctor, ensure, usage).
 */
import { ValidationError, runAction, summarise } from '../../lib/registration/controller';
import { RegistrationContext, RegistrationProps, registrationStatus, runRegistrationAction, streamEvidenceOf } from '../../lib/registration/actions';
import { EnsureCap, parseEnsureEvery } from '../../lib/registration/ensure';
import type { FlowNode, FlowSource } from '../../lib/registration/fields-from-flow';
import { parseFieldsFrom } from '../../lib/registration/fields-from-flow';
import { Action, actionOf, isRegistrationAction, isSet } from '../../lib/registration';
import type { DoctorEntry } from '../../lib/registration/doctor';
import { NODE_TEXTS } from '../../lib/registration/texts';
import type { BrokerListener } from '../../lib/stream/broker-connection';
import type { NodeStatus } from '../../lib/common/status';
import { registerAdminEndpoints } from '../common/admin';
import { Config, Node, NodeAPI, NodeMessage, TeslaAccountNode, TelemetryBrokerNode, closeWith, configNode, dataDir } from '../common/red';

interface TelemetryConfigSettings extends RegistrationProps {
  account: string;
  /** Optional telemetry-broker: the doctor's stream evidence, usage, fieldsFrom "flow". */
  broker?: string;
  /** Hours between two runs of `ensure` by the node itself; 0 or empty = off. */
  ensureEvery?: number | string;
}

type Input = NodeMessage & { action?: unknown; vins?: unknown; config?: unknown };

/** The action needs the account, and it is not usable (no call was made). */
class AccountError extends Error {}

export = function (RED: NodeAPI): void {
  registerAdminEndpoints(RED);
  function TelemetryConfig(this: Node, config: Config<TelemetryConfigSettings>): void {
    RED.nodes.createNode(this, config);
    const account = configNode<TeslaAccountNode>(RED, config.account, 'tesla-account');
    const broker = configNode<TelemetryBrokerNode>(RED, config.broker, 'telemetry-broker');
    const props: RegistrationProps = {
      hostname: config.hostname,
      port: config.port,
      ca: config.ca,
      fields: config.fields,
      alertTypes: config.alertTypes,
      preferTyped: config.preferTyped,
      vins: config.vins,
      exp: config.exp,
      action: config.action,
      fieldsFrom: config.fieldsFrom,
      defaultInterval: config.defaultInterval,
      dailyBudget: config.dailyBudget,
    };
    /** Inputs refused for bad settings or input since the deploy (shown in the status). */
    let refused = 0;
    if (isSet(config.broker) && !broker) this.warn(NODE_TEXTS.brokerMissing(String(config.broker)));

    // A broker connects for its first user: the doctor's evidence (live messages, connectivity)
    // and the usage counts need it up even when no telemetry-in uses it.
    const brokerUser: BrokerListener = { onMessage() {}, onBadInput() {}, onConnection() {} };
    broker?.connection.register(brokerUser);
    // ensure's 24 h push cap, kept across restarts beside the token files (in memory in a runtime without a user directory).
    const cap = RED.settings.userDir ? EnsureCap.forNode(dataDir(RED), this.id, { warn: (text) => this.warn(text) }) : new EnsureCap(null);

    /** The deployed flow, for fieldsFrom "flow": every node definition, and this node's broker. */
    const flowSource = (): FlowSource | null => {
      if (!broker) return null;
      const nodes: FlowNode[] = [];
      RED.nodes.eachNode((n) => {
        nodes.push(n as unknown as FlowNode);
      });
      return { nodes, brokerId: broker.id };
    };
    const flowMode = (): boolean => {
      try {
        return parseFieldsFrom(props.fieldsFrom) === 'flow';
      } catch {
        return false; // the runner names the bad value
      }
    };
    const context = (): RegistrationContext => ({
      client: account?.client ?? null,
      domain: account?.domain,
      stream: broker ? streamEvidenceOf(broker.connection) : null,
      usage: broker?.connection.usage ?? null,
      cap,
      flow: flowMode() ? flowSource() : null,
    });

    this.status({ fill: 'grey', shape: 'ring', text: account?.client ? NODE_TEXTS.idle : NODE_TEXTS.accountNotUsable });

    /**
     * Run one action for `msg` and put its result on it (event, topic, payload, response).
     * Resolves with the error text naming the VINs that failed, or null; rejects, before any
     * call, for bad settings or input (ValidationError) or an unusable account (AccountError).
     */
    const run = async (msg: Input): Promise<string | null> => {
      let action: Action;
      try {
        action = actionOf(props.action, msg.action);
      } catch (e) {
        throw new ValidationError(`telemetry-config: ${(e as Error).message}`);
      }
      const client = account?.client ?? null;
      // usage reads the broker only: it needs no account.
      const accountProblem = (): AccountError => new AccountError(NODE_TEXTS.noAccount(account ? (account.problem ?? '') : NODE_TEXTS.chooseAccount));
      if (action !== 'usage' && !client) throw accountProblem();
      this.status({ fill: 'yellow', shape: 'ring', text: NODE_TEXTS.working });
      let status: NodeStatus;
      let failures: Array<{ vin: string; reason: string }>;
      if (isRegistrationAction(action)) {
        const result = await runRegistrationAction(context(), props, msg);
        for (const w of result.warnings) this.warn(w);
        status = registrationStatus(result);
        failures =
          result.action === 'usage'
            ? []
            : (result.payload as DoctorEntry[])
                .filter((e) => e.state === 'error' || e.register?.state === 'error')
                .map((e) => ({ vin: e.vin, reason: e.register?.state === 'error' ? e.register.reason : e.reason }));
        Object.assign(msg, { event: result.action, topic: `telemetry-config/${result.action}`, payload: result.payload, response: result.response });
      } else {
        if (!client) throw accountProblem();
        const result = await runAction(client, props, msg, { domain: account?.domain, flow: flowMode() ? flowSource() : null });
        for (const w of result.warnings) this.warn(w);
        failures = result.payload.filter((e) => e.state === 'error');
        const limited = result.payload.some((e) => e.state === 'rate-limited');
        const text = summarise(result);
        status = failures.length
          ? { fill: 'red', shape: 'ring', text }
          : limited
            ? { fill: 'yellow', shape: 'ring', text }
            : { fill: 'green', shape: 'dot', text };
        Object.assign(msg, { event: result.action, topic: `telemetry-config/${result.action}`, payload: result.payload, response: result.response });
      }
      this.status(status);
      return failures.length ? NODE_TEXTS.failed(String(msg.event), failures) : null;
    };

    /** The status for an input that was refused or could not run. */
    const refusedStatus = (e: unknown): NodeStatus => {
      if (e instanceof AccountError) return { fill: 'red', shape: 'ring', text: NODE_TEXTS.accountNotUsable };
      if (e instanceof ValidationError) return { fill: 'red', shape: 'ring', text: NODE_TEXTS.invalid(++refused) };
      return { fill: 'red', shape: 'ring', text: NODE_TEXTS.error };
    };

    this.on('input', (msg, send, done) => {
      const input = msg as Input;
      run(input).then(
        (failure) => {
          send(input);
          if (failure) done(new Error(failure));
          else done();
        },
        (e: Error) => {
          this.status(refusedStatus(e));
          done(e);
        },
      );
    });

    // ensureEvery: ensure by itself, the first run one period after the node starts. Its
    // result is sent like an input's; a failure goes to Catch nodes, never out of the timer.
    let timer: ReturnType<typeof setInterval> | null = null;
    let every = 0;
    try {
      every = parseEnsureEvery(config.ensureEvery);
    } catch (e) {
      this.error((e as Error).message);
      this.status({ fill: 'red', shape: 'ring', text: NODE_TEXTS.invalid(++refused) });
    }
    if (every > 0) {
      if (!isSet(props.vins)) this.warn(NODE_TEXTS.ensureEveryNoVins);
      if (every < 3_600_000) this.warn(NODE_TEXTS.ensureOften(every / 3_600_000));
      let running = false;
      timer = setInterval(() => {
        if (running) return; // the previous run is still waiting for Tesla
        running = true;
        const msg: Input = { action: 'ensure' };
        run(msg)
          .then(
            (failure) => {
              this.send(msg);
              if (failure) this.error(failure, msg);
            },
            (e: Error) => {
              this.status(refusedStatus(e));
              this.error(e.message, msg);
            },
          )
          .catch((e: unknown) => this.warn(`ensureEvery: ${(e as Error)?.message ?? e}`))
          .finally(() => {
            running = false;
          });
      }, every);
    }

    this.on(
      'close',
      closeWith(this, async (removed) => {
        if (timer) clearInterval(timer);
        timer = null;
        // Restarted by a deploy (not removed): the shared MQTT session stays up for the new instance.
        await broker?.connection.deregister(brokerUser, !removed);
      }),
    );
  }
  RED.nodes.registerType('telemetry-config', TelemetryConfig);
};
