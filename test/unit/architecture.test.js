'use strict';
// The core stays free of Node-RED: every module under src/lib imports only Node's own modules,
// the npm libraries it is built on, and other modules of src/lib.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT } = require('../support/paths');

const LIB = path.join(ROOT, 'src', 'lib');
const ALLOWED_PACKAGES = new Set(['mqtt', 'undici']);

function files(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('src/lib', function () {
  it('imports nothing of Node-RED: only node:, mqtt, undici and src/lib itself', function () {
    const list = files(LIB);
    assert.ok(list.length > 10);
    for (const file of list) {
      const src = fs.readFileSync(file, 'utf8');
      for (const m of src.matchAll(/(?:from|import\(|require\()\s*'([^']+)'/g)) {
        const spec = m[1];
        if (spec.startsWith('node:') || ALLOWED_PACKAGES.has(spec)) continue;
        assert.ok(spec.startsWith('.'), `${path.relative(ROOT, file)} imports ${spec}`);
        const target = path.resolve(path.dirname(file), spec);
        assert.ok(target.startsWith(LIB + path.sep), `${path.relative(ROOT, file)} reaches outside src/lib: ${spec}`);
      }
    }
  });

  it('has no comment pointing at a file outside the repository', function () {
    for (const file of files(path.join(ROOT, 'src'))) {
      const src = fs.readFileSync(file, 'utf8');
      assert.doesNotMatch(src, /DESIGN\.md|shared\/(spec|data|vectors|hooks)\b/, path.relative(ROOT, file));
    }
  });
});
