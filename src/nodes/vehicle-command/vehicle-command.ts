/**
 * `vehicle-command`: 1 input, 1 output. Charge and climate commands from a flow, through the
 * account's Fleet API client (and the vehicle-command proxy that signs them), confirmed by the
 * telemetry stream of an optional broker. Thin glue over VehicleCommandController.
 */
import { BrokerCommandStream, CommandMessage, TEXTS, VehicleCommandConfig, VehicleCommandController, commandSettings } from '../../lib/commands';
import { registerAdminEndpoints } from '../common/admin';
import { Config, Node, NodeAPI, NodeMessage, TelemetryBrokerNode, TeslaAccountNode, closeWith, configNode } from '../common/red';

interface VehicleCommandNodeConfig extends VehicleCommandConfig {
  account: string;
  broker?: string;
}

/** The input's own properties go on (a correlation id, say); what the node read from it does not. */
const CONSUMED = ['vin', 'vins', 'command', 'payload'];

export = function (RED: NodeAPI): void {
  function VehicleCommand(this: Node, config: Config<VehicleCommandNodeConfig>): void {
    RED.nodes.createNode(this, config);
    const refuse = (text: string, status: string): void => {
      this.status({ fill: 'red', shape: 'ring', text: status });
      this.error(text);
      this.on('input', (_msg, _send, done) => done(new Error(text)));
    };

    const account = configNode<TeslaAccountNode>(RED, config.account, 'tesla-account');
    if (!account?.client) {
      refuse(TEXTS.accountUnusable(account?.problem ?? TEXTS.noAccount()), TEXTS.statusAccount());
      return;
    }
    const { options, problems } = commandSettings(config);
    if (problems.length) {
      refuse(TEXTS.notSending(problems.join(' ')), TEXTS.statusSettings());
      return;
    }
    const broker = configNode<TelemetryBrokerNode>(RED, config.broker, 'telemetry-broker');
    const stream = broker?.connection && options.verifyMs > 0 ? new BrokerCommandStream(broker.connection) : null;
    const controller = new VehicleCommandController(
      account.client,
      options,
      {
        send: (msg) => this.send(msg as unknown as NodeMessage),
        status: (s) => this.status(s),
        warn: (text) => this.warn(text),
      },
      { stream },
    );
    controller.start();

    this.on('input', (msg, send, done) => {
      const answer = (m: CommandMessage): void => {
        const out: NodeMessage = { ...msg };
        for (const k of CONSUMED) delete out[k];
        send(Object.assign(out, m));
      };
      controller.handle({ command: msg.command, payload: msg.payload, vins: msg.vins, vin: msg.vin }, answer).then(
        () => done(),
        (e: Error) => done(e),
      );
    });
    this.on(
      'close',
      closeWith(this, async () => {
        await controller.stop();
        await stream?.close();
      }),
    );
  }
  RED.nodes.registerType('vehicle-command', VehicleCommand);
  registerAdminEndpoints(RED);
};
