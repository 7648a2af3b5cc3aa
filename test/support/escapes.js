'use strict';
// Anything that escapes the package fails the test it escaped in: an unhandled rejection, an
// uncaught exception, or the package's own "last line of defence" process warning (freshness.ts
// and coalesce.ts report a callback that threw that way).
const assert = require('node:assert/strict');

/** install() in a before hook, uninstall() in an after hook, assertNothingEscaped() after each test (and mid-test). */
function escapeWatch() {
  const escaped = [];
  const onRejection = (reason) => escaped.push(`unhandledRejection: ${reason?.stack ?? reason}`);
  const onException = (err) => escaped.push(`uncaughtException: ${err?.stack ?? err}`);
  const onWarning = (w) => {
    if (/tesla-fleet-telemetry/.test(String(w?.message))) escaped.push(`process warning: ${w.message}`);
  };
  return {
    install() {
      process.on('unhandledRejection', onRejection);
      process.on('uncaughtException', onException);
      process.on('warning', onWarning);
    },
    uninstall() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
      process.off('warning', onWarning);
    },
    assertNothingEscaped() {
      const list = escaped.splice(0);
      assert.deepEqual(list, [], `escaped the package:\n${list.join('\n')}`);
    },
  };
}

module.exports = { escapeWatch };
