/** vehicle-command core: the command table, validation, and the controller. No Node-RED import. */
export * from './table';
export * from './controller';
export { TEXTS } from './texts';
