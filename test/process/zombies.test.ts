// Children that exited but were not waited for at a checkpoint are zombies
// again after a restart — twice — with the pids the parent knows them by and
// their exit statuses (an exit code, a signal); waitpid() then reaps them.
// Once as the job's only process, once as a child of bash (the loader
// restores a tree and re-makes the zombies below its second process).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { Job, numbers, programs, type Running } from '../helpers/stasis.js';

describe('zombies', function () {
  this.timeout(120000);

  async function twoRestarts(argv: (trigger: string) => string[], processes: number): Promise<Running> {
    const job = new Job();
    const trigger = join(job.dir, 'reap-now');
    try {
      let p = job.launch(argv(trigger));
      const [, a, b] = await p.waitFor(/^zombies (\d+) (\d+)$/, 20000);
      await p.waitFor(/^tick 3$/, 20000);
      for (let round = 1; round <= 2; round++) {
        const g = await job.checkpoint();
        const manifest = JSON.parse(readFileSync(join(g.dir, 'manifest.json'), 'utf8'));
        assert.equal(manifest.processes.length, processes, 'zombies have no image of their own');
        const sides = manifest.processes.flatMap((q: { files?: Array<{ name: string }> }) => q.files ?? [])
          .filter((f: { name: string }) => f.name.endsWith('.zombies'));
        assert.equal(sides.length, 1, 'one process has zombies');
        const side = sides[0];
        assert.ok(side, 'the parent recorded its zombies');
        const text = readFileSync(join(g.dir, side.name), 'utf8');
        assert.match(text, new RegExp(`^zombie ${a} 1 7$`, 'm'));    // CLD_EXITED, status 7
        assert.match(text, new RegExp(`^zombie ${b} 2 15$`, 'm'));   // CLD_KILLED, SIGTERM
        const last = numbers(p.lines, /^tick (\d+)$/).at(-1)!;
        await job.killTree(p);
        p = job.restart();
        await p.waitFor(new RegExp(`^tick ${last + 3}$`), 30000);
        assert.ok(!p.lines.some((l) => l.startsWith('BROKEN')), p.tail());
      }
      writeFileSync(trigger, '');
      assert.equal(await p.waitExit(20000), 0, p.tail());
      assert.ok(p.lines.includes(`reaped ${a} exited 7`), p.tail());
      assert.ok(p.lines.includes(`reaped ${b} killed 15`), p.tail());
      return p;
    } finally {
      await job.cleanup();
    }
  }

  it('unreaped children come back as zombies with their pids and statuses, twice; waitpid reaps them', async () => {
    await twoRestarts((trigger) => [join(programs, 'zombie'), trigger], 1);
  });

  it('the same below bash, in a process tree', async () => {
    const p = await twoRestarts((trigger) =>
      ['/bin/bash', '-c', '"$0" "$1"; echo "zombie ended $?"', join(programs, 'zombie'), trigger], 2);
    assert.ok(p.lines.includes('zombie ended 0'), p.tail());
  });
});
