/**
 * Registration: presets, CA, validation, the config body and the interpretation of Tesla's
 * answers (one module each), and the controller that runs the telemetry-config actions.
 */
export * from './types';
export * from './presets';
export * from './helpers';
export * from './ca';
export * from './validation';
export * from './body';
export * from './interpret';
