// Children not made by fork(): posix_spawn (own process group), vfork +
// exec, clone() running a function, and a double-forked daemon in its own session whose parent is gone.
// After checkpoint, kill and restart, twice, every worker keeps its pid,
// group and session, the parent still reaps its children.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Job, numbers, programs, type Running, noBroken } from '../helpers/stasis.js';

async function progressed(r: Running, count: number): Promise<void> {
  for (const re of [/^parent (\d+)$/, /^worker S (\d+)$/, /^worker V (\d+)$/, /^worker C (\d+)$/, /^worker D (\d+)$/])
    while (numbers(r.lines, re).length < count) await r.waitFor(new RegExp(`${re.source}|^BROKEN`), 20000, r.lines.length);
}

describe('posix_spawn, vfork and daemons', function () {
  this.timeout(90000);

  it('spawned, vforked and double-forked children keep their ids and parents across checkpoint, kill and restart, twice', async () => {
    const job = new Job();
    try {
      let p = job.launch([join(programs, 'spawn'), '250']);
      await progressed(p, 3);
      noBroken(p.lines);
      for (let round = 1; round <= 2; round++) {
        const g = await job.checkpoint();
        const manifest = JSON.parse(readFileSync(join(g.dir, 'manifest.json'), 'utf8'));
        assert.equal(manifest.processes.length, 5, 'parent, S, V, C and the daemon are in the generation');
        await job.killTree(p);
        const r = job.restart();
        await progressed(r, 3);
        noBroken(r.lines);
        assert.equal((await job.kernelPids()).length, 5, 'all five run again');
        p = r;
      }
      await p.waitFor(/^reaped C$/, 30000);
      assert.ok(p.lines.includes('reaped S') && p.lines.includes('reaped V'));
      noBroken(p.lines);
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });
});
