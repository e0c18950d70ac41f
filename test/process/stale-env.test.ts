// A child started with an environment copied before a restart (make's
// posix_spawn) names a coordinator that is gone: it joins the job's
// current one through the store (coordinator.json and token in
// STASIS_CKPT_DIR), and the job checkpoints and restarts again with it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Job, noBroken, programs } from '../helpers/stasis.js';

const staleEnv = join(programs, 'stale_env');

describe('children started with a stale environment', function () {
  this.timeout(120000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-staleenv-'); });
  afterEach(() => job.cleanup());

  it('a worker posix_spawned with the pre-restart environment joins, and comes back after the next restart', async () => {
    const p = job.launch([staleEnv]);
    await p.waitFor(/^worker \d+ 2$/);
    await job.checkpoint();
    await job.killTree(p);

    const r1 = job.restart();
    // A worker spawned after the restart, with the copy of the first run's environment.
    const spawned = Number((await r1.waitFor(/^spawned (\d+)$/, 30000))[1]);
    await r1.waitFor(new RegExp(`^worker ${spawned} 5$`), 20000);
    const ck = await job.checkpoint();
    assert.equal((await job.kernelPids()).length, 2, 'the parent and its worker are both in the job');
    const stopped = r1.lines.filter((l) => l.startsWith(`worker ${spawned} `)).length;
    await job.killTree(r1);
    noBroken(r1.lines);

    const r2 = job.restart(join(job.dir, `gen-${String(ck.generation).padStart(6, '0')}`));
    await r2.waitFor(new RegExp(`^reaped ${spawned}$`), 20000);
    const resumed = r2.lines.filter((l) => l.startsWith(`worker ${spawned} `)).map((l) => Number(l.split(' ')[2]));
    assert.ok(resumed.length > 0 && resumed[0]! <= stopped + 1 && resumed.at(-1) === 40,
      `the worker went on from where it was checkpointed: ${resumed.join(',')}`);
    noBroken(r2.lines);
    await job.killTree(r2);
  });
});
