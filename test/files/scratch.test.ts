// Files the job made and reads back (DESIGN, "Files the job writes"): a
// scratch file written, reopened read-only and deleted at the end. After the
// checkpoint the run that is later killed may delete or rewrite it (sort's
// temporary files), and a requeued job may restart where /tmp is empty; the
// restart must put it back as it was. An input the job did not make is not
// captured: if it is gone, the restart says which file.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { textLines } from '../real/harness.js';
import { execa } from 'execa';
import { Job, numbers, programs, repoRoot, type Running } from '../helpers/stasis.js';

const program = join(programs, 'scratch_reread');
const read = /^read (\d+)$/;

/** The last line of a run that nothing interrupted. */
const uninterrupted = async () => (await execa(program, ['/tmp'])).stdout.trim().split('\n').at(-1)!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readPast(r: Running, n: number): Promise<number> {
  while ((numbers(r.lines, read).at(-1) ?? 0) < n) await r.waitFor(read, 20000, r.lines.length);
  return numbers(r.lines, read).at(-1)!;
}

// Outside the scratch directories: only the launch time says the job made it.
const plainDir = () => mkdtempSync(join(repoRoot, 'native', 'build', 'scratch-test-'));

describe('files the job made and reads back', function () {
  this.timeout(120000);

  it('a scratch file in /tmp deleted, then rewritten, after the checkpoint: restarted twice, the run ends as an uninterrupted one', async () => {
    const expected = uninterrupted();
    const job = new Job();
    try {
      let p = job.launch([program, '/tmp']);
      const scratch = (await p.waitFor(/^scratch (.*)$/))[1]!;
      await readPast(p, 300);
      for (let round = 1; round <= 2; round++) {
        await job.checkpoint();
        const atCheckpoint = numbers(p.lines, read).at(-1)!;
        await readPast(p, atCheckpoint + 100);   // the killed run reads on
        if (round === 1) unlinkSync(scratch);   // as sort deletes its merged temporary files
        await job.killTree(p);
        // Rewritten behind the killed run's back (it would read the change).
        if (round === 2) writeFileSync(scratch, readFileSync(scratch, 'latin1').replace(/[0-9]/g, '7'));
        const r = job.restart();
        const first = (await r.waitFor(read))[1];
        assert.ok(Number(first) <= atCheckpoint + 50, `round ${round}: resumed at ${first}, the checkpoint was at ${atCheckpoint}`);
        p = r;
        await readPast(p, atCheckpoint + 400);
      }
      assert.equal(await p.waitExit(30000), 0, p.tail());
      assert.ok(!p.lines.some((l) => l.startsWith('BROKEN')), p.tail());
      assert.equal(p.lines.at(-1), await expected);
      assert.ok(!existsSync(scratch), 'the program deleted its scratch file at the end');
    } finally {
      await job.cleanup();
    }
  });

  it('a scratch file written and closed at the checkpoint, deleted after it: the restarted run reopens it and ends as an uninterrupted one', async () => {
    const expected = uninterrupted();
    const job = new Job();
    try {
      const p = job.launch([program, '/tmp']);
      const scratch = (await p.waitFor(/^closed (.*)$/))[1]!;
      await job.checkpoint();
      assert.ok(!p.lines.some((l) => l.startsWith('scratch ')), 'checkpointed while the file was closed');
      await p.waitFor(/^scratch /);
      unlinkSync(scratch);   // as the killed run would, once done with it
      await job.killTree(p);
      const r = job.restart();
      assert.equal(await r.waitExit(30000), 0, r.tail());
      assert.equal(r.lines.at(-1), await expected);
      assert.ok(!existsSync(scratch), 'the program deleted its scratch file at the end');
    } finally {
      await job.cleanup();
    }
  });

  it('sort -S 64K, checkpointed while merging: every temporary file gone after the checkpoint (a node whose /tmp is empty), the restart finishes the sort', async () => {
    const job = new Job();
    const tmp = mkdtempSync('/tmp/stasis-sort-tmp-');
    try {
      const input = join(job.dir, 'input.txt');
      writeFileSync(input, textLines(1000000, 7));
      const env = { TMPDIR: tmp, LC_ALL: 'C' };
      const want = (await execa('/usr/bin/sort', ['-S', '64K', input], { env: { ...env, TMPDIR: '/tmp' } })).stdout;
      const p = job.launch(['/usr/bin/sort', '-S', '64K', '-o', join(job.dir, 'sorted.txt'), input], { env });
      // Into the merge: hundreds of temporary files, some merged and deleted
      // already (their inode numbers given again to new ones).
      for (let most = 0, n = 0; n > most - 32 || most < 500; most = Math.max(most, n)) {
        if (p.exited) throw new Error(`sort ended first: ${p.tail()}`);
        await sleep(10);
        n = readdirSync(tmp).length;
      }
      await job.checkpoint();
      await job.killTree(p);
      for (const f of readdirSync(tmp)) unlinkSync(join(tmp, f));
      const r = job.restart();
      assert.equal(await r.waitExit(60000), 0, r.tail());
      assert.ok(readFileSync(join(job.dir, 'sorted.txt'), 'utf8') === `${want}\n`, 'sorted.txt is what an uninterrupted sort writes');
      assert.deepEqual(readdirSync(tmp), [], 'sort removed its temporary files');
    } finally {
      await job.cleanup();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a file the job made outside the scratch directories comes back when deleted after the checkpoint', async () => {
    const job = new Job();
    const dir = plainDir();
    try {
      const p = job.launch([program, dir]);
      const scratch = (await p.waitFor(/^scratch (.*)$/))[1]!;
      await readPast(p, 300);
      await job.checkpoint();
      unlinkSync(scratch);
      await job.killTree(p);
      const r = job.restart();
      assert.equal(await r.waitExit(30000), 0, r.tail());
      assert.match(r.lines.at(-1)!, /^done 3000 /);
      assert.ok(!r.lines.some((l) => l.startsWith('BROKEN')), r.tail());
    } finally {
      await job.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an input the job only reads is not captured: gone at restart, the restart names it', async () => {
    const job = new Job();
    const dir = plainDir();
    try {
      const input = join(dir, 'input');
      writeFileSync(input, Array.from({ length: 3000 }, (_, i) => `${String(i).padStart(8, '0')}-${String((i * 7919) % 1000000).padStart(6, '0')}\n`).join(''));
      await sleep(20);   // older than the launch
      const p = job.launch([program, '-i', input]);
      await readPast(p, 100);
      await job.checkpoint();
      unlinkSync(input);
      await job.killTree(p);
      const r = job.restart();
      assert.notEqual(await r.waitExit(30000), 0);
      assert.ok(r.errLines.some((l) => l.includes(input)), r.tail());
    } finally {
      await job.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
