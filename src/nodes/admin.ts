/**
 * Admin endpoints the editors use: the field catalogue for autocomplete. Registered once per
 * runtime whichever node module loads first.
 */
import { CATALOGUE } from '../lib/catalogue';
import type { RED } from './red';

const registered = new WeakSet<object>();

export function registerAdminEndpoints(RED: RED): void {
  if (registered.has(RED.httpAdmin)) return;
  registered.add(RED.httpAdmin);
  const fields = CATALOGUE.map((f) => ({ name: f.name, id: f.id, kind: f.kind, unit: f.unit, enum: f.enum ?? null }));
  RED.httpAdmin.get('/tesla-fleet-telemetry/fields', RED.auth.needsPermission('telemetry-in.read'), (_req, res) => {
    res.json(fields);
  });
}
