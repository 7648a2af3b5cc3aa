'use strict';
// Where tests find the repository, their fixtures and the compiled core (`npm run build` writes
// nodes/dist/): one place, so a test file does not depend on its own depth in test/.
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures');

/** The compiled module of src/lib/<name> (e.g. `lib('stream/decode')`). */
function lib(name) {
  return require(path.join(ROOT, 'nodes', 'dist', 'lib', name));
}

module.exports = { ROOT, FIXTURES, lib };
