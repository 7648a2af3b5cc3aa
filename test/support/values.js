'use strict';
// Comparing decoded values with expected ones: deep equality where numbers compare
// numerically (-0 equals 0), as docs/message-contract.md "Normalising a value" asks of tests.
const assert = require('node:assert/strict');

function sameValue(actual, expected, where = 'value') {
  if (typeof expected === 'number') {
    assert.equal(typeof actual, 'number', `${where}: ${JSON.stringify(actual)} is not a number`);
    assert.ok(actual === expected, `${where}: ${actual} !== ${expected}`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: not an array`);
    assert.equal(actual.length, expected.length, `${where}: length`);
    expected.forEach((e, i) => sameValue(actual[i], e, `${where}[${i}]`));
  } else if (expected && typeof expected === 'object') {
    assert.ok(actual && typeof actual === 'object' && !Array.isArray(actual), `${where}: not an object`);
    assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${where}: keys`);
    for (const k of Object.keys(expected)) sameValue(actual[k], expected[k], `${where}.${k}`);
  } else {
    assert.equal(actual, expected, where);
  }
}

module.exports = { sameValue };
