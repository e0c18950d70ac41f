// `stasis restart --path-map OLD=NEW`: a program with a file open and
// mapped shared, an append-only log, a FIFO with bytes in it and its
// working directory in dir A is
// checkpointed and killed; A is renamed B. A restart without the map fails
// naming the missing file; with --path-map A=B the program goes on as if
// nothing moved. Then once more: B renamed C, --path-map B=C.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, readFileSync, renameSync } from 'node:fs';
import { Job, numbers, programs, noBroken } from '../helpers/stasis.js';

describe('restart --path-map', function () {
  this.timeout(120000);

  it('files, a shared mapping, a log, a FIFO and the working directory moved from A to B (then C) are found there', async () => {
    const job = new Job();
    const dirs = ['A', 'B', 'C'].map((d) => join(job.dir, 'files', d));
    try {
      mkdirSync(dirs[0]!, { recursive: true });
      let p = job.launch([join(programs, 'moved_files'), dirs[0]!]);
      await p.waitFor(/^tick 5 ok$/, 20000);
      for (let round = 1; round <= 2; round++) {
        const [from, to] = [dirs[round - 1]!, dirs[round]!];
        await job.checkpoint();
        const last = numbers(p.lines, /^tick (\d+) ok$/).at(-1)!;
        await job.killTree(p);
        renameSync(from, to);

        const lost = job.restart();
        assert.notEqual(await lost.waitExit(30000), 0, 'a restart that cannot find the files fails');
        // The first path the loader misses: the FIFO, or the mapped data file.
        const why = lost.errLines.find((l) => /\/(fifo|data): No such file/.test(l) && l.includes(`${from}/`));
        assert.ok(why, `stderr names the missing file: ${lost.errLines.join(' | ')}`);
        assert.equal(lost.lines.length, 0, 'the program did not run on');

        p = job.restart(undefined, { flags: ['--path-map', `${from}=${to}`] });
        await p.waitFor(new RegExp(`^tick ${last + 5} ok$`), 30000);
        noBroken(p.lines);
        const ticks = numbers(p.lines, /^tick (\d+) ok$/);
        assert.ok(ticks[0]! <= last + 1, `round ${round}: resumed at tick ${ticks[0]}, checkpoint after ${last}`);
        // The log was cut back to the checkpoint and written on in its new place: every tick once, in order.
        const log = numbers(readFileSync(join(to, 'log'), 'utf8').trimEnd().split('\n'), /^tick (\d+)$/);
        assert.deepEqual(log, log.map((_, i) => i + 1));
      }
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });

  it('bad --path-map specs are one-line errors with a nonzero exit', async () => {
    const job = new Job();
    try {
      for (const [spec, why] of [['nomap', "no '='"], ['=/b', 'OLD is empty'], ['rel=/b', 'absolute'], ['/a=rel', 'absolute']]) {
        const r = await job.cli(['restart', '--path-map', spec!, job.dir]);
        assert.notEqual(r.exitCode, 0, spec);
        const lines = r.stderr.trim().split('\n');
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0]!, new RegExp(`--path-map '${spec}'.*${why}`));
      }
    } finally {
      await job.cleanup();
    }
  });
});
