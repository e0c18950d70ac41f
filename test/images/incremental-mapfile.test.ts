// Incremental images and private file mappings (docs/incremental.md,
// "Mapped files"): with --incremental a 64 MiB data file mmap'd MAP_PRIVATE
// is not stored in the image: the image names it (size, times, XXH3-128 of
// its bytes) and holds only the page the process changed; restart maps the
// file again, and refuses in one line when the file is gone or differs.
import assert from 'node:assert/strict';
import { closeSync, copyFileSync, mkdtempSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, programs, type Running } from '../helpers/stasis.js';

const mapfile = join(programs, 'mapfile');
const MiB = 1 << 20;

async function totals(job: Job, target: string): Promise<Record<string, number>> {
  const r = await job.cli(['inspect', target, '--json']);
  assert.equal(r.exitCode, 0, r.stderr);
  return JSON.parse(r.stdout).processes[0].detail.totals;
}

describe('incremental images: private file mappings', function () {
  this.timeout(180000);
  let dir: string;
  let data: string;
  before(() => {
    // Made before the job starts: an input, not a file the job writes.
    dir = mkdtempSync(join(tmpdir(), 'stasis-mapfile-'));
    data = join(dir, 'input.bin');
    writeFileSync(data, randomBytes(64 * MiB));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const mode of ['stopped', 'forked'] as const) {
    it(`${mode}: the image does not hold the file's bytes, only the changed page; restart maps the file again`, async () => {
      const job = new Job();
      try {
        const p: Running = job.launch([mapfile, data, 'w'], { flags: ['--incremental', ...(mode === 'forked' ? ['--forked'] : [])] });
        const sum = (await p.waitFor(/^ready ([0-9a-f]{16})$/))[1]!;
        const first = await job.checkpoint();
        assert.ok(first.bytes < 16 * MiB, `a 64 MiB mapped file is not in the image: ${first.bytes} bytes`);
        const t = await totals(job, first.dir);
        assert.ok(t.fileMappedBytes! >= 64 * MiB, JSON.stringify(t));
        const shown = await job.cli(['inspect', first.dir]);
        assert.match(shown.stdout, /64\.0 MiB mapped again from .*input\.bin at restart, not stored/);
        await job.killTree(p);
        for (let round = 0; round < 2; round++) {
          const q = job.restart(first.dir);
          const from = q.lines.length;
          assert.equal((await q.waitFor(/^verified \d+ ([0-9a-f]{16})$/, 30000, from))[1], sum, q.tail());
          await job.killTree(q);
        }
        // A copy of the file (another inode, new times, the same bytes) will do.
        copyFileSync(data, `${data}.copy`);
        renameSync(`${data}.copy`, data);
        const q = job.restart(first.dir);
        assert.equal((await q.waitFor(/^verified \d+ ([0-9a-f]{16})$/, 30000))[1], sum, q.tail());
        await job.killTree(q);
      } finally {
        await job.cleanup();
      }
    });
  }

  it('a changed or removed file: restart refuses in one line naming it', async () => {
    const job = new Job();
    try {
      const p = job.launch([mapfile, data], { flags: ['--incremental'] });
      await p.waitFor(/^verified 1 /);
      const first = await job.checkpoint();
      await job.killTree(p);
      // One byte in the middle, same size.
      const fd = openSync(data, 'r+');
      writeSync(fd, Buffer.from([0x5a]), 0, 1, 32 * MiB);
      closeSync(fd);
      let r = await job.cli(['restart', first.dir]);
      assert.notEqual(r.exitCode, 0);
      let lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, new RegExp(`${data.replace(/[.]/g, '\\.')} changed since the checkpoint \\(other contents\\)`));
      rmSync(data);
      r = await job.cli(['restart', first.dir]);
      assert.notEqual(r.exitCode, 0);
      lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /input\.bin: No such file or directory \(the image maps it again/);
    } finally {
      await job.cleanup();
      writeFileSync(data, randomBytes(64 * MiB));
    }
  });

  it('without --incremental the image holds the file (the default keeps a restart independent of the file)', async () => {
    const job = new Job();
    try {
      const p = job.launch([mapfile, data]);
      await p.waitFor(/^verified 1 /);
      const first = await job.checkpoint();
      assert.ok(first.bytes > 64 * MiB, `${first.bytes} bytes`);
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });
});
