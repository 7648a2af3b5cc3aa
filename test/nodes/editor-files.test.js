'use strict';
const { ROOT, lib } = require('../support/paths');
/**
 * The editor files of every node folder in src/nodes/, and what the build made of them
 * (nodes/<type>.html, nodes/locales/en-US/<type>.json and .html): each type registered with a
 * template; every message key the template (data-i18n) and the script (`_("…")`, `RED._("…")`)
 * use is in the node's catalog, and every key of the catalog is used; every help has the
 * standard sections; the shared editor helpers come once, before each script. Then the six
 * built scripts run in one page (a vm with a small stand-in for the editor's RED): the helpers
 * are defined once, and every word a script asks for while registering its type is found.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const MODULE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).name;
const SRC = path.join(ROOT, 'src', 'nodes');
const BUILT = path.join(ROOT, 'nodes');
const NODE_RED_WORDS = JSON.parse(
  fs.readFileSync(path.join(ROOT, 'node_modules', '@node-red', 'nodes', 'locales', 'en-US', 'messages.json'), 'utf8'),
);
const TYPES = fs
  .readdirSync(SRC)
  .filter((t) => fs.existsSync(path.join(SRC, t, `${t}.ts`)))
  .sort();

const read = (...p) => fs.readFileSync(path.join(...p), 'utf8');

/** The value at a dotted key of an object (undefined when missing). */
function at(obj, key) {
  return key.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);
}

/** Every dotted key of an object's string leaves. */
function leaves(obj, prefix = '') {
  return Object.entries(obj).flatMap(([k, v]) => (typeof v === 'string' ? [prefix + k] : leaves(v, `${prefix}${k}.`)));
}

/** Keys of a template's data-i18n attributes: `[placeholder]a.b;c.d` gives a.b and c.d. */
function templateKeys(html) {
  return [...html.matchAll(/data-i18n="([^"]*)"/g)].flatMap((m) => m[1].split(';').map((k) => k.replace(/^\[\w+\]/, '')));
}

