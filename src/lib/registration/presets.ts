/**
 * Field presets offered by the telemetry-config editor.
 */
import { FIELDS } from '../catalogue/index';
import { FieldsSpec } from './types';

export interface Preset {
  label: string;
  description: string;
  fields: Readonly<FieldsSpec>;
}

export type PresetName = 'seed' | 'charging-presence';

function every(seconds: number, names: string[]): FieldsSpec {
  const out: FieldsSpec = {};
  for (const n of names) out[n] = { interval_seconds: seconds };
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/**
 * Field presets offered by the editor (served to it by the runtime at
 * `GET tesla-fleet-telemetry/presets`). Every name is checked against the catalogue at load.
 */
export const PRESETS: Readonly<Record<PresetName, Preset>> = deepFreeze({
  seed: {
    label: 'Seed (7 fields)',
    description:
      "The seed's minimum for charge management (TWCManager): battery, charge limit and state, gear, name, location, time to full, every 60 s.",
    fields: every(60, ['BatteryLevel', 'ChargeLimitSoc', 'DetailedChargeState', 'Gear', 'VehicleName', 'Location', 'TimeToFullCharge']),
  },
  'charging-presence': {
    label: 'Charging and presence',
    description:
      'Charging in detail (state, power, current, voltage, port, cable) and presence (location, gear, speed, locks, doors, sentry, home), at 10 s for fast-changing state, 60 s for levels, 5 min for slow values. Worst case about 1.6 fields per second.',
    fields: {
      // charging
      DetailedChargeState: { interval_seconds: 10 },
      ChargeAmps: { interval_seconds: 10 },
      ChargeCurrentRequest: { interval_seconds: 10 },
      ChargeCurrentRequestMax: { interval_seconds: 300 },
      ChargerPhases: { interval_seconds: 60 },
      ChargerVoltage: { interval_seconds: 10 },
      ACChargingPower: { interval_seconds: 10 },
      DCChargingPower: { interval_seconds: 10 },
      ACChargingEnergyIn: { interval_seconds: 60 },
      DCChargingEnergyIn: { interval_seconds: 60 },
      FastChargerPresent: { interval_seconds: 10 },
      ChargingCableType: { interval_seconds: 60 },
      ChargePortDoorOpen: { interval_seconds: 10 },
      ChargePortLatch: { interval_seconds: 10 },
      ChargeLimitSoc: { interval_seconds: 60 },
      BatteryLevel: { interval_seconds: 60 },
      Soc: { interval_seconds: 60 },
      EstBatteryRange: { interval_seconds: 60 },
      TimeToFullCharge: { interval_seconds: 60 },
      ScheduledChargingPending: { interval_seconds: 300 },
      // presence
      Location: { interval_seconds: 30 },
      LocatedAtHome: { interval_seconds: 10 },
      Gear: { interval_seconds: 10 },
      VehicleSpeed: { interval_seconds: 10 },
      Locked: { interval_seconds: 10 },
      DoorState: { interval_seconds: 10 },
      SentryMode: { interval_seconds: 30 },
      InsideTemp: { interval_seconds: 300 },
      OutsideTemp: { interval_seconds: 300 },
      Odometer: { interval_seconds: 300 },
      VehicleName: { interval_seconds: 3600 },
    },
  },
});

for (const [presetName, preset] of Object.entries(PRESETS)) {
  for (const field of Object.keys(preset.fields)) {
    if (!FIELDS.has(field)) {
      throw new Error(`telemetry-config: preset ${presetName} names ${field}, which is not in the field catalogue`);
    }
  }
}

/** A fresh, mutable copy of a preset's fields (for a node's default, say). */
export function presetFields(name: PresetName): FieldsSpec {
  const p = PRESETS[name];
  if (!p) throw new Error(`telemetry-config: unknown preset ${String(name)}`);
  return JSON.parse(JSON.stringify(p.fields)) as FieldsSpec;
}
