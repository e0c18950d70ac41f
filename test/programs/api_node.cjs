'use strict';
// api_py.py in Node (node/stasis.cjs), with the same output.
const { readSync } = require('node:fs');
const stasis = require('../../node/stasis.cjs');

const events = [];
stasis.onCheckpoint(() => {
  events.push('checkpoint');
  if (process.env.STASIS_TEST_REFUSE) throw new Error('refused by the test');
});
stasis.onResume(() => events.push('resume'));
stasis.onRestart(() => events.push('restart'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  console.log(`api ${stasis.apiVersion()} enabled ${Number(stasis.isEnabled())}`);
  console.log('ready');
  // A blocking read: fd 0 never joins libuv's epoll set (after a restart
  // it is whatever the restarting command gives, /dev/null included).
  readSync(0, Buffer.alloc(64));
  console.log(`delayed ${stasis.delayed(() => undefined).result}`);
  console.log(`inside ${stasis.delayed(() => stasis.checkpointSync()).value}`);
  const rc = await stasis.checkpoint();
  console.log(`returned ${rc} ${stasis.strerror(rc)}`);
  await sleep(500);   // onResume and onRestart come through the event loop
  console.log(`events ${events.join(',') || '-'}`);
  const ticks = Number(process.argv[2] ?? 3);
  for (let i = 0; i < ticks; i++) { console.log(`tick ${i}`); await sleep(100); }
  console.log('done');
}
main();
