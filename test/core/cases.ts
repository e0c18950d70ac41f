// The continuation cases of the core suite and the checkpoint → SIGKILL →
// restart step that proves them, shared by test/core/continue.test.ts (host
// programs) and test/trixie/trixie.test.ts (the same programs built and run
// in a Debian 13 chroot).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Job, Running, numbers } from '../helpers/stasis.js';

export interface Case {
  name: string;
  argv: string[];
  progress: RegExp;          // first group: a number that grows by `step`
  step: number;
  check?: (lines: string[]) => void;
  timeoutMs?: number;
  minLines?: number;         // progress lines to collect after each restart (default 3)
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The programs that must continue, built in `programs`. */
export function coreCases(programs: string): Case[] {
  return [
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
}

/** How a case's processes are started: by default as the core suite does. */
export interface Runner {
  launch(job: Job, argv: string[]): Running;
  restart(job: Job): Running;
}
export const plainRunner: Runner = { launch: (job, argv) => job.launch(argv), restart: (job) => job.restart() };

/** Checkpoint `p`, kill it, restart, and check the output continues. */
export async function checkpointKillRestart(job: Job, p: Running, c: Case, generation: number, run: Runner = plainRunner): Promise<Running> {
  await p.waitFor(c.progress, c.timeoutMs);
  await sleep(300);
  const before = numbers(p.lines, c.progress).at(-1)!;
  const ck = await job.checkpoint();
  assert.equal(ck.generation, generation);
  assert.ok(ck.bytes > 0);
  await sleep(300);
  await p.kill9();
  const lastBeforeKill = numbers(p.lines, c.progress).at(-1)!;
  const r = run.restart(job);
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

/** Launch, then checkpoint → SIGKILL → restart twice. */
export async function continueTwice(c: Case, run: Runner = plainRunner): Promise<void> {
  const job = new Job();
  try {
    const p = run.launch(job, c.argv);
    const r1 = await checkpointKillRestart(job, p, c, 1, run);
    const r2 = await checkpointKillRestart(job, r1, c, 2, run);
    await r2.kill9();
  } finally {
    await job.cleanup();
  }
}

/** `mib` MiB of memory whose checksum must still match after each restart. */
export async function bigmemTwice(programs: string, mib: number, run: Runner = plainRunner): Promise<void> {
  const job = new Job();
  const c: Case = { name: 'bigmem', argv: [join(programs, 'bigmem'), String(mib)], progress: /^verified (\d+) /, step: 1, timeoutMs: 60000 };
  try {
    const p = run.launch(job, c.argv);
    const ready = await p.waitFor(new RegExp(`^ready ${mib} MiB ([0-9a-f]{16})$`), 60000);
    const sum = ready[1]!;
    c.check = (lines) => {
      assert.ok(!lines.some((l) => l.startsWith('MISMATCH')), 'memory changed across restart');
      for (const l of lines.filter((x) => x.startsWith('verified'))) assert.ok(l.endsWith(sum), l);
    };
    const r1 = await checkpointKillRestart(job, p, c, 1, run);
    const r2 = await checkpointKillRestart(job, r1, c, 2, run);
    await r2.kill9();
  } finally {
    await job.cleanup();
  }
}
