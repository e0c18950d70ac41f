// STASIS_HOLD_TERM (set by `stasis run` under a scheduler): a program that
// leaves SIGTERM at its default survives one, and still reads SIG_DFL; its
// own handler is held, reads as set, and runs only STASIS_TERM_DELAY seconds
// later; set back to SIG_DFL, SIGTERM is held again. A held SIGTERM is
// forgotten by a restart: it ended the job the checkpoint was taken in
// (mpirun's handler, run at the scheduler's SIGTERM, aborted the MPI job
// that `stasis run` had just checkpointed, and did so again after the restart).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Job, programs } from '../helpers/stasis.js';

const probe = join(programs, 'term_probe');
const ticks = join(programs, 'term_handler_ticks');

describe('SIGTERM held for the job driver (STASIS_HOLD_TERM)', function () {
  this.timeout(60000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-holdterm-'); });
  afterEach(() => job.cleanup());

  it('held: the program survives SIGTERM, reads SIG_DFL; its own handler reads as set and runs STASIS_TERM_DELAY s later', async () => {
    const p = job.launch([probe], { env: { STASIS_HOLD_TERM: '1', STASIS_TERM_DELAY: '2' } });
    assert.equal(await p.waitExit(), 0, p.tail());
    assert.deepEqual(p.lines, ['SIGTERM reads SIG_DFL', 'survived SIGTERM', 'SIGTERM reads own handler', 'own handler held', 'own handler ran',
      'SIGTERM reads SIG_DFL again', 'survived the default']);
  });

  it('not held without it: SIGTERM kills the program', async () => {
    const p = job.launch([probe]);
    assert.notEqual(await p.waitExit(), 0, p.tail());   // killed by the signal
    assert.deepEqual(p.lines, ['SIGTERM reads SIG_DFL']);
  });

  it('a held SIGTERM to a program with its own handler, checkpointed, killed and restarted: the handler never runs, the program finishes', async () => {
    const p = job.launch([ticks, '200'], { env: { STASIS_HOLD_TERM: '1', STASIS_TERM_DELAY: '4' } });
    await p.waitFor(/^sent SIGTERM$/);
    assert.equal((await job.checkpoint()).generation, 1);
    await job.killTree(p);
    assert.ok(!p.lines.includes('own handler ran'), p.tail());
    const r = job.restart();
    assert.equal(await r.waitExit(), 0, r.tail());   // 200 ticks of 50 ms: well past the delay
    assert.ok(!r.lines.includes('own handler ran'), r.tail());
    assert.equal(r.lines.at(-1), 'done');
  });

  it('a held SIGTERM the job survives reaches the program\'s handler STASIS_TERM_DELAY s later', async () => {
    const p = job.launch([ticks, '400'], { env: { STASIS_HOLD_TERM: '1', STASIS_TERM_DELAY: '2' } });
    await p.waitFor(/^sent SIGTERM$/);
    const sent = Date.now();
    assert.equal(await p.waitExit(), 3, p.tail());
    assert.ok(Date.now() - sent > 1000, `the handler ran ${Date.now() - sent} ms after SIGTERM`);
    assert.equal(p.lines.at(-1), 'own handler ran');
  });
});
