'use strict';
/**
 * Node-RED settings for `npm start` (dev/start.js merges its own ports and hosts on top).
 * Also usable on its own: `npx node-red -s dev/settings.js` (after `npm run build`).
 *
 * Our package is loaded from the repository itself: `nodesDir` names the repo root, whose
 * package.json has a `node-red` section, so Node-RED loads it as a module (node types from
 * package.json, icons, examples under Import ▸ Examples) — no symlink, no install.
 */
const path = require('node:path');

const repoRoot = path.resolve(__dirname, '..');

module.exports = {
  uiHost: '127.0.0.1',
  uiPort: 1880,

  /** Project-local and git-ignored (.gitignore: .node-red/). */
  userDir: path.join(repoRoot, '.node-red'),
  flowFile: 'flows.json',
  flowFilePretty: true,
  /** A fixed dev string: flows_cred.json stays readable across restarts. Not a secret. */
  credentialSecret: 'node-red-contrib-tesla-fleet-telemetry dev only, not a secret',

  /** Load this repository as a Node-RED module. */
  nodesDir: [repoRoot],

  httpAdminRoot: '/',
  httpNodeRoot: '/',

  diagnostics: { enabled: true, ui: true },
  runtimeState: { enabled: false, ui: false },
  /** No consent prompt, no update check: nothing calls out to the internet. */
  telemetry: { enabled: false, updateNotification: false },
  logging: { console: { level: 'info', metrics: false, audit: false } },
  exportGlobalContextKeys: false,
  externalModules: {
    autoInstall: false,
    palette: { allowInstall: false, allowUpload: false, allowUpdate: false },
    modules: { allowInstall: false },
  },
  functionExternalModules: false,

  editorTheme: {
    tours: false,
    page: { title: 'Node-RED · Tesla Fleet Telemetry (dev)' },
    header: { title: 'Node-RED · Tesla Fleet Telemetry (dev)' },
    projects: { enabled: false },
    palette: { catalogues: [] },
  },
};
