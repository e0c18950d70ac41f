// `--compress` (launch and run; STASIS_COMPRESS): each choice writes the
// records it names — zstd frames, lz4 blocks, or none — keeps incompressible
// runs raw, and restores the program's memory exactly (bigmem verifies its
// whole buffer against the checksum it took at start, every 100 ms).
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { Job, programs } from '../helpers/stasis.js';

const bigmem = join(programs, 'bigmem');
const verified = /^verified \d+ ([0-9a-f]{16})$/;

interface Totals { compressedRecords: number; lz4Records: number; savedBytes: number; storedBytes: number }

const modes: Array<{ flag: string; check: (t: Totals) => void }> = [
  { flag: 'zstd', check: (t) => { assert.ok(t.compressedRecords > 0); assert.equal(t.lz4Records, 0); } },
  { flag: 'zstd:9', check: (t) => { assert.ok(t.compressedRecords > 0); assert.equal(t.lz4Records, 0); } },
  { flag: 'lz4', check: (t) => { assert.ok(t.lz4Records > 0); assert.equal(t.lz4Records, t.compressedRecords); } },
  { flag: 'lz4:8', check: (t) => { assert.ok(t.lz4Records > 0); assert.equal(t.lz4Records, t.compressedRecords); } },
  { flag: 'none', check: (t) => { assert.equal(t.compressedRecords, 0); assert.equal(t.storedBytes, t.savedBytes); } },
];

describe('--compress', function () {
  this.timeout(120000);
  for (const { flag, check } of modes) {
    it(`${flag}: the image holds what it names, random pages stay raw, and the restored memory verifies`, async () => {
      const job = new Job();
      try {
        const p = job.launch([bigmem, '48'], { flags: ['--compress', flag] });
        const sum = (await p.waitFor(/^ready 48 MiB ([0-9a-f]{16})$/))[1];
        await p.waitFor(verified);
        await job.checkpoint();
        const r = await job.cli(['inspect', job.dir, '--json']);
        assert.equal(r.exitCode, 0, r.stderr);
        const totals = JSON.parse(r.stdout).processes[0].detail.totals as Totals;
        check(totals);
        // The random quarter (12 MiB) does not shrink: stored raw, whatever the choice.
        assert.ok(totals.storedBytes > 12 << 20, `stored ${totals.storedBytes} bytes`);
        if (flag !== 'none') assert.ok(totals.storedBytes < 24 << 20, `the pattern was not compressed: ${totals.storedBytes} bytes`);
        await p.kill9();
        const q = job.restart();
        assert.equal((await q.waitFor(verified))[1], sum, q.tail());
        // A restarted job keeps its compression (settings.json), so a second generation is alike.
        await job.checkpoint();
        const again = JSON.parse((await job.cli(['inspect', job.dir, '--json'])).stdout).processes[0].detail.totals as Totals;
        check(again);
      } finally {
        await job.cleanup();
      }
    });
  }

  it('none: raw pages go to the disk around the page cache, and the program restores from what the disk holds', async function () {
    const job = new Job();
    try {
      const p = job.launch([bigmem, '64'], { flags: ['--compress', 'none'] });
      const sum = (await p.waitFor(/^ready 64 MiB ([0-9a-f]{16})$/))[1];
      await p.waitFor(verified);
      const { dir } = await job.checkpoint();
      await p.kill9();
      const image = readdirSync(dir).find((f) => f.endsWith('.img'))!;
      const path = join(dir, image);
      const fs = (await execa('stat', ['-f', '-c', '%T', dir])).stdout.trim();
      if (fs === 'tmpfs') {
        console.log(`    (${dir} is on tmpfs, where the page cache is the file: residency not checked)`);
      } else {
        // O_DIRECT: of the image, only the record headers' pages went through the cache.
        const resident = Number((await execa('fincore', ['--bytes', '--noheadings', '--output', 'RES', path])).stdout.trim());
        const size = statSync(path).size;
        assert.ok(resident < size / 4, `${resident} of ${size} bytes of the image are in the page cache`);
      }
      // What is cached of it is dropped: the restart reads the disk.
      await execa('dd', [`if=${path}`, 'iflag=nocache', 'count=0']);
      const q = job.restart();
      assert.equal((await q.waitFor(verified))[1], sum, q.tail());
    } finally {
      await job.cleanup();
    }
  });

  it('a choice it does not know is one line and exit status 2, from the flag and from STASIS_COMPRESS', async () => {
    const job = new Job();
    try {
      for (const [flags, env, named] of [
        [['--compress', 'lz5'], {}, "--compress 'lz5'"],
        [['--compress', 'zstd:40'], {}, "--compress 'zstd:40'"],
        [[], { STASIS_COMPRESS: 'gzip' }, "STASIS_COMPRESS 'gzip'"],
      ] as Array<[string[], Record<string, string>, string]>) {
        const r = await job.cli(['launch', '--ckpt-dir', job.dir, ...flags, '--', '/bin/true'], env);
        assert.equal(r.exitCode, 2, r.stderr);
        const lines = r.stderr.trim().split('\n');
        assert.equal(lines.length, 1, r.stderr);
        assert.ok(lines[0]!.includes(named), r.stderr);
      }
      // Joining a running coordinator (the C fast path, docs/cli.md): the same line; a good choice stays on the fast path.
      const p = job.launch([join(programs, 'counter')]);
      await p.waitFor(/^count 1$/);
      const bad = await job.cli(['launch', '--ckpt-dir', job.dir, '--', '/bin/true'], { STASIS_COMPRESS: 'gzip' });
      assert.equal(bad.exitCode, 2, bad.stderr);
      assert.match(bad.stderr.trim(), /^stasis: STASIS_COMPRESS 'gzip': want /);
      const good = await job.cli(['launch', '--ckpt-dir', job.dir, '--', '/bin/true'], { STASIS_COMPRESS: 'lz4:4', STASIS_FRONT: 'require' });
      assert.equal(good.exitCode, 0, good.stderr);
      const run = await job.cli(['run', '--ckpt-dir', job.dir, '--compress', 'fast', '--', '/bin/true']);
      assert.equal(run.exitCode, 2, run.stderr);
      assert.match(run.stderr.trim(), /^stasis: .*--compress 'fast'/);
    } finally {
      await job.cleanup();
    }
  });
});
