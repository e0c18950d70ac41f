// Pids after restarts meet two hazards. A new child may get a kernel pid the
// program already knows as someone else's (its own old pid, a thread's old
// tid) or that the pid table still maps (a re-made zombie's, reaped since):
// fork() must avoid those. And a thread blocked in waitpid(child) when the
// checkpoint came has its syscall re-issued by the kernel after the restore,
// with the kernel pid from before: the wrapper must translate again.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Job, numbers, programs, type Running } from '../helpers/stasis.js';
import { SYS_wait4, SYS_waitid, blockedIn } from '../helpers/syscalls.js';

describe('pids across wrap-around and blocked waits', function () {
  this.timeout(120000);

  it('a child never gets a kernel pid the program knows as another id (ns_last_pid), after two restarts', async function () {
    if (process.getuid?.() !== 0) {
      console.log('      skipped: needs root to write /proc/sys/kernel/ns_last_pid');
      this.skip();
    }
    const job = new Job();
    const trigger = join(job.dir, 'collide-now');
    let p: Running | null = null;
    try {
      p = job.launch([join(programs, 'pid_wrap'), trigger]);
      const [, pid, tid, zombie] = await p.waitFor(/^ready pid=(\d+) tid=(\d+) zombie=(\d+)$/);
      for (let round = 1; round <= 2; round++) {
        await p.waitFor(/^tick \d+$/, 20000, p.lines.length);
        await job.checkpoint();
        const last = numbers(p.lines, /^tick (\d+)$/).at(-1)!;
        await job.killTree(p);
        p = job.restart();
        await p.waitFor(new RegExp(`^tick ${last + 2}$`), 30000);
      }
      writeFileSync(trigger, '');
      assert.equal(await p.waitExit(30000), 0, p.tail());
      assert.ok(!p.lines.some((l) => l.startsWith('BROKEN')), p.tail());
      const stale = Number(p.lines.find((l) => l.startsWith('zombie kernel pid '))?.split(' ')[3]);
      assert.notEqual(stale, Number(zombie), 'the zombie was re-made with a new kernel pid');
      for (const target of [stale, Number(pid), Number(tid)]) {
        assert.equal(p.lines.filter((l) => l.startsWith(`wrapped ${target} `)).length, 3, p.lines.join('\n'));
      }
      assert.ok(p.lines.includes('done'), p.tail());
    } finally {
      if (p && !p.exited) await job.killTree(p).catch(() => undefined);
      await job.cleanup();
    }
  });

  it('threads blocked in waitpid(child), waitid(P_PID) and waitpid(-pgid) at the checkpoint reap their children after two restarts', async () => {
    const job = new Job();
    const trigger = join(job.dir, 'exit-now');
    let p: Running | null = null;
    try {
      p = job.launch([join(programs, 'blocked_wait'), trigger]);
      const [, a, b, c] = await p.waitFor(/^children (\d+) (\d+) (\d+)$/);
      for (const kind of ['a-waitpid', 'b-waitid', 'c-waitpid-group']) await p.waitFor(new RegExp(`^waiting ${kind}$`));
      for (let round = 1; round <= 2; round++) {
        // Every waiting thread is inside its syscall when the checkpoint comes.
        const deadline = Date.now() + 10000;
        let calls: number[] = [];
        while (Date.now() < deadline) {
          calls = blockedIn(await job.kernelPids());
          if (calls.filter((n) => n === SYS_wait4).length >= 2 && calls.includes(SYS_waitid)) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(calls.filter((n) => n === SYS_wait4).length, 2, `round ${round}: blocked in ${calls}`);
        assert.equal(calls.filter((n) => n === SYS_waitid).length, 1, `round ${round}: blocked in ${calls}`);
        await job.checkpoint();
        await job.killTree(p);
        p = job.restart();
        await new Promise((r) => setTimeout(r, 500));
        assert.ok(!p.lines.some((l) => l.startsWith('BROKEN') || l.startsWith('reaped')), `round ${round}: ${p.tail()}`);
      }
      writeFileSync(trigger, '');
      assert.equal(await p.waitExit(30000), 0, p.lines.join('\n'));
      assert.ok(p.lines.includes(`reaped a-waitpid ${a} 41`), p.lines.join('\n'));
      assert.ok(p.lines.includes(`reaped b-waitid ${b} 42`), p.lines.join('\n'));
      assert.ok(p.lines.includes(`reaped c-waitpid-group ${c} 43`), p.lines.join('\n'));
      assert.ok(p.lines.includes('done'), p.tail());
    } finally {
      if (p && !p.exited) await job.killTree(p).catch(() => undefined);
      await job.cleanup();
    }
  });
});
