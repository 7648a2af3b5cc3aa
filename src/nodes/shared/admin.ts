/**
 * Admin endpoints the editors use: the field catalogue for autocomplete, the telemetry-config
 * presets, a CA check, the vehicle-command table with the prices of a command and a wake, and the
 * telemetry-config preview (the register body and the checks of
 * the dialog's current settings, from the same library code the node runs). Registered once
 * per runtime, whichever node module loads first.
 */
import { CATALOGUE } from '../../lib/catalogue/index';
import { COMMANDS } from '../../lib/commands/table';
import { priceOf } from '../../lib/fleet-api/billing';
import {
  PRESETS,
  RegisterBody,
  TelemetryConfigProps,
  ValidationResult,
  buildConfig,
  buildRegisterBody,
  describeCa,
  isObject,
  validate,
} from '../../lib/registration';
import { ADMIN_TEXTS } from './admin-texts';
import type { NodeAPI } from './red';

/** The settings of a telemetry-config dialog the preview reads (anything else is ignored). */
const PREVIEW_KEYS = ['hostname', 'port', 'ca', 'fields', 'alertTypes', 'preferTyped', 'vins', 'exp'] as const;

export type Preview = { body: RegisterBody } & ValidationResult;

/**
 * What `register` would send for a dialog's settings, and what is wrong with them: the answer
 * of `POST telemetry-config/preview`.
 */
export function previewOf(input: Record<string, unknown>, now: number = Date.now()): Preview {
  const props: TelemetryConfigProps = {};
  for (const k of PREVIEW_KEYS) if (k in input) (props as Record<string, unknown>)[k] = input[k];
  const { errors, warnings } = validate(props, { now });
  return { body: buildRegisterBody(props.vins, buildConfig(props)), errors, warnings };
}

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
  RED.httpAdmin.post('/telemetry-config/preview', RED.auth.needsPermission('telemetry-config.read'), (req, res) => {
    if (!isObject(req.body)) {
      res.status(400).json({ error: ADMIN_TEXTS.previewNotAnObject });
      return;
    }
    let answer: Preview;
    try {
      answer = previewOf(req.body);
    } catch (e) {
      res.status(400).json({ error: ADMIN_TEXTS.previewFailed((e as Error)?.message ?? String(e)) });
      return;
    }
    res.json(answer);
  });
}
