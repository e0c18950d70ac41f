// Kernel objects held by one process, one self-checking program per kind
// (test/programs/): launched under stasis, checkpointed, killed with SIGKILL
// and restarted — twice — each must prove by its own output that its
// descriptors work as before (data once and in order, timers firing, the
// same readiness). And a descriptor stasis cannot save yet fails the
// checkpoint with a message naming it, while the program runs on.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Job, Running, numbers, programs, noBroken } from '../helpers/stasis.js';
import { checkpointKillRestart } from '../helpers/cycle.js';

interface Case {
  name: string;
  argv: string[];
  progress: RegExp;          // first group: a number that grows by 1 each line
  minLines?: number;         // progress lines to see after each restart (default 5)
  check?: (lines: string[]) => void;
  cleanup?: () => void;
}

const scratch = (name: string) => join(tmpdir(), `stasis-fdk-${process.pid}-${name}`);

const cases: Case[] = [
  {
    name: 'pipes and a FIFO with bytes in them: self-pipe, thread to thread, dup\'d end, flags, capacity',
    argv: [join(programs, 'pipe_self'), scratch('fifo')], progress: /^tick (\d+) /,
    cleanup: () => rmSync(scratch('fifo'), { force: true }),
  },
  {
    name: 'eventfds: a semaphore with a backlog, a counter read every 5th tick, a thread blocked in read()',
    argv: [join(programs, 'eventfd')], progress: /^tick (\d+) /,
  },
  {
    name: 'timerfds: periodic, time left, wall-clock deadline, expired and unread',
    argv: [join(programs, 'timerfd')], progress: /^tick (\d+) /,
  },
  {
    name: 'epoll: level, edge-triggered and one-shot interests with their data; a thread in epoll_wait; nested in an epoll of a lower number',
    argv: [join(programs, 'epoll')], progress: /^tick (\d+) /,
  },
  {
    name: 'memfds: contents, seals, name, offset, a second read-only description, O_APPEND',
    argv: [join(programs, 'memfd')], progress: /^tick (\d+)$/,
  },
  {
    name: 'files deleted while open: contents, offsets, O_APPEND log, mode, two descriptions of one file',
    argv: [join(programs, 'deleted_file'), tmpdir()], progress: /^tick (\d+)$/,
  },
  {
    name: 'signalfds: masks, flags, a thread blocked in read(), a signal left pending across the restart',
    argv: [join(programs, 'signalfd')], progress: /^tick (\d+) /,
  },
  {
    name: 'inotify: watches re-added by path with the same numbers (a gap included); events as before',
    argv: [join(programs, 'inotify'), scratch('inotify')], progress: /^tick (\d+) /,
    cleanup: () => rmSync(scratch('inotify'), { recursive: true, force: true }),
  },
];

/** One round (test/helpers/cycle.ts), then this case's own checks. */
async function round(job: Job, p: Running, c: Case, generation: number): Promise<Running> {
  const r = await checkpointKillRestart(job, p, c, generation, 0);
  c.check?.(r.lines);
  return r;
}

describe('descriptor kinds: checkpoint, SIGKILL, restart — twice', function () {
  this.timeout(120000);
  for (const c of cases) {
    it(c.name, async () => {
      const job = new Job();
      try {
        const p = job.launch(c.argv);
        const r1 = await round(job, p, c, 1);
        const r2 = await round(job, r1, c, 2);
        await r2.kill9();
        noBroken(r2.lines);
      } finally {
        await job.cleanup();
        c.cleanup?.();
      }
    });
  }
});

describe('descriptor kinds not supported yet', function () {
  this.timeout(60000);
  const unsupported = [
    { mode: 'pipe', message: /process (\d+) \(unsupported\).*fd (\d+) \(pipe:\[\d+\]\) is the read end of a pipe that process \d+ \(sleep\), which is not in the job, holds too/ },
    { mode: 'io_uring', message: /process (\d+) \(unsupported\).*fd (\d+) \(anon_inode:\[io_uring\]\) is \[io_uring\]: not supported yet/ },
  ];
  for (const u of unsupported) {
    it(`${u.mode}: the checkpoint fails naming the process and the descriptor; the program runs on; nothing is committed`, async function () {
      const job = new Job();
      let outsider: number | null = null;   // the pipe's other holder, not our child: ended by pid
      try {
        const p = job.launch([join(programs, 'unsupported'), u.mode]);
        const held = await p.waitFor(/^holding fd (\d+)|^no io_uring/);
        outsider = Number(/a pipe to process (\d+)/.exec(held.input ?? '')?.[1] ?? 0) || null;
        if (held[0].startsWith('no io_uring')) this.skip();
        await p.waitFor(/^tick 2$/);
        const err = await job.checkpoint().then(() => null, (e: Error) => e.message);
        assert.ok(err, 'the checkpoint succeeded');
        const m = err.match(u.message);
        assert.ok(m, `unexpected message: ${err}`);
        assert.equal(Number(m[1]), p.pid, 'the message names another process');
        assert.equal(m[2], held[1], 'the message names another descriptor');
        const seen = numbers(p.lines, /^tick (\d+)$/).at(-1)!;
        await p.waitFor(new RegExp(`^tick ${seen + 3}$`));
        assert.ok(!p.exited);
        assert.ok(!existsSync(join(job.dir, 'gen-000001')), 'a generation was committed');
        assert.ok(!existsSync(join(job.dir, 'latest')));
        assert.deepEqual(readdirSync(job.dir).filter((f) => f.includes('gen-')), []);
      } finally {
        if (outsider) process.kill(outsider, 'SIGKILL');
        await job.cleanup();
      }
    });
  }

  it('a process traced by another (ptrace): the checkpoint fails naming the tracer; the program runs on; nothing is committed', async () => {
    const job = new Job();
    let tracer: ReturnType<typeof execa> | null = null;
    try {
      const p = job.launch([join(programs, 'unsupported'), 'none']);
      await p.waitFor(/^tick 2$/);
      tracer = execa(join(programs, 'tracer'), [String(p.pid)], { reject: false, buffer: false });
      await new Promise<void>((res, rej) => {
        tracer!.stdout!.on('data', (c: Buffer) => { if (c.toString().includes('tracing')) res(); });
        void tracer!.then((r) => rej(new Error(`tracer ended: ${String(r.exitCode)}`)));
      });
      const err = await job.checkpoint().then(() => null, (e: Error) => e.message);
      assert.ok(err, 'the checkpoint succeeded');
      assert.match(err, new RegExp(`process ${p.pid} \\(unsupported\\).*traced \\(ptrace\\) by process ${tracer.pid} \\(tracer\\)`));
      const seen = numbers(p.lines, /^tick (\d+)$/).at(-1)!;
      await p.waitFor(new RegExp(`^tick ${seen + 3}$`));
      assert.ok(!existsSync(join(job.dir, 'latest')), 'a generation was committed');
      tracer.kill('SIGKILL');
      await tracer;
      tracer = null;
      await job.checkpoint();   // untraced again: it works
    } finally {
      tracer?.kill('SIGKILL');
      await job.cleanup();
    }
  });
});
