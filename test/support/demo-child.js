'use strict';
/**
 * `npm start`'s demo (dev/start.js `start()`) in a process of its own, for tests that start it
 * more than once: Node-RED's runtime can be initialised once per process. The options of
 * `start()` come as JSON in argv[2] (e.g. `{"simulator": false}` for a start without the
 * simulated cars). Prints one line `READY {json}` once everything runs; SIGINT stops it as
 * Ctrl-C stops `npm start` (exit code 0 once Node-RED, the broker and the rest are closed).
 */
const { start } = require('../../dev/start');

(async () => {
  const options = JSON.parse(process.argv[2] || '{}');
  const h = await start({ ...options, log: (...a) => console.error(...a) });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    h.stop().then(
      () => process.exit(0),
      (e) => {
        console.error(`stop failed: ${e.stack || e}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const info = { editorUrl: h.editorUrl, dashboardUrl: h.dashboardUrl, brokerUrl: h.brokerUrl, userDir: h.userDir, vins: h.vins, deployed: h.deployed, types: h.types };
  console.log(`READY ${JSON.stringify(info)}`);
})().catch((e) => {
  console.error(`demo did not start: ${e.stack || e}`);
  process.exit(1);
});
