// Forked checkpoints (--forked, STASIS_SAVE=forked): at the barrier each
// process is copied and the copy writes its image while the job runs on.
// Threads, a forked child writing into a pipe, MAP_SHARED memory and
// socketpairs come back whole after checkpoint, SIGKILL and restart; the
// program never sees the writer (no SIGCHLD, wait() finds only its own
// children); a writer killed mid-write aborts the generation with one line
// and the previous one still restores; memory a copy would not hold
// (MADV_DONTFORK, MADV_WIPEONFORK) is saved with the process stopped.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, numbers, programs, noBroken, type Running } from '../helpers/stasis.js';
import { checkpointKillRestart, ticksOn } from '../helpers/cycle.js';
import { checkpointKillRestart as caseRound, coreCases } from './cases.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const forked = { flags: ['--forked'] };

/** Kernel pids of the image writers (comm stasis-writer) whose parent is `parent`. */
function writersOf(parent: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const m = stat.match(/^\d+ \((.*)\) \S (\d+)/);
      if (m && m[1] === 'stasis-writer' && Number(m[2]) === parent) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

/** Every process of `p`'s job was copied: none fell back to the stopped save. */
function noFallback(p: Running): void {
  const fell = p.errLines.filter((l) => l.includes('saved with the process stopped'));
  assert.deepEqual(fell, [], 'a process saved stopped');
}

describe('forked checkpoints', function () {
  this.timeout(120000);

  it('threads: 8 threads handing a counter round stay right across forked checkpoint, kill and restart, twice', async () => {
    const job = new Job();
    try {
      const threads = coreCases(programs).find((c) => c.argv[0]!.endsWith('/threads'))!;
      let p: Running = job.launch(threads.argv, forked);
      for (let round = 1; round <= 2; round++) {
        const was = p;
        p = await caseRound(job, p, threads, round);
        noFallback(was);
      }
      assert.deepEqual(JSON.parse(readFileSync(join(job.dir, 'settings.json'), 'utf8')).save, 'forked', 'restart keeps the mode');
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });

  it('a pipe from a forked child to its parent loses and repeats no line across forked checkpoint, kill and restart', async () => {
    const job = new Job();
    try {
      let p = job.launch([join(programs, 'pipeline')], forked);
      await p.waitFor(/^got 300$/, 20000);
      for (let round = 1; round <= 2; round++) {
        const g = await job.checkpoint();
        assert.equal(JSON.parse(readFileSync(join(g.dir, 'manifest.json'), 'utf8')).processes.length, 2);
        const last = numbers(p.lines, /^got (\d+)$/).at(-1)!;
        await job.killTree(p);
        noFallback(p);
        const r = job.restart();
        await r.waitFor(new RegExp(`^got ${last + 300}$`), 30000);
        noBroken(r.lines);
        p = r;
      }
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });

  it('MAP_SHARED memory of a parent and two children keeps every count across forked checkpoint, kill and restart', async () => {
    const job = new Job();
    const seen = (lines: string[]) => numbers(lines, /^seen \d (\d+) /);
    try {
      let p = job.launch([join(programs, 'shm_anon')], forked);
      await p.waitFor(/^seen 2 /, 20000);
      for (let round = 1; round <= 2; round++) {
        await sleep(300);
        const beforeCheckpoint = Math.max(...seen(p.lines));   // the job runs on while its images are written
        const g = await job.checkpoint();
        assert.equal(readdirSync(g.dir).filter((f) => /^shm-.*\.data$/.test(f)).length, 1, 'the shared object saved once');
        noFallback(p);
        await job.killTree(p);
        p = job.restart();
        await p.waitFor(/^seen /, 20000);
        await sleep(500);
        assert.ok(seen(p.lines)[0]! > beforeCheckpoint, `round ${round}: counting went on from ${seen(p.lines)[0]}, printed ${beforeCheckpoint} before the checkpoint`);
        noBroken(p.lines);
      }
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });

  // With --compress none the writer's raw payloads go to the disk with
  // O_DIRECT, read while it runs: its own TLS (errno, the rseq area the
  // kernel writes when it is preempted) must be copied still first.
  for (const [what, flags] of [['', forked.flags], [' (--compress none: direct writes)', [...forked.flags, '--compress', 'none']]] as const) {
    it(`socketpairs with megabytes in flight (parent and child, two threads): every byte once and in order after forked checkpoint, kill and restart${what}`, async () => {
      const job = new Job();
      const progress = /^tick (\d+) /;
      try {
        let p: Running = job.launch([join(programs, 'sock_stream')], { flags: [...flags] });
        for (let round = 1; round <= 2; round++) {
          const was = p;
          p = await checkpointKillRestart(job, p, { progress }, round, 10);
          noFallback(was);
          await p.waitFor(/^child got \d+$/, 20000);
        }
        await ticksOn(p, progress);
        await job.killTree(p);
      } finally {
        await job.cleanup();
      }
    });
  }

  for (const kind of ['with a child of its own', 'alone'] as const) {
    it(`the program never sees the writer (${kind}): no SIGCHLD, wait() finds ${kind === 'alone' ? 'no child (ECHILD)' : 'only its own child'}, and it runs on while the image is written`, async () => {
      const job = new Job();
      try {
        // The writer sleeps 2 s half-way through the image: the program checks every 5 ms meanwhile.
        const p = job.launch([join(programs, 'wait_probe'), ...(kind === 'alone' ? ['alone'] : [])], { ...forked, env: { STASIS_FAULT: 'save-slow:2' } });
        await p.waitFor(/^tick 3$/);
        const before = numbers(p.lines, /^tick (\d+)$/).at(-1)!;
        await job.checkpoint();
        const after = numbers(p.lines, /^tick (\d+)$/).at(-1)!;
        assert.ok(after >= before + 5, `the program did not run while its image was written: tick ${before} then ${after}`);
        await sleep(300);
        noBroken(p.lines);
        await job.killTree(p);
        const r = job.restart();
        await r.waitFor(/^tick \d+$/);
        await r.waitFor(new RegExp(`^tick ${numbers(r.lines, /^tick (\d+)$/)[0]! + 5}$`));
        noBroken(r.lines);
        await job.killTree(r);
      } finally {
        await job.cleanup();
      }
    });
  }

  it('a process that exits while its image is written waits for its writer: the generation commits and restores it', async () => {
    const job = new Job();
    try {
      // 40 lines in 2 s; the writer sleeps 3 s half-way: the program reaches exit() meanwhile.
      const p = job.launch([join(programs, 'count_to'), '40'], { ...forked, env: { STASIS_FAULT: 'save-slow:3' } });
      await p.waitFor(/^count 10$/);
      const g = await job.checkpoint();
      assert.equal(g.generation, 1);
      assert.equal(await p.waitExit(20000), 0);
      assert.ok(p.lines.includes('done'));
      const r = job.restart();
      const first = Number((await r.waitFor(/^count (\d+)$/))[1]);
      assert.ok(first >= 10 && first < 40, `restored at count ${first}`);
      await r.waitFor(/^done$/);
      assert.equal(await r.waitExit(20000), 0);
    } finally {
      await job.cleanup();
    }
  });

  it('the writer holds none of the program\'s descriptors: a pipe the program closes while its image is written ends for the reader at once', async () => {
    const job = new Job();
    try {
      // The writers sleep 15 s half-way; the parent closes its write end 1.5 s after start.
      const p = job.launch([join(programs, 'close_probe'), '30'], { ...forked, env: { STASIS_FAULT: 'save-slow:15' } });
      await p.waitFor(/^tick 5$/);
      let done = false;
      const ck = job.checkpoint().finally(() => { done = true; });
      await p.waitFor(/^closed$/, 10000);
      await p.waitFor(/^eof$/, 8000).catch(() => assert.fail('no EOF while the image writers ran'));
      assert.ok(!done, 'the reader saw EOF only once the writers had ended');
      assert.equal((await ck).generation, 1);
      noBroken(p.lines);
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });

  it('--local-dir in /dev/shm (a scratch directory): the writer\'s image is not noted as a file the program made, and the local generation restores', async () => {
    // The writer opened its image through libstasis's open(): the scratch
    // plugin noted it in the memory being written, and the restored process
    // faulted on a table mapped after the cut (exit by SIGSEGV, no line).
    const job = new Job();
    const local = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'stasis-forked-L-'));
    try {
      let p: Running = job.launch([join(programs, 'counter')], { flags: ['--forked', '--local-dir', local] });
      for (let round = 1; round <= 2; round++) p = await checkpointKillRestart(job, p, { progress: /^count (\d+)$/ }, round);
      await job.killTree(p);
    } finally {
      await job.cleanup();
      rmSync(local, { recursive: true, force: true });
    }
  });

  it('a checkpoint asked for while writers still run waits for them: both commit, one after the other', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'counter')], { ...forked, env: { STASIS_FAULT: 'save-slow@1:2' } });
      await p.waitFor(/^count 5$/);
      const first = job.checkpoint();
      await sleep(500);   // generation 1's writer is asleep
      const second = await job.checkpoint();
      const g1 = await first;
      assert.deepEqual([g1.generation, second.generation], [1, 2]);
      const made = (g: { dir: string }) => JSON.parse(readFileSync(join(g.dir, 'manifest.json'), 'utf8')).createdAt as string;
      assert.ok(made(g1) < made(second), 'generation 2 was written before generation 1 was committed');
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });

  it('a writer killed mid-write aborts its generation with one line; the program runs on and the previous generation restores', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'counter')], { ...forked, env: { STASIS_FAULT: 'save-slow@2:30' } });
      await p.waitFor(/^count 5$/);
      await job.checkpoint();
      const savedAt = numbers(p.lines, /^count (\d+)$/).at(-1)!;
      const [pid] = await job.kernelPids();
      const pending = job.checkpoint().then(() => 'committed', (e: Error) => e.message);
      let writers: number[] = [];
      for (let i = 0; i < 200 && !writers.length; i++) { await sleep(50); writers = writersOf(pid!); }
      assert.equal(writers.length, 1, 'no image writer of generation 2 appeared');
      const running = numbers(p.lines, /^count (\d+)$/).at(-1)!;
      process.kill(writers[0]!, 'SIGKILL');
      const outcome = await pending;
      assert.match(outcome, /generation 2 not committed: .*image writer \d+ was killed by signal 9/);
      assert.equal(outcome.trim().split('\n').length, 1, `more than one line: ${outcome}`);
      assert.ok(!existsSync(join(job.dir, 'gen-000002')), 'a broken generation was committed');
      assert.equal(readlinkSync(join(job.dir, 'latest')), 'gen-000001');
      await p.waitFor(new RegExp(`^count ${running + 5}$`));   // the program never stopped for it
      await job.killTree(p);
      const r = job.restart();
      const first = Number((await r.waitFor(/^count (\d+)$/))[1]);
      assert.ok(first > savedAt - 50 && first <= running, `restored at count ${first}; generation 1 was at ${savedAt}`);
      await job.killTree(r);
    } finally {
      await job.cleanup();
    }
  });

  for (const kind of ['dontfork', 'wipeonfork'] as const) {
    it(`memory marked MADV_${kind.toUpperCase()} is saved with the process stopped (said in one line) and comes back right`, async () => {
      const job = new Job();
      try {
        const p = job.launch([join(programs, 'fork_unsafe'), kind], forked);
        await p.waitFor(/^tick 5$/);
        await job.checkpoint();
        const said = p.errLines.filter((l) => /checkpoint 1 saved with the process stopped: memory at [0-9a-f]+-[0-9a-f]+ is MADV_/.test(l));
        assert.equal(said.length, 1, `the fallback was not said once: ${p.errLines.join(' | ')}`);
        await job.killTree(p);
        const r = job.restart();
        const first = Number((await r.waitFor(/^tick (\d+)$/))[1]);
        await r.waitFor(new RegExp(`^tick ${first + 5}$`));
        noBroken(r.lines);
        await job.killTree(r);
      } finally {
        await job.cleanup();
      }
    });

    it(`memory marked MADV_${kind.toUpperCase()} by a raw system call: the writer finds it, the generation aborts with one line, the next checkpoints save that process stopped`, async () => {
      const job = new Job();
      try {
        const p = job.launch([join(programs, 'fork_unsafe'), kind, 'raw'], forked);
        await p.waitFor(/^tick 5$/);
        const first = await job.checkpoint().then(() => 'committed', (e: Error) => e.message.trim());
        assert.match(first, /generation 1 not committed: .*image writer \d+: memory at [0-9a-f]+-[0-9a-f]+ (is not in the process's copy \(MADV_DONTFORK\)|is MADV_WIPEONFORK); this process saves with the process stopped from now on/);
        assert.equal(first.split('\n').length, 1, `more than one line: ${first}`);
        const g = await job.checkpoint();
        assert.equal(g.generation, 2);
        assert.ok(p.errLines.some((l) => /checkpoint 2 saved with the process stopped: an earlier copy of it lacked memory/.test(l)), p.errLines.join(' | '));
        await job.killTree(p);
        const r = job.restart();
        const at = Number((await r.waitFor(/^tick (\d+)$/))[1]);
        await r.waitFor(new RegExp(`^tick ${at + 5}$`));
        noBroken(r.lines);
        await job.killTree(r);
      } finally {
        await job.cleanup();
      }
    });
  }
});
