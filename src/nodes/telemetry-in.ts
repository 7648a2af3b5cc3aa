/**
 * `telemetry-in`: 0 inputs, 3 outputs (data; alerts and errors; connectivity, stale, fresh).
 * Thin glue over TelemetryInController.
 */
import { TelemetryInController } from '../lib/telemetry-in';
import { parseUnits } from '../lib/units';
import { minutesToMs, parseList } from '../lib/util';
import { registerAdminEndpoints } from './admin';
import { Node, RED, TelemetryBrokerNode, closeWith } from './red';

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

export = function (RED: RED): void {
  registerAdminEndpoints(RED);
  function TelemetryIn(this: Node, config: TelemetryInConfig): void {
    RED.nodes.createNode(this, config as unknown as Record<string, unknown>);
    const broker = RED.nodes.getNode(config.broker) as TelemetryBrokerNode | null;
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
    this.on('close', closeWith(this, () => controller.stop()));
  }
  RED.nodes.registerType('telemetry-in', TelemetryIn);
};
