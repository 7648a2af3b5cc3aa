/**
 * `telemetry-in`: 0 inputs, 3 outputs (data; alerts and errors; connectivity, stale, fresh).
 * Thin glue over TelemetryInController.
 */
import { TelemetryInController } from '../../lib/stream/controller';
import { minutesToMs, parseList } from '../../lib/common/util';
import { registerAdminEndpoints } from '../common/admin';
import { Config, Node, NodeAPI, TelemetryBrokerNode, closeWith, configNode } from '../common/red';
import { parseUnits } from '../../lib/catalogue/units';

interface TelemetryInConfig {
  broker: string;
  vins?: string;
  fields?: string;
  mode?: string;
  staleAfter?: number | string;
  retained?: string;
  quietTime?: number | string;
  units?: string;
}

export = function (RED: NodeAPI): void {
  registerAdminEndpoints(RED);
  function TelemetryIn(this: Node, config: Config<TelemetryInConfig>): void {
    RED.nodes.createNode(this, config);
    const broker = configNode<TelemetryBrokerNode>(RED, config.broker, 'telemetry-broker');
    if (!broker?.connection) {
      this.status({ fill: 'red', shape: 'ring', text: 'no broker configured' });
      this.error('telemetry-in: choose a telemetry-broker configuration');
      return;
    }
    const quiet = Number(config.quietTime);
    const controller = new TelemetryInController(
      broker.connection,
      {
        vins: parseList(config.vins),
        fields: parseList(config.fields),
        mode: config.mode === 'vehicle' ? 'vehicle' : 'field',
        staleAfterMs: minutesToMs(config.staleAfter, 60),
        retained: config.retained === 'ignore' ? 'ignore' : 'flag',
        quietMs: Number.isFinite(quiet) && quiet >= 0 ? quiet : 250,
        units: parseUnits(config.units),
      },
      {
        send: (out) => this.send(out),
        status: (s) => this.status(s),
        warn: (text) => this.warn(text),
      },
    );
    controller.start();
    // Restarted by a deploy (not removed): the shared MQTT session stays up for the new instance.
    this.on(
      'close',
      closeWith(this, (removed) => controller.stop(!removed)),
    );
  }
  RED.nodes.registerType('telemetry-in', TelemetryIn);
};
