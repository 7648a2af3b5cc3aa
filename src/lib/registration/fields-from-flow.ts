/**
 * `fieldsFrom: "flow"`: the telemetry config asks for exactly the fields the flow listens to —
 * the union of the `fields` filters of every deployed `telemetry-in` on the same broker, each
 * at the default interval unless the node's own fields table names it. A `telemetry-in` on
 * that broker without a field filter would ask the car for every field: that is an error
 * naming the node, never a silent "all fields".
 */
import type { FieldSettingInput, TelemetryConfigProps } from './index';
import { ERRORS } from './texts';
import { parseList } from '../common/util';

/** A node of the deployed flow, as flow JSON has it (only what is read here). */
export interface FlowNode {
  id: string;
  type: string;
  name?: string;
  /** telemetry-in: the telemetry-broker's id. */
  broker?: string;
  /** telemetry-in: comma list; empty = every field. */
  fields?: unknown;
  /** Disabled node (not deployed). */
  d?: boolean;
  /** The tab (or subflow) the node is on. */
  z?: string;
  /** A tab: disabled (its nodes are not deployed). */
  disabled?: boolean;
}

/** `fieldsFrom`, and where `"flow"` looks: the deployed flow's nodes and this node's broker. */
export interface FlowSource {
  nodes: readonly FlowNode[];
  brokerId: string;
}

export class FieldsFromFlowError extends Error {
  override readonly name = 'FieldsFromFlowError';
}

/** How an error names a node: `"Name" (id)`, or the id alone. */
export function nodeLabel(n: Pick<FlowNode, 'id' | 'name'>): string {
  return typeof n.name === 'string' && n.name.trim() !== '' ? `"${n.name.trim()}" (${n.id})` : n.id;
}

/** `defaultInterval` as whole seconds ≥ 1; throws naming it otherwise. Default 60. */
export function parseDefaultInterval(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return 60;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1) throw new FieldsFromFlowError(ERRORS.defaultIntervalBad(raw));
  return n;
}

/** The node's fields table as `{Name: setting}`, from the object or the array (editor rows) form. */
function tableOf(fieldsTable: unknown): Map<string, FieldSettingInput> {
  const out = new Map<string, FieldSettingInput>();
  if (Array.isArray(fieldsTable)) {
    for (const row of fieldsTable) {
      if (row && typeof row === 'object' && typeof (row as { name?: unknown }).name === 'string') {
        const { name, ...setting } = row as { name: string } & FieldSettingInput;
        out.set(name.trim(), setting);
      }
    }
  } else if (fieldsTable && typeof fieldsTable === 'object') {
    for (const [name, setting] of Object.entries(fieldsTable as Record<string, unknown>)) {
      out.set(name.trim(), setting && typeof setting === 'object' ? (setting as FieldSettingInput) : { interval_seconds: setting as number });
    }
  }
  return out;
}

/**
 * The config's fields for `fieldsFrom: "flow"`, in the order the flow first names them.
 * Throws FieldsFromFlowError naming what is wrong: a telemetry-in on the broker without a
 * field filter, no telemetry-in on the broker at all, or a bad `defaultInterval`.
 */
export function fieldsFromFlow(
  nodes: readonly FlowNode[],
  brokerId: string,
  defaultInterval: unknown,
  fieldsTable?: unknown,
): Record<string, FieldSettingInput> {
  const interval = parseDefaultInterval(defaultInterval);
  const table = tableOf(fieldsTable);
  const offTabs = new Set(nodes.filter((n) => n && n.type === 'tab' && n.disabled === true).map((n) => n.id));
  const listeners = nodes.filter(
    (n) => n && n.type === 'telemetry-in' && n.broker === brokerId && n.d !== true && !(n.z !== undefined && offTabs.has(n.z)),
  );
  if (listeners.length === 0) throw new FieldsFromFlowError(ERRORS.noTelemetryIn(brokerId));
  const names: string[] = [];
  const seen = new Set<string>();
  for (const n of listeners) {
    const fields = parseList(n.fields);
    if (fields.length === 0) throw new FieldsFromFlowError(ERRORS.telemetryInAllFields(nodeLabel(n)));
    for (const f of fields) {
      if (!seen.has(f)) {
        seen.add(f);
        names.push(f);
      }
    }
  }
  const out: Record<string, FieldSettingInput> = {};
  for (const name of names) {
    const own = table.get(name);
    out[name] = own ? { ...own } : { interval_seconds: interval };
  }
  return out;
}

/** `fieldsFrom` as `"node"` (default) or `"flow"`; throws naming anything else. */
export function parseFieldsFrom(raw: unknown): 'node' | 'flow' {
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return 'node';
  const v = typeof raw === 'string' ? raw.trim() : raw;
  if (v !== 'node' && v !== 'flow') throw new FieldsFromFlowError(ERRORS.fieldsFromBad(raw));
  return v;
}

/**
 * The settings with the fields `fieldsFrom` asks for: unchanged for `"node"`; for `"flow"`, the
 * union of the flow's telemetry-in filters on `flow.brokerId` (the node's table overriding
 * settings). Throws FieldsFromFlowError naming what is wrong (no broker, a telemetry-in
 * without a filter, a bad `fieldsFrom` or `defaultInterval`).
 */
export function applyFieldsFrom<P extends TelemetryConfigProps>(
  props: P,
  options: { fieldsFrom?: unknown; defaultInterval?: unknown; flow?: FlowSource | null },
): P {
  if (parseFieldsFrom(options.fieldsFrom) === 'node') return props;
  if (!options.flow) throw new FieldsFromFlowError(ERRORS.flowNeedsBroker());
  return { ...props, fields: fieldsFromFlow(options.flow.nodes, options.flow.brokerId, options.defaultInterval, props.fields) };
}
