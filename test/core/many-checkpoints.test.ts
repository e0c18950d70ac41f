// One job checkpointed many times in a row: nothing the core or a plugin
// sizes on one checkpoint may grow with the next (issue 9, item 1: the
// /proc/self/maps buffer doubled every checkpoint, and from the 16th on
// every checkpoint failed with "cannot read memory map").
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Job, programs } from '../helpers/stasis.js';
import { checkpointKillRestart } from '../helpers/cycle.js';

const CHECKPOINTS = 40;

describe('many checkpoints of one job', function () {
  this.timeout(240000);

  it(`${CHECKPOINTS} checkpoints in a row all commit, and the job restarts from the next one`, async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'counter')], { flags: ['--keep', '2'] });
      await p.waitFor(/^count (\d+)$/);
      for (let g = 1; g <= CHECKPOINTS; g++) {
        const ck = await job.checkpoint().catch((e: Error) => { throw new Error(`checkpoint ${g}: ${e.message}`); });
        assert.equal(ck.generation, g);
      }
      const r = await checkpointKillRestart(job, p, { progress: /^count (\d+)$/ }, CHECKPOINTS + 1);
      await r.kill9();
    } finally {
      await job.cleanup();
    }
  });
});
