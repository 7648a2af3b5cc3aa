/**
 * `telemetry-config`: 1 input, 1 output. Registers VINs with the telemetry server through the
 * vehicle-command proxy, and checks what the cars adopted. Thin glue over runAction.
 */
import { ValidationError, runAction, summarise } from '../../lib/registration/controller';
import type { TelemetryConfigProps } from '../../lib/registration';
import { registerAdminEndpoints } from '../shared/admin';
import { Config, Node, NodeAPI, TeslaAccountNode, configNode } from '../shared/red';

type TelemetryConfigNodeConfig = Config<TelemetryConfigProps & { account: string; action?: string }>;

export = function (RED: NodeAPI): void {
  registerAdminEndpoints(RED);
  function TelemetryConfig(this: Node, config: TelemetryConfigNodeConfig): void {
    RED.nodes.createNode(this, config);
    const account = configNode<TeslaAccountNode>(RED, config.account, 'tesla-account');
    const props: TelemetryConfigProps & { action?: string } = {
      hostname: config.hostname,
      port: config.port,
      ca: config.ca,
      fields: config.fields,
      alertTypes: config.alertTypes,
      preferTyped: config.preferTyped,
      vins: config.vins,
      exp: config.exp,
      action: config.action,
    };
    this.status({ fill: 'grey', shape: 'ring', text: account?.client ? 'idle' : 'account not usable' });

    this.on('input', (msg, send, done) => {
      const client = account?.client;
      if (!client) {
        const why = account ? account.problem : 'choose a tesla-account configuration';
        this.status({ fill: 'red', shape: 'ring', text: 'account not usable' });
        done(new Error(`telemetry-config: ${why}`));
        return;
      }
      this.status({ fill: 'yellow', shape: 'ring', text: 'working' });
      runAction(client, props, msg as { action?: unknown; vins?: unknown; config?: unknown }, { domain: account.domain }).then(
        (result) => {
          for (const w of result.warnings) this.warn(w);
          const failed = result.payload.filter((e) => e.state === 'error');
          const limited = result.payload.some((e) => e.state === 'rate-limited');
          const text = summarise(result);
          this.status(
            failed.length
              ? { fill: 'red', shape: 'ring', text }
              : limited
                ? { fill: 'yellow', shape: 'ring', text }
                : { fill: 'green', shape: 'dot', text },
          );
          msg.event = result.action;
          msg.topic = `telemetry-config/${result.action}`;
          msg.payload = result.payload;
          msg.response = result.response;
          send(msg);
          if (failed.length) done(new Error(`telemetry-config ${result.action}: ${failed.map((e) => `${e.vin}: ${e.reason}`).join('; ')}`));
          else done();
        },
        (e: Error) => {
          this.status({ fill: 'red', shape: 'ring', text: e instanceof ValidationError ? 'invalid settings' : 'error' });
          done(e);
        },
      );
    });
  }
  RED.nodes.registerType('telemetry-config', TelemetryConfig);
};
