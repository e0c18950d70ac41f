// A checkpoint that stops a thread inside dlsym: the thread holds the
// dynamic loader's lock until it runs again, so nothing the checkpoint
// thread does meanwhile may look a symbol up (libstasis's wrappers of
// getpgid/getsid, called at SAVE, did on their first call: the checkpoint
// hung for ever; seen with sh -c under system(), which had just started).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Job, numbers, programs } from '../helpers/stasis.js';

describe('a thread stopped inside dlsym', function () {
  this.timeout(120000);
  it('does not hang the checkpoint: three checkpoints commit, and the program goes on after a restart', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'dlsym_spin')]);
      await p.waitFor(/^spins \d+$/);
      let at = 0;
      for (let i = 1; i <= 3; i++) {
        at = numbers(p.lines, /^spins (\d+)$/).at(-1)!;
        assert.equal((await job.checkpoint()).generation, i);
      }
      await p.kill9();
      const r = job.restart();
      // It goes on from the last checkpoint, not from the start.
      const next = Number((await r.waitFor(/^spins (\d+)$/))[1]);
      assert.ok(next >= at, `restarted at ${next}, before ${at}`);
      await r.kill9();
    } finally { await job.cleanup(); }
  });
});
