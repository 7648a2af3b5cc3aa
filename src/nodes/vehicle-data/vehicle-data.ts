/**
 * `vehicle-data`: 1 input, 1 output. The Fleet API fallback, in the telemetry-in contract with
 * source "api". Thin glue over VehicleDataController.
 */
import type { CarMessage } from '../../lib/common/messages';
import { minutesToMs, parseList } from '../../lib/common/util';
import { VehicleDataController } from '../../lib/fallback/controller';
import { Config, Node, NodeAPI, NodeMessage, TelemetryBrokerNode, TeslaAccountNode, closeWith, configNode } from '../common/red';
import { parseUnits } from '../../lib/catalogue/units';

interface VehicleDataConfig {
  account: string;
  broker?: string;
  vins?: string;
  mode?: string;
  auto?: boolean | string;
  staleAfter?: number | string;
  pollInterval?: number | string;
  endpoints?: string;
  dailyBudget?: number | string;
  units?: string;
}

const DEFAULT_ENDPOINTS = 'charge_state;drive_state;location_data;vehicle_state';

export = function (RED: NodeAPI): void {
  function VehicleData(this: Node, config: Config<VehicleDataConfig>): void {
    RED.nodes.createNode(this, config);
    const account = configNode<TeslaAccountNode>(RED, config.account, 'tesla-account');
    if (!account?.client) {
      const why = account ? account.problem : 'choose a tesla-account configuration';
      this.status({ fill: 'red', shape: 'ring', text: 'account not usable' });
      this.error(`vehicle-data: ${why}`);
      this.on('input', (_msg, _send, done) => done(new Error(`vehicle-data: ${why}`)));
      return;
    }
    const broker = configNode<TelemetryBrokerNode>(RED, config.broker, 'telemetry-broker');
    const vins = parseList(config.vins);
    const budget = Number(config.dailyBudget);
    const controller = new VehicleDataController(
      account.client,
      broker?.connection ?? null,
      {
        vins,
        mode: config.mode === 'vehicle' ? 'vehicle' : 'field',
        auto: config.auto === true || config.auto === 'true',
        staleAfterMs: minutesToMs(config.staleAfter, 60),
        pollIntervalMs: Math.max(1000, minutesToMs(config.pollInterval, 10)),
        endpoints: parseList(String(config.endpoints || DEFAULT_ENDPOINTS).split(';')),
        dailyBudget: Number.isFinite(budget) && budget > 0 ? Math.floor(budget) : 0,
        units: parseUnits(config.units),
      },
      {
        send: (msgs) => {
          if (msgs.length) this.send([msgs as NodeMessage[]]);
        },
        status: (s) => this.status(s),
        error: (text, vin) => this.error(text, { vin, topic: vin ? `${vin}/error` : 'error', payload: text }),
        warn: (text) => this.warn(text),
      },
    );
    controller.start();

    this.on('input', (msg, send, done) => {
      const fromMsg = parseList(msg.vins ?? msg.vin ?? '');
      const targets = fromMsg.length ? fromMsg : vins;
      if (!targets.length) {
        done(new Error("vehicle-data: no VIN: set msg.vin (or msg.vins) or the node's VINs"));
        return;
      }
      const out = (msgs: CarMessage[]): void => {
        if (msgs.length) send([msgs as NodeMessage[]]);
      };
      controller.readForInput(targets, out, msg.refresh === true).then(
        () => done(),
        (e: Error) => done(e),
      );
    });
    // Restarted by a deploy (not removed): the shared MQTT session stays up for the new instance.
    this.on(
      'close',
      closeWith(this, (removed) => controller.stop(!removed)),
    );
  }
  RED.nodes.registerType('vehicle-data', VehicleData);
};
