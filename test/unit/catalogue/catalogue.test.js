'use strict';
const { lib, ROOT } = require('../../support/paths');
// The package's data module is a verbatim copy of the reference data (docs/README.md "Data");
// enum prefixes are derived.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const cat = lib('catalogue');

const root = ROOT;
const shared = path.join(root, '..', 'shared');
const copies = [
  ['src/lib/catalogue/data/field-catalogue.json', 'data/field-catalogue.json'],
  ['src/lib/catalogue/data/telemetry-enums.json', 'data/telemetry-enums.json'],
  ['test/fixtures/mqtt-golden.json', 'vectors/mqtt-golden.json'],
];

describe('field catalogue', function () {
  for (const [ours, theirs] of copies) {
    it(`${ours} is identical to shared/${theirs}`, function () {
      if (!fs.existsSync(path.join(shared, theirs))) this.skip(); // a clone without ../shared beside it
      assert.ok(fs.readFileSync(path.join(root, ours)).equals(fs.readFileSync(path.join(shared, theirs))));
    });
  }

  it('holds all 260 fields with unique names and ids', function () {
    assert.equal(cat.CATALOGUE.length, 260);
    assert.equal(cat.FIELDS.size, 260);
    assert.equal(cat.FIELDS_BY_ID.size, 260);
  });

  it('derives enum prefixes from the enum lists', function () {
    assert.equal(cat.commonPrefix(['ShiftStateUnknown', 'ShiftStateP', 'ShiftStateD']), 'ShiftState');
    assert.equal(cat.FIELDS.get('Gear').enumPrefix, 'ShiftState');
    assert.equal(cat.FIELDS.get('DetailedChargeState').enumPrefix, 'DetailedChargeState');
    assert.equal(cat.FIELDS.get('SettingChargeUnit').enumPrefix, 'ChargeUnit');
    for (const f of cat.FIELDS.values()) {
      if (f.kind !== 'enum') continue;
      assert.ok(f.enumPrefix.length > 0, f.name);
      for (const v of f.enumValues) assert.ok(v.startsWith(f.enumPrefix), `${f.name}: ${v}`);
    }
  });
});
