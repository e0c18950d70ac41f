// A restored process has new kernel pids and tids; the program must keep
// seeing the ones it saw (getpid, gettid, kill, tgkill, waitpid), across
// any number of restarts.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Job, Running, noBroken, numbers, programs } from '../helpers/stasis.js';
import { checkpointKillRestart } from '../helpers/cycle.js';

const progress = /^pids (\d+) pid=(\d+) tid=(\d+)$/;

function ids(lines: string[]): Array<[number, number]> {
  return lines.map((l) => l.match(progress)).filter((m): m is RegExpMatchArray => !!m).map((m) => [Number(m[2]), Number(m[3])]);
}

describe('pid virtualization', function () {
  this.timeout(60000);

  it('getpid, gettid, kill, tgkill and waitpid see the same ids after three restarts', async () => {
    const job = new Job();
    try {
      let p = job.launch([join(programs, 'pids')]);
      await p.waitFor(progress);
      const [pid, tid] = ids(p.lines)[0]!;
      assert.equal(pid, p.pid, 'before any restart the program sees its real pid');
      for (let round = 1; round <= 3; round++) {
        await job.checkpoint();
        const last = numbers(p.lines, progress).at(-1)!;
        await p.kill9();
        const r = job.restart();
        while (numbers(r.lines, progress).length < 3) await r.waitFor(progress, 20000, r.lines.length);
        assert.ok(!r.lines.some((l) => l.startsWith('BROKEN')), r.tail());
        assert.notEqual(r.pid, pid, 'the restored process has a new kernel pid');
        for (const [seenPid, seenTid] of ids(r.lines)) {
          assert.equal(seenPid, pid, `round ${round}: getpid changed`);
          assert.equal(seenTid, tid, `round ${round}: gettid changed`);
        }
        const first = numbers(r.lines, progress)[0]!;
        assert.ok(first <= last + 1, `round ${round}: resumed at ${first}, after ${last}`);
        p = r;
      }
      await p.kill9();
    } finally {
      await job.cleanup();
    }
  });
});

describe('glibc calls that pass a thread\'s tid to the kernel themselves', function () {
  this.timeout(120000);
  it('pthread_getattr_np (a JVM\'s at every thread attach) and pthread_get/setaffinity_np work on after two restarts', async () => {
    const job = new Job();
    const progress = /^tick (\d+)$/;
    try {
      let p: Running = job.launch([join(programs, 'thread_attr')]);
      for (let round = 1; round <= 2; round++) p = await checkpointKillRestart(job, p, { progress }, round, 5);
      noBroken(p.lines);
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });
});
