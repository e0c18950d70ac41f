// A checkpoint alone must never change what a job computes: in a soak run
// under load, bash's `y=$(printf … | sort -n | tail -1)` came back empty,
// and once `tr` died of SIGPIPE in `echo | tr | cat`, with no restart.
// bash closes pipe ends twice in every pipeline, harmless when it is the
// only thread; the checkpoint thread opened /proc files while bash ran
// (is the process traced? which threads has it?), so the second close took
// the checkpoint thread's descriptor, bash's next pipe() reused the number,
// and the checkpoint thread read bytes out of bash's pipe and closed its
// end. Here a program closes every pipe end twice while checkpoints run
// back to back: the second close must always fail, every message arrive.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Job, programs } from '../helpers/stasis.js';
import { checkpointWhile } from '../helpers/ckpt-loop.js';

describe('checkpoints while a single-threaded program closes descriptors twice', function () {
  this.timeout(120000);

  it('the checkpoint thread holds no descriptor the program could close: no second close succeeds, no pipe loses bytes', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'stale_close'), '20'], { flags: ['--keep', '2'] });
      await p.waitFor(/^started$/, 60000);
      const loop = await checkpointWhile(job.dir, () => p.exited);
      await p.waitExit(60000);
      assert.match(p.lines.at(-1) ?? '', / 0 second closes succeeded, 0 messages garbled$/, `exit ${p.exitCode}: ${p.tail()} (${loop.committed} checkpoints)`);
      assert.equal(p.exitCode, 0, p.tail());
      assert.ok(loop.committed >= 50, `only ${loop.committed} checkpoints committed: ${loop.aborted.slice(0, 3).join('; ')}`);
    } finally {
      await job.cleanup();
    }
  });
});
