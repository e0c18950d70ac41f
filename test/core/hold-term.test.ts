// STASIS_HOLD_TERM (set by `stasis run` under a scheduler): a program that
// leaves SIGTERM at its default survives one, and still reads SIG_DFL; its
// own handler runs; set back to SIG_DFL, SIGTERM is held again.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Job, programs } from '../helpers/stasis.js';

const probe = join(programs, 'term_probe');

describe('SIGTERM held for the job driver (STASIS_HOLD_TERM)', function () {
  this.timeout(60000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-holdterm-'); });
  afterEach(() => job.cleanup());

  it('held: the program survives SIGTERM, reads SIG_DFL, and its own handler still runs', async () => {
    const p = job.launch([probe], { env: { STASIS_HOLD_TERM: '1' } });
    assert.equal(await p.waitExit(), 0, p.tail());
    assert.deepEqual(p.lines, ['SIGTERM reads SIG_DFL', 'survived SIGTERM', 'own handler ran', 'SIGTERM reads SIG_DFL again', 'survived the default']);
  });

  it('not held without it: SIGTERM kills the program', async () => {
    const p = job.launch([probe]);
    assert.notEqual(await p.waitExit(), 0, p.tail());   // killed by the signal
    assert.deepEqual(p.lines, ['SIGTERM reads SIG_DFL']);
  });
});
