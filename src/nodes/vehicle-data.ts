/**
 * `vehicle-data`: 1 input, 1 output. The Fleet API fallback, in the telemetry-in contract with
 * source "api". Thin glue over VehicleDataController.
 */
import type { CarMessage } from '../lib/messages';
import { parseUnits } from '../lib/units';
import { minutesToMs, parseList } from '../lib/util';
import { VehicleDataController } from '../lib/vehicle-data';
import { Node, NodeMessage, RED, TelemetryBrokerNode, TeslaAccountNode, closeWith } from './red';

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

export = function (RED: RED): void {
  function VehicleData(this: Node, config: VehicleDataConfig): void {
    RED.nodes.createNode(this, config as unknown as Record<string, unknown>);
    const account = RED.nodes.getNode(config.account) as TeslaAccountNode | null;
    if (!account?.client) {
      const why = account ? account.problem : 'choose a tesla-account configuration';
      this.status({ fill: 'red', shape: 'ring', text: 'account not usable' });
      this.error(`vehicle-data: ${why}`);
      this.on('input', (_msg, _send, done) => done(new Error(`vehicle-data: ${why}`)));
      return;
    }
    const broker = config.broker ? (RED.nodes.getNode(config.broker) as TelemetryBrokerNode | null) : null;
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
        done(new Error('vehicle-data: no VIN: set msg.vin (or msg.vins) or the node\'s VINs'));
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
    this.on('close', closeWith(this, () => controller.stop()));
  }
  RED.nodes.registerType('vehicle-data', VehicleData);
};
