/**
 * Admin endpoints the editors use: the field catalogue for autocomplete, the telemetry-config
 * presets, a CA check, the telemetry-config preview (the register body and the checks of the
 * dialog's current settings, from the same library code the node runs), the fields a
 * telemetry-config with fieldsFrom "flow" derives from the editor's telemetry-in nodes, a
 * deployed broker's streaming usage, and the vehicle-command table with the prices of a command
 * and a wake. Registered once per runtime, whichever node module loads
 * first.
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
import { FieldsFromFlowError, FlowNode, applyFieldsFrom } from '../../lib/registration/fields-from-flow';
import type { FieldSettingInput } from '../../lib/registration';
import { ADMIN_TEXTS } from './admin-texts';
import { NodeAPI, TelemetryBrokerNode, configNode } from './red';

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

/** What `POST telemetry-config/fields-from-flow` answers: the derived fields, or why there are none. */
export interface FlowFields {
  fields: Record<string, FieldSettingInput> | null;
  error: string | null;
}

/**
 * The fields a telemetry-config with fieldsFrom "flow" would use, from the library's
 * derivation over the nodes given (the editor sends its current telemetry-in nodes and tabs):
 * `{broker, defaultInterval, fields, nodes}` in.
 */
export function flowFieldsOf(input: Record<string, unknown>): FlowFields {
  const brokerId = typeof input.broker === 'string' ? input.broker.trim() : '';
  const nodes = (Array.isArray(input.nodes) ? input.nodes : []).filter((n): n is FlowNode => isObject(n) && typeof n.id === 'string');
  try {
    const props = applyFieldsFrom(
      { fields: input.fields as TelemetryConfigProps['fields'] },
      { fieldsFrom: 'flow', defaultInterval: input.defaultInterval, flow: brokerId ? { nodes, brokerId } : null },
    );
    return { fields: props.fields as Record<string, FieldSettingInput>, error: null };
  } catch (e) {
    if (e instanceof FieldsFromFlowError) return { fields: null, error: e.message };
    throw e;
  }
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
  RED.httpAdmin.post('/telemetry-config/fields-from-flow', RED.auth.needsPermission('telemetry-config.read'), (req, res) => {
    if (!isObject(req.body) || !Array.isArray(req.body.nodes)) {
      res.status(400).json({ error: ADMIN_TEXTS.flowFieldsBadBody });
      return;
    }
    try {
      res.json(flowFieldsOf(req.body));
    } catch (e) {
      res.status(400).json({ error: ADMIN_TEXTS.flowFieldsFailed((e as Error)?.message ?? String(e)) });
    }
  });
  // What a deployed broker's stream costs today: the `usage` action's payload for every VIN.
  RED.httpAdmin.get('/tesla-fleet-telemetry/usage/:id', RED.auth.needsPermission('telemetry-broker.read'), (req, res) => {
    const id = String(req.params.id);
    const broker = configNode<TelemetryBrokerNode>(RED, id, 'telemetry-broker');
    if (!broker?.connection) {
      res.status(404).json({ error: ADMIN_TEXTS.usageNoBroker(id) });
      return;
    }
    res.json(broker.connection.usage.report());
  });
}
