'use strict';
// docs/ is what comments cite: every cited page and section exists, every link between the
// pages resolves, and no code points at a file outside the repository.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT } = require('../support/paths');

const DOCS = path.join(ROOT, 'docs');
const CODE_DIRS = ['src', 'dev', 'bench', 'scripts', 'test'];
const CODE_FILE = /\.(ts|js|html|md)$/;

function files(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : files(p);
    return CODE_FILE.test(e.name) ? [p] : [];
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes. */
function anchorOf(heading) {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** Headings of a docs page, as plain text (backticks removed). */
function headingsOf(file) {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1].replace(/`/g, '').trim());
}

const rel = (file) => path.relative(ROOT, file);

describe('docs/', function () {
  const pages = fs.readdirSync(DOCS).filter((f) => f.endsWith('.md'));
  const code = CODE_DIRS.flatMap((d) => files(path.join(ROOT, d)));

  it('holds the pages the code relies on, each at most about 200 lines', function () {
    for (const page of ['README.md', 'wire-format.md', 'message-contract.md', 'fleet-api.md']) {
      assert.ok(pages.includes(page), `docs/${page} is missing`);
    }
    for (const page of pages) {
      const lines = fs.readFileSync(path.join(DOCS, page), 'utf8').split('\n').length;
      assert.ok(lines <= 220, `docs/${page} has ${lines} lines`);
    }
  });

  it('has every page and section that a comment cites', function () {
    let cited = 0;
    for (const file of code) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/docs\/([\w-]+\.md)(?: "([^"\n]+)")?/g)) {
        cited++;
        const [, page, section] = m;
        assert.ok(pages.includes(page), `${rel(file)} cites docs/${page}, which does not exist`);
        if (section) {
          const headings = headingsOf(path.join(DOCS, page));
          assert.ok(
            headings.some((h) => h.startsWith(section)),
            `${rel(file)} cites docs/${page} "${section}", which has no such heading`,
          );
        }
      }
    }
    assert.ok(cited >= 10, `only ${cited} citations found`);
  });

  it('links only to pages and headings that exist', function () {
    for (const page of pages) {
      const text = fs.readFileSync(path.join(DOCS, page), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1];
        if (/^https?:/.test(target)) continue;
        const [file, anchor] = target.split('#');
        const linked = path.join(DOCS, file || page);
        assert.ok(fs.existsSync(linked), `docs/${page} links to ${target}: no such file`);
        if (anchor) {
          const anchors = headingsOf(linked).map(anchorOf);
          assert.ok(anchors.includes(anchor), `docs/${page} links to ${target}: no such heading`);
        }
      }
    }
  });

  it('is where code points, never a file outside the repository', function () {
    // Tests may compare the data copies with the reference beside the clone; code may not cite it.
    const outside = /DESIGN\.md|shared\/(spec|data|vectors|hooks)\b/;
    for (const file of code.filter((f) => !rel(f).startsWith('test' + path.sep))) {
      assert.doesNotMatch(fs.readFileSync(file, 'utf8'), outside, rel(file));
    }
  });
});
