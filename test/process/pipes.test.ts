// Pipes between processes of one tree: a parent reads numbered lines that
// its forked child writes into a pipe, with bytes in flight at every
// checkpoint; after checkpoint, kill and restart (twice) no line is lost,
// repeated or reordered, and EOF still comes when the writer ends.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { Job, numbers, programs, type Running, noBroken } from '../helpers/stasis.js';

describe('pipes between processes', function () {
  this.timeout(90000);

  it('a pipe from a forked child to its parent keeps every byte in flight across checkpoint, kill and restart, twice', async () => {
    const job = new Job();
    try {
      let p = job.launch([join(programs, 'pipeline')]);
      await p.waitFor(/^got 300$/, 20000);
      for (let round = 1; round <= 2; round++) {
        const g = await job.checkpoint();
        const manifest = JSON.parse(readFileSync(join(g.dir, 'manifest.json'), 'utf8'));
        assert.equal(manifest.processes.length, 2, 'reader and writer are in the generation');
        const records = readdirSync(g.dir).filter((f) => f.endsWith('.pipes'))
          .map((f) => readFileSync(join(g.dir, f), 'latin1').match(/^pipe \d+ \d+ (\d+)$/m));
        assert.equal(records.length, 2, 'both processes recorded the pipe');
        assert.ok(Number(records[0]![1]) > 0, 'bytes were in flight at the checkpoint');
        const last = numbers(p.lines, /^got (\d+)$/).at(-1)!;
        await job.killTree(p);
        const r = job.restart();
        await r.waitFor(new RegExp(`^got ${last + 300}$`), 30000);
        noBroken(r.lines);
        const first = numbers(r.lines, /^got (\d+)$/)[0]!;
        assert.ok(first <= last + 100 && first > last - 10000, `round ${round}: the reader resumed at ${first}, after ${last}`);
        p = r;
      }
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });

  it('EOF still comes after a restart: the reader sees every line, then the end', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'pipeline'), '20000']);
      await p.waitFor(/^got 1000$/, 20000);
      await job.checkpoint();
      await job.killTree(p);
      const r = job.restart();
      await r.waitFor(/^done 20000$/, 60000);
      noBroken(r.lines);
      assert.equal(await r.waitExit(20000), 0);
    } finally {
      await job.cleanup();
    }
  });
});
