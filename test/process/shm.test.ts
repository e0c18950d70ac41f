// Memory shared between the processes of a tree: MAP_SHARED anonymous
// memory, /dev/shm files (named or unlinked) with a named semaphore, SysV
// segments, process-shared semaphores. A parent and two children add to
// counters in one shared struct under one shared lock (shm_counters.h);
// after checkpoint, SIGKILL of the tree and restart — twice — the counts
// continue from the checkpoint, none is lost, and each process sees the
// others' increments: the memory is still one object. Then Python
// multiprocessing finishes with the output of an uninterrupted run.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, numbers, programs, repoRoot, type Running, noBroken } from '../helpers/stasis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Seen { me: number; total: number; per: number[] }
function seen(lines: string[]): Seen[] {
  return lines.map((l) => l.match(/^seen (\d) (\d+) (\d+) (\d+) (\d+)$/)).filter((m): m is RegExpMatchArray => !!m)
    .map((m) => ({ me: Number(m[1]), total: Number(m[2]), per: [Number(m[3]), Number(m[4]), Number(m[5])] }));
}

/** Waits until every process has seen each other's count grow by `by`
 *  since the first line of this run: writes cross between processes. */
async function waitAllSeeOthers(r: Running, by: number): Promise<void> {
  const deadline = Date.now() + 30000;
  for (;;) {
    noBroken(r.lines);
    const s = seen(r.lines);
    if (s.length) {
      const base = s[0]!.per;
      const ok = [0, 1, 2].every((me) => s.some((x) => x.me === me && x.per.every((v, k) => v >= base[k]! + by)));
      if (ok) return;
    }
    if (r.exited || Date.now() > deadline) throw new Error(`the processes do not see each other's counts: ${r.tail()}`);
    await sleep(100);
  }
}

/** The shared-counter program through two rounds of checkpoint, kill, restart. */
async function counters(job: Job, argv: string[], objects: number,
  beforeRestart: (killed: Running) => void = () => undefined): Promise<void> {
  let p = job.launch(argv);
  await waitAllSeeOthers(p, 400);
  for (let round = 1; round <= 2; round++) {
    const atCheckpoint = Math.max(...seen(p.lines).map((s) => s.total));
    const g = await job.checkpoint();
    const files = readdirSync(g.dir);
    assert.equal(files.filter((f) => f.endsWith('.img.shm')).length, 3, 'each process described its shared memory');
    assert.equal(files.filter((f) => /^shm-.*\.data$/.test(f)).length, objects, `each object saved once: ${files}`);
    await job.killTree(p);
    beforeRestart(p);
    p = job.restart();
    await waitAllSeeOthers(p, 400);
    const first = seen(p.lines)[0]!;
    assert.ok(first.total > atCheckpoint, `round ${round}: counting went on from ${first.total}, printed ${atCheckpoint} before the checkpoint`);
    assert.ok(first.per.every((v) => v > 0), 'every process counted before the checkpoint');
    noBroken(p.lines);
  }
  await job.killTree(p);
}

