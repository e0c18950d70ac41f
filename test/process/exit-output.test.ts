// "A parent and its child together or neither" holds for what they
// exchanged too: a driver forking `sh -c 'printf …; exit N'` into a pipe,
// checkpointed back to back, restarted from every committed generation —
// each restart finds every round's bytes and exit status together.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Job, noBroken, numbers, programs } from '../helpers/stasis.js';

const round = /^round (\d+)$/;

describe('exit and output of a short-lived child', function () {
  this.timeout(240000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-exitout-'); });
  afterEach(() => job.cleanup());

  it('every generation of a tight checkpoint stream restarts with bytes and status matching', async () => {
    const p = job.launch([join(programs, 'exit_output')]);
    await p.waitFor(round);
    let committed = 0;
    for (let i = 0; i < 40 && committed < 15; i++) {
      try { await job.checkpoint(); committed++; } catch { /* an abort is allowed; a bad generation is not */ }
    }
    assert.ok(committed >= 10, `only ${committed} checkpoints committed`);
    await job.killTree(p);
    noBroken(p.lines);
    const gens = readdirSync(job.dir).filter((n) => /^gen-\d+$/.test(n)).sort();
    for (const gen of gens) {
      const r = job.restart(join(job.dir, gen));
      while (numbers(r.lines, round).length < 5) await r.waitFor(round, 30000, r.lines.length);
      noBroken(r.lines);
      await job.killTree(r);
      noBroken(r.lines);
    }
  });
});