/** Keys a script asks for: `_("…")` and `RED._("…")` with a literal key. */
function scriptKeys(js) {
  return [...js.matchAll(/(?:^|[^\w$])(?:RED\.)?_\(\s*"([^"]+)"/g)].map((m) => m[1]);
}

/** Resolve a key used in a node's files: [catalog, key] for its own catalog, Node-RED's for `node-red:`. */
function resolve(type, catalog, key) {
  const colon = key.indexOf(':');
  if (colon < 0) return at(catalog, key);
  const ns = key.slice(0, colon);
  if (ns === 'node-red') return at(NODE_RED_WORDS, key.slice(colon + 1));
  if (ns === `${MODULE}/${type}`) return at(catalog, key.slice(colon + 1));
  return undefined;
}

/** The top-level parts of a help: its opening paragraph and its <h3> sections, in order. */
function helpOutline(help) {
  const parts = [];
  if (/^\s*<p>/.test(help)) parts.push('summary');
  for (const m of help.matchAll(/<h3>([^<]+)<\/h3>/g)) parts.push(m[1].trim());
  return parts;
}

describe('editor files of every node', function () {
  before(function () {
    assert.ok(fs.existsSync(path.join(BUILT, 'telemetry-in.html')), 'not built: run `npm run build` first');
  });

  it('finds the six node folders', function () {
    assert.deepEqual(TYPES, ['telemetry-broker', 'telemetry-config', 'telemetry-in', 'tesla-account', 'vehicle-command', 'vehicle-data']);
    assert.deepEqual(Object.keys(JSON.parse(read(ROOT, 'package.json'))['node-red'].nodes).sort(), TYPES);
  });

  for (const type of TYPES) {
    describe(type, function () {
      const template = read(SRC, type, 'editor.html');
      const script = read(SRC, type, 'editor.js');
      const catalogFile = path.join(SRC, type, 'locales', 'en-US', `${type}.json`);
      const catalog = fs.existsSync(catalogFile) ? JSON.parse(fs.readFileSync(catalogFile, 'utf8')) : {};
      const isConfig = /category:\s*"config"/.test(script);
      const inputs = Number((/\binputs:\s*(\d+)/.exec(script) || [0, 0])[1]);

      it('the build registers the type with its template, and its catalog and help beside it', function () {
        const built = read(BUILT, `${type}.html`);
        assert.match(built, new RegExp(`RED\\.nodes\\.registerType\\("${type}",`));
        const tpl = new RegExp(`<script type="text/html" data-template-name="${type}">([\\s\\S]*?)</script>`).exec(built);
        assert.ok(tpl && tpl[1].includes('form-row'), 'a template with form rows');
        assert.deepEqual(JSON.parse(read(BUILT, 'locales', 'en-US', `${type}.json`)), catalog);
        assert.match(read(BUILT, 'locales', 'en-US', `${type}.html`), new RegExp(`^<script type="text/html" data-help-name="${type}">`));
      });

      it('has a catalog of its own words: one top-level key, its type', function () {
        assert.ok(fs.existsSync(catalogFile), `${catalogFile} exists`);
        assert.deepEqual(Object.keys(catalog), [type]);
        assert.equal(typeof catalog[type].paletteLabel, 'string');
        for (const key of leaves(catalog)) assert.notEqual(at(catalog, key).trim(), '', `${key} has words`);
      });

      it('every key the template and the script use is in the catalog', function () {
        const used = [...templateKeys(template), ...scriptKeys(script)];
        assert.ok(used.length > 10, `${used.length} keys used`);
        const missing = used.filter((k) => typeof resolve(type, catalog, k) !== 'string');
        assert.deepEqual(missing, []);
        // Keys are literal: a key computed at run time could not be checked here.
        assert.deepEqual(
          [...script.matchAll(/(?:^|[^\w$])(?:RED\.)?_\(\s*([^"\s)][^)]*)\)/g)].map((m) => m[0].trim()),
          [],
        );
      });

      it('every key of the catalog is used (no dead words)', function () {
        const used = new Set([...templateKeys(template), ...scriptKeys(script)].filter((k) => !k.startsWith('node-red:')));
        assert.deepEqual(
          leaves(catalog).filter((k) => !used.has(k)),
          [],
        );
      });

      it('words are in the catalog, not in the template or the script', function () {
        // Template: no text between tags other than icons' whitespace and entities; no literal placeholder or title.
        const stripped = template.replace(/<style>[\s\S]*?<\/style>/g, '');
        const texts = [...stripped.matchAll(/>([^<]+)</g)].map((m) => m[1].replace(/&nbsp;/g, '').trim()).filter(Boolean);
        assert.deepEqual(texts, []);
        assert.deepEqual(
          [...stripped.matchAll(/\s(placeholder|title)="/g)].map((m) => m[0]),
          [],
        );
        // Script: label, paletteLabel, outputLabels, inputLabels come from the catalog.
        for (const prop of ['paletteLabel', 'label', 'inputLabels']) {
          for (const m of script.matchAll(new RegExp(`\\b${prop}:\\s*"`, 'g'))) assert.fail(`${prop} written as a literal: ${m[0]}`);
        }
        assert.doesNotMatch(script, /outputLabels:\s*\[\s*"/);
      });

      it('help has the standard sections: summary, Inputs (with inputs), Outputs (flow nodes), Details, References', function () {
        const help = read(SRC, type, 'locales', 'en-US', `${type}.html`);
        const want = ['summary', ...(inputs > 0 ? ['Inputs'] : []), ...(isConfig ? [] : ['Outputs']), 'Details', 'References'];
        assert.deepEqual(helpOutline(help), want);
        assert.match(help, /<h3>References<\/h3>\s*<ul>\s*<li><a href="https:\/\//);
      });
    });
  }

  it('the shared helpers come once, first, in every built script; the node scripts hold no copy of them', function () {
    const dir = path.join(SRC, 'common', 'editor');
    const files = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.js'))
      .sort();
    assert.ok(files.length >= 5, files.join(', '));
    const shared = files.map((f) => read(dir, f)).join('\n');
    for (const f of files)
      assert.match(read(dir, f), /\}\)\(window\.TeslaFleetEditor = window\.TeslaFleetEditor \|\| \{\}\);\s*$/, `${f} is guarded`);
    for (const type of TYPES) {
      const built = read(BUILT, `${type}.html`);
      assert.equal(built.indexOf(shared), built.indexOf('<script type="text/javascript">\n') + '<script type="text/javascript">\n'.length, type);
      assert.equal(built.split(shared).length, 2, `${type}: once`);
      const script = read(SRC, type, 'editor.js');
      for (const copy of [
        /function rule\(/,
        /\$\.getJSON\("tesla-fleet-telemetry\/fields"\)/,
        /-----BEGIN \[A-Z0-9 \]/,
        /autoComplete\(/,
        /telemetry-config\/ca-info/,
      ]) {
        assert.doesNotMatch(script, copy, `${type} copies a shared helper`);
      }
    }
  });

  it('telemetry-config: the editor holds no copy of the library (no presets, no checks); the runtime answers', function () {
    const script = read(SRC, 'telemetry-config', 'editor.js');
    assert.match(script, /"telemetry-config\/preview"/);
    for (const copy of ['BatteryLevel": {', 'interval_seconds must be', 'is not a valid host name', 'tcBuildConfig', 'tcCheck']) {
      assert.ok(!script.includes(copy), copy);
    }
  });

  it('telemetry-config: the help covers inputs, outputs, every state, and the key facts', function () {
    const help = read(SRC, 'telemetry-config', 'locales', 'en-US', 'telemetry-config.html');
    for (const s of [
      '<dt class="optional">action <span',
      '<dt class="optional">vins <span',
      '<dt class="optional">config <span',
      '<dt>event <span',
      '<dt>topic <span',
      '<dt>payload <span',
      '<dt>response <span',
      'telemetry-config/&lt;action&gt;',
      'https://tesla.com/_ak/&lt;domain&gt;',
      '2024.26',
      'Retry-After',
      'synced: true</code> with <code>config: null',
      'one telemetry-config call at a time',
    ]) {
      assert.ok(help.includes(s), s);
    }
    for (const state of [
      'ready',
      'key not paired',
      'unsupported firmware',
      'unknown',
      'updated',
      'skipped',
      'adopted',
      'pending',
      'rejected',
      'drift',
      'not configured',
      'no errors',
      'errors',
      'deleted',
      'error',
      'rate-limited',
      'missing_key',
      'unsupported_firmware',
      'unsupported_hardware',
      'max_configs',
    ]) {
      assert.ok(help.includes(`<code>${state}</code>`), state);
    }
  });

  it("telemetry-config: the help documents doctor, ensure and usage: every doctor state (the library's list), the properties, the files", function () {
    const help = read(SRC, 'telemetry-config', 'locales', 'en-US', 'telemetry-config.html');
    for (const state of lib('registration/doctor').DOCTOR_STATES) assert.ok(help.includes(`<td><code>${state}</code></td>`), state);
    for (const action of lib('registration').ACTIONS) assert.ok(help.includes(`<code>${action}</code>`), action);
    for (const s of [
      '<i>Ensure every</i>',
      '<b>Daily budget.</b>',
      '<i>Fields from</i>',
      '<i>Default interval</i>',
      '<i>Broker</i>',
      'ensure-&lt;node id&gt;.json',
      '3 healthy · 1 pending · 1 needs you',
      '{day, signalsPerDollar, total: {signals, usd}',
      'minimumDelta',
      'nextPushAt',
      'pushed',
    ]) {
      assert.ok(help.includes(s), s);
    }
  });

  it('the six built scripts run in one page: the helpers are defined once, every word asked for is found', function () {
    const catalogs = Object.fromEntries(TYPES.map((t) => [`${MODULE}/${t}`, JSON.parse(read(BUILT, 'locales', 'en-US', `${t}.json`))]));
    // What the editor's RED._ does: `ns:key` looked up in that namespace's catalog; the key itself when missing.
    const lookup = (full, options = {}) => {
      const [ns, key] = full.includes(':') ? full.split(/:(.*)/s) : ['editor', full];
      const text = ns === 'node-red' ? at(NODE_RED_WORDS, key) : at(catalogs[ns], key);
      return typeof text === 'string' ? text.replace(/__(\w+)__/g, (m, k) => (k in options ? String(options[k]) : m)) : full;
    };
    const asked = [];
    const registered = {};
    const page = {
      RED: {
        _(full, options) {
          asked.push(full);
          return lookup(full, options);
        },
        nodes: {
          registry: { getNodeSetForType: (type) => ({ id: `${MODULE}/${type}`, module: MODULE }) },
          registerType(type, def) {
            registered[type] = def;
          },
        },
      },
    };
    page.window = page;
    vm.createContext(page);
    const helpers = [];
    for (const type of TYPES) {
      const js = /<script type="text\/javascript">([\s\S]*?)<\/script>/.exec(read(BUILT, `${type}.html`))[1];
      vm.runInContext(js, page, { filename: `${type}.html` });
      helpers.push(page.TeslaFleetEditor.rule);
    }
    assert.deepEqual(Object.keys(registered).sort(), TYPES);
    assert.ok(
      helpers.every((h) => h === helpers[0]),
      'the first definition of each helper stays',
    );
    assert.ok(asked.length > 40, `${asked.length} words asked for while registering`);
    assert.deepEqual(
      asked.filter((k) => lookup(k) === k),
      [],
    );
    const labels = TYPES.map((t) => registered[t].paletteLabel);
    assert.deepEqual(
      labels,
      TYPES.map((t) => catalogs[`${MODULE}/${t}`][t].paletteLabel),
    );
    // rules answer the catalog's words for a bad value (Node-RED >= 3.1 passes opt), true for a good one
    const vins = registered['telemetry-in'].defaults.vins.validate;
    assert.equal(vins.call({}, 'not a vin!', {}), catalogs[`${MODULE}/telemetry-in`]['telemetry-in'].errors.vins);
    assert.equal(vins.call({}, 'not a vin!'), false);
    assert.equal(vins.call({}, ' 5YJ3E1EA7KF000001, ,5YJ3E1EA7KF000002 ', {}), true);
    const budget = registered['vehicle-data'].defaults.dailyBudget.validate;
    assert.deepEqual([budget.call({}, '1.5', {}) === true, budget.call({}, '0', {}), budget.call({}, '', {}) === true], [false, true, false]);
    assert.match(registered['vehicle-data'].defaults.endpoints.validate.call({}, 'nope', {}), /choose at least one of charge_state, climate_state/);
    // units: the runtime's choices; a node saved before units existed (no value) stays valid, as "sent"
    for (const type of ['telemetry-in', 'vehicle-data']) {
      const units = registered[type].defaults.units;
      assert.equal(units.value, 'sent', type);
      for (const ok of ['sent', 'metric', 'imperial', 'car', '', undefined]) assert.equal(units.validate.call({}, ok, {}), true, `${type}: ${ok}`);
      assert.equal(units.validate.call({}, 'kelvin', {}), catalogs[`${MODULE}/${type}`][type].errors.units);
    }
  });
});

describe('units in the editor and the help (telemetry-in, vehicle-data)', function () {
  const { UNITS_CHOICES, UnitConverter } = lib('catalogue/units');
  const { CATALOGUE } = lib('catalogue');
  /** The four conversions: the catalogue unit, the other unit, the choice that converts it. */
  const ROWS = [
    { sent: 'mi', other: 'km', choice: 'metric' },
    { sent: 'mph', other: 'km/h', choice: 'metric' },
    { sent: '°C', other: '°F', choice: 'imperial' },
    { sent: 'bar', other: 'psi', choice: 'imperial' },
  ];

  for (const type of ['telemetry-in', 'vehicle-data']) {
    it(`${type}: the select offers exactly the runtime's choices, sent first`, function () {
      const template = read(SRC, type, 'editor.html');
      const select = /<select id="node-input-units"[^>]*>([\s\S]*?)<\/select>/.exec(template);
      assert.ok(select, 'a units select');
      assert.deepEqual(
        [...select[1].matchAll(/value="([^"]+)"/g)].map((m) => m[1]),
        [...UNITS_CHOICES],
      );
    });

    it(`${type}: the help lists exactly the fields the catalogue converts, each with its exact factor`, function () {
      const help = read(SRC, type, 'locales', 'en-US', `${type}.html`);
      for (const row of ROWS) {
        const item = help
          .split('<li>')
          .map((li) => li.split('</li>')[0])
          .find((li) => li.includes(`<code>${row.sent}</code> &rarr; <code>${row.other}</code>`));
        assert.ok(item, `${type}: a list item ${row.sent} → ${row.other}`);
        const listed = [...item.split('):')[1].matchAll(/<code>(\w+)<\/code>/g)].map((m) => m[1]);
        const want = CATALOGUE.filter((f) => f.unit === row.sent)
          .map((f) => f.name)
          .sort();
        assert.deepEqual(listed, want, `${type}: the ${row.sent} fields`);
        // the factor the help states is the one the runtime applies
        const c = new UnitConverter(row.choice).of(want[0]);
        assert.equal(c.unit, row.other);
        if (row.sent === '°C') {
          assert.match(item, /\(°F = °C × 9\/5 \+ 32\)/);
          assert.deepEqual([c.apply(0), c.apply(100), c.apply(-40)], [32, 212, -40]);
        } else {
          const factor = Number(new RegExp(`\\(1 ${row.sent} = ([\\d.]+) ${row.other}\\)`).exec(item)?.[1]);
          assert.equal(c.apply(1), factor, `${type}: 1 ${row.sent} = ${factor} ${row.other}`);
        }
      }
    });
  }
});
