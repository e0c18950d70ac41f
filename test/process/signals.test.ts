// Signals and timers, one self-checking program per resource
// (test/programs/): launched under stasis, checkpointed (the program runs on
// for a while, proving the live process lost and doubled nothing), killed
// with SIGKILL and restarted — twice. Each program prints "BROKEN ..." and
// exits when what it checks is wrong: pending signals taken exactly once, in
// order, with their payloads; timers firing at their intervals; a handler on
// its alternate stack.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Job, Running, numbers, programs, noBroken } from '../helpers/stasis.js';
import { checkpointKillRestart } from '../helpers/cycle.js';

interface Case {
  name: string;
  argv: string[];
  progress: RegExp;          // first group: a number that grows by 1 each line
  minLines?: number;         // progress lines to see after each restart (default 5)
  check?: (before: string[], after: string[]) => void;
}


const cases: Case[] = [
  {
    name: 'pending signals: the process\'s and a thread\'s, standard and real-time queued several times with values',
    argv: [join(programs, 'sig_pending')], progress: /^tick (\d+) /,
  },
  {
    name: 'POSIX timers: same ids (a gap included), clocks, signal to the process or one thread, SIGEV_NONE; time left and intervals',
    argv: [join(programs, 'posix_timers')], progress: /^tick (\d+) /, minLines: 8,
  },
  {
    name: 'interval timers: ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF keep their intervals and fire on',
    argv: [join(programs, 'itimers')], progress: /^tick (\d+) /, minLines: 8,
  },
  {
    name: 'alternate signal stacks, per thread (one with SS_AUTODISARM): handlers run on them',
    argv: [join(programs, 'altstack')], progress: /^tick (\d+) /,
  },
];

/** One round (test/helpers/cycle.ts), then this case's own checks. */
async function round(job: Job, p: Running, c: Case, generation: number): Promise<Running> {
  const r = await checkpointKillRestart(job, p, c, generation, 3);
  c.check?.(p.lines, r.lines);
  return r;
}

describe('signals and timers: checkpoint, run on, SIGKILL, restart — twice', function () {
  this.timeout(120000);
  for (const c of cases) {
    it(c.name, async () => {
      const job = new Job();
      try {
        const p = job.launch(c.argv);
        const r1 = await round(job, p, c, 1);
        const r2 = await round(job, r1, c, 2);
        await job.killTree(r2);
        noBroken(r2.lines);
      } finally {
        await job.cleanup();
      }
    });
  }
});

describe('POSIX timers with SIGEV_THREAD', function () {
  this.timeout(60000);
  it('the checkpoint fails at once, naming the process and why; the program runs on; nothing is committed', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'posix_timers'), 'sigev-thread']);
      await p.waitFor(/^tick 2 /);
      const started = Date.now();
      const err = await job.checkpoint().then(() => null, (e: Error) => e.message);
      assert.ok(err, 'the checkpoint succeeded');
      assert.ok(Date.now() - started < 5000, 'the refusal waited for threads to stop');
      const m = err.match(/process (\d+) \(posix_timers\).*SIGEV_THREAD/);
      assert.ok(m, `unexpected message: ${err}`);
      assert.equal(Number(m[1]), p.pid);
      const seen = numbers(p.lines, /^tick (\d+) /).at(-1)!;
      await p.waitFor(new RegExp(`^tick ${seen + 3} `));
      noBroken(p.lines);
      assert.ok(!existsSync(join(job.dir, 'gen-000001')), 'a generation was committed');
    } finally {
      await job.cleanup();
    }
  });
});
