'use strict';
// One build: compiles src/ with tsc and writes the folder Node-RED loads, `nodes/`:
//   nodes/<type>.js                 a one-line entry requiring the compiled runtime
//   nodes/<type>.html               editor script (shared helpers first) + editor template
//   nodes/locales/en-US/<type>.json message catalog;  nodes/locales/en-US/<type>.html help
//   nodes/icons/                    Node-RED looks for icons beside each node's .js file
//   nodes/dist/                     tsc output (lib/ and nodes/)
// Sources: src/nodes/<type>/ holds all a node is (<type>.ts, editor.html, editor.js,
// locales/en-US/<type>.json and .html); src/nodes/common/editor/*.js the editor helpers.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const out = path.join(root, 'nodes');
const srcNodes = path.join(root, 'src', 'nodes');

fs.rmSync(out, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], {
  stdio: 'inherit',
});

const read = (...p) => fs.readFileSync(path.join(...p), 'utf8');
const sharedDir = path.join(srcNodes, 'common', 'editor');
const shared = fs.existsSync(sharedDir)
  ? fs
      .readdirSync(sharedDir)
      .filter((f) => f.endsWith('.js'))
      .sort()
      .map((f) => read(sharedDir, f))
      .join('\n')
  : '';

const types = fs
  .readdirSync(srcNodes)
  .filter((t) => fs.existsSync(path.join(srcNodes, t, `${t}.ts`)))
  .sort();
for (const type of types) {
  const dir = path.join(srcNodes, type);
  fs.writeFileSync(path.join(out, `${type}.js`), `module.exports = require('./dist/nodes/${type}/${type}.js');\n`);
  const script = read(dir, 'editor.js');
  const template = read(dir, 'editor.html');
  fs.writeFileSync(
    path.join(out, `${type}.html`),
    `<script type="text/javascript">\n${shared}\n${script}</script>\n\n` +
      `<script type="text/html" data-template-name="${type}">\n${template}</script>\n`,
  );
  const locales = path.join(dir, 'locales');
  for (const lang of fs.existsSync(locales) ? fs.readdirSync(locales) : []) {
    const to = path.join(out, 'locales', lang);
    fs.mkdirSync(to, { recursive: true });
    const catalog = path.join(locales, lang, `${type}.json`);
    if (fs.existsSync(catalog)) fs.copyFileSync(catalog, path.join(to, `${type}.json`));
    const help = path.join(locales, lang, `${type}.html`);
    if (fs.existsSync(help)) {
      fs.writeFileSync(path.join(to, `${type}.html`), `<script type="text/html" data-help-name="${type}">\n${read(help)}</script>\n`);
    }
  }
}
fs.cpSync(path.join(root, 'icons'), path.join(out, 'icons'), { recursive: true });
console.log(`built ${types.length} nodes into nodes/: ${types.join(', ')}`);
