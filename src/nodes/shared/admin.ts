/**
 * Admin endpoints the editors use: the field catalogue for autocomplete, the telemetry-config
 * presets, and a CA check. Registered once per runtime, whichever node module loads first.
 */
import { CATALOGUE } from '../../lib/catalogue/index';
import { PRESETS, describeCa } from '../../lib/registration';
import type { NodeAPI } from './red';

const registered = new WeakSet<object>();

export function registerAdminEndpoints(RED: NodeAPI): void {
  if (registered.has(RED.httpAdmin)) return;
  registered.add(RED.httpAdmin);
  const fields = CATALOGUE.map((f) => ({ name: f.name, id: f.id, kind: f.kind, unit: f.unit, enum: f.enum ?? null }));
  RED.httpAdmin.get('/tesla-fleet-telemetry/fields', RED.auth.needsPermission('telemetry-in.read'), (_req, res) => {
    res.json(fields);
  });
  RED.httpAdmin.get('/tesla-fleet-telemetry/presets', RED.auth.needsPermission('telemetry-config.read'), (_req, res) => {
    res.json(PRESETS);
  });
  RED.httpAdmin.post('/telemetry-config/ca-info', RED.auth.needsPermission('telemetry-config.read'), (req, res) => {
    try {
      res.json(describeCa((req.body as { pem?: unknown } | undefined)?.pem));
    } catch (e) {
      res.status(400).json({ error: (e as Error).message });
    }
  });
}
