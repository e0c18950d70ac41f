// A database the program writes in place: after the checkpoint it writes
// on, then is killed. The restored process's page cache and counters
// describe the file as it was at the checkpoint, so restart must put the
// file back (DESIGN, "Files the job writes") — else sqlite reads a database
// that moved on without it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Job, numbers, repoRoot, type Running } from '../helpers/stasis.js';

const progress = /^rows (\d+)$/;
const script = join(repoRoot, 'test', 'programs', 'sqlite_loop.py');

function sql(db: string, query: string): string {
  return execFileSync('python3', ['-c', 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])', db, query],
    { encoding: 'utf8' }).trim();
}

async function rows(r: Running, atLeast: number): Promise<number> {
  while ((numbers(r.lines, progress).at(-1) ?? 0) < atLeast) await r.waitFor(progress, 20000, r.lines.length);
  return numbers(r.lines, progress).at(-1)!;
}

describe('files the job writes', function () {
  this.timeout(90000);

  it('sqlite3 in a transaction loop survives C/R twice with an intact database', async () => {
    const job = new Job();
    const db = join(job.dir, 'work.db');
    try {
      let p = job.launch(['/usr/bin/python3', script, db]);
      await rows(p, 200);
      for (let round = 1; round <= 2; round++) {
        await job.checkpoint();
        const atCheckpoint = numbers(p.lines, progress).at(-1)!;
        await rows(p, atCheckpoint + 200);   // the file moves on past the checkpoint
        await p.kill9();
        const r = job.restart();
        await rows(r, atCheckpoint + 200);
        assert.ok(!r.lines.some((l) => l.startsWith('BROKEN')), r.lines.find((l) => l.startsWith('BROKEN')));
        const first = numbers(r.lines, progress)[0]!;
        assert.ok(first <= atCheckpoint + 40, `round ${round}: resumed at ${first}, the checkpoint was at ${atCheckpoint}`);
        p = r;
      }
      await p.kill9();
      assert.equal(sql(db, 'PRAGMA integrity_check'), 'ok');
      const last = numbers(p.lines, progress).at(-1)!;
      const count = Number(sql(db, 'SELECT COUNT(*) FROM t'));
      assert.ok(count >= last && count <= last + 20, `${count} rows in the file, the program had written ${last}`);
    } finally {
      await job.cleanup();
    }
  });
});
