// Incremental images and files (docs/incremental.md, "Files the job
// writes"): a file the program writes is captured at every checkpoint (its
// contents in the image); with --incremental its unchanged 8 MiB chunks are
// referenced, not written again, and an appended-to file stores only the
// chunk its new tail is in. Restart puts the file back as it was, from the
// newest generation alone, twice.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, programs, type Running } from '../helpers/stasis.js';

const outfile = join(programs, 'outfile');
const MiB = 1 << 20;

async function signal(job: Job, p: Running, sig: 'SIGUSR1' | 'SIGUSR2', re: RegExp): Promise<string> {
  const [pid] = await job.kernelPids();
  const from = p.lines.length;
  process.kill(pid!, sig);
  return (await p.waitFor(re, 20000, from))[0]!;
}

/** Until the restored process is one of the job's (its kernel pid known). */
async function joined(job: Job): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await job.kernelPids().catch(() => [])).length === 1) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the restored process did not join its coordinator');
}

describe('incremental images: files the job writes', function () {
  this.timeout(180000);

  for (const mode of ['stopped', 'forked'] as const) {
    it(`${mode}: an unchanged 40 MiB output file is referenced, an append stores its tail, restart (twice) puts the file back`, async () => {
      const job = new Job();
      const dir = mkdtempSync(join(tmpdir(), 'stasis-outfile-'));
      const out = join(dir, 'out.bin');
      try {
        const p = job.launch([outfile, out, '40'], { flags: ['--incremental', ...(mode === 'forked' ? ['--forked'] : [])] });
        await p.waitFor(/^ready 40$/);
        const first = await job.checkpoint();
        assert.ok(first.bytes > 40 * MiB, `the first image holds the file: ${first.bytes} bytes`);
        const second = await job.checkpoint();
        assert.ok(second.bytes < 4 * MiB, `unchanged file: ${second.bytes} bytes written (full: ${first.bytes})`);
        await signal(job, p, 'SIGUSR1', /^appended 41$/);
        const third = await job.checkpoint();
        // The 1 MiB tail lies in the window [40, 48) MiB of the copy: that window only.
        assert.ok(third.bytes < 12 * MiB, `appended 1 MiB: ${third.bytes} bytes written`);
        await job.killTree(p);

        // The run after the checkpoint wrote on, then the file is damaged and cut.
        appendFileSync(out, Buffer.alloc(3 * MiB, 7));
        rmSync(first.dir, { recursive: true });
        rmSync(second.dir, { recursive: true });
        for (let round = 0; round < 2; round++) {
          const q = job.restart(third.dir);
          await joined(job);
          assert.equal(await signal(job, q, 'SIGUSR2', /^file (ok|bad).*$/), 'file ok 41', q.tail());
          assert.equal(statSync(out).size, 41 * MiB);
          // And it goes on writing as an uninterrupted run would.
          await signal(job, q, 'SIGUSR1', /^appended 42$/);
          assert.equal(await signal(job, q, 'SIGUSR2', /^file (ok|bad).*$/), 'file ok 42', q.tail());
          await job.killTree(q);
          appendFileSync(out, Buffer.alloc(MiB, 9));
        }
      } finally {
        await job.cleanup();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
