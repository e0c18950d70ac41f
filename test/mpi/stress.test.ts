// MPI on one host, harder: 8 ranks on 2 CPUs with checkpoints at random
// moments (several in one run, then all killed and restarted from the
// last), checkpoints every 0.5-2 s while the job runs on, and `stasis run -- mpirun ...` stopped by SIGTERM and resumed by
// the same command; each under Open MPI and MPICH, each finishing with the
// checksum of an uninterrupted run.
import assert from 'node:assert/strict';
import { Job, numbers, type Running } from '../helpers/stasis.js';
import { built, mpiImpls, progress, uninterruptedDone } from '../helpers/mpi.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const impl of mpiImpls) {
  describe(`MPI stress on one host: ${impl.name}`, function () {
    this.timeout(600000);
    before(function () {
      if (!built(impl)) { console.log(`    skipped: ${impl.program} was not built`); this.skip(); }
    });

    it('8 ranks oversubscribed, 3 checkpoints at random moments, all killed, restarted from the last: the uninterrupted checksum', async () => {
      // Long enough for 3 checkpoints up to 1.5 s apart: Open MPI's 8 ranks are much faster than MPICH's (UCX polls).
      const argv = [...impl.launcher(8), impl.program, impl.name.startsWith('Open MPI') ? '500' : '150'];
      const done = await uninterruptedDone(argv, impl.env);
      const job = new Job();
      try {
        let p: Running = job.launch(argv, { env: impl.env });
        await p.waitFor(progress, 120000);
        for (let gen = 1; gen <= 3; gen++) {
          await sleep(Math.random() * 1500);
          const ck = await job.checkpoint().catch((e: Error) => { throw new Error(`checkpoint ${gen}: ${e.message}; job: ${p.tail()}`); });
          assert.equal(ck.generation, gen);
        }
        const at = numbers(p.lines, progress).at(-1)!;
        await job.killTree(p);
        p = job.restart();
        const next = Number((await p.waitFor(progress, 120000))[1]);
        assert.ok(next >= at, `the restart printed step ${next}, before the checkpoint's ${at}`);
        assert.equal(await p.waitExit(300000), 0, p.tail());
        assert.equal(p.lines.find((l) => l.startsWith('done ')), done, p.tail());
      } finally {
        await job.cleanup();
      }
    });

    // Not back to back: a checkpoint right after the last one's resume leaves
    // the ranks no time to exchange anything (hundreds of generations, no step).
    it('4 ranks checkpointed every 0.5-2 s while they run, never killed: every checkpoint commits, the uninterrupted checksum', async () => {
      const argv = [...impl.launcher(4), impl.program, '300'];
      const done = await uninterruptedDone(argv, impl.env);
      const job = new Job();
      try {
        const p = job.launch(argv, { env: impl.env, flags: ['--keep', '2'] });
        await p.waitFor(progress, 120000);
        let committed = 0;
        const finished = () => p.exited || p.lines.some((l) => l.startsWith('done '));
        while (!finished()) {
          await sleep(500 + Math.random() * 1500);
          if (finished()) break;
          try { await job.checkpoint(); committed++; } catch (e) {
            // The job may have ended while the checkpoint was asked for (its coordinator with it).
            await p.waitExit(10000).catch(() => undefined);
            if (!finished()) throw new Error(`checkpoint ${committed + 1}: ${(e as Error).message}; job: ${p.tail()}`);
          }
        }
        assert.equal(await p.waitExit(300000), 0, p.tail());
        assert.ok(committed >= 2, `only ${committed} checkpoints committed`);
        assert.equal(p.lines.find((l) => l.startsWith('done ')), done, p.tail());
      } finally {
        await job.cleanup();
      }
    });

    it('stasis run -- mpirun: SIGTERM checkpoints and stops, the same command resumes: the uninterrupted checksum', async () => {
      const argv = [...impl.launcher(4), impl.program, '300'];
      const done = await uninterruptedDone(argv, impl.env);
      const env = { ...impl.env, STASIS_RM: 'local' };
      const job = new Job('stasis-run-mpi-');
      try {
        const first = job.run(argv, { env });
        await first.waitFor(/^step 40 /, 120000);
        process.kill(first.pid, 'SIGTERM');
        assert.equal(await first.waitExit(60000), 143, first.tail());
        assert.match(first.errLines.find((l) => l.startsWith('stasis: ')) ?? '', /^stasis: SIGTERM: checkpointed gen-000001 into .*; stopped/);
        assert.equal(first.lines.find((l) => l.startsWith('done ')), undefined);
        const again = job.run(argv, { env });
        assert.equal(await again.waitExit(300000), 0, again.tail());
        assert.equal(again.lines.find((l) => l.startsWith('done ')), done, again.tail());
      } finally {
        await job.cleanup();
      }
    });
  });
}
