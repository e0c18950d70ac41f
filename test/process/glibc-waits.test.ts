// Waits glibc makes itself (system(), pclose(), wait3()) and the pids a
// SIGCHLD handler and waitid see, across restarts: glibc calls its own
// internal wait, not the interposed symbol, and keeps the child's pid where
// the program cannot see it (popen's FILE). Each must name the child by the
// pid the program knows and return its real exit status.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Job, programs, type Running } from '../helpers/stasis.js';
import { SYS_read, SYS_rt_sigsuspend, SYS_wait4, SYS_waitid, untilBlocked } from '../helpers/syscalls.js';

const kinds = ['system', 'popen-read', 'popen-close', 'wait3', 'sigchld', 'raw'];

describe('waits inside glibc across restarts', function () {
  this.timeout(120000);

  it('system(), popen()+pclose(), wait3(), SIGCHLD and raw wait4/waitid syscalls for a group blocked at the checkpoint see their children after two restarts', async () => {
    const job = new Job();
    const trigger = join(job.dir, 'exit-now');
    let p: Running | null = null;
    try {
      p = job.launch([join(programs, 'glibc_waits'), trigger]);
      for (const kind of kinds) await p.waitFor(new RegExp(`^waiting ${kind}$`));
      for (let round = 1; round <= 2; round++) {
        // main, system, popen-close, wait3, raw in wait4; raw in waitid; popen-read in read; sigchld in sigsuspend
        const want = { [SYS_wait4]: 5, [SYS_waitid]: 1, [SYS_read]: 1, [SYS_rt_sigsuspend]: 1 };
        const calls = await untilBlocked(job, want);
        for (const [nr, n] of Object.entries(want)) {
          assert.ok(calls.filter((c) => c === Number(nr)).length >= n, `round ${round}: blocked in ${calls}: ${p!.lines.join(" / ")}`);
        }
        await job.checkpoint();
        await job.killTree(p);
        p = job.restart();
        await new Promise((r) => setTimeout(r, 500));
        assert.ok(!p.lines.some((l) => /^(ok|BROKEN) /.test(l)), `round ${round}: ${p.lines.join('\n')}`);
      }
      writeFileSync(trigger, '');
      const code = await p.waitExit(30000);
      const report = p.lines.join('\n');
      for (const kind of [...kinds.filter((k) => k !== 'raw'), 'sigchld-waitid', 'raw-wait4', 'raw-waitid']) assert.ok(p.lines.some((l) => l.startsWith(`ok ${kind} `)), `${kind}:\n${report}`);
      assert.equal(code, 0, report);
      assert.ok(p.lines.includes('done'), report);
    } finally {
      if (p && !p.exited) await job.killTree(p).catch(() => undefined);
      await job.cleanup();
    }
  });
});
