/**
 * Admin endpoints the editors use: the field catalogue for autocomplete, the telemetry-config
 * presets, a CA check, and the vehicle-command table with the prices of a command and a wake.
 * Registered once per runtime, whichever node module loads first.
 */
import { CATALOGUE } from '../../lib/catalogue/index';
import { COMMANDS } from '../../lib/commands/table';
import { priceOf } from '../../lib/fleet-api/billing';
import { PRESETS, describeCa } from '../../lib/registration';
import type { RED } from './red';

const registered = new WeakSet<object>();

export function registerAdminEndpoints(RED: RED): void {
  if (registered.has(RED.httpAdmin)) return;
  registered.add(RED.httpAdmin);
  const fields = CATALOGUE.map((f) => ({ name: f.name, id: f.id, kind: f.kind, unit: f.unit, enum: f.enum ?? null }));
  RED.httpAdmin.get('/tesla-fleet-telemetry/fields', RED.auth.needsPermission('telemetry-in.read'), (_req, res) => {
    res.json(fields);
  });
  RED.httpAdmin.get('/tesla-fleet-telemetry/presets', RED.auth.needsPermission('telemetry-config.read'), (_req, res) => {
    res.json(PRESETS);
  });
  const commands = {
    commands: COMMANDS.map((c) => ({ name: c.name, params: c.params, opensCar: c.opensCar, confirmedBy: c.confirm?.field ?? null })),
    price: { command: priceOf('command'), wake: priceOf('wake') },
  };
  RED.httpAdmin.get('/tesla-fleet-telemetry/commands', RED.auth.needsPermission('vehicle-command.read'), (_req, res) => {
    res.json(commands);
  });
  RED.httpAdmin.post('/telemetry-config/ca-info', RED.auth.needsPermission('telemetry-config.read'), (req, res) => {
    try {
      res.json(describeCa((req.body as { pem?: unknown } | undefined)?.pem));
    } catch (e) {
      res.status(400).json({ error: (e as Error).message });
    }
  });
}