describe('shared memory between processes', function () {
  this.timeout(120000);

  it('MAP_SHARED anonymous memory with a pshared semaphore stays shared across two C/R', async () => {
    const job = new Job();
    try { await counters(job, [join(programs, 'shm_anon')], 1); } finally { await job.cleanup(); }
  });

  for (const unlinked of [false, true]) {
    it(`a /dev/shm file and a named semaphore${unlinked ? ', both unlinked,' : ''} stay shared; contents come from the image`, async () => {
      const job = new Job();
      let name = '';
      const names = () => (name ? [join('/dev/shm', name), join('/dev/shm', `sem.${name}`)] : []);
      try {
        await counters(job, [join(programs, 'shm_posix'), ...(unlinked ? ['unlink'] : [])], 2, (killed) => {
          name ||= killed.lines.find((l) => l.startsWith('names /'))?.slice(7) ?? '';
          assert.ok(name, 'the program named its objects');
          assert.equal(existsSync(join('/dev/shm', name)), !unlinked, 'named only when not unlinked');
          // As on another node: /dev/shm is empty at restart.
          for (const f of names()) rmSync(f, { force: true });
        });
        if (!unlinked) assert.ok(names().every((f) => existsSync(f)), 'the names are back after the restart');
      } finally {
        await job.cleanup();
        for (const f of names()) rmSync(f, { force: true });
      }
    });
  }

  it('a SysV segment removed with IPC_RMID stays shared; the program keeps its id', async () => {
    const job = new Job();
    try { await counters(job, [join(programs, 'shm_sysv')], 1); } finally { await job.cleanup(); }
  });

  it('a library constructor that uses SysV segments before stasis is set up works (UCX\'s libucm in MPICH ranks)', async () => {
    // Before the fix the shmget wrapper called a null pointer: every MPICH
    // rank died of SIGSEGV under stasis.
    const job = new Job();
    try {
      const r = job.launch([join(programs, 'early_shm')]);
      assert.equal(await r.waitExit(), 0, r.tail());
      assert.match(r.tail(), /early shm: 0/);
    } finally { await job.cleanup(); }
  });

  it('counting semaphores between producer and consumer lose and repeat nothing across two C/R', async () => {
    const job = new Job();
    try {
      let p = job.launch([join(programs, 'sem_shared')]);
      await p.waitFor(/^got 1000$/, 20000);
      for (let round = 1; round <= 2; round++) {
        await job.checkpoint();
        const last = numbers(p.lines, /^got (\d+)$/).at(-1)!;
        await job.killTree(p);
        p = job.restart();
        await p.waitFor(new RegExp(`^got ${last + 2000}$`), 30000);
        noBroken(p.lines);
      }
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });
});

/** The manifest of a generation directory. */
function manifestOf(dir: string): { processes: Array<{ image: string; files?: Array<{ name: string; bytes: number }> }> } {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
}

describe('checksums of shared memory files', function () {
  this.timeout(120000);

  it('a damaged .shm or .data file stops restart and inspect, naming it, before anything is made', async () => {
    const job = new Job();
    let name = '';
    const names = () => (name ? [join('/dev/shm', name), join('/dev/shm', `sem.${name}`)] : []);
    try {
      let p = job.launch([join(programs, 'shm_posix')]);
      await waitAllSeeOthers(p, 200);
      name = p.lines.find((l) => l.startsWith('names /'))?.slice(7) ?? '';
      assert.ok(name, 'the program named its objects');
      const atCheckpoint = Math.max(...seen(p.lines).map((s) => s.total));
      const g = await job.checkpoint();
      await job.killTree(p);
      for (const f of names()) rmSync(f, { force: true });

      // Each .data file is listed once, with the process that wrote it; every .shm with its process.
      const listed = manifestOf(g.dir).processes.flatMap((q) => (q.files ?? []).map((f) => f.name));
      const data = readdirSync(g.dir).filter((f) => /^shm-.*\.data$/.test(f));
      assert.equal(data.length, 2);
      for (const f of data) assert.equal(listed.filter((l) => l === f).length, 1, `${f} listed once: ${listed}`);
      assert.equal(listed.filter((l) => l.endsWith('.img.shm')).length, 3);
      const fine = await job.cli(['inspect', g.dir]);
      assert.equal(fine.exitCode, 0, fine.stderr);
      assert.match(fine.stdout, /file shm-\S+\.data: .*crc32c:/);
      assert.match(fine.stdout, /file \S+\.img\.shm: .*crc32c:/);

      // The counters' file (8 KiB, the larger one), written sparse: bytes at 0..63, a hole after.
      const counters = join(g.dir, data.sort((a, b) => statSync(join(g.dir, b)).size - statSync(join(g.dir, a)).size)[0]!);
      const shm = join(g.dir, readdirSync(g.dir).find((f) => f.endsWith('.img.shm'))!);
      const flip = (f: string, at: number) => { const b = readFileSync(f); b[at] = b[at]! ^ 0x10; writeFileSync(f, b); };
      const damages: Array<[string, string, (f: string) => void]> = [
        ['a flipped bit in the .shm file', shm, (f) => flip(f, 9)],
        ['a flipped bit in the contents', counters, (f) => flip(f, 40)],
        ['a flipped bit in a zero page (a hole)', counters, (f) => flip(f, 5000)],
        ['a flipped bit in the trailer', counters, (f) => flip(f, 8192 + 15)],
        ['the .data file truncated', counters, (f) => truncateSync(f, 4096)],
      ];
      for (const [what, file, damage] of damages) {
        const good = readFileSync(file);
        damage(file);
        const inspected = await job.cli(['inspect', g.dir]);
        assert.notEqual(inspected.exitCode, 0, `${what}: inspect refuses it`);
        assert.ok(inspected.stderr.includes(`${file}: corrupt`), `${what}: ${inspected.stderr}`);
        const r = job.restart();
        // Were it restored after all, its whole tree must go (not only the loader).
        const code = await r.waitExit(20000).catch(async (e: Error) => { await job.killTree(r); throw e; });
        assert.notEqual(code, 0, `${what}: restart refuses it`);
        const line = r.errLines.find((l) => l.includes(file));
        assert.ok(line && /corrupt/.test(line), `${what}: stderr names the damaged file: ${r.errLines.join(' | ')}`);
        assert.ok(names().every((f) => !existsSync(f)), `${what}: nothing was made in /dev/shm`);
        writeFileSync(file, good);
      }

      // Mended, the same generation restarts and counting goes on from the checkpoint.
      p = job.restart();
      await waitAllSeeOthers(p, 200);
      assert.ok(seen(p.lines)[0]!.total > atCheckpoint, 'counting went on from the checkpoint');
      await job.killTree(p);
    } finally {
      await job.cleanup();
      for (const f of names()) rmSync(f, { force: true });
    }
  });

  it('a 256 MiB object with three pages written stays sparse, and its contents come back twice', async () => {
    const job = new Job();
    try {
      let p = job.launch([join(programs, 'shm_sparse')]);
      await p.waitFor(/^seen [1-9]\d*$/, 20000);
      for (let round = 1; round <= 2; round++) {
        await sleep(500);
        const atCheckpoint = numbers(p.lines, /^seen (\d+)$/).at(-1)!;
        const g = await job.checkpoint();
        const data = readdirSync(g.dir).filter((f) => /^shm-.*\.data$/.test(f)).map((f) => statSync(join(g.dir, f)));
        assert.equal(data.length, 1);
        assert.equal(data[0]!.size, (256 << 20) + 20, 'the object, then the trailer');
        assert.ok(data[0]!.blocks * 512 < 1 << 20, `sparse: ${data[0]!.blocks * 512} bytes on disk`);
        const t0 = Date.now();
        const inspected = await job.cli(['inspect', g.dir]);
        assert.equal(inspected.exitCode, 0, inspected.stderr);
        console.log(`      round ${round}: inspect of 256 MiB sparse .data ${Date.now() - t0} ms`);
        await job.killTree(p);
        const t1 = Date.now();
        p = job.restart();
        const from = p.lines.length;
        const first = Number((await p.waitFor(/^seen (\d+)$/, 30000, from))[1]);
        console.log(`      round ${round}: restart to first line ${Date.now() - t1} ms`);
        assert.ok(first >= atCheckpoint, `round ${round}: the child's count came back (${first}, ${atCheckpoint} printed before the checkpoint)`);
        for (const deadline = Date.now() + 30000; !(numbers(p.lines, /^seen (\d+)$/).at(-1)! > first);) {
          if (p.exited || Date.now() > deadline) throw new Error(`round ${round}: the child does not count on: ${p.tail()}`);
          await sleep(100);
        }
        noBroken(p.lines);
      }
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });
});

describe('python multiprocessing', function () {
  this.timeout(120000);
  const python = '/usr/bin/python3';
  const script = join(repoRoot, 'test', 'programs', 'mp_pool.py');

  it('a Pool, a Queue and a shared Value finish with the uninterrupted output after two C/R in the middle', async function () {
    if (!existsSync(python)) { console.log(`      skipped: no ${python}`); this.skip(); }
    const job = new Job();
    try {
      const expected = execFileSync(python, [script, '300'], { encoding: 'utf8' });
      assert.match(expected, /^done$/m);
      const out = join(job.dir, 'mp_pool.out');
      let p = job.launch([python, script, '300', out]);
      for (let round = 1; round <= 2; round++) {
        await sleep(1500);
        await job.checkpoint();
        const pids = await job.kernelPids();
        assert.ok(pids.length >= 5, `the pool's processes are in the job: ${pids.length}`);
        await job.killTree(p);
        p = job.restart();
      }
      assert.equal(await p.waitExit(60000), 0, p.tail());
      assert.equal(readFileSync(out, 'utf8'), expected);
    } finally {
      await job.cleanup();
    }
  });
});
