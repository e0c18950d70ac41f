// Descriptors opened by path — a file read on, a file written at its
// offset, an O_APPEND log, directories (openat, getdents position), an
// O_PATH handle, /dev/null, /dev/zero, /dev/urandom — work on after
// checkpoint, kill and restart, twice, each from where it was.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import { Job, numbers, programs } from '../helpers/stasis.js';

describe('files, directories and devices opened by path', function () {
  this.timeout(90000);

  it('each descriptor continues from where it was across checkpoint, kill and restart, twice', async () => {
    const job = new Job();
    try {
      const dir = join(job.dir, 'files');
      mkdirSync(dir);
      let p = job.launch([join(programs, 'files'), dir]);
      await p.waitFor(/^tick 10$/, 20000);
      for (let round = 1; round <= 2; round++) {
        await job.checkpoint();
        const last = numbers(p.lines, /^tick (\d+)$/).at(-1)!;
        await job.killTree(p);
        const r = job.restart();
        await r.waitFor(new RegExp(`^(tick ${last + 15}|BROKEN.*)$`), 30000);
        const bad = r.lines.find((l) => l.startsWith('BROKEN'));
        assert.ok(!bad, `round ${round}: ${bad}`);
        assert.ok(numbers(r.lines, /^tick (\d+)$/)[0]! <= last + 1, 'resumed where it was');
        p = r;
      }
      await job.killTree(p);
      // What the program wrote after the last restart is in both files, in order.
      const ticks = numbers(p.lines, /^tick (\d+)$/).at(-1)!;
      for (const name of ['out', 'log']) {
        const lines = readFileSync(join(dir, name), 'latin1').split('\n').filter(Boolean).map(Number);
        assert.ok(lines.length >= ticks, `${name}: ${lines.length} lines, ${ticks} ticks`);
        lines.slice(0, ticks).forEach((v, i) => assert.equal(v, i + 1, `${name} line ${i + 1}`));
      }
    } finally {
      await job.cleanup();
    }
  });
});
