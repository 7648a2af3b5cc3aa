/** vehicle-command core: the command table, validation, the controller, and a broker connection as its confirmation stream. No Node-RED import. */
export * from './table';
export * from './controller';
export { TEXTS } from './texts';
export * from './broker-stream';
export * from './settings';
