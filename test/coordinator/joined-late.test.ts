// A process that joins while the others are being saved ran outside the
// generation: the coordinator aborts it and checkpoints again at once, with
// the newcomer, under the next number; the caller sees one success.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, programs } from '../helpers/stasis.js';

const counter = join(programs, 'counter');

describe('a process joining during a checkpoint', function () {
  this.timeout(120000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-joinlate-'); });
  afterEach(() => job.cleanup());

  it('aborts that attempt and the checkpoint is retried with it included', async () => {
    // The first process takes 30 s to write its image of generation 1.
    const a = job.launch([counter], { env: { STASIS_FAULT: 'save-slow@1' } });
    await a.waitFor(/^count 3$/);
    const checkpoint = job.checkpoint();
    const deadline = Date.now() + 20000;
    while (!a.errLines.some((l) => l.includes('fault injection: save-slow'))) {
      if (Date.now() > deadline) throw new Error(`no fault injection: ${a.tail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const b = job.launch([counter, '1000']);   // joins the same coordinator, now
    await b.waitFor(/^count 1001$/);
    const ck = await checkpoint;
    assert.equal(ck.generation, 2, 'the retry takes the next number');
    const manifest = JSON.parse(readFileSync(join(ck.dir, 'manifest.json'), 'utf8')) as { processes: Array<{ pid: number }> };
    assert.deepEqual(manifest.processes.map((p) => p.pid).sort(), [a.pid, b.pid].sort());
    assert.match(readFileSync(join(job.dir, 'coordinator.log'), 'utf8'),
      /generation 1 not committed: process \d+ \(counter\) on \S+ joined while the others were saved; trying again \(attempt 2 of 5\)/);
    await job.killTree(a);
    await b.kill9();
  });
});
