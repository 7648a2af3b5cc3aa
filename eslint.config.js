// ESLint flat config: @eslint/js recommended everywhere, typescript-eslint recommended for
// the TypeScript core and nodes; the right globals for each kind of plain JavaScript.
// `npm run lint` runs this and `prettier --check` (formatting is prettier's job, not ESLint's).
// Rules are tuned only where the code is deliberate; each says why where it is set.
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const globals = require('globals');
const { defineConfig, globalIgnores } = require('eslint/config');

/** What Node-RED's editor page provides to an editor script. */
const editorGlobals = { ...globals.browser, RED: 'readonly', $: 'readonly', jQuery: 'readonly', TeslaFleetEditor: 'readonly' };

module.exports = defineConfig([
  globalIgnores(['nodes/', 'node_modules/', '.node-red/', '.tmp/', 'test-results/']),

  // Plain JavaScript: CommonJS on Node (dev/, bench/, scripts/, test/, this file).
  {
    files: ['**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: { ecmaVersion: 2022, sourceType: 'commonjs', globals: globals.node },
    // `catch (e) {}` with an unused binding: the ES5 editor scripts need the binding, and an
    // error ignored there is ignored on purpose.
    // no-useless-assignment: a `let x = default` that a try block then sets is deliberate (the
    // default stands when the try fails).
    rules: { 'no-unused-vars': ['error', { caughtErrors: 'none', args: 'none' }], 'no-useless-assignment': 'off' },
  },

  // The simulator reproduces Go's encoding/json, which tests for control characters.
  {
    files: ['dev/simulator.js'],
    rules: { 'no-control-regex': 'off' },
  },

  // Tests: mocha's describe/it/before… as well.
  {
    files: ['test/**/*.js'],
    languageOptions: { globals: { ...globals.node, ...globals.mocha } },
  },

  // The browser test passes functions to page.evaluate(): they run in the editor page.
  {
    files: ['test/editor/**/*.js'],
    languageOptions: { globals: { ...globals.node, ...globals.mocha, ...editorGlobals } },
  },

  // Editor scripts: run in the browser as classic scripts (the build concatenates the shared
  // helpers before each node's script), with RED and jQuery from the editor page.
  {
    files: ['src/nodes/**/editor.js', 'src/nodes/common/editor/*.js'],
    languageOptions: { sourceType: 'script', globals: editorGlobals },
  },

  // TypeScript: the core (src/lib) and the Node-RED glue (src/nodes).
  {
    files: ['src/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { caughtErrors: 'none' }],
      // A new error with its own message instead of the low-level one (token file, CA): the
      // text the user sees names what was wrong and includes the cause's code or message.
      'preserve-caught-error': 'off',
      'no-useless-assignment': 'off',
    },
  },
]);
