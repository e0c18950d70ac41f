// STASIS_HOLD_TERM (set by `stasis run` under a scheduler): SIGTERM from
// outside the job (the scheduler's, at preemption) is held so the driver can
// checkpoint first; it acts STASIS_TERM_WAIT s later if no checkpoint comes,
// STASIS_TERM_DELAY s after one if the process still runs, never after a
// restart (mpirun's handler, run at the scheduler's SIGTERM, aborted the MPI
// job that `stasis run` had just checkpointed, and again after the restart).
// SIGTERM from a process of the job (kill, timeout) acts at once, as
// without stasis; the program reads the disposition it set.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Job, Running, programs } from '../helpers/stasis.js';

const probe = join(programs, 'term_probe');
const ticks = join(programs, 'term_handler_ticks');

describe('SIGTERM held for the job driver (STASIS_HOLD_TERM)', function () {
  this.timeout(60000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-holdterm-'); });
  afterEach(() => job.cleanup());

  /** SIGTERM from the test: outside the job, as slurmstepd's. */
  async function termFromOutside(p: Running): Promise<number> {
    await p.waitFor(/^tick 2$/);
    const [pid] = await job.kernelPids();
    process.kill(pid!, 'SIGTERM');
    await p.waitFor(/^tick \d+$/, 20000, p.lines.length);
    return Date.now();
  }

  it('from a process of the job: acts at once — own handler, SIG_IGN (also in a child across exec), the default', async () => {
    const p = job.launch([probe], { env: { STASIS_HOLD_TERM: '1' } });
    assert.equal(await p.waitExit(), null, p.tail());   // killed by the last SIGTERM
    assert.deepEqual(p.lines, ['SIGTERM reads SIG_DFL', 'SIGTERM reads own handler', 'own handler ran at once',
      'SIGTERM reads SIG_IGN', 'survived SIGTERM ignored', 'child survived SIGTERM ignored', 'child status 0', 'SIGTERM reads SIG_DFL']);
  });

  it('from a process of the job: kill and timeout in a job script end their targets at once', async () => {
    const script = 'sleep 100 & kill $!; wait $!; echo "killed $?"; timeout 1 sleep 100; echo "timeout $?"';
    const started = Date.now();
    const p = job.launch(['sh', '-c', script], { env: { STASIS_HOLD_TERM: '1' } });
    assert.equal(await p.waitExit(), 0, p.tail());
    assert.deepEqual(p.lines, ['killed 143', 'timeout 124']);
    assert.ok(Date.now() - started < 8000, `took ${Date.now() - started} ms`);
  });

  it('from outside with no checkpoint following: the default acts STASIS_TERM_WAIT s later', async () => {
    const p = job.launch([ticks, 'dfl', '400'], { env: { STASIS_HOLD_TERM: '1', STASIS_TERM_WAIT: '2' } });
    const sent = await termFromOutside(p);
    assert.equal(await p.waitExit(), null, p.tail());
    assert.ok(Date.now() - sent > 1000, `ended ${Date.now() - sent} ms after SIGTERM`);
    assert.ok(!p.lines.includes('done'), p.tail());
  });

  it('from outside, then a checkpoint: held past STASIS_TERM_WAIT; the program\'s handler runs STASIS_TERM_DELAY s later', async () => {
    const p = job.launch([ticks, 'own', '400'], { env: { STASIS_HOLD_TERM: '1', STASIS_TERM_WAIT: '1', STASIS_TERM_DELAY: '5' } });
    const sent = await termFromOutside(p);
    assert.equal((await job.checkpoint()).generation, 1);
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok(!p.exited, `ended ${Date.now() - sent} ms after SIGTERM: ${p.tail()}`);
    assert.equal(await p.waitExit(), 3, p.tail());
    assert.ok(Date.now() - sent > 3500, `the handler ran ${Date.now() - sent} ms after SIGTERM`);
    assert.equal(p.lines.at(-1), 'own handler ran');
  });

  it('a held SIGTERM, checkpointed, killed and restarted: the program\'s handler never runs, the program finishes', async () => {
    const p = job.launch([ticks, 'own', '200'], { env: { STASIS_HOLD_TERM: '1', STASIS_TERM_WAIT: '3', STASIS_TERM_DELAY: '3' } });
    await termFromOutside(p);
    assert.equal((await job.checkpoint()).generation, 1);
    await job.killTree(p);
    assert.ok(!p.lines.includes('own handler ran'), p.tail());
    const r = job.restart();
    assert.equal(await r.waitExit(), 0, r.tail());   // 200 ticks of 50 ms: well past wait and delay
    assert.ok(!r.lines.includes('own handler ran'), r.tail());
    assert.equal(r.lines.at(-1), 'done');
  });

  it('not held without it: SIGTERM from outside kills the program at once', async () => {
    const p = job.launch([ticks, 'dfl', '400']);
    const sent = await termFromOutside(p).catch(() => Date.now());
    assert.equal(await p.waitExit(), null, p.tail());
    assert.ok(Date.now() - sent < 1500, `ended ${Date.now() - sent} ms after SIGTERM`);
  });
});
