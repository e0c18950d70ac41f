'use strict';
// api_delay.c in Node (node/stasis.cjs), with the same output. The sections
// run in a worker thread (counter += 1, sleep, counter += 1 inside
// stasis.delayed()); the main thread's callbacks note and print the
// counter. Usage: api_delay.cjs SECTION_MS [SECTIONS]
const { writeSync } = require('node:fs');
const { Worker, isMainThread, workerData } = require('node:worker_threads');
const stasis = require('../../node/stasis.cjs');

const nowMs = () => Number(process.hrtime.bigint() / 1000000n);   // monotonic, process-wide

if (isMainThread) {
  const sectionMs = Number(process.argv[2] ?? 1000);
  const sections = Number(process.argv[3] ?? 1000);
  const shared = new SharedArrayBuffer(32);
  const counter = new Int32Array(shared, 0, 2);       // [counter, sections ended]
  const lastEnd = new Float64Array(shared, 8, 1);
  let pre = 0;
  let saved = 0;
  let savedSections = 0;
  stasis.onCheckpoint(() => { pre = nowMs(); saved = Atomics.load(counter, 0); savedSections = Atomics.load(counter, 1); });
  stasis.onResume(() => console.log(`saved counter ${saved}, ${pre - lastEnd[0]} ms after section ${savedSections - 1} ended`));
  stasis.onRestart(() => console.log(`restored counter ${Atomics.load(counter, 0)}`));
  console.log('register 0');
  const w = new Worker(__filename, { workerData: { shared, sectionMs, sections } });
  w.on('exit', () => console.log(`done ${Atomics.load(counter, 0)}`));
} else {
  const { shared, sectionMs, sections } = workerData;
  const counter = new Int32Array(shared, 0, 2);
  const lastEnd = new Float64Array(shared, 8, 1);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const sleep = (ms) => Atomics.wait(pause, 0, 0, ms);
  // Synchronous: a worker's console.log waits for its event loop, which
  // this loop never gives back to.
  const say = (line) => writeSync(1, `${line}\n`);
  for (let k = 0; k < sections; k++) {
    let at = 0;
    const section = stasis.delayed((open) => {
      Atomics.add(counter, 0, 1);
      say(`inside ${k} begin ${open.began} at ${Date.now()}`);
      sleep(sectionMs);
      Atomics.add(counter, 0, 1);
      lastEnd[0] = nowMs();
      at = Date.now();
      Atomics.add(counter, 1, 1);
    });
    say(`ended ${k} rc ${section.result} at ${at}`);
    sleep(20);
  }
}
