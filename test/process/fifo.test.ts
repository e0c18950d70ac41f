// A FIFO shared by three processes of one tree (two writers, one reader):
// after checkpoint, kill and restart (twice) it is again one FIFO at its
// path, the bytes in flight arrive exactly once and in order, and EOF still
// comes when both writers close. The IMAGE.pipes side files are in the
// manifest with a checksum, and a damaged one stops the restart.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Job, numbers, programs, noBroken } from '../helpers/stasis.js';

interface SideFile { name: string; bytes: number; checksum: string }
/** The .pipes side files of a generation. */
function sideFiles(genDir: string): SideFile[] {
  const manifest = JSON.parse(readFileSync(join(genDir, 'manifest.json'), 'utf8'));
  return (manifest.processes as Array<{ files?: SideFile[] }>).flatMap((p) => p.files ?? [])
    .filter((f) => f.name.endsWith('.pipes'));
}

describe('FIFOs shared between processes', function () {
  this.timeout(120000);

  it('two writers and a reader keep every byte in flight across checkpoint, kill and restart, twice', async () => {
    const job = new Job();
    const fifo = join(job.dir, 'lines.fifo');
    try {
      let p = job.launch([join(programs, 'fifo_shared'), fifo]);
      await p.waitFor(/^got 300$/, 20000);
      for (let round = 1; round <= 2; round++) {
        const g = await job.checkpoint();
        const files = sideFiles(g.dir);
        assert.equal(files.length, 3, 'the reader and both writers wrote a .pipes file');
        let inFlight = 0;
        for (const f of files) {
          assert.match(f.name, /\.img\.pipes$/);
          assert.equal(statSync(join(g.dir, f.name)).size, f.bytes);
          const text = readFileSync(join(g.dir, f.name), 'latin1');
          const rec = text.match(/^fifo \d+ \d+ \d+ (\d+) (\d+)\n/);
          assert.ok(rec, `a FIFO record in ${f.name}`);
          assert.equal(text.substr(rec[0].length, Number(rec[2])), fifo);
          assert.ok(text.endsWith(`end ${f.checksum}\n`), 'the file ends with its checksum');
          inFlight = Math.max(inFlight, Number(rec[1]));
        }
        assert.ok(inFlight > 0, 'bytes were in flight at the checkpoint');
        const last = numbers(p.lines, /^got (\d+)$/).at(-1)!;
        await job.killTree(p);
        const r = job.restart();
        await r.waitFor(new RegExp(`^got ${last + 300}$`), 30000);
        noBroken(r.lines);
        const first = numbers(r.lines, /^got (\d+)$/)[0]!;
        assert.ok(first <= last + 100 && first > last - 20000, `round ${round}: the reader resumed at ${first}, after ${last}`);
        assert.ok(statSync(fifo).isFIFO(), 'the FIFO is still at its path');
        p = r;
      }
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });

  it('a FIFO whose directory is gone at the restart (another host: a launcher\'s session dir in its /tmp) is made again there, every byte once', async () => {
    const job = new Job();
    const session = join(job.dir, 'session');
    const fifo = join(session, 'pid.1', 'lines.fifo');
    try {
      mkdirSync(dirname(fifo), { recursive: true });
      const p = job.launch([join(programs, 'fifo_shared'), fifo]);
      await p.waitFor(/^got 300$/, 20000);
      await job.checkpoint();
      const last = numbers(p.lines, /^got (\d+)$/).at(-1)!;
      await job.killTree(p);
      rmSync(session, { recursive: true });
      const r = job.restart();
      await r.waitFor(new RegExp(`^got ${last + 300}$`), 30000);
      noBroken(r.lines);
      assert.ok(statSync(fifo).isFIFO(), 'the FIFO is at its path again');
      assert.equal(statSync(dirname(fifo)).mode & 0o777, 0o700);
      await job.killTree(r);
    } finally {
      await job.cleanup();
    }
  });

  it('EOF still comes after a restart: every line of both writers, then the end', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'fifo_shared'), join(job.dir, 'eof.fifo'), '20000']);
      await p.waitFor(/^got 1000$/, 20000);
      await job.checkpoint();
      await job.killTree(p);
      const r = job.restart();
      await r.waitFor(/^done 20000 20000$/, 60000);
      noBroken(r.lines);
      assert.equal(await r.waitExit(20000), 0);
    } finally {
      await job.cleanup();
    }
  });

  it('a FIFO whose name was removed while open comes back as one FIFO (with no name), twice', async () => {
    const job = new Job();
    const fifo = join(job.dir, 'gone.fifo');
    try {
      let p = job.launch([join(programs, 'fifo_shared'), fifo, '0', 'unlink']);
      await p.waitFor(/^unlinked$/, 20000);
      await p.waitFor(/^got 300$/, 20000);
      for (let round = 1; round <= 2; round++) {
        const g = await job.checkpoint();
        const text = readFileSync(join(g.dir, sideFiles(g.dir)[0]!.name), 'latin1');
        assert.ok(text.includes(`${fifo} (deleted)`), 'the record names the deleted FIFO');
        const last = numbers(p.lines, /^got (\d+)$/).at(-1)!;
        await job.killTree(p);
        const r = job.restart();
        await r.waitFor(new RegExp(`^got ${last + 300}$`), 30000);
        noBroken(r.lines);
        assert.ok(!existsSync(fifo), 'no name was left behind');
        p = r;
      }
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });

  it('a damaged .pipes file stops the restart with one line naming it', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'fifo_shared'), join(job.dir, 'bad.fifo')]);
      await p.waitFor(/^got 300$/, 20000);
      const g = await job.checkpoint();
      await job.killTree(p);
      const f = join(g.dir, sideFiles(g.dir)[0]!.name);
      const fine = await job.cli(['inspect', g.dir]);
      assert.equal(fine.exitCode, 0, fine.stderr);
      assert.match(fine.stdout, /file \S+\.img\.pipes: .*crc32c:/);
      const bytes = readFileSync(f);
      bytes[4] = bytes[4]! ^ 0x01;   // inside the first record's header
      writeFileSync(f, bytes);
      const damaged = await job.cli(['inspect', g.dir]);
      assert.notEqual(damaged.exitCode, 0);
      assert.ok(damaged.stderr.includes(`${f}: corrupt`), damaged.stderr);
      // Inspecting the image alone checks the side files its manifest entry lists.
      const alone = await job.cli(['inspect', f.replace(/\.pipes$/, '')]);
      assert.notEqual(alone.exitCode, 0);
      assert.ok(alone.stderr.includes(`${f}: corrupt`), alone.stderr);
      const r = job.restart();
      const code = await r.waitExit(30000);
      assert.notEqual(code, 0);
      const line = r.errLines.find((l) => l.includes('.pipes'));
      assert.ok(line && /corrupt/.test(line), `stderr names the damaged file: ${r.errLines.join(' | ')}`);
    } finally {
      await job.cleanup();
    }
  });

  it('a FIFO that a process outside the job holds too refuses the checkpoint, naming it', async () => {
    const job = new Job();
    const fifo = join(job.dir, 'shared.fifo');
    let outside: number | undefined;
    try {
      const p = job.launch([join(programs, 'fifo_shared'), fifo]);
      await p.waitFor(/^got 300$/, 20000);
      outside = openSync(fifo, 'w');   // this test process, a writer outside the job
      await assert.rejects(job.checkpoint(), (e: Error) =>
        /is the (read|write) end of a FIFO that process \d+ \(.*\), which is not in the job, holds too/.test(e.message)
        && e.message.includes(fifo));
      closeSync(outside);
      outside = undefined;
      const g = await job.checkpoint();
      assert.equal(g.generation, 2, 'once the outsider let go, the checkpoint goes through (the aborted number 1 is not used again)');
      noBroken(p.lines);
    } finally {
      if (outside !== undefined) closeSync(outside);
      await job.cleanup();
    }
  });
});
