// One open file description shared between a parent and its child (and a
// dup in each): after checkpoint, kill and restart, twice, they still share
// its offset — each line lands after the other's, none overwrites another.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Job, numbers, programs } from '../helpers/stasis.js';

describe('descriptions shared between processes', function () {
  this.timeout(90000);

  it('a file inherited across fork keeps one offset for parent and child across checkpoint, kill and restart, twice', async () => {
    const job = new Job();
    try {
      const file = join(job.dir, 'turns.txt');
      let p = job.launch([join(programs, 'shared_fd'), file]);
      await p.waitFor(/^round 10 /, 20000);
      for (let round = 1; round <= 2; round++) {
        await job.checkpoint();
        const last = numbers(p.lines, /^round (\d+) /).at(-1)!;
        await job.killTree(p);
        const r = job.restart();
        await r.waitFor(new RegExp(`^(round ${last + 20} |BROKEN)`), 30000);
        const bad = r.lines.find((l) => l.startsWith('BROKEN'));
        assert.ok(!bad, `after restart ${round}: ${bad}`);
        p = r;
      }
      await job.killTree(p);
      // Every round's two lines, in order, from the first to the last printed.
      const lines = readFileSync(file, 'latin1').split('\n').filter(Boolean);
      const rounds = numbers(p.lines, /^round (\d+) /);
      for (let n = 1; n <= rounds.at(-1)!; n++) {
        assert.equal(lines[2 * (n - 1)], `P ${String(n).padStart(13, '0')}`);
        assert.equal(lines[2 * (n - 1) + 1], `C ${String(n).padStart(13, '0')}`);
      }
    } finally {
      await job.cleanup();
    }
  });
});
