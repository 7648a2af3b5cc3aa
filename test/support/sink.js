'use strict';
// Records what a core controller hands to its node: messages, errors, warnings, statuses.

function recordingSink() {
  const s = { sent: [], errors: [], warnings: [], statuses: [] };
  s.send = (msgs) => s.sent.push(...msgs);
  s.error = (text, vin) => s.errors.push({ text, vin });
  s.warn = (text) => s.warnings.push(text);
  s.status = (st) => s.statuses.push(st);
  return s;
}

module.exports = { recordingSink };
