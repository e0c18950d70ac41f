// A process tree (a parent and two forked children) is checkpointed whole
// and restored as the same tree: the children are still the parent's
// children (waitpid, kill) and still see it as their parent (getppid).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Job, numbers, programs, type Running } from '../helpers/stasis.js';

async function progressed(r: Running, count: number): Promise<void> {
  for (const re of [/^tree (\d+)$/, /^child 0 (\d+)$/, /^child 1 (\d+)$/])
    while (numbers(r.lines, re).length < count) await r.waitFor(re, 20000, r.lines.length);
}

describe('process trees', function () {
  this.timeout(60000);

  it('a parent and two forked children are checkpointed together and restored as the same tree, twice', async () => {
    const job = new Job();
    try {
      let p = job.launch([join(programs, 'tree')]);
      await progressed(p, 3);
      for (let round = 1; round <= 2; round++) {
        const g = await job.checkpoint();
        const manifest = JSON.parse(readFileSync(join(g.dir, 'manifest.json'), 'utf8'));
        assert.equal(manifest.processes.length, 3, 'parent and both children are in the generation');
        const root = manifest.processes.find((x: { ppid: number }) => !manifest.processes.some((y: { pid: number }) => y.pid === x.ppid));
        assert.equal(manifest.processes.filter((x: { ppid: number }) => x.ppid === root.pid).length, 2, 'both children name the parent');
        const last = numbers(p.lines, /^tree (\d+)$/).at(-1)!;
        await job.killTree(p);
        const r = job.restart();
        await progressed(r, 3);
        assert.ok(!r.lines.some((l) => l.startsWith('BROKEN')), r.lines.find((l) => l.startsWith('BROKEN')));
        const first = numbers(r.lines, /^tree (\d+)$/)[0]!;
        assert.ok(first <= last + 1, `round ${round}: the parent resumed at ${first}, after ${last}`);
        assert.equal((await job.kernelPids()).length, 3, 'all three processes run again');
        p = r;
      }
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });
});
