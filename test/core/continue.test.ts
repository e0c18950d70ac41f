// Real programs are launched, checkpointed, killed with SIGKILL, restarted
// from the image, and must prove by their own output that they continued
// from the saved state — twice in a row.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Job, Running, numbers, programs } from '../helpers/stasis.js';

interface Case {
  name: string;
  argv: string[];
  progress: RegExp;          // first group: a number that grows by `step`
  step: number;
  check?: (lines: string[]) => void;
  timeoutMs?: number;
  minLines?: number;         // progress lines to collect after each restart (default 3)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cases: Case[] = [
  { name: 'single-threaded counter', argv: [join(programs, 'counter')], progress: /^count (\d+)$/, step: 1 },
  {
    name: '8 threads with a mutex and a condition variable',
    argv: [join(programs, 'threads')], progress: /^turn (\d+)$/, step: 40,
    check: (lines) => assert.ok(!lines.some((l) => l.startsWith('BROKEN')), 'thread hand-off broke'),
  },
  {
    name: 'signal handlers and an interval timer',
    argv: [join(programs, 'signals')], progress: /^handled (\d+) /, step: 1, minLines: 10,
    check: (lines) => {
      assert.ok(!lines.some((l) => l.startsWith('BROKEN')), 'a handler stopped firing');
      const alrm = numbers(lines, /alrm=(\d+)/);
      assert.ok(alrm.length > 5 && alrm.at(-1)! > alrm[0]!, `SIGALRM stopped firing after restart: ${alrm.join(',')}`);
    },
  },
  {
    name: 'unusual layouts: 64 GiB reservation, top-of-address-space page, shared file, guard page, brk',
    argv: [join(programs, 'layout'), join(tmpdir(), `stasis-layout-${process.pid}.bin`)], progress: /^layout (\d+) ok$/, step: 1,
    check: (lines) => assert.ok(!lines.some((l) => l.startsWith('BROKEN')), lines.find((l) => l.startsWith('BROKEN'))),
  },
  { name: 'program blocked in a futex wait', argv: [join(programs, 'blocked'), 'futex', '1'], progress: /^woken (\d+)$/, step: 1 },
  {
    name: 'python3 -c loop', progress: /^(\d+)$/, step: 1,
    argv: ['/usr/bin/python3', '-c', 'import time\ni=0\nwhile True:\n    i+=1; print(i, flush=True); time.sleep(0.05)'],
  },
  {
    name: 'bash loop of builtins', progress: /^(\d+)$/, step: 5000,
    argv: ['/bin/bash', '-c', 'i=0; while :; do i=$((i+1)); if ((i % 5000 == 0)); then echo $i; fi; done'],
  },
];

/** Checkpoint `p`, kill it, restart, and check the output continues. */
async function checkpointKillRestart(job: Job, p: Running, c: Case, generation: number): Promise<Running> {
  await p.waitFor(c.progress, c.timeoutMs);
  await sleep(300);
  const before = numbers(p.lines, c.progress).at(-1)!;
  const ck = await job.checkpoint();
  assert.equal(ck.generation, generation);
  assert.ok(ck.bytes > 0);
  await sleep(300);
  await p.kill9();
  const lastBeforeKill = numbers(p.lines, c.progress).at(-1)!;
  const r = job.restart();
  // Enough progress to see it continue, however slow the program's period.
  while (numbers(r.lines, c.progress).length < (c.minLines ?? 3)) await r.waitFor(c.progress, c.timeoutMs, r.lines.length);
  const after = numbers(r.lines, c.progress);
  assert.ok(after.length >= 2, `restarted program made no progress: ${r.tail()}`);
  assert.ok(after[0]! > before && after[0]! <= lastBeforeKill + c.step,
    `restart resumed at ${after[0]}, expected in (${before}, ${lastBeforeKill + c.step}]`);
  for (let i = 1; i < after.length; i++) assert.equal(after[i], after[i - 1]! + c.step, `output skipped: ${after.join(',')}`);
  c.check?.(r.lines);
  return r;
}

describe('checkpoint, SIGKILL, restart — twice', function () {
  this.timeout(120000);
  for (const c of cases) {
    it(c.name, async () => {
      const job = new Job();
      try {
        const p = job.launch(c.argv);
        const r1 = await checkpointKillRestart(job, p, c, 1);
        const r2 = await checkpointKillRestart(job, r1, c, 2);
        await r2.kill9();
      } finally {
        await job.cleanup();
      }
    });
  }

  it('1 GiB of memory: the checksum still matches after each restart', async () => {
    const job = new Job();
    const c: Case = { name: 'bigmem', argv: [join(programs, 'bigmem'), '1024'], progress: /^verified (\d+) /, step: 1, timeoutMs: 60000 };
    try {
      const p = job.launch(c.argv);
      const ready = await p.waitFor(/^ready 1024 MiB ([0-9a-f]{16})$/, 60000);
      const sum = ready[1]!;
      c.check = (lines) => {
        assert.ok(!lines.some((l) => l.startsWith('MISMATCH')), 'memory changed across restart');
        for (const l of lines.filter((x) => x.startsWith('verified'))) assert.ok(l.endsWith(sum), l);
      };
      const r1 = await checkpointKillRestart(job, p, c, 1);
      const r2 = await checkpointKillRestart(job, r1, c, 2);
      await r2.kill9();
    } finally {
      await job.cleanup();
    }
  });

  it('a program blocked in read() on stdin continues with the new stdin', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'blocked'), 'read'], { stdin: 'pipe' });
      await p.waitFor(/^started read$/);
      p.proc.stdin!.write('first\n');
      await p.waitFor(/^got first$/);
      await job.checkpoint();
      await p.kill9();
      const r = job.restart(undefined, { stdin: 'pipe' });
      await sleep(500);
      r.proc.stdin!.write('second\n');
      await r.waitFor(/^got second$/);
      assert.ok(!r.lines.includes('started read'), 'program started over instead of continuing');
      await job.checkpoint();
      await r.kill9();
      const r2 = job.restart(undefined, { stdin: 'pipe' });
      await sleep(500);
      r2.proc.stdin!.write('third\n');
      r2.proc.stdin!.end();
      await r2.waitFor(/^eof$/);
      assert.deepEqual(r2.lines, ['got third', 'eof']);
    } finally {
      await job.cleanup();
    }
  });

  it('a program blocked in nanosleep sleeps only what was left', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'blocked'), 'sleep', '6']);
      await p.waitFor(/^started sleep$/);
      await sleep(1000);
      await job.checkpoint();
      await p.kill9();
      assert.ok(!p.lines.some((l) => l.startsWith('slept')));
      const t0 = Date.now();
      const r = job.restart();
      await r.waitFor(/^slept 1$/, 10000);
      const waited = Date.now() - t0;
      assert.ok(waited < 5900, `sleep started over: ${waited} ms`);
      assert.ok(!r.lines.includes('started sleep'));
    } finally {
      await job.cleanup();
    }
  });
});
