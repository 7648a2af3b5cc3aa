'use strict';
// Node-RED looks for a module's icons only in an `icons` folder beside each node's .js file
// (@node-red/registry localfilesystem.js), so the build copies icons/ next to the compiled nodes.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
fs.cpSync(path.join(root, 'icons'), path.join(root, 'nodes', 'nodes', 'icons'), { recursive: true });
